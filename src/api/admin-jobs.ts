import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFoundError } from '../errors/index.js';
import { recentFailures, usageByUser } from '../queue/index.js';
import { PageLimit } from './fields.js';
import { linkedJob } from './job-links.js';
import { ErrorBody, IdParams, JobViewSchema } from './schemas.js';

/** The account's name beside its id (null for an anonymous session or a removed account). */
const UserName = Type.Union([Type.String(), Type.Null()]);

const FailureSchema = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  userName: UserName,
  kind: Type.String(),
  filename: Type.String(),
  code: Type.String(),
  message: Type.String(),
  finishedAt: Type.Union([Type.Number(), Type.Null()]),
});

const UsageSchema = Type.Object({
  userId: Type.String(),
  userName: UserName,
  queued: Type.Integer(),
  active: Type.Integer(),
  completed: Type.Integer(),
  failed: Type.Integer(),
  cancelled: Type.Integer(),
  audioSec: Type.Number(),
});

const AdminErrors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };

/**
 * The operations dashboard's job views, admin only: recent failures with their codes, per-user
 * usage, and any user's job (look it up, cancel it). Messages carry no server path (the job
 * view's error is path-free).
 */
export const adminJobRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', async (request) => app.requireAdmin(request));

  /** Each row with its user's account name, for people to read (the id stays, for copying). */
  const named = async <T extends { userId: string }>(
    rows: T[],
  ): Promise<(T & { userName: string | null })[]> => {
    const names = await app.accounts.names(rows.map((r) => r.userId));
    return rows.map((r) => ({ ...r, userName: names.get(r.userId) ?? null }));
  };

  app.get(
    '/admin/failures',
    {
      schema: {
        querystring: Type.Object(
          // 1..100 (query strings are not coerced)
          { limit: Type.Optional(PageLimit) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ failures: Type.Array(FailureSchema) }), ...AdminErrors },
      },
    },
    async (request) => ({
      failures: await named(await recentFailures(app.conversions.queue, Number(request.query.limit ?? 20))),
    }),
  );

  app.get(
    '/admin/usage',
    {
      schema: {
        response: {
          200: Type.Object({ users: Type.Array(UsageSchema), sampled: Type.Integer() }),
          ...AdminErrors,
        },
      },
    },
    async () => {
      const { users, sampled } = await usageByUser(app.conversions.queue, (limit) =>
        app.conversions.cancelledWhileQueued(limit),
      );
      // A removed account's jobs stay in the queue's history; its row goes with the account.
      const removed = await app.accounts.removedAmong(users.map((u) => u.userId));
      return { users: await named(users.filter((u) => !removed.has(u.userId))), sampled };
    },
  );

  /**
   * Any user's job with its links signed for its owner (the admin can open them as the owner
   * can); a removed account's workspace went with it, so its result is gone.
   */
  const ownedView = async (id: string) => {
    const owner = await app.conversions.ownerOf(id);
    if (!owner) throw new NotFoundError('job');
    const job = await app.conversions.get(owner, id);
    if (job.resultUrl && (await app.accounts.removedAmong([owner])).has(owner))
      return { owner, job: { ...job, resultUrl: null, resultGone: 'account-removed' as const } };
    return { owner, job: linkedJob(app, owner, job) };
  };

  app.get(
    '/admin/jobs/:id',
    {
      schema: {
        params: IdParams,
        response: { 200: Type.Object({ job: JobViewSchema, userId: Type.String() }), ...AdminErrors },
      },
    },
    async (request) => {
      const { owner, job } = await ownedView(request.params.id);
      return { job, userId: owner };
    },
  );

  // 200 once the job has ended (a queued one is removed at once); 202 while a running one is
  // being stopped: GET /api/admin/jobs/:id shows when it has.
  app.delete(
    '/admin/jobs/:id',
    {
      schema: {
        params: IdParams,
        response: {
          200: Type.Object({ job: JobViewSchema, userId: Type.String() }),
          202: Type.Object({ job: JobViewSchema, userId: Type.String(), statusUrl: Type.String() }),
          ...AdminErrors,
        },
      },
    },
    async (request, reply) => {
      const { owner } = await ownedView(request.params.id);
      const job = linkedJob(app, owner, await app.conversions.cancel(owner, request.params.id, 'operator'));
      request.log.info({ jobId: job.id, userId: owner, state: job.state }, 'job cancelled by an admin');
      if (job.state === 'queued' || job.state === 'active')
        return reply
          .status(202)
          .send({ job, userId: owner, statusUrl: `/api/admin/jobs/${encodeURIComponent(job.id)}` });
      return reply.status(200).send({ job, userId: owner });
    },
  );
};
