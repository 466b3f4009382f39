import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { humanSpeech } from '../helpers/fixtures.js';
import { freePort } from '../helpers/ports.js';
import { spawnProcess } from '../helpers/processes.js';
import { CLI, startService, type TestService } from '../helpers/service.js';

// SIGTERM while a client follows a job's growing result (`?partial=1`) and reads no further (a
// page's <audio> stops reading once it has buffered enough): the API instance still closes at
// once after its drain, ending the stream (the client asks again elsewhere and skips what it has),
// instead of waiting out CLOSE_TIMEOUT_MS on that one connection.

let svc: TestService;
before(async () => {
  svc = await startService({ workers: 1 });
});
after(async () => {
  await svc?.close();
});

test('SIGTERM with a followed partial result open: the stream ends and the API exits after its drain, not its close deadline', async () => {
  const port = await freePort();
  const drainMs = 500;
  const api = spawnProcess(process.execPath, [CLI, 'api'], {
    name: 'api-2',
    env: { ...svc.env, PORT: String(port), DRAIN_MS: String(drainMs), CLOSE_TIMEOUT_MS: '10000' },
  });
  await api.waitForLog('api listening', 30_000);
  const base = `http://127.0.0.1:${port}`;
  const user = await ApiClient.anonymous(base);
  // A WAV of a few minutes: megabytes more than the socket buffers hold.
  const up = await user.upload(humanSpeech(24));
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const job = await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: 2 });
  const res = await fetch(`${base}/api/jobs/${job.id}/result?partial=1`, { headers: user.headers() });
  assert.equal(res.status, 200);
  assert.equal(
    res.headers.get('accept-ranges'),
    'none',
    'the growing file is followed, not the finished one',
  );
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  assert.ok(((await reader.read()).value?.length ?? 0) > 0, 'the first bytes arrived');
  // The client stops reading here, as a media element with enough buffered does.
  await new Promise((r) => setTimeout(r, 1000));

  const sent = Date.now();
  api.process.kill('SIGTERM');
  const exit = await api.exited;
  const tookMs = Date.now() - sent;
  assert.equal(exit.code, 0, api.stderr());
  assert.ok(tookMs < drainMs + 3000, `exited ${tookMs} ms after SIGTERM (drain ${drainMs} ms)`);
  assert.ok(
    !api.logs.some((l) => String(l.msg).startsWith('close did not finish within its deadline')),
    'the close finished within its deadline',
  );
  // The stream ended: what was buffered is read, then it ends or breaks, and no more comes.
  const ended = await (async () => {
    try {
      for (;;) if ((await reader.read()).done) return 'done';
    } catch {
      return 'cut';
    }
  })();
  assert.ok(['done', 'cut'].includes(ended));
  // The job itself goes on: the worker is another process.
  assert.equal((await svc.workers[0].process.exitCode) ?? null, null);
});
