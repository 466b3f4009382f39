import { spawn } from 'node:child_process';

/** How one ffmpeg/ffprobe run ended. */
export interface MediaRun {
  /** Exit code; -1 when it ended on a signal (a stop, a timeout, or killed from outside). */
  code: number;
  /** Everything written to stdout, unless `onStdout` consumed it. */
  stdout: Buffer;
  /** The first 4 KB of stderr: the tool's own words (they name paths: for logs, not users). */
  stderr: string;
  /** Set when the run was stopped by its timeout or by `stop` from `onStdout`: the reason given. */
  stopped?: Error;
}

export interface SpawnMediaOptions {
  /** Killed (SIGKILL) after this many ms; `stopped` is then `timeoutError()`. */
  timeoutMs?: number;
  timeoutError?: () => Error;
  /** Written to stdin, which is then closed; without it stdin is closed at once. */
  stdin?: Buffer;
  /**
   * Sees each stdout chunk instead of collecting it; `stop(reason)` kills the tool and makes
   * `reason` the run's `stopped` (the first reason wins).
   */
  onStdout?: (chunk: Buffer, stop: (reason: Error) => void) => void;
}

const STDERR_KEPT = 4096;

/**
 * Runs ffmpeg or ffprobe to completion: owns the timeout, the kill, stdout and the head of stderr.
 * Never rejects for the tool's own failure (the caller reads `code`, `stopped` and `stderr`); only
 * for a tool that cannot be started at all (ENOENT). The child never outlives the promise.
 */
export function spawnMedia(
  tool: 'ffmpeg' | 'ffprobe',
  args: readonly string[],
  options: SpawnMediaOptions = {},
): Promise<MediaRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, {
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let stderr = '';
    let stopped: Error | undefined;
    const stop = (reason: Error) => {
      stopped ??= reason;
      child.kill('SIGKILL');
    };
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () =>
              stop(options.timeoutError?.() ?? new Error(`${tool} took longer than ${options.timeoutMs} ms`)),
            options.timeoutMs,
          );
    child.stdout?.on('data', (b: Buffer) => {
      if (options.onStdout) options.onStdout(b, stop);
      else out.push(b);
    });
    child.stderr?.on('data', (b: Buffer) => {
      if (stderr.length < STDERR_KEPT) stderr += b.toString();
    });
    if (child.stdin) {
      // The tool may exit before reading all of its input (an error, a stop): not our failure.
      child.stdin.on('error', () => {});
      child.stdin.end(options.stdin);
    }
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr, stopped });
    });
  });
}

/** The first line of a run's stderr, or `<tool> exit <code>`: a log-only cause. */
export function firstStderrLine(run: MediaRun, tool: string): string {
  return run.stderr.trim().split('\n')[0] || `${tool} exit ${run.code}`;
}
