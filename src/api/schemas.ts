import { Type } from 'typebox';
import { Id } from './fields.js';

/** Shapes shared by several route groups. Route-specific schemas live beside their handlers. */
export const ErrorBody = Type.Object({ error: Type.String(), message: Type.String() });

export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });

export const JobViewSchema = Type.Object({
  id: Type.String(),
  kind: Type.Enum(['convert', 'clone']),
  voiceId: Type.Union([Type.String(), Type.Null()]),
  state: Type.Enum(['queued', 'active', 'completed', 'failed', 'cancelled']),
  progress: Type.Number(),
  stage: Type.Union([Type.String(), Type.Null()]),
  uploadId: Type.String(),
  filename: Type.String(),
  outputFormat: Type.String(),
  pitchSemitones: Type.Number(),
  strength: Type.Union([Type.Number(), Type.Null()]),
  model: Type.Union([Type.String(), Type.Null()]),
  durationSec: Type.Number(),
  priority: Type.String(),
  attempts: Type.Integer(),
  createdAt: Type.Number(),
  startedAt: Type.Union([Type.Number(), Type.Null()]),
  finishedAt: Type.Union([Type.Number(), Type.Null()]),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  resultUrl: Type.Union([Type.String(), Type.Null()]),
  /** Conversions: the original as uploaded, a signed link for its owner (GET /api/uploads/:id/audio). */
  sourceUrl: Type.Optional(Type.String()),
  /**
   * A completed conversion whose result was removed: `deleted` by its owner, `expired` by the
   * sweeper, `account-removed` with its owner's account (the admin's job view).
   */
  resultGone: Type.Optional(Type.Enum(['deleted', 'expired', 'account-removed'])),
  /** Unfinished conversions: a signed link to the output so far (`?partial=1`), followed as it grows. */
  partialUrl: Type.Optional(Type.String()),
  partialAvailable: Type.Optional(Type.Boolean()),
  partialSec: Type.Optional(Type.Number({ minimum: 0 })),
});
