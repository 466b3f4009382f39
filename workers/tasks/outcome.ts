import type { ErrorCode } from '../../src/errors/index.js';
import { EncodeFailed } from './encoded-output.js';
import { DecodeFailed, TaskCancelled } from './pcm-source.js';
import type { TaskOutcome } from './task-types.js';

/**
 * What a task that stopped on `err` reports. Undecodable input is the user's to fix (not retried);
 * encoder and other pipeline failures may pass on another attempt; engine errors carry their own
 * `VC_ERR_` code.
 */
export function failureOutcome(err: unknown, cancelled: boolean): TaskOutcome {
  if (cancelled || err instanceof TaskCancelled) return { status: 'cancelled' };
  if (err instanceof DecodeFailed) {
    // ffmpeg's words name the input's path and its own memory addresses: for the log only.
    return {
      status: 'failed',
      code: 'VC_ERR_UNDECODABLE_AUDIO',
      message: err.ownWords
        ? `the input could not be decoded: ${err.message}`
        : 'the input could not be decoded',
      detail: err.message,
      retryable: false,
    };
  }
  const e = err as Error & { code?: string };
  if (err instanceof EncodeFailed) {
    return { status: 'failed', code: 'VC_ERR_PIPELINE', message: e.message, retryable: err.retryable };
  }
  if (e.code === 'ENOENT') {
    return { status: 'failed', code: 'VC_ERR_PIPELINE', message: 'ffmpeg is not installed', retryable: true };
  }
  if (typeof e.code === 'string' && e.code.startsWith('VC_ERR_')) {
    return { status: 'failed', code: e.code as ErrorCode, message: e.message, retryable: false };
  }
  return { status: 'failed', code: 'VC_ERR_PIPELINE', message: e.message, retryable: true };
}
