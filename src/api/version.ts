import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ErrorBody } from './schemas.js';

const Version = Type.Object({
  /** The build of the pages this instance serves (also on every answer as `x-vcfarm-build`). */
  build: Type.String(),
});

/**
 * GET /api/version: public, like the pages themselves. A page asks after its WebSocket came back
 * (a deploy restarts the instances) and offers a reload when the build is not its own.
 */
export const versionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/version', { schema: { response: { 200: Version, 503: ErrorBody } } }, async () => ({
    build: app.pageBuild,
  }));
};
