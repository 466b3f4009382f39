import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ValidationError } from '../errors/index.js';
import { queueStatus, systemStats } from '../scaling/index.js';
import { WorkerId } from './fields.js';
import { ErrorBody } from './schemas.js';
import { QueueStatusSchema, SystemStatsSchema } from './system-schemas.js';

const ScaleWorker = Type.Object({
  id: Type.String(),
  host: Type.String(),
  pid: Type.Integer(),
  size: Type.Integer(),
  applied: Type.Boolean(),
});

const ScaleResponse = Type.Object({
  requestId: Type.String(),
  previous: Type.Union([Type.Integer(), Type.Null()]),
  /** null for `{"autoscale": false}`: each worker keeps the size it had. */
  requested: Type.Union([Type.Integer(), Type.Null()]),
  workers: Type.Array(ScaleWorker),
  statusUrl: Type.Optional(Type.String()),
  /** Why the answer is 202. */
  message: Type.Optional(Type.String()),
});

const NO_LIVE_WORKER = 'stored, no live worker yet: a worker that starts comes up at this size';
const STILL_APPLYING = 'stored; not every worker has applied it yet';

const AutoscaleResponse = Type.Object({
  requestId: Type.String(),
  autoscale: Type.Union([
    Type.Object({ enabled: Type.Literal(true), min: Type.Integer(), max: Type.Integer() }),
    Type.Object({ enabled: Type.Literal(false) }),
  ]),
  /** Each live worker, its size (off: the size it keeps; on: inside the bounds), and whether it has adopted the setting. */
  workers: Type.Array(ScaleWorker),
  statusUrl: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
});

const AUTOSCALE_ON_NO_WORKER =
  'stored, no live worker yet: a worker that starts autoscales within these bounds';
const AUTOSCALE_ON_APPLYING = 'stored; not every worker autoscales within these bounds yet';
const AUTOSCALE_OFF_NO_WORKER =
  'stored, no live worker yet: a worker that starts keeps the size it starts at';
const AUTOSCALE_OFF_APPLYING = 'stored; not every worker has confirmed it keeps its size yet';

/**
 * Operator routes, admin token only: resize the pools (POST /api/system/scale), follow a resize
 * (GET /api/system/scale/:requestId), stats, queue status.
 */
export const systemRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', async (request) => app.requireAdmin(request));
  const max = app.config.maxWorkersPerHost;

  const ScaleBody = Type.Object(
    {
      new_worker_count: Type.Optional(Type.Integer({ minimum: 1, maximum: max })),
      worker_id: Type.Optional(WorkerId),
      autoscale: Type.Optional(
        Type.Union([
          Type.Literal(false),
          Type.Object(
            {
              min: Type.Integer({ minimum: 1, maximum: max }),
              max: Type.Integer({ minimum: 1, maximum: max }),
            },
            { additionalProperties: false },
          ),
        ]),
      ),
    },
    { additionalProperties: false },
  );

  app.post(
    '/system/scale',
    {
      schema: {
        body: ScaleBody,
        response: {
          200: Type.Union([ScaleResponse, AutoscaleResponse]),
          202: Type.Union([ScaleResponse, AutoscaleResponse]),
          400: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.autoscale !== undefined) {
        if (body.new_worker_count !== undefined || body.worker_id !== undefined) {
          throw new ValidationError(
            'body.autoscale cannot be combined with body.new_worker_count or body.worker_id',
          );
        }
        const a = body.autoscale;
        if (a !== false && a.min > a.max)
          throw new ValidationError('body.autoscale.min must not exceed body.autoscale.max');
        const setting =
          a === false ? ({ enabled: false } as const) : ({ enabled: true, min: a.min, max: a.max } as const);
        const { outcome, ...result } = await app.scaling.setAutoscale(setting, app.config.scaleWaitMs);
        request.log.info(
          { autoscale: setting, requestId: outcome.requestId, complete: outcome.complete },
          'autoscale setting changed',
        );
        // "Applied" (200) only once every live worker has adopted it: on, autoscaling within the
        // bounds; off, keeping the size it has.
        const answer = { ...result, workers: outcome.workers };
        if (outcome.complete) return reply.status(200).send(answer);
        const messages = setting.enabled
          ? [AUTOSCALE_ON_NO_WORKER, AUTOSCALE_ON_APPLYING]
          : [AUTOSCALE_OFF_NO_WORKER, AUTOSCALE_OFF_APPLYING];
        return reply.status(202).send({
          ...answer,
          statusUrl: `/api/system/scale/${outcome.requestId}`,
          message: outcome.noLiveWorker ? messages[0] : messages[1],
        });
      }
      if (body.new_worker_count === undefined) throw new ValidationError('body.new_worker_count is required');
      const outcome = await app.scaling.resize(body.new_worker_count, body.worker_id, app.config.scaleWaitMs);
      const sizes = Object.values(outcome.previous);
      const previous = sizes.length === 0 ? null : sizes.every((s) => s === sizes[0]) ? sizes[0] : null;
      request.log.info(
        { requestId: outcome.requestId, requested: outcome.requested, complete: outcome.complete },
        'scale requested',
      );
      const response = {
        requestId: outcome.requestId,
        previous,
        requested: outcome.requested,
        workers: outcome.workers,
      };
      if (outcome.complete) return reply.status(200).send(response);
      return reply.status(202).send({
        ...response,
        statusUrl: `/api/system/scale/${outcome.requestId}`,
        message: outcome.noLiveWorker ? NO_LIVE_WORKER : STILL_APPLYING,
      });
    },
  );

  app.get(
    '/system/scale/:requestId',
    {
      schema: {
        params: Type.Object({ requestId: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
        response: { 200: ScaleResponse, 202: ScaleResponse, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const o = await app.scaling.status(request.params.requestId);
      const sizes = Object.values(o.previous);
      const previous = sizes.length > 0 && sizes.every((s) => s === sizes[0]) ? sizes[0] : null;
      const response = { requestId: o.requestId, previous, requested: o.requested, workers: o.workers };
      if (o.complete) return reply.status(200).send(response);
      return reply
        .status(202)
        .send({ ...response, message: o.noLiveWorker ? NO_LIVE_WORKER : STILL_APPLYING });
    },
  );

  app.get('/system/stats', { schema: { response: { 200: SystemStatsSchema } } }, async () =>
    systemStats(app.redis, app.config.redisPrefix, app.conversions.queue, app.scaling),
  );

  app.get('/queue/status', { schema: { response: { 200: QueueStatusSchema } } }, async () =>
    queueStatus(app.conversions.queue, app.redis, app.config.redisPrefix),
  );
};
