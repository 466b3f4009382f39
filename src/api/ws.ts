import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { WebSocket } from 'ws';
import type { Principal } from '../auth/index.js';
import type { JobEvent, ServerMessage } from '../progress/index.js';

const AUTH_TIMEOUT_MS = 5000;
/** Progress is dropped (the next one supersedes it) while a slow client has this much unsent. */
const SLOW_CLIENT_BYTES = 1 << 20;

const WsQuery = Type.Object(
  { token: Type.Optional(Type.String({ maxLength: 256 })) },
  { additionalProperties: false },
);

function send(socket: WebSocket, msg: ServerMessage): void {
  if (socket.readyState !== socket.OPEN) return;
  if (msg.type === 'progress' && socket.bufferedAmount > SLOW_CLIENT_BYTES) return;
  socket.send(JSON.stringify(msg));
}

/**
 * GET /api/ws: live events for the caller's own jobs. The token comes as `?token=` (checked
 * before the upgrade) or as the first message `{"type":"auth","token":...}`. The client first
 * gets a snapshot of its jobs, then every event as it happens.
 */
export async function wsRoutes(app: FastifyInstance): Promise<void> {
  app.get(
    '/ws',
    {
      websocket: true,
      schema: { querystring: WsQuery },
      onRequest: async (request: FastifyRequest) => {
        const token = (request.query as { token?: string }).token;
        if (token) {
          const principal = await app.sessions.verify(token);
          if (!principal) {
            await app.authenticate(request); // throws 401 before the upgrade
          }
          request.principal = principal;
        }
      },
    },
    (socket: WebSocket, request: FastifyRequest) => {
      let unsubscribe: (() => void) | undefined;
      socket.on('error', (err) => request.log.debug({ err }, 'websocket error'));
      socket.on('close', () => unsubscribe?.());

      const start = async (principal: Principal) => {
        const buffered: ServerMessage[] = [];
        let live = false;
        // Subscribe before taking the snapshot, so nothing between the two is lost.
        unsubscribe = app.progressHub.subscribe(principal.userId, (event: JobEvent, eventId: string) => {
          const msg = { ...event, eventId } as ServerMessage;
          if (live) send(socket, msg);
          else buffered.push(msg);
        });
        const jobs = await app.conversions.list(principal.userId);
        send(socket, { type: 'snapshot', jobs, eventId: '' });
        live = true;
        for (const msg of buffered) send(socket, msg);
      };

      if (request.principal) {
        start(request.principal).catch((err) => request.log.warn({ err }, 'websocket start failed'));
        return;
      }
      const timer = setTimeout(() => socket.close(4401, 'authentication required'), AUTH_TIMEOUT_MS);
      socket.once('message', (raw) => {
        clearTimeout(timer);
        void (async () => {
          let token: unknown;
          try {
            token = (JSON.parse(String(raw)) as { type?: string; token?: unknown }).token;
          } catch {
            token = undefined;
          }
          const principal = typeof token === 'string' ? await app.sessions.verify(token) : undefined;
          if (!principal) {
            send(socket, {
              type: 'error',
              error: 'VC_ERR_UNAUTHORIZED',
              message: 'a valid token is required',
            });
            socket.close(4401, 'authentication required');
            return;
          }
          request.principal = principal;
          await start(principal);
        })().catch((err) => request.log.warn({ err }, 'websocket auth failed'));
      });
    },
  );
}
