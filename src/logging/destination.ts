import { writeSync } from 'node:fs';

/** Longest a full pipe (EAGAIN) may hold one log line before it is dropped. */
const EAGAIN_BUDGET_MS = 1000;
const EAGAIN_PAUSE_MS = 10;

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * pino destination that never takes the process down: each line is written synchronously (as
 * pino's default destination does) and a write that fails (ENOSPC on a full log disk, EPIPE, a
 * pipe full for longer than 1 s) drops the line instead of throwing. The first failure is noted
 * once on stderr; when writing works again a line says how many were lost. With nothing
 * buffered there is nothing to flush on exit, so exit is never held up by a full disk (pino's
 * SonicBoom retries an ENOSPC flush forever).
 */
export class DegradingDestination {
  /** Lines lost since the destination started failing. */
  dropped = 0;
  private failing = false;

  constructor(
    private readonly fd = 1,
    private readonly notice: (message: string) => void = (m) => {
      try {
        writeSync(2, `${m}\n`);
      } catch {
        // stderr is gone too: nothing left to tell
      }
    },
  ) {}

  write(line: string): boolean {
    if (this.writeAll(Buffer.from(line))) {
      if (this.failing) {
        this.failing = false;
        const note = `{"level":40,"time":"${new Date().toISOString()}","msg":"log output recovered","droppedLines":${this.dropped}}\n`;
        this.dropped = 0;
        this.writeAll(Buffer.from(note));
      }
    } else {
      this.dropped++;
      if (!this.failing) {
        this.failing = true;
        this.notice('vcfarm: log output failing (disk full?); dropping log lines until it works again');
      }
    }
    return true;
  }

  private writeAll(buf: Buffer): boolean {
    let offset = 0;
    let waited = 0;
    while (offset < buf.length) {
      try {
        offset += writeSync(this.fd, buf, offset);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || waited >= EAGAIN_BUDGET_MS) return false;
        pause(EAGAIN_PAUSE_MS);
        waited += EAGAIN_PAUSE_MS;
      }
    }
    return true;
  }
}
