import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { callerOf, userOf } from './caller.js';
import { intakeAudio } from './intake.js';
import { ErrorBody, IdParams } from './schemas.js';

const UploadSchema = Type.Object({
  id: Type.String(),
  filename: Type.String(),
  bytes: Type.Integer(),
  durationSec: Type.Number(),
  sampleRate: Type.Integer(),
  channels: Type.Integer(),
  codec: Type.String(),
});

/** POST /api/uploads (multipart, one field `file` and nothing else) and GET /api/uploads/:id. */
export const uploadRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/uploads',
    {
      config: { rateClass: 'uploads' },
      onRequest: app.takeUploadSlot,
      schema: {
        consumes: ['multipart/form-data'],
        response: {
          201: Type.Object({ upload: UploadSchema }),
          400: ErrorBody,
          413: ErrorBody,
          415: ErrorBody,
          429: ErrorBody,
          503: ErrorBody,
          507: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const upload = await intakeAudio(app, request, caller, {
        fields: [],
        save: (source, clientName, limits) => app.uploads.save(caller.userId, source, clientName, limits),
        remove: (stored) => app.uploads.remove(caller.userId, stored.id),
        accept: async (stored) => stored,
      });
      request.log.info({ uploadId: upload.id, bytes: upload.bytes, codec: upload.codec }, 'upload stored');
      return reply.status(201).send({ upload });
    },
  );

  app.get(
    '/uploads/:id',
    {
      schema: {
        params: IdParams,
        response: {
          // audioUrl: the original as sent, signed for its owner (GET /api/uploads/:id/audio).
          200: Type.Object({ upload: UploadSchema, audioUrl: Type.String() }),
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const userId = userOf(request);
      const upload = await app.uploads.get(userId, request.params.id);
      return { upload, audioUrl: app.resultLinks.uploadUrl(upload.id, userId) };
    },
  );

  app.delete(
    '/uploads/:id',
    { schema: { params: IdParams, response: { 204: Type.Null(), 404: ErrorBody, 409: ErrorBody } } },
    async (request, reply) => {
      const userId = userOf(request);
      await app.uploads.get(userId, request.params.id);
      await app.conversions.retire(userId, 'upload', request.params.id);
      await app.uploads.remove(userId, request.params.id);
      request.log.info({ uploadId: request.params.id }, 'upload deleted');
      return reply.status(204).send(null);
    },
  );
};
