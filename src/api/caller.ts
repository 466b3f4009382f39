import type { FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../errors/index.js';
import type { EffectivePlan } from '../plans/index.js';

/** What one file may be: the plan's caps bounded by the deployment's (UPLOAD_MAX_BYTES, MAX_DURATION_SEC). */
export interface FileLimits {
  maxUploadBytes: number;
  maxDurationSec: number;
}

/** The authenticated caller of a route behind `authenticate`, with the limits that apply to them. */
export interface Caller {
  userId: string;
  plan: EffectivePlan;
  limits: FileLimits;
}

/** The caller's user id; 401 when the request carries no principal (never an empty id). */
export function userOf(request: FastifyRequest): string {
  if (!request.principal) throw new UnauthorizedError();
  return request.principal.userId;
}

/** The one place where a plan's file caps meet the deployment's. */
export function fileLimits(
  plan: EffectivePlan,
  config: { uploadMaxBytes: number; maxDurationSec: number },
): FileLimits {
  return {
    maxUploadBytes: Math.min(config.uploadMaxBytes, plan.quotas.maxUploadBytes),
    maxDurationSec: Math.min(config.maxDurationSec, plan.quotas.maxDurationSec),
  };
}

/** The caller, their plan (with overrides) and effective limits; 401 without both. */
export function callerOf(request: FastifyRequest): Caller {
  const userId = userOf(request);
  const plan = request.plan;
  if (!plan) throw new UnauthorizedError();
  return { userId, plan, limits: fileLimits(plan, request.server.config) };
}
