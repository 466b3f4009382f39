import { Type } from 'typebox';
import { JobViewSchema } from './schemas.js';

const jobId = Type.String();

/** The body of one webhook delivery (src/webhooks/plugin.ts builds it), for the OpenAPI document. */
export const WebhookDelivery = Type.Object({
  id: Type.String({ description: 'the delivery id, also in `vcfarm-delivery`: delivery is at least once' }),
  type: Type.Union([
    Type.Literal('completed'),
    Type.Literal('failed'),
    Type.Literal('cancelled'),
    Type.Literal('progress'),
  ]),
  createdAt: Type.Integer({ description: 'when the delivery was made (ms)' }),
  eventId: Type.String({ description: "the event's Redis stream id, as on the WebSocket" }),
  event: Type.Union([
    Type.Object({
      type: Type.Literal('completed'),
      jobId,
      resultUrl: Type.String({
        description: 'the signed result link, the same as `job.resultUrl`: absolute when PUBLIC_URL is set',
      }),
      realTimeFactor: Type.Number(),
      startedAt: Type.Optional(Type.Integer()),
      finishedAt: Type.Optional(Type.Integer()),
    }),
    Type.Object({
      type: Type.Literal('failed'),
      jobId,
      error: Type.Object({ code: Type.String(), message: Type.String() }),
    }),
    Type.Object({ type: Type.Literal('cancelled'), jobId }),
    Type.Object({ type: Type.Literal('progress'), jobId, progress: Type.Number(), stage: Type.String() }),
  ]),
  job: JobViewSchema,
});

/** OpenAPI 3.1 `webhooks`: what vcfarm POSTs to a user's or a job's webhook URL. */
export const WEBHOOKS = {
  jobEvent: {
    post: {
      summary: 'A job event, POSTed to the webhook URL',
      description:
        'Sent for the events the webhook asked for. Headers: `vcfarm-delivery` (the id), `vcfarm-event` (the type) and `vcfarm-signature: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`. Any answer but 2xx, or none within WEBHOOK_TIMEOUT_MS, is retried with exponential back-off.',
      requestBody: { required: true, content: { 'application/json': { schema: WebhookDelivery } } },
      responses: { '2XX': { description: 'received; anything else is retried' } },
    },
  },
};
