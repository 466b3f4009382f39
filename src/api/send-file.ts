import path from 'node:path';
import { send } from '@fastify/send';
import { create as createDisposition } from 'content-disposition';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NotFoundError, RangeNotSatisfiableError } from '../errors/index.js';

/**
 * The header for a file saved as `name` (any client's name: quotes, `;`, non-ASCII, control
 * characters), made by the `content-disposition` package (jshttp): a quoted ASCII `filename` (each
 * character outside printable ASCII an `_`) and, where that differs, the RFC 8187 `filename*`.
 * encodeURIComponent left `'`, `(`, `)` and `*` as they were, which `filename*` may not hold: a
 * name with an apostrophe was cut short or refused by the clients that parse it.
 */
export function contentDisposition(kind: 'attachment' | 'inline', name: string): string {
  return createDisposition(name, { type: kind, fallback: name.replace(/[^\x20-\x7e]/g, '_') });
}

export interface SentFile {
  path: string;
  contentType: string;
  /** The name a browser saves it as. */
  downloadName: string;
  disposition: 'attachment' | 'inline';
}

/**
 * Whether `header` is a `bytes` Range that RFC 9110 calls invalid (14.1.1): an element that is
 * not `first-last`, `first-` or `-suffix`, or a `first-last` whose last is below its first.
 * @fastify/send answers those 416 as if they were unsatisfiable; an invalid Range is ignored
 * instead (14.2), so the whole file is sent. Other units are left to send, which ignores them.
 */
function invalidByteRange(header: string | undefined): boolean {
  // The test @fastify/send itself applies before it reads a Range.
  const set = header === undefined ? null : /^ *bytes=(.*)$/.exec(header);
  if (!set) return false;
  // Empty list elements are allowed and ignored (RFC 9110 5.6.1), as send does.
  const specs = set[1]
    .split(',')
    .map((spec) => spec.trim())
    .filter((spec) => spec !== '');
  if (specs.length === 0) return true;
  return specs.some((spec) => {
    const int = /^(\d+)-(\d*)$/.exec(spec);
    // BigInt: positions past 2^53 still compare exactly.
    if (int) return int[2] !== '' && BigInt(int[2]) < BigInt(int[1]);
    return !/^-\d+$/.test(spec);
  });
}

/**
 * Sends a stored audio file with Range and conditional-GET support (@fastify/send), so an
 * `<audio src>` streams and seeks. A file that is gone answers 404 `what`; a valid range that
 * starts past the end 416, with the file's size in `Content-Range`; an invalid Range is ignored (the
 * whole file, 200). Nothing about the file's place on disk reaches the answer.
 */
export async function sendAudioFile(
  request: FastifyRequest,
  reply: FastifyReply,
  file: SentFile,
  what: string,
): Promise<FastifyReply> {
  const sent = await send(request.raw, encodeURIComponent(path.basename(file.path)), {
    root: path.dirname(file.path),
    acceptRanges: !invalidByteRange(request.headers.range),
    etag: true,
    lastModified: true,
    cacheControl: false,
    index: false,
    dotfiles: 'deny',
  });
  if (sent.type !== 'file') {
    sent.stream.destroy();
    if (sent.type === 'error' && sent.statusCode === 416) {
      // Only the range header: send's own Content-Length and Content-Type are for its HTML body (a 500 here before).
      reply.header('content-range', String(sent.headers['Content-Range'] ?? ''));
      throw new RangeNotSatisfiableError();
    }
    throw new NotFoundError(what);
  }
  return (
    reply
      .code(sent.statusCode)
      .headers(sent.headers)
      // Set here too: send leaves it out when told to ignore an invalid Range.
      .header('accept-ranges', 'bytes')
      .header('content-type', file.contentType)
      .header('content-disposition', contentDisposition(file.disposition, file.downloadName))
      .header('cache-control', 'private, max-age=300')
      .send(sent.stream)
  );
}
