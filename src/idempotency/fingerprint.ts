import { createHash, type Hash } from 'node:crypto';

/** JSON with object keys sorted, so that `{a,b}` and `{b,a}` are one body. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function jsonFingerprint(route: string, body: unknown): string {
  return createHash('sha256').update(route).update('\n').update(canonicalJson(body)).digest('hex');
}

/**
 * SHA-256 of a multipart body with its boundary left out: a client that retries the same form
 * picks a new random boundary, and the retry is still the same request. Chunks may split a
 * boundary anywhere, so the last `boundary.length - 1` bytes wait for the next chunk.
 */
export class MultipartHasher {
  private readonly hash: Hash;
  private readonly boundary: Buffer;
  private carry = Buffer.alloc(0);

  constructor(route: string, boundary: string) {
    this.boundary = Buffer.from(boundary);
    this.hash = createHash('sha256').update(route).update('\n');
  }

  update(chunk: Buffer): void {
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    let start = 0;
    for (let i = buf.indexOf(this.boundary, start); i >= 0; i = buf.indexOf(this.boundary, start)) {
      this.hash.update(buf.subarray(start, i)).update('\0');
      start = i + this.boundary.length;
    }
    const keep = Math.min(buf.length - start, this.boundary.length - 1);
    this.hash.update(buf.subarray(start, buf.length - keep));
    this.carry = Buffer.from(buf.subarray(buf.length - keep));
  }

  digest(): string {
    return this.hash.update(this.carry).digest('hex');
  }
}

/** The boundary parameter of a multipart content type, or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2]) : undefined;
}
