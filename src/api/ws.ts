import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { WebSocket } from 'ws';
import type { Principal } from '../auth/index.js';
import { UnavailableError, VcError } from '../errors/index.js';
import type { ClientMessage, ServerMessage } from '../progress/index.js';
import { QueueWatch, queuedPlaces } from './queue-watch.js';
import { FULL_RETRY_AFTER_SEC, SocketCapacity } from './ws-capacity.js';
import { WsSession } from './ws-session.js';

const AUTH_TIMEOUT_MS = 5000;
/** Close codes: 4401 = no valid token, 4429 = too many sockets for this user or over its rate limit. */
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_TOO_MANY = 4429;

const WsQuery = Type.Object(
  {
    token: Type.Optional(Type.String({ maxLength: 256 })),
    lastEventId: Type.Optional(Type.String({ maxLength: 40 })),
    /** `1`: send the places of the user's queued jobs (as `"queue": true` in an auth message). */
    queue: Type.Optional(Type.Literal('1')),
  },
  { additionalProperties: false },
);

function sendError(socket: WebSocket, error: string, message: string): void {
  if (socket.readyState !== socket.OPEN) return;
  socket.send(JSON.stringify({ type: 'error', error, message } satisfies ServerMessage));
}

function parseClientMessage(raw: unknown): Partial<ClientMessage> & { token?: unknown } {
  try {
    const msg = JSON.parse(String(raw)) as unknown;
    return msg && typeof msg === 'object' ? (msg as Partial<ClientMessage>) : {};
  } catch {
    return {};
  }
}

/** Open sockets per user on this instance. */
class SocketCounts {
  private readonly counts = new Map<string, number>();
  constructor(private readonly max: number) {}
  full(userId: string): boolean {
    return (this.counts.get(userId) ?? 0) >= this.max;
  }
  acquire(userId: string): boolean {
    if (this.full(userId)) return false;
    this.counts.set(userId, (this.counts.get(userId) ?? 0) + 1);
    return true;
  }
  release(userId: string): void {
    const n = (this.counts.get(userId) ?? 1) - 1;
    if (n <= 0) this.counts.delete(userId);
    else this.counts.set(userId, n);
  }
}

/** Counts a socket that authenticated by its first message against its user's `api` limit. */
function apiRequestCounter(app: FastifyInstance, request: FastifyRequest) {
  return (principal: Principal): Promise<boolean> => {
    request.principal = principal;
    return app.countApiRequest(request);
  };
}

/**
 * Pings every socket each interval; a socket that has not answered the previous ping is dead
 * (a vanished peer, a silently dropped NAT entry) and is terminated. One timer per instance.
 */
class Heartbeat {
  private readonly alive = new Map<WebSocket, boolean>();
  private readonly timer: NodeJS.Timeout;
  constructor(intervalMs: number) {
    this.timer = setInterval(() => this.beat(), intervalMs);
    this.timer.unref();
  }
  add(socket: WebSocket): void {
    this.alive.set(socket, true);
    socket.on('pong', () => this.alive.set(socket, true));
    socket.once('close', () => this.alive.delete(socket));
  }
  stop(): void {
    clearInterval(this.timer);
  }
  private beat(): void {
    for (const [socket, alive] of this.alive) {
      if (!alive) {
        this.alive.delete(socket);
        socket.terminate();
        continue;
      }
      this.alive.set(socket, false);
      socket.ping();
    }
  }
}

/**
 * GET /api/ws: live events for the caller's own jobs. The token comes as `?token=` (checked
 * before the upgrade) or in the first message, `{"type":"auth","token":...}`. A client that saw
 * events before sends the highest `eventId` it saw as `?lastEventId=` or in that first message
 * (`{"type":"resume","token":...,"lastEventId":...}`) and gets what it missed; otherwise, or when
 * the missed events are no longer kept, it gets a snapshot of its jobs. Then every event, live.
 */
