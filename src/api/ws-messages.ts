import type { Static } from 'typebox';
import { Type } from 'typebox';
import type { ClientMessage, ServerMessage } from '../progress/index.js';
import { JobViewSchema } from './schemas.js';

/**
 * The WebSocket messages of `GET /api/ws` as JSON Schema, for the OpenAPI document's components.
 * The TypeScript union in src/progress/events.ts stays the source the code uses; the two checks
 * at the end of this file stop the build when they drift apart.
 */
const eventId = Type.String({
  pattern: '^\\d{1,16}-\\d{1,16}$',
  description: 'Redis stream id; ids only grow',
});
const ErrorValue = Type.Object({ code: Type.String(), message: Type.String() });

export const WsServerMessage = Type.Union([
  Type.Object({ type: Type.Literal('snapshot'), jobs: Type.Array(JobViewSchema), eventId }),
  Type.Object({ type: Type.Literal('stage'), jobId: Type.String(), stage: Type.String(), eventId }),
  Type.Object({
    type: Type.Literal('progress'),
    jobId: Type.String(),
    progress: Type.Number({ minimum: 0, maximum: 1 }),
    stage: Type.String(),
    partialSec: Type.Optional(
      Type.Number({
        minimum: 0,
        description: "seconds of output written so far (the job view's partialUrl)",
      }),
    ),
    eventId,
  }),
  Type.Object({
    type: Type.Literal('completed'),
    jobId: Type.String(),
    resultUrl: Type.String(),
    realTimeFactor: Type.Number(),
    startedAt: Type.Optional(Type.Integer({ description: 'when the job began running (ms), as its view' })),
    finishedAt: Type.Optional(Type.Integer({ description: 'when the job ended (ms), as its view' })),
    eventId,
  }),
  Type.Object({ type: Type.Literal('failed'), jobId: Type.String(), error: ErrorValue, eventId }),
  Type.Object({ type: Type.Literal('cancelled'), jobId: Type.String(), eventId }),
  Type.Object({
    type: Type.Literal('resultGone'),
    jobId: Type.String(),
    why: Type.Union([Type.Literal('deleted'), Type.Literal('expired')], {
      description: 'deleted by its owner, or expired (the sweeper removed it)',
    }),
    eventId,
  }),
  Type.Object({ type: Type.Literal('removed'), jobId: Type.String(), eventId }),
  Type.Object({
    type: Type.Literal('queue'),
    jobs: Type.Array(
      Type.Object({
        jobId: Type.String(),
        position: Type.Integer({ minimum: 1 }),
        etaSec: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
      }),
    ),
  }),
  Type.Object({ type: Type.Literal('error'), error: Type.String(), message: Type.String() }),
]);

export const WsClientMessage = Type.Union([
  Type.Object({ type: Type.Literal('auth'), token: Type.String(), lastEventId: Type.Optional(eventId) }),
  Type.Object({ type: Type.Literal('resume'), token: Type.String(), lastEventId: eventId }),
]);

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type NotSnapshot<T> = Exclude<T, { type: 'snapshot' }>;
const serverSame: Same<NotSnapshot<Static<typeof WsServerMessage>>, NotSnapshot<ServerMessage>> = true;
const clientSame: Same<Static<typeof WsClientMessage>, ClientMessage> = true;
void serverSame;
void clientSame;
