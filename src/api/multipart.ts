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
 * errors pass through unchanged.
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
      next = await iterator.next();
    } catch (err) {
      throw fromParser(err);
    }
    if (next.done) return;
    yield next.value;
  }
}
