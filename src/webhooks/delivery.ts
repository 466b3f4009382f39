import http from 'node:http';
import https from 'node:https';
import { assertLiteralHost, safeLookup } from './ssrf.js';

/** One queued delivery: the body is fixed when the event is read, and signed anew at each attempt. */
export interface DeliveryData {
  deliveryId: string;
  userId: string;
  url: string;
  event: string;
  body: string;
}

export interface PostOptions {
  timeoutMs: number;
  allowPrivate: boolean;
}

/**
 * POSTs a delivery and resolves the receiver's status. No redirects are followed (a redirect is
 * a non-2xx answer, retried); the address is checked again before connecting: an IP literal here
 * (Node skips `lookup` for those), a name by the connection's lookup (DNS rebinding). Either refusal
 * rejects with code VC_ERR_WEBHOOK_PRIVATE.
 */
export function postDelivery(
  url: string,
  body: string,
  headers: Record<string, string>,
  opts: PostOptions,
): Promise<number> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    assertLiteralHost(target, opts.allowPrivate);
    const req = client.request(
      target,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        lookup: safeLookup(opts.allowPrivate),
        timeout: opts.timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('error', () => {});
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
