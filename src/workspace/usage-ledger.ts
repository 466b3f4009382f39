import { stat } from 'node:fs/promises';
import path from 'node:path';
import { type RedisClient, redisScript } from '../redis/core.js';
import { FOLDERS, isAuxiliary, type WorkspaceUsage, workspaceUsage } from './usage.js';
import { type Workspace, workspaceFor } from './workspace.js';

export type Folder = keyof Omit<Workspace, 'root'>;

/** A file of a workspace as the ledger knows it: its size now, or `null` once it is gone. */
export interface FileChange {
  folder: Folder;
  name: string;
  bytes: number | null;
}

export interface UsageTotals {
  bytes: number;
  files: number;
}

/** An idle user's ledger expires; the next read rebuilds it from disk. */
const LEDGER_TTL_SEC = 7 * 24 * 3600;
/** A reconcile that meets a write between its scan and its apply scans again, this many times in all. */
const RECONCILE_ATTEMPTS = 3;

// KEYS[1] the user's ledger (a hash: `gen`, `bytes`, `files`, and `f:<folder>/<name>` → bytes).
// ARGV[1] ttl s, then triples: field, bytes (-1: the file is gone), counted (1: a file of the
// file quota, 0: metadata or partial). Sets each file's size (so the same change applied twice
// counts once) and moves the totals by the difference. `gen` moves on every write, known ledger
// or not, so a reconcile whose scan a write may have missed is refused. Returns {bytes, files},
// or {-1, -1} while the ledger is not built (nothing to move: a reconcile builds it from disk).
const RECORD = redisScript(
  'vcfarmUsageRecord',
  `
redis.call('HINCRBY', KEYS[1], 'gen', 1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'bytes') == 0 then return {-1, -1} end
local db, df = 0, 0
for i = 2, #ARGV, 3 do
  local f, b, counted = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2] == '1'
  local old = redis.call('HGET', KEYS[1], f)
  if b < 0 then
    if old then
      redis.call('HDEL', KEYS[1], f)
      db = db - tonumber(old)
      if counted then df = df - 1 end
    end
  else
    redis.call('HSET', KEYS[1], f, b)
    db = db + b - (tonumber(old) or 0)
    if counted and not old then df = df + 1 end
  end
end
return {redis.call('HINCRBY', KEYS[1], 'bytes', db), redis.call('HINCRBY', KEYS[1], 'files', df)}
`,
);

// KEYS[1] the ledger. ARGV[1] ttl s, ARGV[2] the `gen` read before the scan ('' for none),
// ARGV[3] bytes, ARGV[4] files, then pairs field, bytes. Replaces the ledger with the scan only if
// no write came between (gen unchanged); returns 1 when applied, 0 when refused.
const RECONCILE = redisScript(
  'vcfarmUsageReconcile',
  `
local gen = redis.call('HGET', KEYS[1], 'gen')
if (gen or '') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'gen', (tonumber(gen) or 0) + 1, 'bytes', ARGV[3], 'files', ARGV[4])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
`,
);

const field = (folder: Folder, name: string) => `f:${folder}/${name}`;
const FOLDER_OF = Object.fromEntries(FOLDERS.map(([kind, folder]) => [kind, folder])) as Record<
  (typeof FOLDERS)[number][0],
  Folder
>;

/**
 * Each user's workspace usage (bytes, files) kept in Redis as a running total, so a quota check
 * is one read instead of a scan of the workspace (docs/BENCHMARKS.md, issue 17). The disk stays
 * the source of truth; the ledger follows it three ways:
 *
 * - every write site records the files it changed (`record` with sizes, or `sync`, which stats
 *   them): a file's entry is set to its size, so a change recorded twice counts once. A file
 *   whose size is known before it appears (an intake) is counted before it appears and again
 *   after, so a crash in between over-counts (refuses early) rather than under-counts;
 * - `reconcile` replaces the ledger with a scan of the disk, unless a write came between the
 *   scan and the replacement (then it scans again). The sweeper reconciles every workspace it
 *   sweeps, and GET /api/workspace the caller's, so a change no write site recorded (a worker
 *   that died between its rename and its record, a file removed by hand) is corrected there;
 * - a ledger that is not there (never built, expired, Redis lost it) is built from a scan at the
 *   first read.
 *
 * Stateless apart from its connection: any number of them (API instances, workers) share one ledger.
 */
