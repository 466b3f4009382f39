import type { TLocalizedValidationError } from 'typebox/error';
import { patternWords } from './patterned.js';

/**
 * What is wrong with each field a TypeBox check refused, in words, one line per field
 * (`field: must be ...`, the field named by `fieldOf`): a pattern is said with its words
 * (patterned.ts), a choice of literals as "must be one of a, b", a type as "must be an integer";
 * other checks keep TypeBox's own short words ("must be >= 1").
 */
export function issueLines(
  errors: readonly TLocalizedValidationError[],
  fieldOf: (instancePath: string) => string,
): string[] {
  const byField = new Map<string, TLocalizedValidationError[]>();
  const lines: string[] = [];
  for (const e of errors) {
    // A name refused by `propertyNames` (a record's keys): said once, of the name, on its object.
    if (e.keyword === 'propertyNames') continue;
    if (e.schemaPath.endsWith('/propertyNames')) {
      const at = e.instancePath.lastIndexOf('/');
      const name = e.instancePath
        .slice(at + 1)
        .replaceAll('~1', '/')
        .replaceAll('~0', '~');
      lines.push(`${fieldOf(e.instancePath.slice(0, at))}: the name ${JSON.stringify(name)} ${words([e])}`);
      continue;
    }
    byField.set(e.instancePath, [...(byField.get(e.instancePath) ?? []), e]);
  }
  return [
    ...lines,
    ...[...byField].map(([instancePath, issues]) => `${fieldOf(instancePath)}: ${words(issues)}`),
  ];
}

function words(issues: TLocalizedValidationError[]): string {
  const choices = issues.filter((e) => e.keyword === 'const').map((e) => e.params.allowedValue as unknown);
  if (choices.length > 0 && issues.some((e) => e.keyword === 'anyOf'))
    return `must be one of ${choices.map((c) => String(c)).join(', ')}`;
  const first = issues.find((e) => e.keyword !== 'anyOf') ?? issues[0];
  if (first?.keyword === 'type') return `must be ${typeWords(first.params.type)}`;
  if (first?.keyword === 'pattern')
    return `must be ${patternWords(String(first.params.pattern)) ?? 'in the documented form'}`;
  return first?.message ?? 'is invalid';
}

const TYPE_WORDS: Record<string, string> = {
  number: 'a number',
  integer: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

/** A schema's `type` (a name, a list, or ajv's "string,null") in words: "a number", "a string or null". */
export function typeWords(type: unknown): string {
  const names = Array.isArray(type) ? type.map(String) : String(type).split(',');
  return names.map((t) => TYPE_WORDS[t.trim()] ?? t.trim()).join(' or ');
}
