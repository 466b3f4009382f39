/** Redis keys vcfarm keeps next to BullMQ's own, for one key prefix. */
export function queueKeys(prefix: string) {
  return {
    /** ZSET of a user's job ids, scored by creation time. */
    userJobs: (userId: string) => `${prefix}:user:${userId}:jobs`,
    /** Set when a user cancels; a worker that picks the job up later sees it and stops. */
    cancelMarker: (jobId: string) => `${prefix}:cancel:${jobId}`,
    /** Pub/sub channel that tells every worker process about a cancel at once. */
    cancelChannel: `${prefix}:cancel`,
    /** What a job looked like when it was cancelled before it ever started (BullMQ removes it). */
    tombstone: (jobId: string) => `${prefix}:cancelled:${jobId}`,
  };
}

export const KEEP_FINISHED_SEC = 7 * 24 * 3600;
