import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ConflictError, NotFoundError, ValidationError, VcError } from '../errors/index.js';
import { assertRoomForOutput } from '../limits/index.js';
import { outputSizeBound, PLAIN_OUTPUT_RATE } from '../media/index.js';
import { DEFAULT_MODEL } from '../models/index.js';
import type { PublicJobState, WebhookEvent } from '../queue/index.js';
import { DEFAULT_EVENTS } from '../webhooks/index.js';
import { callerOf, userOf } from './caller.js';
import {
  Id,
  JobCursor,
  JobStates,
  ModelName,
  OUTPUT_FORMATS,
  PageLimit,
  PITCH_SEMITONES,
  STRENGTH,
} from './fields.js';
import { linkedJob } from './job-links.js';
import { ErrorBody, IdParams, JobViewSchema } from './schemas.js';
import { phaseEnd, phaseStart, timed } from './server-timing.js';
import { WebhookBody } from './webhooks.js';

const CreateJobBody = Type.Object(
  {
    uploadId: Id,
    pitchSemitones: Type.Optional(Type.Number(PITCH_SEMITONES)),
    outputFormat: Type.Enum(OUTPUT_FORMATS),
    priority: Type.Optional(Type.Enum(['high', 'normal', 'low'])),
    /** Target voice: one of the user's ready voices or a preset id (GET /api/voices). */
    voiceId: Type.Optional(Id),
    /** How far to move the timbre toward the target: 0 keeps it, 1 reaches it. */
    strength: Type.Optional(Type.Number(STRENGTH)),
    /** Model folder name (GET /api/models); default "default". */
    model: Type.Optional(ModelName),
    /** POST this job's events here (in place of the user's default webhook), signed with the user's secret. */
    webhook: Type.Optional(WebhookBody),
  },
  { additionalProperties: false },
);

const JobResponse = Type.Object({ job: JobViewSchema });

const ListQuery = Type.Object(
  {
    /** `nextCursor` of the previous page. */
    cursor: Type.Optional(JobCursor),
    /** Jobs per page, 1..100; default 50. */
    limit: Type.Optional(PageLimit),
    /** Only jobs in these states, comma-separated. */
    state: Type.Optional(JobStates),
  },
  { additionalProperties: false },
);

const CancelQuery = Type.Object(
  {
    /**
     * No longer accepted (it made this route also remove jobs): a 400 that points to
     * `DELETE /api/jobs/:id/record`, so an old client's removal does nothing rather than cancel.
     */
    remove: Type.Optional(Type.String({ maxLength: 16 })),
  },
  { additionalProperties: false },
);

/** What an old client asking DELETE /api/jobs/:id?remove=1 is told; nothing is done. */
const REMOVE_MOVED =
  'DELETE /api/jobs/:id only cancels; to remove a finished job for good use DELETE /api/jobs/:id/record';

