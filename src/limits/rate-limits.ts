import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { RateLimitedError, UnavailableError } from '../errors/index.js';
import { effectivePlan, RATE_CLASSES, type RateClass } from '../plans/index.js';
import { redisScript } from '../redis/core.js';

/** What a route counts against besides `api`: set as `config: { rateClass }` on the route. */
export type RouteRateClass = Exclude<RateClass, 'api'>;

declare module 'fastify' {
  interface FastifyContextConfig {
    rateClass?: RouteRateClass;
  }
  interface FastifyRequest {
    /**
     * The counts this request took (enforceRateLimits): the route class's is given back if the
     * request is refused for its own fault, both if the server failed it (5xx).
     */
    rateCounts?: { api?: LimitResult; cls?: LimitResult };
  }
  interface FastifyInstance {
    /**
     * Counts an authenticated request against the caller's `api` limit and the route's class
     * (per user; per IP when there is no user yet, as for a WebSocket authenticating later).
     * Over a limit: 429 with Retry-After. Redis unreachable: 503 for routes with a class
     * (uploads, conversions, voice clones: fail closed), let through otherwise (fail open).
     */
    enforceRateLimits(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /** POST /api/session: counted per client IP; fails closed. */
    enforceSessionRateLimit(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /**
     * GET /api/ws before the upgrade: with `?token=` (request.principal set) the user's `api`
     * limit; without, a bucket of its own per client IP (WS_ANONYMOUS_UPGRADES_PER_MIN), so that
     * upgrades that authenticate later never use up the `api` limit of users behind that address.
     */
    enforceWsUpgradeLimit(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    /**
     * Counts one request of `request.principal` against its `api` limit without a reply (a
     * WebSocket that authenticated by its first message): false when over the limit. Fails open.
     */
    countApiRequest(request: FastifyRequest): Promise<boolean>;
    /**
     * The caller's allowance in every rate class, read without counting (so the page can refuse
     * before spending an upload). A class whose counter cannot be read within 300 ms reports
     * `remaining: null`.
     */
    peekRateLimits(request: FastifyRequest): Promise<Record<RateClass, RateAllowance>>;
  }
}

export interface RateAllowance {
  max: number;
  windowSec: number;
  /** Null when the counters could not be read in time. */
  remaining: number | null;
  /** Seconds until the current window ends; 0 when nothing was counted yet; null when unknown. */
  resetInSec: number | null;
}

/**
 * Takes back one count of a refused request, unless its window has ended meanwhile (no key: a
 * DECR would leave a counter at -1 with no expiry). The window's expiry is kept.
 */
const REFUND = redisScript(
  'vcfarmRateRefund',
  `if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0`,
);

/**
 * Answers that refuse a request for its own fault (malformed, not found, unsupported media, too
 * large, too slow to send) or for a conflict (an Idempotency-Key in use or used for another body, a
 * voice not ready): the upload, conversion or clone it counted is given back, so only work the
 * service accepted uses up those limits. The `api` count stays: that limit is about requests of
 * any kind, a client repeating a bad one included. 429 takes back its counts where it is decided;
 * 401/403 are answered before any count (per user: there is none yet) or, on another user's
 * resource, as 404 (counted like any not found: one lookup, no work).
 */
const REFUNDED_STATUSES = new Set([400, 404, 409, 413, 415, 422]);

/**
 * The counts an answer gives back: for a refusal above, the route class's; for a server fault
 * (5xx: a bug, a store refusing writes, a full disk) the `api` count too, since the user did
 * nothing wrong and should not spend their quota on the service's failure.
 */
function countsGivenBack(status: number, counts: { api?: LimitResult; cls?: LimitResult }): LimitResult[] {
  if (status >= 500) return [counts.api, counts.cls].filter((r): r is LimitResult => r !== undefined);
  return REFUNDED_STATUSES.has(status) && counts.cls ? [counts.cls] : [];
}

/** A peek is a courtesy to the page: it never holds a request up for long when Redis is slow. */
const PEEK_TIMEOUT_MS = 300;

interface LimitResult {
  /** The limiter's key (without the store's prefix). */
  key?: string;
  isAllowed: boolean;
  max?: number;
  remaining?: number;
  ttlInSeconds?: number;
  isExceeded?: boolean;
}
type Limiter = (request: FastifyRequest, options?: { increment?: boolean }) => Promise<LimitResult>;

function setHeaders(reply: FastifyReply, r: LimitResult, exceeded: boolean): void {
  reply.header('x-ratelimit-limit', r.max);
  reply.header('x-ratelimit-remaining', exceeded ? 0 : r.remaining);
  reply.header('x-ratelimit-reset', r.ttlInSeconds);
  if (exceeded) reply.header('retry-after', r.ttlInSeconds);
}

/**
 * Rate limits with @fastify/rate-limit's Redis store, so every API instance shares the same
 * counters (fixed windows). Limits come from the caller's plan; the `createRateLimit` form is
 * used so one request can count against two classes.
 */
/** The metric's `class` label of a check named for people (the other checks are named by their class). */
const METRIC_CLASS: Record<string, string> = { 'anonymous WebSocket upgrade': 'wsAnonymous' };

export const rateLimitsPlugin = fp(
  async (app: FastifyInstance) => {
    const { plans, redisPrefix } = app.config;
    const anonymous = effectivePlan(plans, plans.anonymousPlan);
    await app.register(rateLimit, {
      global: false,
      redis: app.redisLimits,
      nameSpace: `${redisPrefix}:ratelimit:`,
      skipOnError: false,
    });
    const make = (
      name: string,
      key: (r: FastifyRequest) => string,
      limit: (r: FastifyRequest) => { max: number; windowSec: number },
    ): Limiter =>
      app.createRateLimit({
        keyGenerator: (r: FastifyRequest) => `${name}:${key(r)}`,
        max: (r: FastifyRequest) => limit(r).max,
        timeWindow: (r: FastifyRequest) => limit(r).windowSec * 1000,
      }) as unknown as Limiter;
    // The Redis key of a limiter's counter: @fastify/rate-limit's RedisStore names a
    // createRateLimit counter `<nameSpace><method><url>-<key>` with no route (hence "undefined").
    // test/integration/rate-refusals.test.ts fails if that changes (its refunds would miss).
    const counterKey = (limiterKey: string) =>
      `${redisPrefix}:ratelimit:${undefined}${undefined}-${limiterKey}`;
    /**
     * A refused request counts against no limit: the counts it made are taken back. Otherwise a
     * request the `api` limit refuses would still spend a voice clone (3 an hour) or an upload, and
     * one refused as a conversion would spend the API budget the page needs to show why.
     */
    const refund = async (request: FastifyRequest, counted: LimitResult[]): Promise<boolean> =>
      Promise.all(
        counted.map((r) => (r.key ? REFUND(app.redisLimits, [counterKey(r.key)], []) : undefined)),
      ).then(
        () => true,
        (err: unknown) => {
          request.log.warn({ err }, 'a refused request could not be uncounted');
          return false;
        },
      );
    const userKey = (r: FastifyRequest) => (r.principal ? `user:${r.principal.userId}` : `ip:${r.ip}`);
    const limiters = Object.fromEntries(
      RATE_CLASSES.map((c) => [c, make(c, userKey, (r) => (r.plan ?? anonymous).rateLimits[c])]),
    ) as Record<RateClass, Limiter>;
    const sessions = make(
      'session',
      (r) => `ip:${r.ip}`,
      () => plans.sessionRateLimit,
    );
    const anonymousUpgrades = make(
      'wsAnonymous',
      (r) => `ip:${r.ip}`,
      () => ({ max: app.config.wsAnonymousUpgradesPerMin, windowSec: 60 }),
    );

    const enforce = async (
      request: FastifyRequest,
      reply: FastifyReply,
      checks: [string, Limiter][],
      failClosed: boolean,
    ) => {
      let shown: LimitResult | undefined;
      // Every class is counted at once: the commands go out together on the one connection, so
      // a request waits for one Redis round trip instead of one per class. Judged in order.
      const results = await Promise.allSettled(checks.map(([, limiter]) => limiter(request)));
      for (const [i, [name]] of checks.entries()) {
        const settled = results[i];
        if (settled.status === 'rejected') {
          const err = settled.reason as unknown;
          if (failClosed)
            throw new UnavailableError('rate limits cannot be checked right now; try again shortly', {
              cause: err,
            });
          request.log.warn({ err, rateClass: name }, 'rate limit store unreachable; request let through');
          continue;
        }
        const r = settled.value;
        if (r.isAllowed) continue;
        if (r.isExceeded) {
          setHeaders(reply, r, true);
          request.log.info({ rateClass: name, key: request.principal?.userId ?? request.ip }, 'rate limited');
          app.metrics.rateLimited.labels(METRIC_CLASS[name] ?? name).inc();
          await refund(
            request,
            results.flatMap((x) => (x.status === 'fulfilled' ? [x.value] : [])),
          );
          throw new RateLimitedError(
            `the ${name} rate limit of ${r.max} requests is reached; retry in ${r.ttlInSeconds} s`,
          );
        }
        if (!shown || (r.remaining ?? 0) <= (shown.remaining ?? 0)) shown = r;
      }
      if (shown) setHeaders(reply, shown, false);
      return results;
    };

    app.decorate('enforceRateLimits', async (request: FastifyRequest, reply: FastifyReply) => {
      // The WebSocket route authenticates by itself (principal, no plan yet).
      if (request.principal && !request.plan)
        request.plan = await app.planOf(request.principal).catch(() => undefined);
      const cls = request.routeOptions.config?.rateClass;
      const checks: [string, Limiter][] = [['api', limiters.api]];
      if (cls) checks.push([cls, limiters[cls]]);
      const results = await enforce(request, reply, checks, cls !== undefined);
      const counted = results.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
      request.rateCounts = { api: counted[0], cls: counted[1] };
    });
    // Before the answer leaves, so a client reading its limits right after sees the count back,
    // and the answer's own `x-ratelimit-remaining` says what is left once given back.
    app.addHook('onSend', async (request, reply, payload) => {
      const counts = request.rateCounts;
      if (!counts) return payload;
      const back = countsGivenBack(reply.statusCode, counts);
      if (back.length === 0) return payload;
      request.rateCounts = undefined;
      if (!(await refund(request, back))) return payload;
      const after = [counts.api, counts.cls].flatMap((r) =>
        r
          ? [back.includes(r) ? { ...r, remaining: Math.min(r.max ?? Infinity, (r.remaining ?? 0) + 1) } : r]
          : [],
      );
      const shown = after.reduce((a, b) => ((b.remaining ?? 0) <= (a.remaining ?? 0) ? b : a));
      setHeaders(reply, shown, false);
      return payload;
    });
    app.decorate('enforceSessionRateLimit', async (request: FastifyRequest, reply: FastifyReply) => {
      await enforce(request, reply, [['session', sessions]], true);
    });
    app.decorate('enforceWsUpgradeLimit', async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.principal) return app.enforceRateLimits(request, reply);
      await enforce(request, reply, [['anonymous WebSocket upgrade', anonymousUpgrades]], false);
    });
    app.decorate('countApiRequest', async (request: FastifyRequest) => {
      if (request.principal && !request.plan)
        request.plan = await app.planOf(request.principal).catch(() => undefined);
      try {
        const r = await limiters.api(request);
        if (r.isAllowed || !r.isExceeded) return true;
        request.log.info({ rateClass: 'api', key: request.principal?.userId }, 'rate limited');
        app.metrics.rateLimited.labels('api').inc();
        await refund(request, [r]);
        return false;
      } catch (err) {
        request.log.warn({ err, rateClass: 'api' }, 'rate limit store unreachable; request let through');
        return true;
      }
    });
    app.decorate('peekRateLimits', async (request: FastifyRequest) => {
      const plan = request.plan ?? anonymous;
      const entries = await Promise.all(
        RATE_CLASSES.map(async (c): Promise<[RateClass, RateAllowance]> => {
          const { max, windowSec } = plan.rateLimits[c];
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<undefined>((resolve) => {
            timer = setTimeout(() => resolve(undefined), PEEK_TIMEOUT_MS);
          });
          const r = await Promise.race([
            limiters[c](request, { increment: false }).catch(() => undefined),
            late,
          ]);
          clearTimeout(timer);
          if (!r) return [c, { max, windowSec, remaining: null, resetInSec: null }];
          const resetInSec = r.ttlInSeconds && r.ttlInSeconds > 0 ? r.ttlInSeconds : 0;
          return [c, { max, windowSec, remaining: r.remaining ?? max, resetInSec }];
        }),
      );
      return Object.fromEntries(entries) as Record<RateClass, RateAllowance>;
    });
  },
  {
    name: 'vcfarm-rate-limits',
    dependencies: ['vcfarm-config', 'vcfarm-redis-failfast', 'vcfarm-auth', 'vcfarm-metrics'],
  },
);
