import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { type ErrorCode, RequestTimeoutError } from '../errors/index.js';
import { HTTP_STATUS } from './error-handler.js';

/** What Node's HTTP server reports to `clientError` before any route runs (or instead of it). */
type ClientError = Error & { code?: string };

/**
 * Fastify's `clientErrorHandler`: the answers Node's HTTP server makes itself, in our
 * `{error, message}` shape. Node's request timeout (REQUEST_TIMEOUT_MS) is a 400
 * `VC_ERR_REQUEST_TIMEOUT`, not the 408 Node and Fastify send: Chromium sends a request answered
 * 408 on a reused keep-alive connection again (RFC 9110 lets a client repeat it), and `curl --retry`
 * repeats any 408, so a slow uplink turned one upload into several, each cut off. A head too large
 * is 431, anything else the parser refused 400. Nothing is written once a response has begun.
 */
export function clientErrorHandler(requestTimeoutMs: number) {
  return function onClientError(this: FastifyInstance, err: ClientError, socket: Socket): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    let status: number;
    let code: ErrorCode;
    let message: string;
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      const timeout = new RequestTimeoutError(requestTimeoutMs);
      ({ code, message } = timeout);
      status = HTTP_STATUS[code];
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      code = 'VC_ERR_HEADERS_TOO_LARGE';
      [status, message] = [HTTP_STATUS[code], 'the request headers are too large'];
    } else {
      code = 'VC_ERR_VALIDATION';
      [status, message] = [HTTP_STATUS[code], 'the request is not valid HTTP'];
    }
    this.log.info({ code, status, detail: err.code }, 'request rejected by the HTTP server');
    // A route may have started its answer (an early refusal while the body still arrives).
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const body = JSON.stringify({ error: code, message });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  };
}
