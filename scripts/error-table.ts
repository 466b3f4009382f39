import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_TABLE_BEGIN, ERROR_TABLE_END, errorTable } from '../src/errors/index.js';

// Prints ARCHITECTURE.md's error table from src/errors/codes.ts; with --write, replaces it in place.
const DOC = fileURLToPath(new URL('../../docs/ARCHITECTURE.md', import.meta.url));

if (process.argv.includes('--write')) {
  const doc = readFileSync(DOC, 'utf8');
  const begin = doc.indexOf(ERROR_TABLE_BEGIN);
  const end = doc.indexOf(ERROR_TABLE_END);
  if (begin < 0 || end < begin) throw new Error(`${DOC} has no error table markers`);
  writeFileSync(DOC, doc.slice(0, begin) + errorTable() + doc.slice(end + ERROR_TABLE_END.length));
} else {
  process.stdout.write(`${errorTable()}\n`);
}
