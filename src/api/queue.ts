import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { userOf } from './caller.js';
import { queuedPlaces } from './queue-watch.js';
import { ErrorBody } from './schemas.js';

const QueuePlaceSchema = Type.Object({
  jobId: Type.String(),
  position: Type.Integer({ minimum: 1 }),
  etaSec: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
});

/**
 * GET /api/queue: where the caller's queued jobs stand (1 = next to start) and about how long
 * each should wait: the work of the jobs ahead (each one's audio length times the processing time
 * per second of audio of recent jobs) shared by the jobs running now (null while too few
 * completed to tell). The
 * page gets the same live over its WebSocket (`"queue": true`).
 */
export const queueRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/queue',
    {
      schema: {
        response: {
          200: Type.Object({
            jobs: Type.Array(QueuePlaceSchema),
            throughput: Type.Object({
              perMin: Type.Number({
                description: 'jobs per minute while the workers work (slots × 60 / jobSec)',
              }),
              windowSec: Type.Integer({ description: 'how far back the jobs measured go' }),
              jobSec: Type.Union([Type.Number(), Type.Null()], {
                description: 'mean processing time of the newest completed jobs; null with fewer than two',
              }),
              secPerAudioSec: Type.Union([Type.Number(), Type.Null()], {
                description:
                  "processing seconds per second of audio over the same jobs; a waiting job's work is its audio length times this (per kind of job); null with fewer than two",
              }),
              slots: Type.Integer({ minimum: 1, description: 'jobs running now (at least 1)' }),
            }),
          }),
          401: ErrorBody,
          429: ErrorBody,
        },
      },
    },
    async (request) => {
      const userId = userOf(request);
      const throughput = await app.queueEstimator.throughput();
      const jobs = await queuedPlaces(app.conversions, app.queueEstimator, userId, throughput);
      const { perMin, windowSec, jobSec, secPerAudioSec, slots } = throughput;
      return { jobs, throughput: { perMin, windowSec, jobSec, secPerAudioSec, slots } };
    },
  );
};
