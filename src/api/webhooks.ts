import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { WebhookEvent } from '../queue/index.js';
import { DEFAULT_EVENTS } from '../webhooks/index.js';
import { userOf } from './caller.js';
import { ErrorBody } from './schemas.js';

const EventName = Type.Enum(['completed', 'failed', 'cancelled', 'progress']);

/** A job's or a user's webhook: where to POST and which events (default: the final ones). */
export const WebhookBody = Type.Object(
  {
    url: Type.String({ minLength: 8, maxLength: 2048 }),
    events: Type.Optional(Type.Array(EventName, { minItems: 1, maxItems: 4, uniqueItems: true })),
  },
  { additionalProperties: false },
);
const WebhookView = Type.Object({ url: Type.String(), events: Type.Array(EventName) });

/** The caller's default webhook and signing secret (src/webhooks delivers). */
export const webhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/webhook',
    {
      schema: {
        response: {
          200: Type.Object({
            webhook: Type.Union([WebhookView, Type.Null()]),
            /** Whether a signing secret exists (it is shown only when made). */
            secretSet: Type.Boolean(),
          }),
        },
      },
    },
    async (request) => {
      const userId = userOf(request);
      const [webhook, secret] = await Promise.all([
        app.webhooks.store.defaultOf(userId),
        app.webhooks.store.secretOf(userId),
      ]);
      return { webhook: webhook ?? null, secretSet: secret !== undefined };
    },
  );

  app.put(
    '/webhook',
    {
      schema: {
        body: WebhookBody,
        response: { 200: Type.Object({ webhook: WebhookView }), 400: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      const userId = userOf(request);
      await app.webhooks.checkUrl(request.body.url);
      // Refused as a job's own webhook is, rather than made here: a secret made in passing would be
      // shown in an answer the caller may not read, and a receiver can verify nothing without it.
      await app.webhooks.checkSecret(userId);
      const webhook = {
        url: request.body.url,
        events: (request.body.events ?? DEFAULT_EVENTS) as WebhookEvent[],
      };
      await app.webhooks.store.setDefault(userId, webhook);
      request.log.info({ events: webhook.events }, 'default webhook set');
      return { webhook };
    },
  );

  app.delete('/webhook', { schema: { response: { 204: Type.Null() } } }, async (request, reply) => {
    await app.webhooks.store.removeDefault(userOf(request));
    return reply.status(204).send(null);
  });

  app.post(
    '/webhook/secret',
    {
      schema: {
        response: {
          /** Shown this once; deliveries from now on are signed with it, the previous one stops at once. */
          201: Type.Object({ secret: Type.String() }),
        },
      },
    },
    async (request, reply) => {
      const secret = await app.webhooks.store.rotateSecret(userOf(request));
      request.log.info('webhook secret rotated');
      return reply.status(201).send({ secret });
    },
  );
};
