import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildDefaultModel } from '../models/builder/default-model.js';
import { buildTestModel } from '../models/builder/test-model.js';
import { writeModel } from '../models/builder/write-model.js';
import type { SourcePrior } from '../workers/engine/index.js';

// Usage: build-model.js                       -> models/default/
//        build-model.js --test DIR            -> the second ("test") model into DIR
//        build-model.js --variant DIR [JSON]  -> the default model with buildDefaultModel's overrides into DIR,
//          JSON {"map": {...}, "eq": {...}, "shift": {...}, "extra": {...}} (its four arguments), for
//          experiments judged with judge-voices.js --model DIR; the source prior is embedded as in the
//          default model unless "extra" gives its own "sourcePrior" (null: none; a string: a file written by
//          build-prior.js --model DIR, for a variant whose cepstra differ)
const DEFAULT_DIR = fileURLToPath(new URL('../../models/default/', import.meta.url));
/** The source statistics' prior (written by `npm run build:prior`, scripts/build-prior.ts), embedded in the manifest. */
const PRIOR_FILE = fileURLToPath(new URL('../../models/builder/source-prior.json', import.meta.url));

async function readPrior(): Promise<SourcePrior> {
  return JSON.parse(await readFile(PRIOR_FILE, 'utf8')) as SourcePrior;
}

const [flag, dir, json] = process.argv.slice(2);
if (flag === '--test') {
  if (!dir) throw new Error('build-model: --test needs an output directory');
  await writeModel(buildTestModel(), dir);
  console.log(`test model written to ${dir}`);
} else if (flag === '--variant') {
  if (!dir) throw new Error('build-model: --variant needs an output directory');
  const v = JSON.parse(json ?? '{}');
  const extra = { sourcePrior: await readPrior(), ...v.extra };
  if (extra.sourcePrior === null) delete extra.sourcePrior;
  else if (typeof extra.sourcePrior === 'string')
    extra.sourcePrior = JSON.parse(await readFile(extra.sourcePrior, 'utf8')) as SourcePrior;
  await writeModel(buildDefaultModel(v.map, v.eq, v.shift, extra), dir);
  console.log(`variant written to ${dir}`);
} else {
  await writeModel(buildDefaultModel({}, {}, {}, { sourcePrior: await readPrior() }), DEFAULT_DIR);
  console.log(`default model written to ${DEFAULT_DIR}`);
}
