import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { eventStreamKey, JobEventLog, type ServerMessage } from '../../src/progress/index.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { type Cluster, startCluster } from '../helpers/cluster.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { LiveEvents } from '../helpers/live-events.js';

const PING_MS = 300;
const MAX_SOCKETS = 6;

let cluster: Cluster;
let redis: Redis;

before(async () => {
  cluster = await startCluster({
    instances: 2,
    env: { WS_PING_INTERVAL_MS: String(PING_MS), WS_MAX_SOCKETS_PER_USER: String(MAX_SOCKETS) },
  });
  redis = new Redis(cluster.redis.url);
});
after(async () => {
  redis?.disconnect();
  await cluster?.close();
});

/** A user with one upload of `seconds`-ish speech, ready for jobs. */
async function userWithUpload(baseUrl: string, repeat = 2): Promise<{ client: ApiClient; uploadId: string }> {
  const client = await ApiClient.anonymous(baseUrl);
  const up = await client.upload(humanSpeech(repeat));
  assert.equal(up.status, 201, JSON.stringify(up.body));
  return { client, uploadId: up.body.upload.id };
}

/** Opens sockets through HAProxy until one lands on `server` (leastconn alternates between idle instances). */
async function socketOn(server: string, token: string): Promise<{ live: LiveEvents; others: LiveEvents[] }> {
  const others: LiveEvents[] = [];
  for (let i = 0; i < 6; i++) {
    const live = new LiveEvents({ baseUrl: cluster.haproxy.url, token });
    const conn = await live.waitForStart();
    if (conn.servedBy === server) return { live, others };
    others.push(live);
  }
  throw new Error(`no socket landed on ${server}`);
}

function eventIdsOf(messages: ServerMessage[], jobId: string): string[] {
  return messages
    .filter((m) => 'jobId' in m && m.jobId === jobId)
    .map((m) => (m as { eventId: string }).eventId);
}

test('a socket on instance 1 gets every event of a job submitted through instance 2', async () => {
  const [api1, api2] = cluster.apis;
  const { client, uploadId } = await userWithUpload(api2.url, 3);
  const token = client.session?.token ?? '';

  // 1. One socket through HAProxy that landed on api1, one directly on api1, one directly on api2.
  const { live: viaProxy, others } = await socketOn('api1', token);
  const onApi1 = new LiveEvents({ baseUrl: api1.url, token });
  const onApi2 = new LiveEvents({ baseUrl: api2.url, token });
  await Promise.all([onApi1.waitForStart(), onApi2.waitForStart()]);

  // 2. The job is submitted to api2 directly.
  const job = await client.createJob({ uploadId, outputFormat: 'wav' });
  const done = (l: LiveEvents) => () => l.jobs.get(job.id)?.state === 'completed';
  await Promise.all([viaProxy, onApi1, onApi2].map((l) => l.waitUntil(done(l), 60_000, 'completed')));

  // 3. All three saw the same events, in stream order: stage changes, rising progress, completed.
  const reference = eventIdsOf(onApi2.messages, job.id);
  assert.deepEqual(eventIdsOf(onApi1.messages, job.id), reference);
  assert.deepEqual(eventIdsOf(viaProxy.messages, job.id), reference);
  const mine = viaProxy.messages.filter((m) => 'jobId' in m && m.jobId === job.id);
  const progress = mine.filter((m) => m.type === 'progress').map((m) => m.progress);
  assert.ok(progress.length >= 3, `progress events: ${progress.length}`);
  assert.deepEqual(
    progress,
    [...progress].sort((a, b) => a - b),
  );
  assert.ok(mine.some((m) => m.type === 'stage'));
  assert.equal(mine[mine.length - 1].type, 'completed');
  for (const l of [viaProxy, onApi1, onApi2, ...others]) l.close();
});

