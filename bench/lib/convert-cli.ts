import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeAudio } from '../../src/media/index.js';
import { TaskControl } from '../../workers/tasks/task-types.js';
import { runVoiceConversion } from '../../workers/tasks/voice-conversion.js';

/**
 * The service's conversion pipeline as a bare command, for the "physical limit" baseline:
 *   node dist/bench/lib/convert-cli.js IN OUT.mp3 [OUT2.mp3 ...]   (VOICE=espeak-f3 by default)
 * Same code as a pool thread runs (probe, 2-pass decode → model → mp3 encode), no queue, no API.
 * Each run starts Node and loads the model once; with several outputs it converts IN to each of
 * them in turn, as a warm pool thread would.
 */
const [input, ...outputs] = process.argv.slice(2);
if (!input || outputs.length === 0) {
  console.error('usage: convert-cli IN OUT.mp3 [OUT2.mp3 ...]');
  process.exit(2);
}
const preset = process.env.VOICE ?? 'espeak-f3';
const modelDir = fileURLToPath(new URL('../../../models/default/', import.meta.url));
for (const output of outputs) {
  const info = await probeAudio(input, { timeoutMs: 10_000, maxDurationSec: 3600 });
  mkdirSync(path.dirname(path.resolve(output)), { recursive: true });
  const outcome = await runVoiceConversion({
    kind: 'convert',
    jobId: path.basename(output),
    attempt: 1,
    inputPath: path.resolve(input),
    demuxer: info.demuxer,
    outputPath: path.resolve(output),
    outputFormat: 'mp3',
    pitchSemitones: 0,
    durationSec: info.durationSec,
    maxDurationSec: 3600,
    control: new TaskControl().buffer,
    voice: { modelDir, profilePath: path.join(modelDir, 'voices', `${preset}.json`), strength: 1 },
  });
  if (outcome.status !== 'completed') {
    console.error(JSON.stringify(outcome));
    process.exit(1);
  }
}
process.exit(0);
