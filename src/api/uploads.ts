import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ConflictError, TooLargeError, ValidationError } from '../errors/index.js';
import { assertRoomForUpload, assertWithinStorage } from '../limits/index.js';
import { type Upload, workspaceUsage } from '../workspace/index.js';
import { multipartParts } from './multipart.js';
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
      const principal = request.principal;
      const plan = request.plan;
      if (!principal || !plan) throw new ValidationError('no principal');
      // The deployment's caps (UPLOAD_MAX_BYTES, MAX_DURATION_SEC) bound every plan.
      const maxBytes = Math.min(app.config.uploadMaxBytes, plan.quotas.maxUploadBytes);
      const maxDurationSec = Math.min(app.config.maxDurationSec, plan.quotas.maxDurationSec);
      assertRoomForUpload(await workspaceUsage(app.config.dataDir, principal.userId), plan);
      // Every part is read, so limits on parts and fields (413) surface even after the file.
      let upload: Upload | undefined;
      try {
        for await (const part of multipartParts(request, { limits: { fileSize: maxBytes } })) {
          if (part.type !== 'file') {
            if (part.valueTruncated || part.fieldnameTruncated)
              throw new TooLargeError(
                `multipart field "${part.fieldname.slice(0, 64)}" is over the size limit`,
              );
            continue;
          }
          if (part.fieldname !== 'file' || upload) {
            part.file.resume();
            throw new ValidationError('the multipart body must contain one file field "file"');
          }
          upload = await app.uploads.save(principal.userId, part.file, part.filename, {
            maxBytes,
            maxDurationSec,
            probeTimeoutMs: app.config.probeTimeoutMs,
            decodeTimeoutMs: app.config.decodeCheckTimeoutMs,
            decodeSlots: app.decodeChecks,
          });
        }
        if (!upload)
          throw new ValidationError(
            'the multipart body must contain a file field "file" (with a file name free of control characters)',
          );
        assertWithinStorage(await workspaceUsage(app.config.dataDir, principal.userId), plan);
      } catch (err) {
        if (upload) await app.uploads.remove(principal.userId, upload.id);
        throw err;
      }
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
      const userId = request.principal?.userId ?? '';
      const upload = await app.uploads.get(userId, request.params.id);
      return { upload, audioUrl: app.resultLinks.uploadUrl(upload.id, userId) };
    },
  );

  app.delete(
    '/uploads/:id',
    { schema: { params: IdParams, response: { 204: Type.Null(), 404: ErrorBody, 409: ErrorBody } } },
    async (request, reply) => {
      const userId = request.principal?.userId ?? '';
      await app.uploads.get(userId, request.params.id);
      if ((await app.conversions.filesInUse()).has(`${userId}/${request.params.id}`))
        throw new ConflictError('a queued or running job uses this upload; cancel it first');
      await app.uploads.remove(userId, request.params.id);
      request.log.info({ uploadId: request.params.id }, 'upload deleted');
      return reply.status(204).send(null);
    },
  );
};
