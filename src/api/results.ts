import path from 'node:path';
import { send } from '@fastify/send';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../errors/index.js';
import { OUTPUT_FORMATS } from '../media/index.js';
import { userOf } from './caller.js';
import { IdParams } from './schemas.js';

const ResultQuery = Type.Object(
  {
    /** Expiry of a signed link, in Unix seconds. */
    exp: Type.Optional(Type.String({ pattern: '^[0-9]{1,12}$' })),
    sig: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{16,128}$' })),
  },
  { additionalProperties: false },
);

/** ASCII fallback plus RFC 5987 UTF-8 name, so any client name is safe in the header. */
function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

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
      const sent = await send(request.raw, encodeURIComponent(path.basename(result.path)), {
        root: path.dirname(result.path),
        acceptRanges: true,
        etag: true,
        lastModified: true,
        cacheControl: false,
        index: false,
        dotfiles: 'deny',
      });
      if (sent.type !== 'file') {
        sent.stream.destroy();
        if (sent.type === 'error' && sent.statusCode === 416)
          return reply.code(416).headers(sent.headers).send({
            error: 'VC_ERR_VALIDATION',
            message: 'the requested range is outside the file',
          });
        throw new NotFoundError('result');
      }
      const base = result.filename.replace(/\.[^.]*$/, '') || 'audio';
      return reply
        .code(sent.statusCode)
        .headers(sent.headers)
        .header('content-type', OUTPUT_FORMATS[result.format].contentType)
        .header('content-disposition', contentDisposition(`${base}-converted.${result.format}`))
        .header('cache-control', 'private, max-age=300')
        .send(sent.stream);
    },
  );
};
