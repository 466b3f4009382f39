import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** Processes whose command line contains `needle` (Linux /proc). */
export function processesMatching(needle: string): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(needle)) found.push({ pid: Number(name), cmdline });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

export async function waitUntil(
  pred: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Calls `onEntry` for every JSON log line a child process writes to `stream` (pino's), and
 * `onText` for any other line. One line reader (node:readline) for every test helper.
 */
export function onLogLines(
  stream: Readable | null,
  onEntry: (entry: Record<string, unknown>, line: string) => void,
  onText: (line: string) => void = () => {},
): void {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      onText(line);
      return;
    }
    if (entry !== null && typeof entry === 'object') onEntry(entry as Record<string, unknown>, line);
    else onText(line);
  });
}
