/** Redis keys and channels of the scaling concern, for one key prefix. */
export function scalingKeys(prefix: string) {
  return {
    /** JSON DesiredSize for every worker process. */
    desired: `${prefix}:scale:desired`,
    /** Hash workerId → JSON DesiredSize, for requests that named one worker. */
    desiredPerWorker: `${prefix}:scale:desired:workers`,
    /** JSON AutoscaleSetting; absent means "as configured by AUTOSCALE". */
    autoscale: `${prefix}:scale:autoscale`,
    /**
     * JSON AutoscaleOff: autoscaling was switched off then; every worker keeps the size it had, as
     * its own desired size (a stored size older than this is not applied). Removed by a resize for all.
     */
    autoscaleOff: `${prefix}:scale:autoscale-off`,
    /**
     * JSON AutoscaleOn: the request that switched autoscaling on, which every worker acknowledges
     * once it has adopted the bounds. Removed when autoscaling is switched off or a resize for all pins the size.
     */
    autoscaleOn: `${prefix}:scale:autoscale-on`,
    /** Pub/sub channel carrying ScaleCommand messages to every worker process. */
    channel: `${prefix}:scale`,
    /** Hash workerId → JSON ScaleAck for one request. */
    acks: (requestId: string) => `${prefix}:scale:acks:${requestId}`,
    /** JSON of one request as made, for its status URL. */
    request: (requestId: string) => `${prefix}:scale:request:${requestId}`,
    /** Set of worker ids that have announced themselves. */
    workers: `${prefix}:workers`,
    /** JSON WorkerStats of one live worker process (expires when it stops beating). */
    worker: (workerId: string) => `${prefix}:worker:${workerId}`,
    /** ZSET of job ids that ended cancelled while running (score = time): the queue keeps them among its failed jobs. */
    cancelled: `${prefix}:stats:cancelled`,
    /**
     * ZSET of job ids cancelled while queued (score = time; written by the API's cancel, which
     * removes the BullMQ job and keeps a tombstone): no worker saw them, so they are counted apart.
     */
    cancelledQueued: `${prefix}:stats:cancelled-queued`,
  };
}

export type ScalingKeys = ReturnType<typeof scalingKeys>;
