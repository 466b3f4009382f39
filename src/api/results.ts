import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ForbiddenError, UnauthorizedError } from '../errors/index.js';
import { OUTPUT_FORMATS } from '../media/index.js';
import { userOf } from './caller.js';
import { IdParams } from './schemas.js';
import { sendAudioFile } from './send-file.js';

const ResultQuery = Type.Object(
  {
    /** Expiry of a signed link, in Unix seconds. */
    exp: Type.Optional(Type.String({ pattern: '^[0-9]{1,12}$' })),
    sig: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{16,128}$' })),
  },
  { additionalProperties: false },
);

/**
 * GET /api/jobs/:id/result: the converted audio, with Range and conditional-GET support
 * (@fastify/send), so `<audio src>` streams and seeks. Either a signed link (`?exp=&sig=` from
 * the job view's resultUrl; no token needed, not counted against the API rate limit: the
 * browser fetches it in ranges) or `Authorization: Bearer`.
 */
export const resultRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const ownerBySignature = async (jobId: string, exp: string | undefined, sig: string | undefined) => {
    if (exp === undefined || sig === undefined)
      throw new UnauthorizedError('a signed result link needs both exp and sig');
    const owner = await app.conversions.ownerOf(jobId);
    // The same answer for an unknown job and a bad signature: a link reveals nothing.
    if (!owner || !app.resultLinks.verify(jobId, owner, Number(exp), sig))
      throw new ForbiddenError('this result link is invalid or has expired; reload the page for a new one');
    return owner;
  };

  const callerOf = async (request: FastifyRequest, reply: FastifyReply) => {
    await app.authenticate(request);
    await app.enforceRateLimits(request, reply);
    return userOf(request);
  };

  app.get(
    '/jobs/:id/result',
    {
      // Audio bodies (200/206) are streams, so no per-status response schemas; errors are ErrorBody.
      schema: { params: IdParams, querystring: ResultQuery },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { exp, sig } = request.query;
      const userId =
        exp !== undefined || sig !== undefined
          ? await ownerBySignature(id, exp, sig)
          : await callerOf(request, reply);
      const result = await app.conversions.resultOf(userId, id);
      const base = result.filename.replace(/\.[^.]*$/, '') || 'audio';
      return sendAudioFile(
        request,
        reply,
        {
          path: result.path,
          contentType: OUTPUT_FORMATS[result.format].contentType,
          downloadName: `${base}-converted.${result.format}`,
          disposition: 'attachment',
        },
        'result',
      );
    },
  );
};
