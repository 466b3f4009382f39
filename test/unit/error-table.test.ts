import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { HTTP_STATUS } from '../../src/api/error-handler.js';
import { ERROR_CODES, ERROR_TABLE_BEGIN, ERROR_TABLE_END, errorTable } from '../../src/errors/index.js';
import { EngineErrorCode } from '../../workers/engine/errors.js';

const DOC = fileURLToPath(new URL('../../../docs/ARCHITECTURE.md', import.meta.url));

test("ARCHITECTURE.md's error table is the one generated from src/errors (node dist/scripts/error-table.js --write)", () => {
  const doc = readFileSync(DOC, 'utf8');
  const begin = doc.indexOf(ERROR_TABLE_BEGIN);
  const end = doc.indexOf(ERROR_TABLE_END);
  assert.ok(begin >= 0 && end > begin, 'the error table markers');
  assert.equal(doc.slice(begin, end + ERROR_TABLE_END.length), errorTable());
});

test('every code the engine raises is listed, and every HTTP status in the table is the one the API answers', () => {
  for (const code of Object.values(EngineErrorCode)) assert.ok(code in ERROR_CODES, code);
  for (const [code, e] of Object.entries(ERROR_CODES)) {
    for (const status of e.answer.match(/\b\d{3}\b/g) ?? [])
      assert.equal(Number(status), HTTP_STATUS[code as keyof typeof ERROR_CODES], code);
  }
});
