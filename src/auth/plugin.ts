import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { UnauthorizedError } from '../errors/index.js';
import { type Principal, SessionStore } from './session-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionStore;
    /** Resolves the caller from `Authorization: Bearer <token>`; throws UnauthorizedError. */
    authenticate(request: FastifyRequest): Promise<Principal>;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer ([A-Za-z0-9_\-.~+/=]+)$/.exec(header ?? '');
  return m?.[1];
}

export const authPlugin = fp(
  async (app: FastifyInstance) => {
    const sessions = new SessionStore(app.redis, app.config.redisPrefix, app.config.sessionTtlSec);
    app.decorate('sessions', sessions);
    app.decorateRequest('principal', undefined);
    app.decorate('authenticate', async (request: FastifyRequest) => {
      const token = bearerToken(request.headers.authorization);
      const principal = token ? await sessions.verify(token) : undefined;
      if (!principal) throw new UnauthorizedError();
      request.principal = principal;
      request.log = request.log.child({ userId: principal.userId });
      return principal;
    });
  },
  { name: 'vcfarm-auth', dependencies: ['vcfarm-redis'] },
);
