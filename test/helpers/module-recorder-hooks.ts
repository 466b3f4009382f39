import { appendFileSync } from 'node:fs';

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

/** Module-resolution hook (runs on node's loader thread): records each resolved URL. */
export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string }> {
  const result = await next(specifier, context);
  const log = process.env.VCFARM_MODULE_LOG;
  if (log) appendFileSync(log, `${result.url}\n`);
  return result;
}
