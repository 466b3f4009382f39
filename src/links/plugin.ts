import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ResultLinks } from './result-links.js';
import { resultLinkSecret } from './secret.js';

declare module 'fastify' {
  interface FastifyInstance {
    resultLinks: ResultLinks;
  }
}

export const resultLinksPlugin = fp(
  async (app: FastifyInstance) => {
    const secret = await resultLinkSecret(app.config.resultLinkSecret, app.config.dataDir);
    app.decorate('resultLinks', new ResultLinks(secret, app.config.resultLinkTtlSec));
  },
  { name: 'vcfarm-result-links', dependencies: ['vcfarm-config'] },
);
