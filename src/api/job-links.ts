import type { FastifyInstance } from 'fastify';
import type { ConversionJobView } from '../queue/index.js';

/**
 * A job view with its links signed for the job's owner: resultUrl and partialUrl become links an
 * `<audio src>` can fetch without a bearer token, and a conversion gets its original's (sourceUrl,
 * signed as the upload's audioUrl is: an HMAC, no Redis read). The owner's routes and the admin's
 * job view give the same links, so an operator can open what the owner can.
 */
export function linkedJob(app: FastifyInstance, ownerId: string, job: ConversionJobView): ConversionJobView {
  return {
    ...job,
    ...(job.kind === 'convert' ? { sourceUrl: app.resultLinks.uploadUrl(job.uploadId, ownerId) } : {}),
    ...(job.resultUrl ? { resultUrl: app.resultLinks.url(job.id, ownerId) } : {}),
    ...(job.partialUrl ? { partialUrl: app.resultLinks.partialUrl(job.id, ownerId) } : {}),
  };
}
