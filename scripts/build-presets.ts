import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { spawnMedia } from '../src/media/index.js';
import { VoiceConversionEngine } from '../workers/engine/index.js';

// Writes models/default/voices/<name>.json from fixed, named sources. espeak-ng and the alsa-utils
// recordings are deterministic, and so is the analysis, so re-running reproduces the files byte for byte.
const MODEL_DIR = fileURLToPath(new URL('../../models/default/', import.meta.url));
const TEXT =
  'The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore, ' +
  'and the shells she sells are surely seashells. How are you today?';
const ALSA = [
  'Front_Center',
  'Front_Left',
  'Front_Right',
  'Rear_Center',
  'Rear_Left',
  'Rear_Right',
  'Side_Left',
  'Side_Right',
];

interface Preset {
  name: string;
  /** What the picker and the library call it: a human name, and one line on how it sounds. */
  displayName: string;
  description: string;
  /** Where it came from (the profile's `label`). */
  label: string;
  /** espeak-ng voice, or recordings to concatenate. */
  espeak?: string;
  files?: string[];
}

const PRESETS: Preset[] = [
  {
    name: 'espeak-f3',
    displayName: 'Clara',
    description: 'Bright, high American English voice (synthetic, espeak-ng)',
    label: 'espeak-ng -v en-us+f3',
    espeak: 'en-us+f3',
  },
  {
    name: 'espeak-m3',
    displayName: 'Walter',
    description: 'Deep, low American English voice (synthetic, espeak-ng)',
    label: 'espeak-ng -v en-us+m3',
    espeak: 'en-us+m3',
  },
  {
    name: 'espeak-f1',
    displayName: 'Nora',
    description: 'Even, middle-pitched American English voice (synthetic, espeak-ng)',
    label: 'espeak-ng -v en-us+f1',
    espeak: 'en-us+f1',
  },
  {
    name: 'espeak-m1',
    displayName: 'Oliver',
    description: 'Low British English voice (synthetic, espeak-ng)',
    label: 'espeak-ng -v en-gb+m1',
    espeak: 'en-gb+m1',
  },
  {
    name: 'alsa-narrator',
    displayName: 'Alice',
    description: "A real woman's recorded voice, clear announcer style (the ALSA test recordings)",
    label: 'alsa-utils /usr/share/sounds/alsa speech recordings (human)',
    files: ALSA.map((n) => `/usr/share/sounds/alsa/${n}.wav`),
  },
];

/** Decodes one file to mono float32 at `rate` through ffmpeg. */
async function decode(path: string, rate: number): Promise<Float32Array> {
  const args = [
    '-hide_banner',
    '-v',
    'error',
    '-i',
    path,
    '-ac',
    '1',
    '-ar',
    String(rate),
    '-f',
    'f32le',
    '-',
  ];
  const run = await spawnMedia('ffmpeg', args);
  if (run.code !== 0) throw new Error(`ffmpeg exited ${run.code} on ${path}: ${run.stderr.trim()}`);
  const raw = run.stdout;
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

async function* sources(preset: Preset, work: string, rate: number): AsyncGenerator<Float32Array> {
  if (preset.espeak) {
    const wav = join(work, `${preset.name}.wav`);
    await promisify(execFile)('espeak-ng', ['-v', preset.espeak, '-w', wav, TEXT]);
    yield await decode(wav, rate);
  }
  for (const file of preset.files ?? []) yield await decode(file, rate);
}

const engine = await VoiceConversionEngine.load(MODEL_DIR);
const work = await mkdtemp(join(tmpdir(), 'vcfarm-presets-'));
try {
  await mkdir(join(MODEL_DIR, 'voices'), { recursive: true });
  for (const preset of PRESETS) {
    const analysed = await engine.analyse(sources(preset, work, engine.sampleRate), { label: preset.label });
    // The preset's names ride in its profile (the catalog reads them, src/models/model-folder.ts).
    const profile = { ...analysed, displayName: preset.displayName, description: preset.description };
    await writeFile(join(MODEL_DIR, 'voices', `${preset.name}.json`), `${JSON.stringify(profile)}\n`);
    console.log(`${preset.name}: median F0 ${profile.f0Median} Hz, ${profile.voicedSeconds} s voiced`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
  await engine.close();
}
