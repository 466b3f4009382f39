import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '../errors/index.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../media/index.js';
import { LinkExpiry, LinkSignature } from './fields.js';
import { followPartial, waitForPartial } from './partial-result.js';
import { IdParams } from './schemas.js';
import { contentDisposition, type SentFile, sendAudioFile } from './send-file.js';
import { bearerUser } from './signed-or-bearer.js';

const ResultQuery = Type.Object(
  {
    /** Expiry of a signed link, in Unix seconds. */
    exp: Type.Optional(LinkExpiry),
    sig: Type.Optional(LinkSignature),
    /** `1`: the output written so far of a job still running, followed as it grows (partial-result.ts). */
    partial: Type.Optional(Type.Literal('1')),
  },
  { additionalProperties: false },
);

/**
 * GET /api/jobs/:id/result: the converted audio, with Range and conditional-GET support
 * (@fastify/send), so `<audio src>` streams and seeks. Either a signed link (`?exp=&sig=` from
 * the job view's resultUrl; no token needed, not counted against the API rate limit: the
 * browser fetches it in ranges) or `Authorization: Bearer`. With `?partial=1` (the job view's
 * partialUrl, same rules): while the job runs, the output written so far, followed as it grows
 * (chunked, no Range) until the job ends; once it has ended, the finished file as above.
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
          : await bearerUser(request, reply);
      if (request.query.partial) return sendPartial(request, reply, userId, id);
      const result = await app.conversions.resultOf(userId, id);
      return sendAudioFile(request, reply, resultFile(result.path, result.format, result.filename), 'result');
    },
  );

  /** Streams that follow growing outputs; ended when the app closes, so none holds the close up. */
  const following = new Set<AbortController>();
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    for (const c of following) c.abort();
  });

  const sendPartial = async (request: FastifyRequest, reply: FastifyReply, userId: string, id: string) => {
    const ac = new AbortController();
    following.add(ac);
    reply.raw.once('close', () => {
      ac.abort();
      following.delete(ac);
    });
    const read = () => app.conversions.partialOf(userId, id);
    const start = await waitForPartial(read, ac.signal);
    switch (start.kind) {
      case 'final':
        return sendAudioFile(
          request,
          reply,
          resultFile(start.result.finalPath, start.result.format, start.result.filename),
          'result',
        );
      case 'ended':
        throw new NotFoundError('result');
      case 'not-yet':
        reply.header('retry-after', '2');
        throw new ConflictError('nothing of this job is converted yet; ask again in a moment');
      case 'follow': {
        const { format, filename } = start.result;
        const file = resultFile(start.result.finalPath, format, filename);
        const stream = followPartial(start.file, start.attempt, read, ac.signal);
        // The app closing: the follow's connection is cut, not only its stream ended. A stream that
        // ends after the close began leaves a keep-alive connection nobody closes (the server closed
        // the idle ones before), and one whose reader stopped (a media element with enough
        // buffered) never ends: either held the close to its deadline. The client asks again (the
        // CLI, skipping what it has; the page's player plays what it buffered, and the WebSocket,
        // back on another instance, brings the finished result).
        const socket = request.raw.socket;
        ac.signal.addEventListener(
          'abort',
          () => {
            stream.destroy();
            if (closing) socket.destroy();
          },
          { once: true },
        );
        return reply
          .code(200)
          .header('content-type', file.contentType)
          .header('content-disposition', contentDisposition(file.disposition, file.downloadName))
          .header('cache-control', 'no-store')
          .header('accept-ranges', 'none')
          .send(stream);
      }
    }
  };
};

function resultFile(path: string, format: OutputFormat, filename: string): SentFile {
  const base = filename.replace(/\.[^.]*$/, '') || 'audio';
  return {
    path,
    contentType: OUTPUT_FORMATS[format].contentType,
    downloadName: `${base}-converted.${format}`,
    disposition: 'attachment',
  };
}
