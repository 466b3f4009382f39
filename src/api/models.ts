import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

const ModelSchema = Type.Object({
  name: Type.String(),
  title: Type.String(),
  sampleRate: Type.Number(),
  isDefault: Type.Boolean(),
  presets: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      model: Type.String(),
      f0Median: Type.Union([Type.Number(), Type.Null()]),
    }),
  ),
});

/** GET /api/models: the models a job may name, with their preset voices. */
export const modelRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/models',
    { schema: { response: { 200: Type.Object({ models: Type.Array(ModelSchema) }) } } },
    async () => ({
      models: await app.models.list(),
    }),
  );
};
