import { QuotaExceededError } from '../errors/index.js';
import type { EffectivePlan } from '../plans/index.js';

export interface StorageUsage {
  bytes: number;
  files: number;
}

/** Before an upload is read: refuses when the workspace is already full (files or bytes). */
export function assertRoomForUpload(usage: StorageUsage, plan: EffectivePlan): void {
  const q = plan.quotas;
  if (usage.files + 1 > q.maxFiles)
    throw new QuotaExceededError(
      `file quota reached: ${usage.files} of ${q.maxFiles} files in use; delete some first`,
    );
  if (usage.bytes >= q.maxBytes)
    throw new QuotaExceededError(
      `storage quota reached: ${usage.bytes} of ${q.maxBytes} bytes in use; delete some files first`,
    );
}

/**
 * Before a conversion is queued: the workspace's bytes, the outputs its unfinished jobs may still
 * write (`reservedBytes`) and this job's largest possible output must fit the byte quota.
 */
export function assertRoomForOutput(
  usage: StorageUsage,
  reservedBytes: number,
  outputBytes: number,
  plan: EffectivePlan,
): void {
  const limit = plan.quotas.maxBytes;
  if (usage.bytes + reservedBytes + outputBytes > limit)
    throw new QuotaExceededError(
      `storage quota: this job's output may take up to ${outputBytes} bytes; ${usage.bytes} bytes are in use and ${reservedBytes} reserved for unfinished jobs, of ${limit}; delete files or choose a compressed format`,
    );
}

/** After an upload is stored: refuses (the caller removes it) when it took the workspace over quota. */
export function assertWithinStorage(usage: StorageUsage, plan: EffectivePlan): void {
  if (usage.bytes > plan.quotas.maxBytes)
    throw new QuotaExceededError(
      `storage quota exceeded: this upload would bring usage to ${usage.bytes} of ${plan.quotas.maxBytes} bytes`,
    );
}
