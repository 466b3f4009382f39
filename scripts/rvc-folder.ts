import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { rvcManifest, rvcPreset, rvcTrackerGraph } from '../models/builder/rvc-folder.js';

// Usage: rvc-folder.js DIR --name NAME --generator FILE [--vec FILE] [--rate 40000] [--speakers N] [--f0 HZ]
// Writes into DIR (which holds, or will hold, the two exports): model.json, f0.onnx (the F0 tracker)
// and one preset voice per speaker id (voices/speaker-<id>.json). Existing files are not overwritten.
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: 'string' },
    generator: { type: 'string' },
    vec: { type: 'string', default: 'vec-768-layer-12.onnx' },
    rate: { type: 'string', default: '40000' },
    speakers: { type: 'string', default: '1' },
    f0: { type: 'string' },
  },
});
const [dir] = positionals;
const usage =
  'usage: rvc-folder DIR --name NAME --generator FILE [--vec FILE] [--rate 40000] [--speakers N] [--f0 HZ]';
if (!dir || !values.name || !values.generator) throw new Error(usage);
const rate = Number(values.rate);
if (![32000, 40000, 48000].includes(rate))
  throw new Error('rvc-folder: --rate must be 32000, 40000 or 48000');
const speakers = Number(values.speakers);
if (!Number.isInteger(speakers) || speakers < 1)
  throw new Error('rvc-folder: --speakers must be a positive integer');
const f0 = values.f0 === undefined ? null : Number(values.f0);
if (f0 !== null && !(f0 > 0)) throw new Error('rvc-folder: --f0 must be a frequency in Hz');

const manifest = rvcManifest({
  name: values.name,
  vec: values.vec,
  generator: values.generator,
  outputSampleRate: rate,
});
const files: [string, string | Uint8Array][] = [
  ['model.json', `${JSON.stringify(manifest, null, 2)}\n`],
  ['f0.onnx', rvcTrackerGraph()],
];
for (let id = 0; id < speakers; id++) {
  files.push([
    `voices/speaker-${id}.json`,
    `${JSON.stringify(rvcPreset(values.name, id, f0, `speaker ${id}`))}\n`,
  ]);
}
await mkdir(path.join(dir, 'voices'), { recursive: true });
for (const [file, content] of files) {
  const target = path.join(dir, file);
  const exists = await access(target).then(
    () => true,
    () => false,
  );
  if (exists) console.log(`kept ${file} (already there)`);
  else await writeFile(target, content);
}
for (const g of [values.vec, values.generator]) {
  const there = await access(path.join(dir, g)).then(
    () => true,
    () => false,
  );
  if (!there) console.log(`put ${g} into ${dir} before the service lists the model as ready`);
}
console.log(`RVC model folder written to ${dir}`);
