import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyMessage, type Jobs, putJob } from '../src/lib/jobs.js';
import type { JobView } from '../src/lib/types.js';

const running: JobView = {
  id: 'j1',
  kind: 'convert',
  voiceId: null,
  state: 'active',
  progress: 0.1,
  stage: 'converting',
  uploadId: 'u1',
  filename: 'talk.wav',
  outputFormat: 'mp3',
  pitchSemitones: 0,
  strength: null,
  model: null,
  durationSec: 600,
  priority: 'normal',
  attempts: 0,
  createdAt: 1,
  startedAt: 2,
  finishedAt: null,
  error: null,
  resultUrl: null,
  partialUrl: '/api/jobs/j1/result?exp=1&sig=s&partial=1',
  partialAvailable: false,
  partialSec: 0,
};

test('progress with written seconds makes the partial result available; the link stays', () => {
  let jobs: Jobs = putJob(new Map(), running);
  const progress = (partialSec: number | undefined, eventId: string) =>
    applyMessage(jobs, {
      type: 'progress',
      jobId: 'j1',
      progress: 0.2,
      stage: 'converting',
      partialSec,
      eventId,
    }).jobs;
  // 1. Progress before any output: still nothing to play.
  jobs = progress(undefined, '1-0');
  assert.equal(jobs.get('j1')?.partialAvailable, false);
  // 2. The first seconds are written: playable from the job's partialUrl.
  jobs = progress(2.5, '2-0');
  assert.equal(jobs.get('j1')?.partialAvailable, true);
  assert.equal(jobs.get('j1')?.partialSec, 2.5);
  assert.equal(jobs.get('j1')?.partialUrl, running.partialUrl);
  // 3. An event without the field keeps what was known.
  jobs = progress(undefined, '3-0');
  assert.equal(jobs.get('j1')?.partialSec, 2.5);
});
