import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchChromium, pageWithToken } from '../helpers/browser.js';
import { ApiClient, type Json } from '../helpers/client.js';
import { espeakSentence } from '../helpers/fixtures.js';
import { speakers } from '../helpers/librispeech.js';
import { startService, type TestService } from '../helpers/service.js';

// F7 (session 28): a reference that holds no speech (a tone, two tones, noise, silence) fails its clone
// with VC_ERR_NO_VOICE, and every real or synthetic speaker still clones (workers/tasks/reference-check.ts).

let svc: TestService;
let work: string;
before(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-clone-speech-'));
  svc = await startService({ workers: 1 });
});
after(async () => {
  await svc?.close();
  await rm(work, { recursive: true, force: true });
});

const REFERENCE_TEXT =
  'Hello, this is my reference voice. I am reading a few sentences so that the service can learn how I sound.';

/** 10 s of a lavfi source (or of several, mixed), mono 24 kHz WAV. */
function lavfi(name: string, ...sources: string[]): string {
  const file = path.join(work, `${name}.wav`);
  const inputs = sources.flatMap((s) => ['-f', 'lavfi', '-i', s]);
  const mix = sources.length > 1 ? ['-filter_complex', `amix=inputs=${sources.length}`] : [];
  // biome-ignore format: flag/value pairs
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...inputs, ...mix, '-t', '10', '-ac', '1', '-ar', '24000', file]);
  return file;
}

/** Sends every file as a reference and waits for each clone job to end: the jobs and the voices, by name. */
async function cloneAll(
  client: ApiClient,
  files: Record<string, string>,
): Promise<Map<string, { job: Json; voice: Json }>> {
  const events = await client.openEvents();
  const sent: [string, string, string][] = [];
  try {
    for (const [name, file] of Object.entries(files)) {
      const res = await client.cloneVoiceBytes(await readFile(file), path.basename(file), name);
      assert.equal(res.status, 202, `${name}: ${JSON.stringify(res.body)}`);
      sent.push([name, res.body.job.id, res.body.voice.id]);
    }
    for (const [, jobId] of sent)
      await events.waitFor((m) => m.jobId === jobId && ['completed', 'failed'].includes(m.type), 300_000);
  } finally {
    events.close();
  }
  const out = new Map<string, { job: Json; voice: Json }>();
  for (const [name, jobId, voiceId] of sent) {
    const voice = (await client.request('GET', `/api/voices/${voiceId}`)).body.voice;
    out.set(name, { job: await client.job(jobId), voice });
  }
  return out;
}

test('a tone, two tones (together, in turns), white noise and silence are refused as no voice, in the job and the voice', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const refused = await cloneAll(client, {
    'Tone 440': lavfi('tone', 'sine=f=440:d=10'),
    'Two tones': lavfi('two-tones', 'sine=f=440:d=10', 'sine=f=660:d=10'),
    'Tones in turns': lavfi('turns', "aevalsrc='0.5*sin(2*PI*if(lt(mod(t,1),0.5),440,554)*t)':d=10:s=24000"),
    'White noise': lavfi('noise', 'anoisesrc=c=white:d=10:a=0.3'),
    Silence: lavfi('silence', 'anullsrc=r=24000:cl=mono'),
  });
  for (const [name, { job, voice }] of refused) {
    assert.equal(job.state, 'failed', `${name}: ${JSON.stringify(job)}`);
    assert.equal(job.error.code, 'VC_ERR_NO_VOICE', name);
    assert.match(job.error.message, /upload a recording of someone speaking$/, name);
    assert.doesNotMatch(job.error.message, /\/|\.part|VC_ERR/, name);
    // The voice says why, as the page shows it ("failed: <message>").
    assert.equal(voice.state, 'failed', name);
    assert.deepEqual(voice.error, job.error, name);
  }
  const reason = (name: string) => refused.get(name)?.job.error.message as string;
  for (const name of ['Tone 440', 'Two tones', 'Tones in turns'])
    assert.match(reason(name), /its pitch stays fixed, as a tone/, name);
  for (const name of ['White noise', 'Silence']) assert.match(reason(name), /too little voiced speech/, name);
  // Nothing cloned: the five voices are listed as failed, none ready.
  const voices = (await client.request('GET', '/api/voices')).body.voices as { state: string }[];
  assert.deepEqual(
    voices.map((v) => v.state),
    Array(5).fill('failed'),
  );
});

test('the page says why a tone is no voice: in the clone status and in the voice list', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const browser = await launchChromium();
  try {
    const page = await pageWithToken(browser, svc.baseUrl, user.session?.token ?? '');
    await page.fill('#voice-name', 'My tone');
    await page.setInputFiles('#voice-file', lavfi('page-tone', 'sine=f=440:d=10'));
    await page.click('#clone-submit');
    const why = /failed: the reference recording holds no speech: its pitch stays fixed/;
    await page.locator('#clone-status.error', { hasText: why }).waitFor({ timeout: 60_000 });
    await page.locator('#voices .voice[data-state="failed"]', { hasText: why }).waitFor();
    assert.equal(await page.locator('#voice option', { hasText: 'My tone' }).isDisabled(), true);
  } finally {
    await browser.close();
  }
});

test('every LibriSpeech speaker and the espeak-ng voices still clone as ready voices', async () => {
  const client = await ApiClient.anonymous(svc.baseUrl);
  const files: Record<string, string> = {};
  for (const s of speakers()) files[`LibriSpeech ${s.id}`] = s.file;
  for (const v of ['en-us+m1', 'en-us+m3', 'en-us+m7', 'en-us+f1', 'en-us+f3', 'en-us+f5', 'en-gb-x-rp+m2'])
    files[`espeak ${v.replace('+', ' ')}`] = espeakSentence(v, REFERENCE_TEXT);
  assert.equal(Object.keys(files).length, 47);
  const cloned = await cloneAll(client, files);
  const refused = [...cloned].filter(([, { job }]) => job.state !== 'completed');
  assert.deepEqual(
    refused.map(([name, { job }]) => `${name}: ${job.state} ${job.error?.message}`),
    [],
  );
  for (const [name, { voice }] of cloned) assert.equal(voice.state, 'ready', name);
});
