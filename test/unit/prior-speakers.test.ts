import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PRIOR_SPEAKERS, speakers } from '../../scripts/lib/speech-corpus.js';
import { JUDGE_PAIRS } from '../helpers/judge.js';

// The source prior's real speech (scripts/build-prior.ts) comes from LibriSpeech speakers the judge never
// converts or measures: none of them is in a judge pair, and each is in the shared speech folder.
test('the source prior speaks with no voice of a judge pair', () => {
  const judged = new Set(JUDGE_PAIRS.flatMap((p) => [p.source, p.target]));
  assert.deepEqual(
    PRIOR_SPEAKERS.filter((id) => judged.has(id)),
    [],
  );
  const known = new Set(speakers().map((s) => s.id));
  assert.deepEqual(
    PRIOR_SPEAKERS.filter((id) => !known.has(id)),
    [],
  );
  assert.equal(new Set(PRIOR_SPEAKERS).size, 14);
});
