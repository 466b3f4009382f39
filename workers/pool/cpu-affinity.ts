import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';

/** Parses a Linux CPU list such as "0-3,8,10-11". */
export function parseCpuList(list: string): number[] {
  const cores = new Set<number>();
  for (const part of list.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map((s) => Number(s));
    if (!Number.isInteger(a)) continue;
    const end = Number.isInteger(b) ? b : a;
    for (let c = a; c <= end; c++) cores.add(c);
  }
  return [...cores].sort((x, y) => x - y);
}

/** Cores this process may run on: its affinity mask as started (taskset, cgroups cpuset). */
export function allowedCores(): number[] {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
    if (m) {
      const cores = parseCpuList(m[1]);
      if (cores.length > 0) return cores;
    }
  } catch {
    // Not Linux: fall through to the core count.
  }
  return Array.from({ length: os.availableParallelism() }, (_, i) => i);
}

/** Kernel thread id of the calling thread (Linux): /proc/thread-self → "PID/task/TID". */
export function currentThreadId(): number | undefined {
  try {
    return Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch {
    return undefined;
  }
}

export interface PinResult {
  tid: number | undefined;
  core: number | undefined;
  error?: string;
}

/**
 * Pins the calling thread (only this thread, not the process) to one core with `taskset -p`.
 * Threads it creates afterwards and children it spawns (ffmpeg) inherit the mask.
 */
export function pinCurrentThread(core: number): PinResult {
  const tid = currentThreadId();
  if (tid === undefined) return { tid, core: undefined, error: 'no /proc/thread-self' };
  try {
    execFileSync('taskset', ['-p', '-c', String(core), String(tid)], { stdio: 'ignore' });
    return { tid, core };
  } catch (err) {
    return { tid, core: undefined, error: (err as Error).message };
  }
}

/** Cpus_allowed_list of one thread of this process, as the kernel reports it. */
export function threadCpuList(tid: number, pid = process.pid): string | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    return /^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1].trim();
  } catch {
    return undefined;
  }
}
