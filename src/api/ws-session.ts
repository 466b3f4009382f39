import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import {
  compareEventIds,
  isFinalEvent,
  type JobEvent,
  type ProgressHub,
  type ServerMessage,
} from '../progress/index.js';
import type { ConversionQueue } from '../queue/index.js';

export interface WsSessionOptions {
  /** Unsent bytes after which progress is coalesced (latest per job wins). */
  slowClientBytes: number;
  /** A signed result link for the user's job: snapshots and `completed` events carry one. */
  resultLink?: (jobId: string, userId: string) => string;
  /** Counts what the session does with messages (metrics). */
  observe?: {
    sent(type: ServerMessage['type']): void;
    /** A waiting progress message was replaced or superseded without being sent. */
    coalesced(): void;
    cutOff(): void;
  };
}

/** How often coalesced progress is retried while a client is slow. */
const FLUSH_MS = 50;
/** A client this far behind (finals and stages only, since progress is coalesced) is cut off; it resumes. */
const CUT_OFF_FACTOR = 64;

/**
 * The event stream of one WebSocket: a snapshot or a replay first, then live events, each sent
 * once and in stream order. Live events that arrive while the snapshot or replay is being read
 * wait in a buffer, so nothing between the two is lost or sent twice.
 */
export class WsSession {
  /** The highest stream id this socket has been given (by an event, a replay or a snapshot). */
  private sentUpTo = '0-0';
  private live = false;
  private readonly early: [JobEvent, string][] = [];
  /** Coalesced progress per job while the client is slow; insertion order is kept. */
  private readonly pending = new Map<string, ServerMessage>();
  private flushTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly hub: ProgressHub,
    private readonly conversions: ConversionQueue,
    private readonly userId: string,
    private readonly options: WsSessionOptions,
    private readonly log: FastifyBaseLogger,
  ) {}

  /**
   * Subscribes, then catches up: the user's events after `lastEventId` when the stream still has
   * them all, a snapshot otherwise. Subscribing first means an event published meanwhile is
   * either covered by the catch-up or delivered after it.
   */
  async start(lastEventId: string | undefined): Promise<void> {
    this.unsubscribe = this.hub.subscribe(this.userId, (event, id) => {
      if (this.live) this.deliver(event, id);
      else this.early.push([event, id]);
    });
    const position = this.hub.position;
    const replay = lastEventId ? await this.hub.replay(this.userId, lastEventId, position) : undefined;
    if (replay?.kind === 'events' && lastEventId) {
      this.sentUpTo = lastEventId;
      for (const [id, event] of replay.events) this.deliver(event, id);
      if (compareEventIds(position, this.sentUpTo) > 0) this.sentUpTo = position;
    } else {
      const link = this.options.resultLink;
      const jobs = (await this.conversions.list(this.userId)).map((j) => {
        if (!link) return j;
        const signed = j.resultUrl ? { ...j, resultUrl: link(j.id, this.userId) } : j;
        return j.partialUrl ? { ...signed, partialUrl: `${link(j.id, this.userId)}&partial=1` } : signed;
      });
      this.sendMessage({ type: 'snapshot', jobs, eventId: position });
      this.sentUpTo = position;
    }
    this.live = true;
    for (const [event, id] of this.early.splice(0)) this.deliver(event, id);
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    this.pending.clear();
  }

  private deliver(event: JobEvent, id: string): void {
    if (compareEventIds(id, this.sentUpTo) <= 0) return;
    this.sentUpTo = id;
    const link = this.options.resultLink;
    const signed =
      event.type === 'completed' && link ? { ...event, resultUrl: link(event.jobId, this.userId) } : event;
    this.sendMessage({ ...signed, eventId: id } as ServerMessage);
  }

  private sendMessage(msg: ServerMessage): void {
    const socket = this.socket;
    if (socket.readyState !== socket.OPEN) return;
    if (msg.type === 'progress') {
      if (this.pending.size > 0 || socket.bufferedAmount > this.options.slowClientBytes) {
        if (this.pending.delete(msg.jobId)) this.options.observe?.coalesced();
        this.pending.set(msg.jobId, msg);
        this.flushTimer ??= setInterval(() => this.flush(), FLUSH_MS);
        return;
      }
    } else if ('jobId' in msg) {
      // A stage change or the end of a job supersedes the progress still waiting for it.
      if (this.pending.delete(msg.jobId)) this.options.observe?.coalesced();
    }
    socket.send(JSON.stringify(msg));
    this.options.observe?.sent(msg.type);
    if (isFinalEvent(msg) && socket.bufferedAmount > this.options.slowClientBytes * CUT_OFF_FACTOR) {
      // Not reading at all: cut it off rather than hold its backlog. It resumes from its last id.
      this.log.info({ buffered: socket.bufferedAmount }, 'websocket client too far behind; closing');
      this.options.observe?.cutOff();
      socket.terminate();
    }
  }

  private flush(): void {
    const socket = this.socket;
    if (socket.readyState !== socket.OPEN) {
      this.close();
      return;
    }
    if (socket.bufferedAmount > this.options.slowClientBytes) return;
    for (const msg of this.pending.values()) {
      socket.send(JSON.stringify(msg));
      this.options.observe?.sent(msg.type);
    }
    this.pending.clear();
    clearInterval(this.flushTimer);
    this.flushTimer = undefined;
  }
}