export class UsageLedger {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly dataDir: string,
  ) {}

  private key(userId: string): string {
    workspaceFor(this.dataDir, userId); // checks the id
    return `${this.prefix}:usage:${userId}`;
  }

  /**
   * The workspace's totals; with `except`, less those files' entries (a retried job's own output).
   * One round trip, or a scan when the ledger is not built yet.
   */
  async usage(userId: string, except: Omit<FileChange, 'bytes'>[] = []): Promise<UsageTotals> {
    const fields = except.map((f) => field(f.folder, f.name));
    const [bytes, files, ...own] = await this.redis.hmget(this.key(userId), 'bytes', 'files', ...fields);
    if (bytes !== null && files !== null) {
      const ownBytes = own.reduce((n, b) => n + Number(b ?? 0), 0);
      return { bytes: Number(bytes) - ownBytes, files: Number(files) };
    }
    const scan = await this.reconcile(userId);
    const skip = new Set(fields);
    const ownBytes = scan.entries
      .filter((e) => skip.has(field(FOLDER_OF[e.kind], e.name)))
      .reduce((n, e) => n + e.bytes, 0);
    return { bytes: scan.bytes - ownBytes, files: scan.files };
  }

  /** Sets these files' entries (a size, or null: gone); the new totals, or undefined while the ledger is not built. */
  async record(userId: string, changes: FileChange[]): Promise<UsageTotals | undefined> {
    if (changes.length === 0) return undefined;
    const args: (string | number)[] = [LEDGER_TTL_SEC];
    for (const c of changes) args.push(field(c.folder, c.name), c.bytes ?? -1, isAuxiliary(c.name) ? 0 : 1);
    const [bytes, files] = (await RECORD(this.redis, [this.key(userId)], args)) as [number, number];
    return bytes < 0 ? undefined : { bytes, files };
  }

  /** Records these files as they are on disk now (stat'ed at once): after a write or a removal. */
  async sync(userId: string, files: Omit<FileChange, 'bytes'>[]): Promise<UsageTotals | undefined> {
    const ws = workspaceFor(this.dataDir, userId);
    const sizes = await Promise.all(
      files.map((f) =>
        stat(path.join(ws[f.folder], f.name)).then(
          (st) => (st.isFile() ? st.size : null),
          () => null,
        ),
      ),
    );
    return this.record(
      userId,
      files.map((f, i) => ({ ...f, bytes: sizes[i] })),
    );
  }

  /**
   * Scans the workspace and makes the ledger what the scan found, unless a write came between the
   * two (then again, up to 3 scans; a busy workspace is reconciled at a later call). Returns the scan.
   */
  async reconcile(userId: string): Promise<WorkspaceUsage> {
    let scan: WorkspaceUsage | undefined;
    for (let i = 0; i < RECONCILE_ATTEMPTS; i++) {
      const gen = await this.generation(userId);
      scan = await workspaceUsage(this.dataDir, userId);
      if (await this.apply(userId, gen, scan)) break;
    }
    return scan as WorkspaceUsage;
  }

  /**
   * A scan for a reader (GET /api/workspace lists the files from it), and the ledger reconciled
   * with it once, without the reader waiting: a read must answer while Redis refuses writes (the
   * write count is read before the scan; a failure is only passed to `onError`).
   */
  async scanForReader(userId: string, onError: (err: unknown) => void): Promise<WorkspaceUsage> {
    const gen = await this.generation(userId).catch((err) => {
      onError(err);
      return undefined;
    });
    const scan = await workspaceUsage(this.dataDir, userId);
    if (gen !== undefined) this.apply(userId, gen, scan).catch(onError);
    return scan;
  }

  /** The ledger's write count, read before a scan (see `apply`). */
  async generation(userId: string): Promise<string> {
    return (await this.redis.hget(this.key(userId), 'gen')) ?? '';
  }

  /** Replaces the ledger with a scan taken after `generation` returned `gen`; false if a write came since. */
  async apply(userId: string, gen: string, scan: WorkspaceUsage): Promise<boolean> {
    const args: (string | number)[] = [LEDGER_TTL_SEC, gen, scan.bytes, scan.files];
    for (const e of scan.entries) args.push(field(FOLDER_OF[e.kind], e.name), e.bytes);
    return (await RECONCILE(this.redis, [this.key(userId)], args)) === 1;
  }

  /** Drops the user's ledger (a removed account's workspace). */
  async forget(userId: string): Promise<void> {
    await this.redis.del(this.key(userId));
  }
}