test('listeners that start late (a new socket, a new instance) still end with the final state', async () => {
  const { client, uploadId } = await userWithUpload(cluster.apis[0].url, 20);
  const token = client.session?.token ?? '';
  const watcher = new LiveEvents({ baseUrl: cluster.apis[0].url, token });
  await watcher.waitForStart();
  const job = await client.createJob({ uploadId, outputFormat: 'wav' });

  // 1. While the job runs, a new socket opens on each progress event seen, alternating instances,
  //    so sockets subscribe at every moment of the job, including between two events.
  const late: LiveEvents[] = [];
  let seen = 0;
  await watcher.waitUntil(
    () => {
      const n = watcher.messages.filter((m) => m.type === 'progress').length;
      for (; seen < n && late.length < 6; seen++)
        late.push(new LiveEvents({ baseUrl: cluster.apis[late.length % 2].url, token }));
      return late.length >= 6 || watcher.jobs.get(job.id)?.state === 'completed';
    },
    60_000,
    'progress',
  );

  // 2. An API instance started only now, while the job is running: its hub begins at the stream's
  //    end, so this client depends on subscribe-before-snapshot.
  const extra = await cluster.startExtraApi();
  const onExtra = new LiveEvents({ baseUrl: extra.url, token });
  late.push(onExtra);

  // 3. Every one of them ends with the job completed (by a `completed` event or in a snapshot).
  for (const l of late)
    await l.waitUntil(() => l.jobs.get(job.id)?.state === 'completed', 60_000, 'the final state');
  assert.ok(late.length >= 3, `late sockets: ${late.length}`);
  assert.equal((await client.job(job.id)).state, 'completed');
  for (const l of [watcher, ...late]) l.close();
});

test('a client that reconnects with its last event id gets what it missed, or a snapshot once it is gone', async () => {
  const { client, uploadId } = await userWithUpload(cluster.haproxy.url, 2);
  const token = client.session?.token ?? '';

  // 1. Watch two jobs until the first event arrives, remember the last id, and go away.
  const first = new LiveEvents({ baseUrl: cluster.haproxy.url, token });
  await first.waitForStart();
  const jobs = [
    await client.createJob({ uploadId, outputFormat: 'wav' }),
    await client.createJob({ uploadId, outputFormat: 'mp3', pitchSemitones: 3 }),
  ];
  await first.waitUntil(() => first.messages.some((m) => m.type === 'progress'), 30_000, 'progress');
  first.close();
  const lastEventId = first.lastEventId as string;
  assert.ok(![...first.jobs.values()].some((j) => j.state === 'completed'));

  // 2. Both finish while nobody watches.
  for (const j of jobs) await client.waitForJob(j.id);

  // 3. Reconnect with the last id (the page's way, in the first message): the missed events are
  //    replayed, no snapshot, exactly the user's stream entries after that id.
  const back = new LiveEvents({ baseUrl: cluster.haproxy.url, token, lastEventId, auth: 'message' });
  for (const j of jobs)
    await back.waitUntil(() => back.jobs.get(j.id)?.state === 'completed', 30_000, 'replayed completion');
  assert.equal(back.current?.began, 'replay');
  assert.ok(!back.messages.some((m) => m.type === 'snapshot'));
  const entries = (await redis.xrange(eventStreamKey('vcfarm'), `(${lastEventId}`, '+')) as [
    string,
    string[],
  ][];
  const expected = entries.filter(([, f]) => f[1] === client.session?.userId).map(([id]) => id);
  const got = back.messages.map((m) => (m as { eventId?: string }).eventId);
  assert.deepEqual(got, expected);
  back.close();

  // 4. Once the stream no longer holds the events after that id (trimmed), the same resume gets
  //    a snapshot with the right final state of every job instead: nothing silently lost.
  const newest = entries[entries.length - 1][0];
  await redis.xtrim(eventStreamKey('vcfarm'), 'MINID', newest);
  const late = new LiveEvents({ baseUrl: cluster.haproxy.url, token, lastEventId });
  await late.waitForStart();
  assert.equal(late.current?.began, 'snapshot');
  for (const j of jobs) assert.equal(late.jobs.get(j.id)?.state, 'completed');
  late.close();

  // 5. A resume from an id the stream never had (from the future) is not trusted either.
  const future = new LiveEvents({
    baseUrl: cluster.apis[1].url,
    token,
    lastEventId: `${Date.now() + 3_600_000}-0`,
  });
  assert.equal((await future.waitForStart()).began, 'snapshot');
  future.close();
});

