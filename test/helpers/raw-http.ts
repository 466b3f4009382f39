import net from 'node:net';

/**
 * Sends `requests` one after another on one keep-alive connection, as a browser or a balancer
 * reuses it; resolves with each whole answer (status line, headers, body), or null for those
 * not answered within `waitMs` or after the server closed the connection.
 */
export async function onOneConnection(
  port: number,
  requests: Buffer[],
  waitMs: number,
): Promise<(string | null)[]> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  let received = '';
  let closed = false;
  sock.on('data', (b: Buffer) => {
    received += b.toString('latin1');
  });
  sock.on('close', () => {
    closed = true;
  });
  // One whole answer: headers, then as many body bytes as Content-Length says.
  const complete = () => {
    const end = received.indexOf('\r\n\r\n');
    if (end < 0) return false;
    const length = Number(/content-length: *(\d+)/i.exec(received.slice(0, end))?.[1] ?? 0);
    return received.length >= end + 4 + length;
  };
  const answers: (string | null)[] = [];
  try {
    for (const r of requests) {
      if (closed) {
        answers.push(null);
        continue;
      }
      received = '';
      sock.write(r);
      const deadline = Date.now() + waitMs;
      while (!complete() && !closed && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      answers.push(complete() ? received : null);
    }
  } finally {
    sock.destroy();
  }
  return answers;
}

/** A multipart/form-data body with the given parts (boundary `vcfarmBoundary`). */
export function multipartBody(
  parts: { disposition: string; data: Buffer }[],
  boundary = 'vcfarmBoundary',
): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts)
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${p.disposition}\r\nContent-Type: audio/wav\r\n\r\n`,
      ),
      p.data,
      Buffer.from('\r\n'),
    );
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** A whole POST of a multipart body (head and body), keep-alive. */
export function multipartPost(url: string, token: string, body: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      `POST ${url} HTTP/1.1\r\nHost: vcfarm\r\nAuthorization: Bearer ${token}\r\nContent-Type: multipart/form-data; boundary=vcfarmBoundary\r\nContent-Length: ${body.length}\r\n\r\n`,
    ),
    body,
  ]);
}

export const HEALTH_REQUEST = Buffer.from('GET /health HTTP/1.1\r\nHost: vcfarm\r\n\r\n');
