import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { ApiClient } from '../helpers/client.js';
import { espeakSentence } from '../helpers/fixtures.js';
import { generousPlans, writePlans } from '../helpers/plans.js';
import { rateCount } from '../helpers/redis.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// A refused request (429) counts against no limit: neither against the other classes it was
// checked with (a clone refused by the API limit keeps the user's voice clones) nor against its
// own. Read from the counters in Redis, whatever their prefix.

let svc: TestService;
let dir: string;
let redis: Redis;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-refusals-'));
  const plans = writePlans(dir, generousPlans(), (p) => {
    p.plans.free.rateLimits.api = { max: 4, windowSec: 600 };
    p.plans.free.rateLimits.conversions = { max: 1, windowSec: 600 };
  });
  svc = await startService({ workers: 0, env: { PLANS_FILE: plans } });
  redis = new Redis(svc.redis.url);
});
after(async () => {
  redis?.disconnect();
  await svc?.close();
  await rm(dir, { recursive: true, force: true });
});

const counted = (userId: string, cls: string): Promise<number> => rateCount(redis, userId, cls);

test('a request refused by the API limit spends no voice clone and no upload, nor more of the API', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const userId = user.session?.userId ?? '';
  for (let i = 0; i < 4; i++) assert.equal((await user.request('GET', '/api/workspace')).status, 200);
  const reference = await readFile(espeakSentence('en-us+f3', 'A reference voice refused by the API limit.'));
  for (let i = 0; i < 3; i++) {
    const clone = await user.cloneVoiceBytes(reference, 'ref.wav', 'Refused');
    assert.equal(clone.status, 429, JSON.stringify(clone.body));
    assert.match(clone.body.message, /the api rate limit of 4 requests is reached/);
    const upload = await user.uploadBytes(await readFile(tinyWav(1, 8000)), 'a.wav');
    assert.equal(upload.status, 429, JSON.stringify(upload.body));
  }
  assert.equal(await counted(userId, 'voiceClones'), 0);
  assert.equal(await counted(userId, 'uploads'), 0);
  assert.equal(await counted(userId, 'api'), 4);
});

test('a conversion refused by its own limit spends no API request', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const userId = user.session?.userId ?? '';
  const up = await user.uploadBytes(await readFile(tinyWav(1, 8000)), 'a.wav');
  assert.equal(up.status, 201, JSON.stringify(up.body));
  const body = { uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: 2 };
  assert.equal((await user.request('POST', '/api/jobs', body)).status, 202);
  const refused = await user.request('POST', '/api/jobs', body);
  assert.equal(refused.status, 429, JSON.stringify(refused.body));
  assert.match(refused.body.message, /the conversions rate limit of 1 requests is reached/);
  assert.equal(await counted(userId, 'conversions'), 1);
  assert.equal(await counted(userId, 'api'), 2);
  // Still two requests left of the API's four: the page can read why.
  assert.equal((await user.request('GET', '/api/workspace')).status, 200);
  assert.equal((await user.request('GET', '/api/workspace')).status, 200);
  assert.equal((await user.request('GET', '/api/workspace')).status, 429);
});