test("a client hears nothing about another user's job, even when it asks to resume", async () => {
  const alice = await userWithUpload(cluster.apis[0].url, 1);
  const bob = await ApiClient.anonymous(cluster.apis[1].url);
  const bobToken = bob.session?.token ?? '';
  const watchAlice = new LiveEvents({
    baseUrl: cluster.apis[1].url,
    token: alice.client.session?.token ?? '',
  });
  const bobLive = new LiveEvents({ baseUrl: cluster.apis[1].url, token: bobToken });
  await Promise.all([watchAlice.waitForStart(), bobLive.waitForStart()]);
  const before = (await redis.xrevrange(eventStreamKey('vcfarm'), '+', '-', 'COUNT', 1)) as [
    string,
    string[],
  ][];

  const job = await alice.client.createJob({ uploadId: alice.uploadId, outputFormat: 'wav' });
  await watchAlice.waitUntil(() => watchAlice.jobs.get(job.id)?.state === 'completed', 30_000, 'completion');
  // Bob resumes from just before Alice's events: his replay is empty, not hers.
  const bobResume = new LiveEvents({
    baseUrl: cluster.apis[0].url,
    token: bobToken,
    lastEventId: before[0][0],
  });
  // A marker event of Bob's own, so "nothing about Alice" is checked after everything arrived.
  await new JobEventLog(redis, 'vcfarm').publish(bob.session?.userId ?? '', {
    type: 'cancelled',
    jobId: 'marker',
  });
  for (const l of [bobLive, bobResume])
    await l.waitUntil(() => l.jobs.get('marker')?.state === 'cancelled', 10_000, "Bob's marker");
  for (const l of [bobLive, bobResume]) {
    assert.ok(!JSON.stringify(l.messages).includes(job.id), "Bob saw Alice's job");
    assert.equal(l.jobs.size, 1);
  }
  assert.equal((await bob.request('GET', `/api/jobs/${job.id}`)).status, 404);
  for (const l of [watchAlice, bobLive, bobResume]) l.close();
});

test('heartbeat: a socket that stops answering pings is terminated, a live one stays', async () => {
  const user = await ApiClient.anonymous(cluster.apis[0].url);
  const url = `${cluster.apis[0].url.replace('http', 'ws')}/api/ws?token=${user.session?.token}`;
  // 1. One client answers pings (ws does by default), the other never does.
  const live = new WebSocket(url);
  const dead = new WebSocket(url, { autoPong: false });
  let pings = 0;
  live.on('ping', () => pings++);
  const deadClosed = new Promise<number>((resolve) => dead.once('close', (code) => resolve(code)));
  await Promise.all([live, dead].map((ws) => new Promise((r) => ws.once('open', r))));

  // 2. The silent one is cut off within about two intervals (1006: no close frame).
  const started = Date.now();
  assert.equal(await deadClosed, 1006);
  assert.ok(Date.now() - started < PING_MS * 4, `terminated after ${Date.now() - started} ms`);

  // 3. The answering one has been pinged meanwhile and is still open.
  await new Promise<void>((resolve) => live.once('ping', () => resolve()));
  assert.ok(pings >= 2, `pings: ${pings}`);
  assert.equal(live.readyState, WebSocket.OPEN);
  live.close();
});

