import type { Multipart } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { MalformedMultipartError, VcError } from '../errors/index.js';

/** Errors the multipart parser raises itself (no boundary, cut short) carry no code; ours and Fastify's do. */
function fromParser(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof VcError || typeof code === 'string') return err;
  return new MalformedMultipartError({ cause: err });
}

/**
 * `request.parts()` whose parser errors become `400 VC_ERR_MALFORMED_MULTIPART` instead of a 500:
 * a body without a boundary or cut short is the client's mistake. Limit errors (413) and our own
 * errors pass through unchanged. On upload routes a body that arrives too slowly fails whatever
 * is being awaited (the next part, or a file part's stream) with 400 VC_ERR_UPLOAD_TOO_SLOW.
 */
export async function* multipartParts(
  request: FastifyRequest,
  options: Parameters<FastifyRequest['parts']>[0],
): AsyncGenerator<Multipart> {
  let iterator: AsyncIterator<Multipart>;
  try {
    iterator = request.parts(options)[Symbol.asyncIterator]();
  } catch (err) {
    throw fromParser(err);
  }
  for (;;) {
    let next: IteratorResult<Multipart>;
    try {
      // A body that stalls between parts trips the upload's rate guard instead of waiting forever.
      const pending = iterator.next();
      // Once the guard has won the race, the parser's own later failure has nobody to hear it.
      pending.catch(() => {});
      next = await (request.bodyRate ? Promise.race([pending, request.bodyRate.tripped]) : pending);
    } catch (err) {
      throw fromParser(err);
    }
    if (next.done) return;
    if (next.value.type === 'file') request.bodyRate?.watch(next.value.file);
    yield next.value;
  }
}

/**
 * A file part's name as the user's file is named. Browsers (the HTML standard's multipart/form-data
 * encoding) and curl since 7.81 send a `"` in a file name as `%22` inside the quoted `filename`
 * parameter, and the parser hands that on as it came: `say "hi".wav` arrives as `say %22hi%22.wav`.
 * Only `%22` is decoded: those encoders leave `%` itself alone, so a name that really held `%22`
 * cannot be told apart (the standard accepts that), and `%0D`/`%0A` stay as text rather than
 * becoming control characters.
 */
export function formFilename(sent: string): string {
  return sent.replaceAll('%22', '"');
}
