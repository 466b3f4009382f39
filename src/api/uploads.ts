import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ValidationError } from '../errors/index.js';
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

/** POST /api/uploads (multipart, one field `file`) and GET /api/uploads/:id. */
export const uploadRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/uploads',
    {
      schema: {
        consumes: ['multipart/form-data'],
        response: {
          201: Type.Object({ upload: UploadSchema }),
          400: ErrorBody,
          413: ErrorBody,
          415: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const principal = request.principal;
      if (!principal) throw new ValidationError('no principal');
      const part = await request.file({ limits: { fileSize: app.config.uploadMaxBytes } });
      if (!part) throw new ValidationError('the multipart body must contain a file field "file"');
      if (part.fieldname !== 'file') {
        part.file.resume();
        throw new ValidationError('the multipart body must contain a file field "file"');
      }
      const upload = await app.uploads.save(principal.userId, part.file, part.filename, {
        maxBytes: app.config.uploadMaxBytes,
        maxDurationSec: app.config.maxDurationSec,
        probeTimeoutMs: app.config.probeTimeoutMs,
      });
      request.log.info({ uploadId: upload.id, bytes: upload.bytes, codec: upload.codec }, 'upload stored');
      return reply.status(201).send({ upload });
    },
  );

  app.get(
    '/uploads/:id',
    {
      schema: { params: IdParams, response: { 200: Type.Object({ upload: UploadSchema }), 404: ErrorBody } },
    },
    async (request) => {
      const upload = await app.uploads.get(request.principal?.userId ?? '', request.params.id);
      return { upload };
    },
  );
};
