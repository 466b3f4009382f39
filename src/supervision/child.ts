import type { ChildProcess } from 'node:child_process';

export function isRunning(child: ChildProcess | undefined): child is ChildProcess {
  return child !== undefined && child.exitCode === null && child.signalCode === null;
}

/** SIGKILL to the child's whole process group (it was spawned detached: ffmpeg children go too). */
export function killGroup(child: ChildProcess | undefined): void {
  if (!isRunning(child) || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** SIGTERM, then SIGKILL to its group after `graceMs`; resolves once it has exited. */
export function stopChild(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => killGroup(child), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
