import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ForbiddenError, UnauthorizedError } from '../errors/index.js';
import { AdminCredential } from './admin.js';
import { type Principal, SessionStore } from './session-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionStore;
    /** Resolves the caller from `Authorization: Bearer <token>`; throws UnauthorizedError. */
    authenticate(request: FastifyRequest): Promise<Principal>;
    /** Lets only the admin token through: none → 401, a user's token → 403. */
    requireAdmin(request: FastifyRequest): Promise<void>;
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
    const admin = new AdminCredential(app.config.adminToken, app.config.adminTokenFile);
    if (!admin.configured)
      app.log.warn('no ADMIN_TOKEN or ADMIN_TOKEN_FILE: admin endpoints refuse every request');
    app.decorate('requireAdmin', async (request: FastifyRequest) => {
      const token = bearerToken(request.headers.authorization);
      if (!token) throw new UnauthorizedError('the admin token is required');
      if (admin.matches(token)) {
        request.log = request.log.child({ admin: true });
        return;
      }
      if (await sessions.verify(token))
        throw new ForbiddenError('this endpoint is for the administrator only');
      throw new UnauthorizedError('the admin token is required');
    });
  },
  { name: 'vcfarm-auth', dependencies: ['vcfarm-redis'] },
);