export async function wsRoutes(app: FastifyInstance): Promise<void> {
  const { wsPingIntervalMs, wsMaxSocketsPerUser, wsMaxSockets, wsSlowClientBytes } = app.config;
  const counts = new SocketCounts(wsMaxSocketsPerUser);
  const capacity = new SocketCapacity(wsMaxSockets);
  const heartbeat = new Heartbeat(wsPingIntervalMs);
  const upgrades = new WeakMap<IncomingMessage, ServerResponse>();
  app.addHook('onClose', async () => heartbeat.stop());
  const observe = {
    sent: (type: string) => app.metrics.wsMessages.labels(type).inc(),
    coalesced: () => app.metrics.wsCoalesced.inc(),
    cutOff: () => app.metrics.wsCutOff.inc(),
  };

  app.get(
    '/ws',
    {
      websocket: true,
      schema: { querystring: WsQuery },
      onRequest: async (request: FastifyRequest, reply: FastifyReply) => {
        // A plain GET is refused here like any bad request: @fastify/websocket's own answer is an
        // empty 404 (for a route that exists), and the request would hold a socket slot for as
        // long as its keep-alive connection stays open.
        // (Node's parser marks an upgrade request `upgrade: true`; its types leave the field out.)
        if (!(request.raw as IncomingMessage & { upgrade?: boolean }).upgrade)
          throw new VcError(
            'VC_ERR_VALIDATION',
            'GET /api/ws is a WebSocket: send it as an upgrade (Connection: Upgrade, Upgrade: websocket)',
          );
        upgrades.set(request.raw, reply.raw);
        // A full instance sheds the upgrade before anything else (HAProxy retries another one).
        if (!capacity.take(request.raw.socket)) {
          reply.header('retry-after', String(FULL_RETRY_AFTER_SEC));
          // The upgrade's socket is closed after this answer (@fastify/websocket destroys it on
          // response): say so, so a proxy does not read the close as a server that failed mid-answer.
          reply.header('connection', 'close');
          throw new UnavailableError(
            `this instance holds its maximum of ${wsMaxSockets} WebSockets; retry shortly`,
          );
        }
        const token = (request.query as { token?: string }).token;
        if (!token) return;
        const principal = await app.sessions.verify(token);
        if (!principal) await app.authenticate(request); // throws 401 before the upgrade
        if (principal && counts.full(principal.userId))
          throw new VcError('VC_ERR_RATE_LIMITED', `at most ${wsMaxSocketsPerUser} open sockets per user`);
        request.principal = principal;
      },
    },
    (socket: WebSocket, request: FastifyRequest) => {
      // A socket lives for hours; the upgrade request must not live as long. @fastify/websocket
      // (11.3) hands the upgrading TCP socket to a ServerResponse to run the route, and adds an
      // 'error' listener that closes over Fastify's request and reply: left as they are, the
      // request, its headers, the response and both Fastify objects stayed reachable from every
      // socket (bench/ws-memory.ts lists them). The response lets go of the socket, and our own
      // 'error' listener (below) replaces the library's.
      upgrades.get(request.raw)?.detachSocket(request.raw.socket);
      upgrades.delete(request.raw);
      socket.removeAllListeners('error');
      let session: WsSession | undefined;
      // No closure below refers to `request`: a socket lives for hours, and holding the request
      // (and its IncomingMessage) would cost every socket a few KB for nothing.
      const log = request.log;
      const query = request.query as { lastEventId?: string; queue?: string };
      const authenticated = request.principal;
      const countApi = authenticated ? undefined : apiRequestCounter(app, request);
      let watch: QueueWatch | undefined;
      let userId: string | undefined;
      heartbeat.add(socket);
      app.metrics.wsClients.inc();
      socket.on('error', (err) => log.debug({ err }, 'websocket error'));
      socket.on('close', () => {
        app.metrics.wsClients.dec();
        session?.close();
        watch?.stop();
        if (userId) counts.release(userId);
      });

      const start = async (principal: Principal, lastEventId: string | undefined, queue: boolean) => {
        if (socket.readyState !== socket.OPEN) return; // closed while authenticating
        if (!counts.acquire(principal.userId)) {
          socket.close(CLOSE_TOO_MANY, 'too many open sockets for this user');
          return;
        }
        userId = principal.userId;
        session = new WsSession(
          socket,
          app.progressHub,
          app.conversions,
          principal.userId,
          {
            slowClientBytes: wsSlowClientBytes,
            resultLink: (jobId, userId) => app.resultLinks.url(jobId, userId),
            observe,
          },
          log,
        );
        await session.start(lastEventId);
        if (queue && socket.readyState === socket.OPEN) {
          const user = principal.userId;
          watch = new QueueWatch(
            () => queuedPlaces(app.conversions, app.queueEstimator, user),
            (msg) => {
              if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(msg));
            },
            (err) => log.warn({ err }, 'queue places could not be read'),
          );
          watch.start();
        }
        socket.on('message', (raw) => {
          if (parseClientMessage(raw).type === 'resume')
            sendError(socket, 'VC_ERR_VALIDATION', 'resume only as the first message or with ?lastEventId=');
        });
      };

      const fail = (err: unknown) => {
        log.warn({ err }, 'websocket start failed');
        socket.close(1011, 'internal error');
      };

      if (authenticated || !countApi) {
        if (authenticated) start(authenticated, query.lastEventId, query.queue === '1').catch(fail);
        return;
      }
      const timer = setTimeout(
        () => socket.close(CLOSE_UNAUTHORIZED, 'authentication required'),
        AUTH_TIMEOUT_MS,
      );
      socket.once('message', (raw) => {
        clearTimeout(timer);
        void (async () => {
          const msg = parseClientMessage(raw);
          const token = msg.type === 'auth' || msg.type === 'resume' ? msg.token : undefined;
          const principal = typeof token === 'string' ? await app.sessions.verify(token) : undefined;
          if (!principal) {
            sendError(socket, 'VC_ERR_UNAUTHORIZED', 'a valid token is required');
            socket.close(CLOSE_UNAUTHORIZED, 'authentication required');
            return;
          }
          if (!(await countApi(principal))) {
            sendError(socket, 'VC_ERR_RATE_LIMITED', 'the api rate limit is reached; retry later');
            socket.close(CLOSE_TOO_MANY, 'rate limited');
            return;
          }
          const lastEventId = typeof msg.lastEventId === 'string' ? msg.lastEventId : undefined;
          await start(principal, lastEventId, msg.queue === true);
        })().catch(fail);
      });
    },
  );
}
