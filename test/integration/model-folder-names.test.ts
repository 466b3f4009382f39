import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// QA s17: a model folder whose name is not a model name (uppercase, dots, spaces) was silently
// left out of GET /api/models. It is listed as broken, saying what to do; hidden folders stay out.

const DEFAULT_DIR = fileURLToPath(new URL('../../../models/default', import.meta.url));
let svc: TestService;
let work: string;

before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-model-names-'));
  const models = path.join(work, 'models');
  for (const name of ['default', 'MyVoice', 'we ird', 'v1.2', '.hidden'])
    await cp(DEFAULT_DIR, path.join(models, name), { recursive: true });
  svc = await startService({ workers: 0, env: { MODELS_DIR: models } });
});
after(async () => {
  await svc?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

test('GET /api/models lists a misnamed model folder as broken, with a message saying what to do', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const res = await client.request('GET', '/api/models');
  assert.equal(res.status, 200);
  const byName = new Map<string, Record<string, unknown>>(
    res.body.models.map((m: Record<string, unknown>) => [m.name as string, m]),
  );
  assert.deepEqual([...byName.keys()].sort(), ['MyVoice', 'default', 'v1.2', 'we ird']);
  assert.equal(byName.get('default')?.state, 'ready');
  for (const name of ['MyVoice', 'we ird', 'v1.2']) {
    const m = byName.get(name) as {
      state: string;
      error: { code: string; message: string };
      presets: unknown[];
    };
    assert.equal(m.state, 'broken', name);
    assert.equal(m.error.code, 'VC_ERR_MODEL_BROKEN');
    assert.match(m.error.message, /rename the folder to 1-64 lowercase letters, digits, "-" or "_"/);
    assert.ok(!m.error.message.includes(work), 'a server path in the message');
    assert.deepEqual(m.presets, []);
  }
  // Its presets are offered nowhere, and a job naming it is refused with a 400 naming the field.
  const voices = await client.request('GET', '/api/voices');
  assert.equal(voices.status, 200);
  assert.ok(!JSON.stringify(voices.body).includes('MyVoice'));
  const up = await client.upload(tinyWav(0.5));
  assert.equal(up.status, 201);
  const job = await client.request('POST', '/api/jobs', {
    uploadId: up.body.upload.id,
    model: 'MyVoice',
    outputFormat: 'wav',
  });
  assert.equal(job.status, 400, JSON.stringify(job.body));
  assert.match(job.body.message, /model/);
});
