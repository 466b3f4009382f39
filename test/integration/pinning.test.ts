import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { spawnProcess, waitUntil } from '../helpers/processes.js';
import { CLI, startService, type TestService } from '../helpers/service.js';

interface Heartbeat {
  pid: number;
  size: number;
  threads: { tid: number; core: number }[];
}

let svc: TestService;
let redis: Redis;
before(async () => {
  svc = await startService({ workers: 1 });
  redis = new Redis(svc.redis.url);
});
after(async () => {
  redis?.disconnect();
  await svc?.close();
});

function cpusAllowed(pid: number, tid: number): string {
  const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  return /^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1].trim() ?? '';
}

async function heartbeat(workerId: string): Promise<Heartbeat> {
  let raw: string | null = null;
  await waitUntil(
    async () => {
      raw = await redis.get(`vcfarm:worker:${workerId}`);
      return raw !== null;
    },
    10_000,
    'heartbeat',
  );
  return JSON.parse(raw ?? '{}') as Heartbeat;
}

test('each pool thread is pinned to its own single core', async () => {
  const hb = await heartbeat(svc.workers[0].id);
  const cores = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(.+)$/m)?.[1] ?? '';
  const expected = cores.split(',').flatMap((p) => {
    const [a, b] = p.split('-').map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  });
  assert.equal(hb.size, expected.length, 'one thread per core by default');
  const seen = hb.threads.map((t) => cpusAllowed(hb.pid, t.tid));
  for (const list of seen) assert.match(list, /^\d+$/, `a single core, got "${list}"`);
  assert.equal(new Set(seen).size, seen.length, `distinct cores: ${seen.join(' ')}`);
  assert.deepEqual(
    seen.map(Number).sort((a, b) => a - b),
    expected,
  );
});

test('the affinity mask the process was started with is respected', async () => {
  const core = Number(
    readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(\d+)/m)?.[1] ?? 0,
  );
  const worker = spawnProcess('taskset', ['-c', String(core), process.execPath, CLI, 'worker'], {
    env: { ...svc.env, WORKER_ID: 'masked-worker' },
  });
  try {
    const hb = await heartbeat('masked-worker');
    assert.equal(hb.size, 1, 'one core in the mask → one thread');
    assert.equal(cpusAllowed(hb.pid, hb.threads[0].tid), String(core));
  } finally {
    await worker.stop();
  }
});
