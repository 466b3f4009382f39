import { type TStringOptions, Type } from 'typebox';

/**
 * Every pattern a schema of vcfarm checks (route fields, the environment, the plans and tiers
 * files) with the words a caller or an operator is told when a value does not match ("must be a
 * whole number from 1 to 100"): messages say these (`patternWords`), never the pattern itself.
 */
const WORDS = new Map<string, string>();

/** A string matching `pattern`, described as "must be `words`". */
export function patterned(pattern: string, words: string, options: TStringOptions = {}) {
  const known = WORDS.get(pattern);
  if (known !== undefined && known !== words) throw new Error(`pattern ${pattern} is already "${known}"`);
  WORDS.set(pattern, words);
  return Type.String({ ...options, pattern });
}

/** The words for a pattern, or undefined for one not made with `patterned`. */
export function patternWords(pattern: string): string | undefined {
  return WORDS.get(pattern);
}

/** A worker process's id (WORKER_ID). */
export const WorkerId = patterned(
  '^[a-zA-Z0-9_.-]{1,64}$',
  "a worker id: 1-64 letters, digits, '.', '-' or '_'",
);

/** A plan's name (PLANS_FILE). */
export const PlanName = patterned(
  '^[a-z][a-z0-9_-]{0,31}$',
  "a plan name: 1-32 lower-case letters, digits, '-' or '_', starting with a letter",
);
