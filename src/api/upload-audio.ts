import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DEMUXER_CONTENT_TYPES } from '../media/index.js';
import { IdParams } from './schemas.js';
import { sendAudioFile } from './send-file.js';
import { bearerUser, isSigned, SignedUserFields, signedUser } from './signed-or-bearer.js';

const AudioQuery = Type.Object(SignedUserFields, { additionalProperties: false });

/**
 * GET /api/uploads/:id/audio: an uploaded original as it was sent, for the job detail's "before"
 * player, with Range support. Either the signed `audioUrl` of `GET /api/uploads/:id` (no token;
 * the signature binds upload, owner and expiry) or `Authorization: Bearer`; either way only the
 * owner's workspace is looked in, so another user's upload is a 404 (or a 403 for a bad link).
 */
export const uploadAudioRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/uploads/:id/audio',
    // Audio bodies (200/206) are streams, so no per-status response schemas; errors are ErrorBody.
    { schema: { params: IdParams, querystring: AudioQuery } },
    async (request, reply) => {
      const { id } = request.params;
      const q = request.query;
      const userId = isSigned(q)
        ? signedUser(q, 'audio', (user, exp, sig) => app.resultLinks.verifyUpload(id, user, exp, sig))
        : await bearerUser(request, reply);
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
