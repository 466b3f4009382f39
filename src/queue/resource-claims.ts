import { ConflictError, NotFoundError } from '../errors/index.js';
import type { RedisClient } from '../redis/core.js';
import { redisScript } from '../redis/core.js';
import { CONVERSION_QUEUE } from './conversion-job.js';
import { KEEP_FINISHED_SEC } from './keys.js';

/** A stored thing a conversion needs while it waits or runs: its upload, its voice. */
export interface Use {
  kind: 'upload' | 'voice';
  id: string;
}

/** A claim whose job was never added (its instance died between claim and add) lapses after this. */
const CLAIM_GRACE_MS = 60_000;

// KEYS: gone marker, claims zset, per use. ARGV: jobId, now, claims ttl ms. Refuses (returns the
// 1-based index of the use) when one of them is being deleted; else records the job in each.
const CLAIM = redisScript(
  'vcfarmClaimUses',
  `
for i = 1, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then return (i + 1) / 2 end
end
for i = 2, #KEYS, 2 do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[3])
end
return 0
`,
);

// KEYS[1] gone marker, KEYS[2] claims. ARGV: now, job key prefix, grace ms, gone ttl s. Drops the
// claims of jobs that finished (or were never added, past the grace); refuses while any is left,
// else marks the thing gone (no claim can be made after this) and returns 1.
const RETIRE = redisScript(
  'vcfarmRetireUse',
  `
local members = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local key = ARGV[2] .. members[i]
  local alive
  if redis.call('EXISTS', key) == 1 then
    alive = redis.call('HEXISTS', key, 'finishedOn') == 0
  else
    alive = tonumber(members[i + 1]) > tonumber(ARGV[1]) - tonumber(ARGV[3])
  end
  if not alive then redis.call('ZREM', KEYS[2], members[i]) end
end
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[4])
redis.call('DEL', KEYS[2])
return 1
`,
);

/**
 * Which queued or running jobs need an upload or a voice, kept so that "is it needed?" and "it is
 * gone" are one step: a job claims what it uses before it is queued (refused if the thing is being
 * deleted), and a delete retires the thing only while no unfinished job claims it, in one script
 * each. Before, the delete checked the user's jobs and then removed the file: a job queued in
 * between ran without its upload.
 */
export class ResourceClaims {
  private readonly jobKeyPrefix: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {
    this.jobKeyPrefix = `${prefix}:${CONVERSION_QUEUE}:`;
  }

  private keys(use: Use): [string, string] {
    return [`${this.prefix}:gone:${use.kind}:${use.id}`, `${this.prefix}:claims:${use.kind}:${use.id}`];
  }

  /** Records that `jobId` needs `uses`; NotFoundError when one of them is deleted meanwhile. */
  async claim(jobId: string, uses: Use[]): Promise<void> {
    if (uses.length === 0) return;
    const gone = Number(
      await CLAIM(
        this.redis,
        uses.flatMap((u) => this.keys(u)),
        [jobId, Date.now(), KEEP_FINISHED_SEC * 1000],
      ),
    );
    if (gone > 0) throw new NotFoundError(uses[gone - 1].kind);
  }

  /** The job will not run (refused, cancelled while queued): it needs nothing any more. */
  async release(jobId: string, uses: Use[]): Promise<void> {
    await Promise.all(uses.map((u) => this.redis.zrem(this.keys(u)[1], jobId)));
  }

  /** Marks `use` gone if no unfinished job needs it; ConflictError otherwise. */
  async retire(use: Use): Promise<void> {
    const ok = await RETIRE(this.redis, this.keys(use), [
      Date.now(),
      this.jobKeyPrefix,
      CLAIM_GRACE_MS,
      KEEP_FINISHED_SEC,
    ]);
    if (Number(ok) !== 1)
      throw new ConflictError(`a queued or running job uses this ${use.kind}; cancel it first`);
  }
}
