import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { callerOf } from './caller.js';
import { ErrorBody } from './schemas.js';

const WorkspaceView = Type.Object({
  plan: Type.String(),
  usage: Type.Object({ bytes: Type.Integer(), files: Type.Integer(), queuedJobs: Type.Integer() }),
  quota: Type.Object({
    maxBytes: Type.Integer(),
    maxFiles: Type.Integer(),
    maxUploadBytes: Type.Integer(),
    maxDurationSec: Type.Number(),
    maxQueuedJobs: Type.Integer(),
  }),
  /** The plan's rate limits and what is left of each in the current window (read without counting). */
  rateLimits: Type.Record(
    Type.String(),
    Type.Object({
      max: Type.Integer(),
      windowSec: Type.Number(),
      remaining: Type.Union([Type.Integer(), Type.Null()]),
      resetInSec: Type.Union([Type.Integer(), Type.Null()]),
    }),
  ),
  files: Type.Array(
    Type.Object({
      kind: Type.Enum(['upload', 'voice', 'output']),
      /** The file's name in the workspace: the upload's, voice's or job's id (with the output's extension). */
      name: Type.String(),
      /** An upload's file name as the client sent it; null for voices and outputs. */
      filename: Type.Union([Type.String(), Type.Null()]),
      bytes: Type.Integer(),
      ageSec: Type.Number(),
      /** Seconds until the sweeper may remove it (files a queued or running job needs are kept). */
      expiresInSec: Type.Number(),
    }),
  ),
});

/** GET /api/workspace: the caller's usage against the plan's quotas, and its files with their ages. */
export const workspaceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  /** An upload's client file name (its metadata, cached by the store); null once it is gone. */
  const uploadName = (userId: string, id: string) =>
    app.uploads.get(userId, id).then(
      (u) => u.filename,
      () => null,
    );

  app.get('/workspace', { schema: { response: { 200: WorkspaceView, 401: ErrorBody } } }, async (request) => {
    const { userId, plan, limits } = callerOf(request);
    // The files are listed from disk, and the usage ledger is made to agree with that scan
    // (in the background: this read answers while Redis refuses writes).
    const usage = await app.usage.scanForReader(userId, (err) =>
      request.log.warn({ err }, 'the workspace usage could not be reconciled'),
    );
    const now = Date.now();
    const ttl = { upload: plan.ttl.uploadsSec, voice: plan.ttl.voicesSec, output: plan.ttl.outputsSec };
    return {
      plan: plan.name,
      usage: {
        bytes: usage.bytes,
        files: usage.files,
        queuedJobs: await app.conversions.fairShare.queuedCount(userId),
      },
      quota: {
        ...plan.quotas,
        ...limits,
      },
      rateLimits: await app.peekRateLimits(request),
      files: await Promise.all(
        usage.entries
          .filter((e) => !e.auxiliary)
          .map(async (e) => {
            const ageSec = Math.max(0, (now - e.modifiedAt) / 1000);
            return {
              kind: e.kind,
              name: e.name,
              filename: e.kind === 'upload' ? await uploadName(userId, e.name) : null,
              bytes: e.bytes,
              ageSec: Math.round(ageSec),
              expiresInSec: Math.max(0, Math.round(ttl[e.kind] - ageSec)),
            };
          }),
      ),
    };
  });
};
