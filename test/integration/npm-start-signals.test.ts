import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { writePlans } from '../helpers/plans.js';
import { freePort } from '../helpers/ports.js';
import { isAlive, spawnProcess, waitUntil } from '../helpers/processes.js';

// QA s17, defect 9: SIGTERM to the `npm start` process left `vcfarm all`, its redis-server and its
// worker running, reparented to init (npm forwards the signal to its child only, and that child was
// a shell). Now the service is npm's child: it drains (the running job finishes) and every
// process under npm is gone.

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Pids of every process below `pid`, read from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

async function filesNamed(dir: string, name: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((e) => path.basename(e) === name);
}

/**
 * Starts `npm start` in a process group of its own (setsid: a terminal's foreground group), runs a
 * job, stops npm with `stop`, and checks that the job finished and every process npm started is gone.
 */
async function stopsCleanly(stop: (npmPid: number) => void): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-npm-start-'));
  const port = await freePort();
  const started = spawnProcess('setsid', ['npm', '--prefix', ROOT, 'start', '--silent'], {
    env: {
      REDIS_URL: undefined,
      REDIS_PASSWORD_FILE: undefined,
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      POOL_SIZE: '1',
      LOG_LEVEL: 'info',
      PLANS_FILE: writePlans(dataDir),
    },
  });
  const npm = started.process;
  let family: number[] = [];
  try {
    // 1. Up (npm start may build first), with its Redis and its worker under npm.
    await waitUntil(() => started.output().includes('vcfarm is running'), 240_000, 'the start banner');
    const redisPid = Number(await readFile(path.join(dataDir, 'run', 'redis.pid'), 'utf8'));
    await waitUntil(
      () => started.logs.some((l) => l.msg === 'worker process ready'),
      60_000,
      'the worker ready line',
    );
    family = descendants(npm.pid ?? 0);
    assert.ok(family.includes(redisPid), `redis-server ${redisPid} is not under npm (${family})`);
    assert.ok(family.length >= 3, `npm's processes: ${family}`);

    // 2. A job is running.
    const base = `http://127.0.0.1:${port}`;
    const client = await ApiClient.anonymous(base);
    const events = await client.openEvents();
    const up = await client.upload(humanSpeech(20));
    assert.equal(up.status, 201);
    const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav' });
    await events.waitFor((m) => m.type === 'progress' && m.jobId === job.id, 120_000);
    events.close();

    // 3. The signal: npm exits once the service has, and nothing it started is left.
    const exited = new Promise<number | null>((r) => npm.once('exit', (code) => r(code)));
    stop(npm.pid ?? 0);
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([
      exited,
      new Promise((r) => (timer = setTimeout(() => r('hung'), 180_000))),
    ]);
    clearTimeout(timer);
    assert.notEqual(code, 'hung');
    await waitUntil(() => family.every((p) => !isAlive(p)), 10_000, 'every process npm started to exit');
    await assert.rejects(fetch(`${base}/health`));
    // The running job finished before the worker left: its result is on disk.
    assert.equal((await filesNamed(dataDir, `${job.id}.wav`)).length, 1, started.output().slice(-3000));
    // One signal, one drain: not taken for a second signal (an exit at once).
    assert.ok(!started.logs.some((l) => l.msg === 'second signal: exiting at once'), 'a second signal');
  } finally {
    for (const p of family) if (isAlive(p)) process.kill(p, 'SIGKILL');
    await started.kill();
    await rm(dataDir, { recursive: true, force: true });
  }
}

test('SIGTERM to the `npm start` process stops the whole service after its running job finished', async () => {
  await stopsCleanly((pid) => process.kill(pid, 'SIGTERM'));
});

test('Ctrl-C (SIGINT to the foreground group: npm and the service, and npm forwards its own) drains once', async () => {
  await stopsCleanly((pid) => process.kill(-pid, 'SIGINT'));
});
