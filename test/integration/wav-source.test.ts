import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DecodeFailed, decodePcm, TaskCancelled } from '../../workers/tasks/pcm-source.js';
import { TaskControl } from '../../workers/tasks/task-types.js';
import { pcmWavLayout, readPcmWav } from '../../workers/tasks/wav-source.js';
import { concat } from '../helpers/audio-io.js';
import { humanSpeech, speechClip } from '../helpers/fixtures.js';

// The in-process WAV reader against ffmpeg reading the same real-speech files.
let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-wav-source-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function drain(source: AsyncIterable<Float32Array>): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for await (const b of source) parts.push(b);
  return concat(parts);
}

async function both(file: string, rate: number): Promise<{ mine: Float32Array; ffmpeg: Float32Array }> {
  const control = new TaskControl();
  const layout = await pcmWavLayout(file, rate);
  assert.ok(layout, `${path.basename(file)} should be read in-process`);
  const o = { inputPath: file, sampleRate: rate, maxDurationSec: 3600, control };
  return {
    mine: await drain(readPcmWav(layout, o)),
    ffmpeg: await drain(decodePcm({ ...o, demuxer: 'wav' })),
  };
}

/** Error energy of `a` against `b` in dB below `b`'s energy. */
function snrDb(a: Float32Array, b: Float32Array): number {
  let err = 0;
  let sig = 0;
  for (let i = 0; i < b.length; i++) {
    err += (a[i] - b[i]) ** 2;
    sig += b[i] ** 2;
  }
  return 10 * Math.log10(sig / err);
}

test('s16, s24, s32 and f32 WAVs, mono and stereo, read in-process give the samples ffmpeg gives', async () => {
  for (const codec of ['pcm_s16le', 'pcm_s24le', 'pcm_s32le', 'pcm_f32le']) {
    for (const channels of ['1', '2']) {
      const file = speechClip(
        path.join(dir, `${codec}-${channels}.wav`),
        3,
        '-ar',
        '24000',
        '-ac',
        channels,
        '-c:a',
        codec,
      );
      const { mine, ffmpeg } = await both(file, 24000);
      assert.equal(mine.length, ffmpeg.length, `${codec} ×${channels}: length`);
      let maxDiff = 0;
      for (let i = 0; i < mine.length; i++) maxDiff = Math.max(maxDiff, Math.abs(mine[i] - ffmpeg[i]));
      assert.ok(maxDiff < 1e-6, `${codec} ×${channels}: largest difference ${maxDiff}`);
    }
  }
});

test('a WAV at another rate is resampled in-process to the length ffmpeg gives, and to nearly its samples', async () => {
  for (const rate of ['48000', '44100', '16000']) {
    const file = speechClip(
      path.join(dir, `at-${rate}.wav`),
      4,
      '-ar',
      rate,
      '-ac',
      '2',
      '-c:a',
      'pcm_s16le',
    );
    const { mine, ffmpeg } = await both(file, 24000);
    assert.ok(
      Math.abs(mine.length - ffmpeg.length) <= 1,
      `${rate}: ${mine.length} vs ${ffmpeg.length} samples`,
    );
    const snr = snrDb(mine, ffmpeg.subarray(0, mine.length));
    // Two different anti-alias filters differ only near the new Nyquist frequency.
    assert.ok(snr > 30, `${rate} → 24000: ${snr.toFixed(1)} dB from ffmpeg's resampling`);
  }
});

test('past 30 s at 48 kHz, a WAV at another rate goes to ffmpeg; at the model rate it is read in-process', async () => {
  const looped = (name: string, seconds: number, rate: number) => {
    const out = path.join(dir, name);
    // biome-ignore format: flag/value pairs
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', '-1', '-i', humanSpeech(1), '-t', String(seconds),
      '-ac', '1', '-ar', String(rate), '-c:a', 'pcm_s16le', out]);
    return out;
  };
  assert.equal(await pcmWavLayout(looped('long48.wav', 31, 48000), 24000), null);
  assert.equal((await pcmWavLayout(looped('short48.wav', 29, 48000), 24000))?.sampleRate, 48000);
  assert.equal((await pcmWavLayout(looped('long24.wav', 31, 24000), 24000))?.sampleRate, 24000);
});

test('the reader stops at the duration limit, on cancel, and on a file cut short after its header was read', async () => {
  const file = speechClip(path.join(dir, 'limits.wav'), 6, '-ar', '24000', '-c:a', 'pcm_s16le');
  const layout = await pcmWavLayout(file, 24000);
  assert.ok(layout);
  const limited = await drain(
    readPcmWav(layout, {
      inputPath: file,
      sampleRate: 24000,
      maxDurationSec: 2.5,
      control: new TaskControl(),
    }),
  );
  assert.equal(limited.length, 2.5 * 24000);

  const control = new TaskControl();
  const blocks = readPcmWav(layout, { inputPath: file, sampleRate: 24000, maxDurationSec: 60, control });
  await blocks.next();
  control.cancel();
  await assert.rejects(drain(blocks), TaskCancelled);

  await truncate(file, layout.dataOffset + 24000);
  await assert.rejects(
    drain(
      readPcmWav(layout, {
        inputPath: file,
        sampleRate: 24000,
        maxDurationSec: 60,
        control: new TaskControl(),
      }),
    ),
    (err: unknown) => err instanceof DecodeFailed && /shorter than its header/.test(err.message),
  );
});

test('a damaged header is DecodeFailed; other codecs and containers are left to ffmpeg', async () => {
  const good = speechClip(path.join(dir, 'good.wav'), 1, '-ar', '24000', '-c:a', 'pcm_s16le');
  const bytes = await readFile(good);
  const lying = Buffer.from(bytes);
  lying.writeUInt16LE(3, 32); // block align 3 for mono s16
  await writeFile(path.join(dir, 'lying.wav'), lying);
  await assert.rejects(pcmWavLayout(path.join(dir, 'lying.wav'), 24000), DecodeFailed);
  const alaw = speechClip(path.join(dir, 'alaw.wav'), 1, '-ar', '24000', '-c:a', 'pcm_alaw');
  assert.equal(await pcmWavLayout(alaw, 24000), null);
  const flac = speechClip(path.join(dir, 'a.flac'), 1, '-c:a', 'flac');
  assert.equal(await pcmWavLayout(flac, 24000), null);
});