test('per-user socket limit: HTTP 429 before the upgrade, close 4429 after first-message auth', async () => {
  const [api1, api2] = cluster.apis;
  const user = await ApiClient.anonymous(api1.url);
  const token = user.session?.token ?? '';
  const wsUrl = (base: string) => `${base.replace('http', 'ws')}/api/ws`;
  const open = async (base: string) => {
    const ws = new WebSocket(`${wsUrl(base)}?token=${token}`);
    await new Promise((r) => ws.once('message', r));
    return ws;
  };
  // 1. The first MAX_SOCKETS sockets on api1 are accepted.
  const sockets = [];
  for (let i = 0; i < MAX_SOCKETS; i++) sockets.push(await open(api1.url));

  // 2. One more with ?token= is refused before the upgrade.
  const refused = new WebSocket(`${wsUrl(api1.url)}?token=${token}`);
  refused.on('error', () => {});
  const status = await new Promise<number>((resolve) =>
    refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
  );
  assert.equal(status, 429);
  refused.terminate();

  // 3. One more with first-message auth is closed with 4429.
  const late = new WebSocket(wsUrl(api1.url));
  await new Promise((r) => late.once('open', r));
  late.send(JSON.stringify({ type: 'auth', token }));
  const code = await new Promise<number>((resolve) => late.once('close', (c) => resolve(c)));
  assert.equal(code, 4429);

  // 4. The limit is per instance: api2 takes one; and a freed slot on api1 is usable again.
  sockets.push(await open(api2.url));
  const closed = sockets[0];
  await new Promise((r) => {
    closed.once('close', r);
    closed.close();
  });
  const again = await open(api1.url);
  for (const ws of [...sockets.slice(1), again]) ws.close();
});

test('a slow client gets coalesced progress (latest wins) and every final event', async () => {
  // An instance whose pings do not cut the client off while it is not reading.
  const api = await cluster.startExtraApi({ WS_PING_INTERVAL_MS: '60000' });
  const user = await ApiClient.anonymous(api.url);
  const userId = user.session?.userId ?? '';
  // 1. A client whose TCP socket stops reading once the stream has started.
  let tcp: net.Socket | undefined;
  const slow = new WebSocket(`${api.url.replace('http', 'ws')}/api/ws?token=${user.session?.token}`, {
    createConnection: ((options: net.NetConnectOpts) => {
      tcp = net.connect(options);
      return tcp;
    }) as typeof net.createConnection,
  });
  const got: Json[] = [];
  slow.on('message', (data) => got.push(JSON.parse(String(data))));
  const receivedUntil = (done: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 30_000);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        slow.off('message', check);
        resolve();
      };
      slow.on('message', check);
      check();
    });
  await receivedUntil(() => got.length > 0, 'the snapshot');
  tcp?.pause();

  // 2. A worker's worth of progress for 4 jobs (~24 MB, more than the kernel buffers hold), then
  //    each job's final event.
  const log = new JobEventLog(redis, 'vcfarm');
  const jobs = ['slow-a', 'slow-b', 'slow-c', 'slow-d'];
  const stage = 'x'.repeat(3000);
  const rounds = 2000;
  for (let r = 1; r <= rounds; r += 50) {
    const batch = [];
    for (let k = r; k < r + 50 && k <= rounds; k++)
      for (const jobId of jobs)
        batch.push(log.publish(userId, { type: 'progress', jobId, progress: k / rounds, stage }));
    await Promise.all(batch);
  }
  await log.publish(userId, { type: 'completed', jobId: 'slow-a', resultUrl: '/r', realTimeFactor: 1 });
  await log.publish(userId, {
    type: 'failed',
    jobId: 'slow-b',
    error: { code: 'VC_ERR_PIPELINE', message: 'x' },
  });
  await log.publish(userId, { type: 'cancelled', jobId: 'slow-c' });
  await log.publish(userId, { type: 'progress', jobId: 'slow-d', progress: 1, stage });

  // 3. Reading again, the client gets every final event, the latest progress of the job still
  //    running, and far fewer progress messages than were published.
  tcp?.resume();
  const finals = () => got.filter((m) => ['completed', 'failed', 'cancelled'].includes(m.type)).length;
  await receivedUntil(
    () =>
      finals() === 3 && got.some((m) => m.jobId === 'slow-d' && m.type === 'progress' && m.progress === 1),
    'the final events',
  );
  const progress = got.filter((m) => m.type === 'progress');
  assert.ok(progress.length < (rounds * jobs.length) / 2, `progress messages: ${progress.length}`);
  const lastOfD = progress.filter((m) => m.jobId === 'slow-d').at(-1);
  assert.equal(lastOfD?.progress, 1);
  // Ids still only grow per job, and nothing follows a job's final event.
  for (const jobId of jobs.slice(0, 3)) {
    const mine = got.filter((m) => m.jobId === jobId);
    assert.ok(['completed', 'failed', 'cancelled'].includes(mine.at(-1)?.type));
  }
  slow.close();
});
