import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { withDeadline } from '../lifecycle/core.js';
import type { RedisClient } from '../redis/core.js';
import { REDIS_QUIT_DEADLINE_MS, redisScript } from '../redis/core.js';
import { type FileKind, FOLDERS, workspaceUsage } from './usage.js';
import { type FileChange, UsageLedger } from './usage-ledger.js';
import { workspaceFor } from './workspace.js';

export interface SweepTtls {
  uploadsSec: number;
  outputsSec: number;
  voicesSec: number;
}

export interface SweeperOptions {
  dataDir: string;
  redis: RedisClient;
  prefix: string;
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>;
  /** TTLs of the user's plan. */
  ttlsOf(userId: string): Promise<SweepTtls>;
  /** `uploadId`, `voiceId` and `job:jobId` of the user's queued and running jobs: never removed. */
  filesInUse(userId: string): Promise<Set<string>>;
  /**
   * Takes an upload or a voice out of what jobs may use, in one step with the check that no job
   * claims it (ResourceClaims): true, its files may go; false, a job needs it. A job queued after
   * `filesInUse` was read is seen here, and one queued after this is refused.
   */
  retire(userId: string, kind: 'upload' | 'voice', id: string): Promise<boolean>;
  /**
   * Told of each job output it removed (by job id), once the file is gone: the job records that
   * its result expired. A failure is logged and the sweep goes on.
   */
  outputRemoved?(userId: string, jobId: string): Promise<void>;
  /** Milliseconds between sweeps; 0: only on demand. */
  intervalMs: number;
  /**
   * A partial intake file (`<id>.part` of an upload or a voice reference) may belong to a request
   * still being probed or decoded: kept at least this long whatever the plan's TTL (the request
   * deadline, REQUEST_TIMEOUT_MS), so a short TTL cannot pull a file from under a running upload.
   */
  intakeDeadlineSec: number;
}

export interface RemovedFile {
  userId: string;
  kind: FileKind;
  name: string;
  ageSec: number;
  bytes: number;
}

const UNLOCK = redisScript(
  'vcfarmSweepUnlock',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
);
const LOCK_MS = 5 * 60_000;

/** The id a workspace file belongs to: `<id>`, `<id>.json`, `<jobId>.<fmt>`, `.<jobId>.<fmt>.<n>.part`. */
function ownerIdOf(name: string): string {
  return name.replace(/^\./, '').split('.')[0];
}

/**
 * Removes workspace files older than their plan's TTL. One sweep at a time across all API
 * instances (a Redis lock with a random token, released only by its holder); files that a
 * queued or running job needs are kept whatever their age: an upload or a voice is retired
 * (`retire`, atomic against a job's claim) before its files go, so none is removed from under a
 * job queued while the sweep ran. Emits `swept` with what it removed.
 * Each workspace's usage ledger (under the same prefix) is told of the removals and then
 * reconciled with a scan: a change no write site recorded is corrected at the latest here.
 */
export class WorkspaceSweeper extends EventEmitter<{ swept: [RemovedFile[]] }> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly ledger: UsageLedger;

  constructor(private readonly options: SweeperOptions) {
    super();
    this.ledger = new UsageLedger(options.redis, options.prefix, options.dataDir);
  }

  start(): void {
    if (this.options.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.sweepOnce()
        .catch((err) => this.options.log.warn({ err }, 'workspace sweep failed'))
        .finally(() => {
          this.running = undefined;
        });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    // A sweep waiting on an unreachable Redis must not hold shutdown.
    await withDeadline(Promise.resolve(this.running), REDIS_QUIT_DEADLINE_MS);
  }

  /** One sweep; undefined when another instance holds the lock. */
  async sweepOnce(now = Date.now()): Promise<RemovedFile[] | undefined> {
    const { redis, prefix, dataDir, log } = this.options;
    const lockKey = `${prefix}:sweeper:lock`;
    const token = randomBytes(12).toString('hex');
    if ((await redis.set(lockKey, token, 'PX', LOCK_MS, 'NX')) !== 'OK') return undefined;
    const removed: RemovedFile[] = [];
    try {
      const users = await readdir(path.join(dataDir, 'workspaces')).catch(() => [] as string[]);
      for (const userId of users) {
        let ws: ReturnType<typeof workspaceFor>;
        try {
          ws = workspaceFor(dataDir, userId);
        } catch {
          continue; // not a workspace folder
        }
        const ttls = await this.options.ttlsOf(userId);
        const ttlSec: Record<FileKind, number> = {
          upload: ttls.uploadsSec,
          voice: ttls.voicesSec,
          output: ttls.outputsSec,
        };
        const usage = await workspaceUsage(dataDir, userId);
        const inUse = await this.options.filesInUse(userId);
        const gone: FileChange[] = [];
        const retired = new Map<string, boolean>();
        for (const e of usage.entries) {
          const ageSec = (now - e.modifiedAt) / 1000;
          const intakePart = e.kind !== 'output' && e.name.endsWith('.part');
          const keepSec = intakePart
            ? Math.max(ttlSec[e.kind], this.options.intakeDeadlineSec)
            : ttlSec[e.kind];
          if (ageSec <= keepSec) continue;
          const id = ownerIdOf(e.name);
          if (inUse.has(id) || inUse.has(`job:${id}`)) continue;
          if (e.kind !== 'output' && !intakePart) {
            if (!retired.has(id)) retired.set(id, await this.options.retire(userId, e.kind, id));
            if (!retired.get(id)) continue;
          }
          const folder = FOLDERS.find(([k]) => k === e.kind)?.[1] ?? 'outputs';
          await rm(path.join(ws[folder], e.name), { force: true });
          gone.push({ folder, name: e.name, bytes: null });
          if (e.kind === 'output' && !e.auxiliary)
            await this.options
              .outputRemoved?.(userId, id)
              .catch((err) =>
                log.warn({ err, userId, jobId: id }, 'an expired result could not be recorded'),
              );
          if (!e.auxiliary) {
            removed.push({ userId, kind: e.kind, name: e.name, ageSec: Math.round(ageSec), bytes: e.bytes });
            log.info(
              { userId, kind: e.kind, file: e.name, ageSec: Math.round(ageSec) },
              'sweeper removed file',
            );
          }
        }
        await this.ledger.record(userId, gone);
        await this.ledger.reconcile(userId);
      }
      if (removed.length > 0) log.info({ count: removed.length }, 'workspace sweep done');
      this.emit('swept', removed);
      return removed;
    } finally {
      await UNLOCK(redis, [lockKey], [token]).catch(() => {});
    }
  }
}
