import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ForbiddenError, UnauthorizedError } from '../errors/index.js';
import { DEMUXER_CONTENT_TYPES } from '../media/index.js';
import { IdParams } from './schemas.js';
import { sendAudioFile } from './send-file.js';

const AudioQuery = Type.Object(
  {
    /** The owner a signed link was made for. */
    user: Type.Optional(Type.String({ pattern: '^u_[a-z0-9]{4,64}$' })),
    exp: Type.Optional(Type.String({ pattern: '^[0-9]{1,12}$' })),
    sig: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{16,128}$' })),
  },
  { additionalProperties: false },
);

/**
 * GET /api/uploads/:id/audio: an uploaded original as it was sent, for the job detail's "before"
 * player, with Range support. Either the signed `audioUrl` of `GET /api/uploads/:id` (no token;
 * the signature binds upload, owner and expiry) or `Authorization: Bearer`; either way only the
 * owner's workspace is looked in, so another user's upload is a 404 (or a 403 for a bad link).
 */
export const uploadAudioRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const ownerBySignature = (id: string, q: { user?: string; exp?: string; sig?: string }) => {
    if (q.user === undefined || q.exp === undefined || q.sig === undefined)
      throw new UnauthorizedError('a signed upload link needs user, exp and sig');
    if (!app.resultLinks.verifyUpload(id, q.user, Number(q.exp), q.sig))
      throw new ForbiddenError('this audio link is invalid or has expired; reload the page for a new one');
    return q.user;
  };

  const callerOf = async (request: FastifyRequest, reply: FastifyReply) => {
    await app.authenticate(request);
    await app.enforceRateLimits(request, reply);
    if (!request.principal) throw new UnauthorizedError();
    return request.principal.userId;
  };

  app.get(
    '/uploads/:id/audio',
    // Audio bodies (200/206) are streams, so no per-status response schemas; errors are ErrorBody.
    { schema: { params: IdParams, querystring: AudioQuery } },
    async (request, reply) => {
      const { id } = request.params;
      const q = request.query;
      const signed = q.user !== undefined || q.exp !== undefined || q.sig !== undefined;
      const userId = signed ? ownerBySignature(id, q) : await callerOf(request, reply);
      const upload = await app.uploads.get(userId, id);
      return sendAudioFile(
        request,
        reply,
        {
          path: app.uploads.pathOf(userId, id),
          contentType: DEMUXER_CONTENT_TYPES[upload.demuxer] ?? 'application/octet-stream',
          downloadName: upload.filename,
          disposition: 'inline',
        },
        'upload',
      );
    },
  );
};
