import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { NotFoundError } from '../errors/index.js';
import { DEMUXER_CONTENT_TYPES } from '../media/index.js';
import { currentPreview, DEFAULT_MODEL, PREVIEW_CONTENT_TYPE } from '../models/index.js';
import { ModelName } from './fields.js';
import { IdParams } from './schemas.js';
import { sendAudioFile } from './send-file.js';
import { bearerUser, isSigned, SignedUserFields, signedUser } from './signed-or-bearer.js';

const PreviewQuery = Type.Object(
  {
    /** The model folder of a preset (default: the default model); none for a user's own voice. */
    model: Type.Optional(ModelName),
    ...SignedUserFields,
  },
  { additionalProperties: false },
);

const PRESET = /^preset-([a-z0-9][a-z0-9_-]{0,63})$/;

/**
 * GET /api/voices/:id/preview: a short sample of a voice, with Range support, for the voice
 * picker's players. A preset's (`preset-…`, any signed-in user) is a few seconds of speech
 * converted toward it, built with the model (`npm run build:previews`, next to its presets); a
 * user's own voice's is its reference recording (its owner only: another user's is a 404).
 * Either with the signed `previewUrl` of `GET /api/voices` (no token; the signature binds voice,
 * model, user and expiry) or `Authorization: Bearer`.
 */
export const voicePreviewRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/voices/:id/preview',
    // Audio bodies (200/206) are streams, so no per-status response schemas; errors are ErrorBody.
    { schema: { params: IdParams, querystring: PreviewQuery } },
    async (request, reply) => {
      const { id } = request.params;
      const q = request.query;
      const preset = PRESET.exec(id)?.[1];
      const model = preset ? (q.model ?? DEFAULT_MODEL) : '';
      if (!preset && q.model !== undefined) throw new NotFoundError('voice'); // only presets belong to a model folder
      const userId = isSigned(q)
        ? signedUser(q, 'preview', (user, exp, sig) =>
            app.resultLinks.verifyPreview(id, model, user, exp, sig),
          )
        : await bearerUser(request, reply);
      if (preset) {
        const info = await app.models.get(model);
        if (!info.presets.some((p) => p.id === id)) throw new NotFoundError('voice');
        const file = await currentPreview(app.models.dirOf(model), preset);
        if (!file) throw new NotFoundError('preview of this voice');
        return sendAudioFile(
          request,
          reply,
          {
            path: file,
            contentType: PREVIEW_CONTENT_TYPE,
            downloadName: `${preset}.ogg`,
            disposition: 'inline',
          },
          'preview of this voice',
        );
      }
      const voice = await app.voices.get(userId, id);
      return sendAudioFile(
        request,
        reply,
        {
          path: app.voices.referencePathFor(userId, id),
          contentType: DEMUXER_CONTENT_TYPES[voice.reference.demuxer] ?? 'application/octet-stream',
          downloadName: voice.reference.filename,
          disposition: 'inline',
        },
        'voice',
      );
    },
  );
};
