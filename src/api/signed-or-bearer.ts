import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { ForbiddenError, UnauthorizedError } from '../errors/index.js';
import { userOf } from './caller.js';
import { LinkExpiry, LinkSignature, LinkUser } from './fields.js';

/**
 * Routes a browser's `<audio src>` fetches (results, uploads' originals, voice previews) take either
 * a signed link (no token: the signature binds what, whose and until when) or `Authorization: Bearer`.
 * This is the one way both are checked.
 */

/** The query fields of a signed link that names its user (uploads' originals, previews). */
export const SignedUserFields = {
  /** The user the link was made for. */
  user: Type.Optional(LinkUser),
  exp: Type.Optional(LinkExpiry),
  sig: Type.Optional(LinkSignature),
};

export interface SignedUserQuery {
  user?: string;
  exp?: string;
  sig?: string;
}

/** True when the request tries a signed link (any of its fields), so no bearer token is looked at. */
export function isSigned(q: SignedUserQuery): boolean {
  return q.user !== undefined || q.exp !== undefined || q.sig !== undefined;
}

/**
 * The user a signed link names, once `verify` accepts its signature: 401 when a field is missing,
 * 403 when altered or expired. `link` names the link in the messages ("preview", "audio").
 */
export function signedUser(
  q: SignedUserQuery,
  link: string,
  verify: (user: string, exp: number, sig: string) => boolean,
): string {
  if (q.user === undefined || q.exp === undefined || q.sig === undefined)
    throw new UnauthorizedError(`a signed ${link} link needs user, exp and sig`);
  if (!verify(q.user, Number(q.exp), q.sig))
    throw new ForbiddenError(`this ${link} link is invalid or has expired; reload the page for a new one`);
  return q.user;
}

/** The bearer caller of such a route: authenticated and counted against the API rate limit as any request. */
export async function bearerUser(request: FastifyRequest, reply: FastifyReply): Promise<string> {
  await request.server.authenticate(request);
  await request.server.enforceRateLimits(request, reply);
  return userOf(request);
}
