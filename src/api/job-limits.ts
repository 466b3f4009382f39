// What a job request may hold, as plain values: the API's schemas (fields.ts) are built from them and the
// client CLI checks its options with them. Nothing here imports TypeBox, so `vcfarm convert` starts
// without loading it.

/** A job's output formats and the ranges of its numbers (POST /api/jobs; the CLI checks its options with them). */
export const OUTPUT_FORMATS = ['wav', 'mp3', 'ogg', 'flac'] as const;
export const PITCH_SEMITONES = { minimum: -24, maximum: 24 } as const;
export const STRENGTH = { minimum: 0, maximum: 1 } as const;

/** A model folder name (GET /api/models, a job's `model`): the pattern and the words a mismatch is told in. */
export const MODEL_NAME = {
  pattern: '^[a-z0-9][a-z0-9_-]{0,63}$',
  words: "a model name: 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit",
} as const;

/** A page size of a job list (GET /api/jobs, the admin lists; `vcfarm jobs list --limit`): a string of digits. */
export const PAGE_LIMIT = {
  pattern: '^(100|[1-9][0-9]?)$',
  words: 'a whole number from 1 to 100',
} as const;
