import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnMedia } from '../src/media/index.js';
import { modelDigest, PREVIEWS_DIR, previewFileName } from '../src/models/index.js';
import { parseVoiceProfile, VoiceConversionEngine } from '../workers/engine/index.js';
import { speakers } from './lib/speech-corpus.js';

// Writes <model>/previews/<preset>.<hash>.ogg: a few seconds of real speech converted toward each
// preset voice the model folder has (whatever voices/*.json the preset build produced), so a user
// hears a voice before choosing it. The hash ties a preview to the model (manifest and graphs) and
// its preset's profile: previews of a model or profiles that changed, or of presets gone, are
// removed. Usage: build-previews [model folder ...] (default: every folder of models/ with a model.json).
const MODELS = fileURLToPath(new URL('../../models/', import.meta.url));
/** The source: the first LibriSpeech speaker of the shared speech folder, from START_SEC, SECONDS long. */
const START_SEC = 0.5;
const SECONDS = 4;

async function ffmpeg(args: string[], what: string, stdin?: Buffer): Promise<Buffer> {
  const run = await spawnMedia('ffmpeg', ['-hide_banner', '-v', 'error', ...args], { stdin });
  if (run.code !== 0) throw new Error(`ffmpeg failed on ${what}: ${run.stderr.trim()}`);
  return run.stdout;
}

async function sourcePcm(rate: number): Promise<Float32Array> {
  const file = speakers()[0].file;
  // biome-ignore format: flag/value pairs
  const raw = await ffmpeg(['-ss', String(START_SEC), '-t', String(SECONDS), '-i', file,
    '-ac', '1', '-ar', String(rate), '-f', 'f32le', '-'], file);
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

async function buildFolder(dir: string): Promise<void> {
  const model = await modelDigest(dir);
  if (!model) throw new Error(`${dir}: the manifest or a graph it names cannot be read`);
  const engine = await VoiceConversionEngine.load(dir);
  try {
    const source = await sourcePcm(engine.sampleRate);
    const sourceProfile = await engine.analyse([source]);
    const out = path.join(dir, PREVIEWS_DIR);
    await mkdir(out, { recursive: true });
    const keep = new Set<string>();
    const presets = (await readdir(path.join(dir, 'voices'))).filter((f) => f.endsWith('.json')).sort();
    for (const f of presets) {
      const name = f.slice(0, -'.json'.length);
      const text = await readFile(path.join(dir, 'voices', f));
      const file = previewFileName(name, text, model);
      keep.add(file);
      const blocks: Float32Array[] = [];
      const voice = parseVoiceProfile(JSON.parse(text.toString('utf8')));
      for await (const b of engine.convert([source], { voice, sourceProfile, strength: 1 })) blocks.push(b);
      const pcm = Buffer.concat(blocks.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
      // Opus in Ogg, mono, 32 kbit/s: a few kilobytes a second, played by every browser.
      // biome-ignore format: flag/value pairs
      const ogg = await ffmpeg(['-f', 'f32le', '-ar', String(engine.outputSampleRate), '-ac', '1', '-i', 'pipe:0',
        '-c:a', 'libopus', '-b:a', '32k', '-map_metadata', '-1', '-fflags', '+bitexact', '-f', 'ogg', 'pipe:1'], name, pcm);
      await writeFile(path.join(out, `${file}.part`), ogg);
      await rename(path.join(out, `${file}.part`), path.join(out, file));
      console.log(`${path.basename(dir)}/${name}: ${PREVIEWS_DIR}/${file} (${ogg.length} bytes)`);
    }
    for (const old of await readdir(out)) if (!keep.has(old)) await rm(path.join(out, old), { force: true });
  } finally {
    await engine.close();
  }
}

const given = process.argv.slice(2);
const folders = given.length
  ? given.map((d) => path.resolve(d))
  : (await readdir(MODELS, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => path.join(MODELS, e.name));
for (const dir of folders) {
  const manifest = await readFile(path.join(dir, 'model.json')).catch(() => undefined);
  if (manifest) await buildFolder(dir);
}