/** The conversion jobs of the calling user. */
export const jobRoutes: FastifyPluginAsyncTypebox = async (app) => {
  /** A conversion's target voice must exist for this user (or be a preset of the model) and be analysed. */
  const ensureVoiceReady = async (userId: string, voiceId: string, model: string) => {
    if (voiceId.startsWith('preset-')) {
      if (!(await app.models.presetProfile(model, voiceId))) throw new NotFoundError('voice');
      return;
    }
    const voice = await app.voices.get(userId, voiceId);
    if (voice.model !== model)
      throw new ValidationError(`voice ${voiceId} belongs to model "${voice.model}"`);
    if (!(await app.voices.profilePath(userId, voiceId))) {
      // No profile: still being analysed, or deleted meanwhile (its metadata goes first: then a 404).
      await app.voices.get(userId, voiceId);
      throw new ConflictError('the voice is still being analysed');
    }
  };

  app.post(
    '/jobs',
    {
      config: { rateClass: 'conversions' },
      schema: {
        body: CreateJobBody,
        response: {
          202: JobResponse,
          400: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
          413: ErrorBody,
          429: ErrorBody,
          503: ErrorBody,
          507: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { userId, plan, limits } = callerOf(request);
      const body = request.body;
      // Independent reads at once: each is a wait (files, Redis), not work.
      const [upload, model] = await timed(request, 'upload', () =>
        Promise.all([app.uploads.get(userId, body.uploadId), app.models.get(body.model ?? DEFAULT_MODEL)]),
      );
      if (body.voiceId) await ensureVoiceReady(userId, body.voiceId, model.name);
      else if (body.strength !== undefined) throw new ValidationError('body.strength needs body.voiceId');
      if (body.webhook) {
        await app.webhooks.checkUrl(body.webhook.url);
        await app.webhooks.checkSecret(userId);
      }
      // Outputs count toward the quota: room for this one's largest possible size, besides the
      // files on disk (the usage ledger's total) and what the user's unfinished jobs may still write.
      const outputBoundBytes = outputSizeBound(
        body.outputFormat,
        upload.durationSec,
        body.voiceId ? (model.outputSampleRate ?? model.sampleRate ?? PLAIN_OUTPUT_RATE) : PLAIN_OUTPUT_RATE,
      );
      const [usage, reserved] = await timed(request, 'quota', () =>
        Promise.all([app.usage.usage(userId), app.conversions.reservedOutputBytes(userId)]),
      );
      assertRoomForOutput(usage, reserved, outputBoundBytes, plan);
      // The sweeper's TTL of an upload counts from its last use (touched from the start of the
      // enqueue on, so it is never swept while its job is being queued).
      const touched = app.uploads.touch(userId, upload.id);
      const enqueueStart = phaseStart(request);
      const job = await app.conversions.enqueue(userId, upload, {
        outputBoundBytes,
        pitchSemitones: body.pitchSemitones ?? 0,
        ...(body.voiceId ? { voiceId: body.voiceId, strength: body.strength ?? 1, model: model.name } : {}),
        outputFormat: body.outputFormat,
        priority: body.priority ?? 'normal',
        requestId: request.id,
        ...(body.webhook
          ? {
              webhook: {
                url: body.webhook.url,
                events: (body.webhook.events ?? DEFAULT_EVENTS) as WebhookEvent[],
              },
            }
          : {}),
        plan: {
          priorityBase: plan.priorityBase,
          maxJobPriority: plan.maxJobPriority,
          maxActiveJobs: plan.maxActiveJobs,
          maxQueuedJobs: plan.quotas.maxQueuedJobs,
          maxDurationSec: limits.maxDurationSec,
          maxStorageBytes: plan.quotas.maxBytes,
        },
      });
      phaseEnd(request, 'enqueue', enqueueStart);
      await touched;
      request.log.info({ jobId: job.id, uploadId: upload.id }, 'job queued');
      return reply.status(202).send({ job: linkedJob(app, userId, job) });
    },
  );

  app.get(
    '/jobs',
    {
      schema: {
        querystring: ListQuery,
        response: {
          200: Type.Object({
            jobs: Type.Array(JobViewSchema),
            /** Pass as `cursor` for the next (older) page; null on the last page. */
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
          400: ErrorBody,
        },
      },
    },
    async (request) => {
      const userId = userOf(request);
      const { cursor, limit, state } = request.query;
      const at = cursor?.indexOf('_') ?? -1;
      const page = await app.conversions.listPage(userId, {
        limit: limit === undefined ? 50 : Number(limit),
        cursor: cursor ? { createdAt: Number(cursor.slice(0, at)), id: cursor.slice(at + 1) } : undefined,
        states: state ? new Set(state.split(',') as PublicJobState[]) : undefined,
      });
      return { jobs: page.jobs.map((j) => linkedJob(app, userId, j)), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/jobs/:id',
    { schema: { params: IdParams, response: { 200: JobResponse, 404: ErrorBody } } },
    async (request) => {
      const userId = userOf(request);
      return { job: linkedJob(app, userId, await app.conversions.get(userId, request.params.id)) };
    },
  );

  app.delete(
    '/jobs/:id',
    {
      schema: {
        params: IdParams,
        querystring: CancelQuery,
        response: {
          200: JobResponse,
          202: JobResponse,
          400: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const userId = userOf(request);
      if (request.query.remove !== undefined) throw new ValidationError(REMOVE_MOVED);
      const job = await app.conversions.cancel(userId, request.params.id);
      request.log.info({ jobId: job.id, state: job.state }, 'job cancel requested');
      // A queued job is cancelled at once (200). An active one stops between two chunks on its
      // worker: 202, and the cancellation shows in GET /api/jobs/:id and as a `cancelled` event.
      // One that had already completed or failed is not cancelled: a 200 would say it was.
      if (job.state === 'completed' || job.state === 'failed')
        throw new VcError('VC_ERR_JOB_FINISHED', `the job had already ${job.state}: nothing to cancel`);
      if (job.state === 'active' || job.state === 'queued') {
        return reply
          .status(202)
          .header('location', `/api/jobs/${encodeURIComponent(job.id)}`)
          .send({ job: linkedJob(app, userId, job) });
      }
      return reply.status(200).send({ job: linkedJob(app, userId, job) });
    },
  );

  /**
   * Removes a finished conversion (completed, failed or cancelled) from the user's jobs for good,
   * with its result file: 204; 409 while it is queued or running (cancel it first: plain DELETE
   * on the job) and for a voice's analysis. One meaning per route: DELETE /jobs/:id cancels,
   * DELETE /jobs/:id/result removes the output, this removes the job.
   */
  app.delete(
    '/jobs/:id/record',
    { schema: { params: IdParams, response: { 204: Type.Null(), 404: ErrorBody, 409: ErrorBody } } },
    async (request, reply) => {
      await app.conversions.removeFinished(userOf(request), request.params.id);
      request.log.info({ jobId: request.params.id }, 'finished job removed');
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/jobs/:id/result',
    { schema: { params: IdParams, response: { 204: Type.Null(), 404: ErrorBody, 409: ErrorBody } } },
    async (request, reply) => {
      await app.conversions.removeResult(userOf(request), request.params.id);
      request.log.info({ jobId: request.params.id }, 'job result deleted');
      return reply.status(204).send(null);
    },
  );
};
