import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import {
  ForbiddenError,
  RateLimitedError,
  UnauthorizedError,
  UnavailableError,
  VcError,
} from '../errors/index.js';
import { type EffectivePlan, effectivePlan } from '../plans/index.js';
import { AccountStore } from './accounts.js';
import { AdminCredential, AdminFailures } from './admin.js';
import { type Principal, SessionStore } from './session-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionStore;
    accounts: AccountStore;
    /** The plan (with the user's overrides) that applies to a caller. */
    planOf(principal: Principal): Promise<EffectivePlan>;
    /** Resolves the caller from `Authorization: Bearer <token>`; throws UnauthorizedError. */
    authenticate(request: FastifyRequest): Promise<Principal>;
    /** Lets only the admin token through: none → 401, a user's token → 403. */
    requireAdmin(request: FastifyRequest): Promise<void>;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
    /** Set by `authenticate`: the caller's plan with overrides. */
    plan: EffectivePlan | undefined;
  }
}

/** The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive (RFC 7235). */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer +([A-Za-z0-9_\-.~+/=]+)$/i.exec(header ?? '');
  return m?.[1];
}

export const authPlugin = fp(
  async (app: FastifyInstance) => {
    // Token checks use the fail-fast connection: with Redis down they answer 503 at once.
    const accounts = new AccountStore(app.redisFailFast, app.config.redisPrefix);
    const sessions = new SessionStore(app.redisFailFast, app.config.redisPrefix, app.config.sessionTtlSec, {
      mode: app.config.authMode,
      apiKeys: accounts,
    });
    const { plans } = app.config;
    app.decorate('sessions', sessions);
    app.decorate('accounts', accounts);
    app.decorate('planOf', async (principal: Principal) => {
      if (principal.kind !== 'key') return effectivePlan(plans, plans.anonymousPlan);
      const account = await accounts.get(principal.userId);
      if (!account) throw new UnauthorizedError('this API key belongs to a removed user');
      return effectivePlan(plans, account.plan, account.overrides);
    });
    app.decorateRequest('principal', undefined);
    app.decorateRequest('plan', undefined);
    app.decorate('authenticate', async (request: FastifyRequest) => {
      const token = bearerToken(request.headers.authorization);
      let principal: Principal | undefined;
      try {
        principal = token ? await sessions.verify(token) : undefined;
        if (principal) request.plan = await app.planOf(principal);
      } catch (err) {
        if (err instanceof VcError) throw err;
        throw new UnavailableError('the session store is unreachable; try again shortly', { cause: err });
      }
      if (!principal) throw new UnauthorizedError();
      request.principal = principal;
      request.log = request.log.child({ userId: principal.userId });
      return principal;
    });
    const admin = new AdminCredential(app.config.adminToken, app.config.adminTokenFile);
    if (!admin.configured)
      app.log.warn('no ADMIN_TOKEN or ADMIN_TOKEN_FILE: admin endpoints refuse every request');
    const failures = new AdminFailures(
      app.redisFailFast,
      app.config.redisPrefix,
      app.config.adminFailuresPerIp,
    );
    app.decorate('requireAdmin', async (request: FastifyRequest) => {
      const token = bearerToken(request.headers.authorization);
      if (!token) throw new UnauthorizedError('the admin token is required');
      // Guessing is throttled per client IP: once blocked, even the right token waits, except from
      // a client that used it before (AdminFailures: one wrong token ends that).
      const client = request.headers['user-agent'] ?? '';
      let blocked: boolean;
      try {
        blocked = await failures.blocked(request.ip);
        if (blocked && (await failures.trusted(request.ip, client))) {
          if (admin.matches(token)) blocked = false;
          else await failures.distrust(request.ip, client);
        }
      } catch (err) {
        if (admin.matches(token)) blocked = false;
        else throw new UnavailableError('admin attempts cannot be checked right now', { cause: err });
      }
      if (blocked) {
        if (!admin.matches(token)) await failures.record(request.ip, token).catch(() => undefined);
        request.log.warn({ ip: request.ip }, 'admin attempt refused: too many failed admin tokens');
        throw new RateLimitedError('too many failed admin attempts from this address; try again later');
      }
      if (admin.matches(token)) {
        request.log = request.log.child({ admin: true });
        await failures
          .trust(request.ip, client)
          .catch((err: unknown) => request.log.warn({ err }, 'an admin client could not be remembered'));
        return;
      }
      if (await sessions.verify(token))
        throw new ForbiddenError('this endpoint is for the administrator only');
      const count = await failures.record(request.ip, token).catch(() => undefined);
      request.log.warn({ ip: request.ip, failures: count }, 'admin authentication failed: wrong token');
      throw new UnauthorizedError('the token sent is not the admin token');
    });
  },
  { name: 'vcfarm-auth', dependencies: ['vcfarm-redis', 'vcfarm-redis-failfast'] },
);
