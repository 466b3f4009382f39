import { fileURLToPath } from 'node:url';
import { buildDefaultModel } from '../models/builder/default-model.js';
import { buildTestModel } from '../models/builder/test-model.js';
import { writeModel } from '../models/builder/write-model.js';

// Usage: build-model.js            -> models/default/
//        build-model.js --test DIR -> the second ("test") model into DIR
const DEFAULT_DIR = fileURLToPath(new URL('../../models/default/', import.meta.url));

const [flag, dir] = process.argv.slice(2);
if (flag === '--test') {
  if (!dir) throw new Error('build-model: --test needs an output directory');
  await writeModel(buildTestModel(), dir);
  console.log(`test model written to ${dir}`);
} else {
  await writeModel(buildDefaultModel(), DEFAULT_DIR);
  console.log(`default model written to ${DEFAULT_DIR}`);
}
