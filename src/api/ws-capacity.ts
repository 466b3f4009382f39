import type { Duplex } from 'node:stream';

/** Seconds a client refused for a full instance is told to wait (another instance may take it now). */
export const FULL_RETRY_AFTER_SEC = 2;

/**
 * The WebSockets of one instance, open or upgrading, at most `max` (WS_MAX_SOCKETS). A slot is
 * taken before the upgrade and given back when the connection's TCP socket closes, however the
 * connection ends (a clean close, a refused upgrade, a vanished peer), so the count cannot leak
 * and two upgrades racing for the last slot cannot both have it.
 */
export class SocketCapacity {
  private held = 0;
  /** A connection holds one slot at most, even if it asks to upgrade twice. */
  private readonly holding = new WeakSet<Duplex>();

  constructor(readonly max: number) {}

  /** Connections holding a slot now. */
  get size(): number {
    return this.held;
  }

  /** Takes a slot for this connection until it closes; false when the instance is full. */
  take(connection: Duplex): boolean {
    if (this.holding.has(connection)) return true;
    if (this.held >= this.max) return false;
    this.held++;
    this.holding.add(connection);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.held--;
      this.holding.delete(connection);
    };
    connection.once('close', release);
    if (connection.destroyed) release();
    return true;
  }
}
