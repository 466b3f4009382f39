import { type Static, Type } from 'typebox';
import { PlanName } from '../validation/index.js';

const RateLimit = Type.Object(
  {
    /** Requests allowed per window. */
    max: Type.Integer({ minimum: 1 }),
    /** Window length in seconds. */
    windowSec: Type.Integer({ minimum: 1, maximum: 7 * 24 * 3600 }),
  },
  { additionalProperties: false },
);

/** The rate-limit classes; a request counts against `api` and, on some routes, one more class. */
export const RATE_CLASSES = ['api', 'conversions', 'voiceClones', 'uploads'] as const;
export type RateClass = (typeof RATE_CLASSES)[number];

export const PlanSchema = Type.Object(
  {
    /** Added to every job's BullMQ priority (lower runs first): pro plans get a smaller base than free. */
    priorityBase: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    /** The best job `priority` this plan may ask for; better requests are lowered to it. */
    maxJobPriority: Type.Enum(['high', 'normal', 'low']),
    /** Jobs of one user that may run at the same time, across all workers. */
    maxActiveJobs: Type.Integer({ minimum: 1, maximum: 1024 }),
    quotas: Type.Object(
      {
        /** Bytes in the whole workspace (uploads, voices, outputs). */
        maxBytes: Type.Integer({ minimum: 1024 }),
        /** Files in the whole workspace. */
        maxFiles: Type.Integer({ minimum: 1 }),
        /** Largest single upload. */
        maxUploadBytes: Type.Integer({ minimum: 1024 }),
        /** Longest audio per file, measured by decoding it. */
        maxDurationSec: Type.Number({ exclusiveMinimum: 0 }),
        /** Jobs waiting to start. */
        maxQueuedJobs: Type.Integer({ minimum: 1, maximum: 100_000 }),
      },
      { additionalProperties: false },
    ),
    /** Age after which the sweeper removes a file, per folder. */
    ttl: Type.Object(
      {
        uploadsSec: Type.Integer({ minimum: 1 }),
        outputsSec: Type.Integer({ minimum: 1 }),
        voicesSec: Type.Integer({ minimum: 1 }),
      },
      { additionalProperties: false },
    ),
    rateLimits: Type.Object(
      {
        api: RateLimit,
        conversions: RateLimit,
        voiceClones: RateLimit,
        uploads: RateLimit,
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type Plan = Static<typeof PlanSchema>;

export const PlansFileSchema = Type.Object(
  {
    /** Plan of anonymous session users (AUTH_MODE=open). */
    anonymousPlan: PlanName,
    /** POST /api/session, counted per client IP. */
    sessionRateLimit: RateLimit,
    /** By name; a name out of PlanName's form is refused (a record alone lets any other key through). */
    plans: Type.Record(PlanName, PlanSchema, { propertyNames: PlanName }),
  },
  { additionalProperties: false },
);
export type PlansFile = Static<typeof PlansFileSchema>;

/** Per-user overrides stored with the user: any part of a plan, field by field. */
export const PlanOverridesSchema = Type.Object(
  {
    priorityBase: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    maxJobPriority: Type.Optional(Type.Enum(['high', 'normal', 'low'])),
    maxActiveJobs: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    quotas: Type.Optional(Type.Partial(PlanSchema.properties.quotas, { additionalProperties: false })),
    ttl: Type.Optional(Type.Partial(PlanSchema.properties.ttl, { additionalProperties: false })),
    rateLimits: Type.Optional(
      Type.Partial(PlanSchema.properties.rateLimits, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
export type PlanOverrides = Static<typeof PlanOverridesSchema>;
