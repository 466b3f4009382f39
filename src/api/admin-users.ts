import { rm } from 'node:fs/promises';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Account } from '../auth/index.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors/index.js';
import { PlanOverridesSchema } from '../plans/index.js';
import { workspaceFor } from '../workspace/index.js';
import { AccountName, PlanName } from './fields.js';
import { ErrorBody, IdParams } from './schemas.js';

const UserView = Type.Object({
  id: Type.String(),
  name: Type.String(),
  plan: Type.String(),
  overrides: Type.Unknown(),
  createdAt: Type.Number(),
});

const CreateUserBody = Type.Object(
  {
    name: AccountName,
    plan: PlanName,
    overrides: Type.Optional(PlanOverridesSchema),
  },
  { additionalProperties: false },
);

const view = (a: Account) => ({
  id: a.id,
  name: a.name,
  plan: a.plan,
  overrides: a.overrides,
  createdAt: a.createdAt,
});

/**
 * Accounts for AUTH_MODE=keys (they work in open mode too): create with an API key (shown once),
 * list, remove (revokes keys, cancels jobs, deletes the workspace), rotate the key. Admin only.
 */
export const adminUserRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', async (request) => app.requireAdmin(request));

  app.post(
    '/admin/users',
    {
      schema: {
        body: CreateUserBody,
        response: {
          201: Type.Object({ user: UserView, apiKey: Type.String() }),
          400: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { name, plan, overrides } = request.body;
      if (!app.config.plans.plans[plan])
        throw new ValidationError(
          `body.plan must be one of ${Object.keys(app.config.plans.plans).join(', ')}`,
        );
      const created = await app.accounts.create(name, plan, overrides ?? {});
      if (!created) throw new ConflictError(`a user named "${name.trim()}" already exists`);
      const { account, apiKey } = created;
      request.log.info({ userId: account.id, plan }, 'user created');
      return reply.status(201).send({ user: view(account), apiKey });
    },
  );

  app.get(
    '/admin/users',
    { schema: { response: { 200: Type.Object({ users: Type.Array(UserView) }) } } },
    async () => ({
      users: (await app.accounts.list()).map(view),
    }),
  );

  app.delete(
    '/admin/users/:id',
    {
      schema: {
        params: IdParams,
        response: { 200: Type.Object({ user: UserView, cancelledJobs: Type.Integer() }), 404: ErrorBody },
      },
    },
    async (request) => {
      const account = await app.accounts.get(request.params.id);
      if (!account) throw new NotFoundError('user');
      // Keys first, so nothing new arrives while jobs are cancelled and files deleted.
      await app.accounts.remove(account.id);
      const cancelledJobs = await app.conversions.cancelAllOf(account.id);
      await app.webhooks.store.forget(account.id);
      await rm(workspaceFor(app.config.dataDir, account.id).root, { recursive: true, force: true });
      await app.usage.forget(account.id);
      request.log.info({ userId: account.id, cancelledJobs }, 'user removed');
      return { user: view(account), cancelledJobs };
    },
  );

  app.post(
    '/admin/users/:id/keys',
    {
      schema: { params: IdParams, response: { 201: Type.Object({ apiKey: Type.String() }), 404: ErrorBody } },
    },
    async (request, reply) => {
      const apiKey = await app.accounts.rotateKey(request.params.id);
      if (!apiKey) throw new NotFoundError('user');
      request.log.info({ userId: request.params.id }, 'api key rotated');
      return reply.status(201).send({ apiKey });
    },
  );
};
