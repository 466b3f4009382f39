import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

const ModelSchema = Type.Object({
  name: Type.String(),
  title: Type.String(),
  sampleRate: Type.Union([Type.Number(), Type.Null()]),
  outputSampleRate: Type.Union([Type.Number(), Type.Null()]),
  isDefault: Type.Boolean(),
  state: Type.Enum(['ready', 'broken']),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  presets: Type.Array(
    Type.Object({
      id: Type.String(),
      name: Type.String(),
      displayName: Type.String(),
      description: Type.Union([Type.String(), Type.Null()]),
      model: Type.String(),
      f0Median: Type.Union([Type.Number(), Type.Null()]),
    }),
  ),
});

/** GET /api/models: the models a job may name, with their preset voices; broken ones with their error. */
export const modelRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/models',
    { schema: { response: { 200: Type.Object({ models: Type.Array(ModelSchema) }) } } },
    async () => ({
      models: await app.models.list(),
    }),
  );
};
