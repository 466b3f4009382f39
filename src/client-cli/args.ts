import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A negative decimal number, as a user types one: -3, -0.5, -.5, -1e-2. */
const NEGATIVE_NUMBER = /^-(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * `args` with each numeric option followed by a negative number (`--pitch -3`) joined into one
 * argument (`--pitch=-3`), for a strict `parseArgs` with the same options: it refuses the former as
 * ambiguous (the value looks like an option) and takes the latter. The pairs come from parseArgs'
 * own tokens (a lenient pass with the same options), so what is an option, a value or a positional
 * (`--` included) stays its call; anything else, `--pitch -x` too, is left for the strict pass to
 * judge.
 */
export function joinNegativeValues(
  args: readonly string[],
  options: NonNullable<ParseArgsConfig['options']>,
  numeric: readonly string[],
): string[] {
  const { tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const joined = [...args];
  const dropped = new Set<number>();
  for (const t of tokens) {
    if (t.kind !== 'option' || !numeric.includes(t.name) || t.inlineValue !== false) continue;
    if (t.value === undefined || !NEGATIVE_NUMBER.test(t.value)) continue;
    joined[t.index] = `--${t.name}=${t.value}`;
    dropped.add(t.index + 1);
  }
  return joined.filter((_, i) => !dropped.has(i));
}
