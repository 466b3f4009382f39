import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { WEB_ROOT } from './build.js';
import { contentSecurityPolicy } from './csp.js';

/** Where a page's HTML says the nonce goes: `<meta name="csp-nonce" content="">`. */
const NONCE_SLOT = '<meta name="csp-nonce" content="">';
/** Where it says the build it belongs to (pageBuildPlugin), which the page compares with the API's. */
const BUILD_SLOT = '<meta name="vcfarm-build" content="">';

/**
 * The workspace (`/`) and the operations dashboard (`/admin`) as HTML with a fresh CSP nonce per
 * answer (read from a meta tag by the page's script), and every other built file as it is. The
 * dashboard's data come from the admin routes, which check the token.
 */
export async function pagePlugin(app: FastifyInstance, opts: { root?: string }): Promise<void> {
  const root = opts.root ?? WEB_ROOT;
  const html = new Map<string, Promise<string>>();
  const sendPage = async (reply: FastifyReply, file: string) => {
    if (!html.has(file)) html.set(file, readFile(path.join(root, file), 'utf8'));
    const text = await (html.get(file) as Promise<string>).catch((err) => {
      html.delete(file);
      throw err;
    });
    const nonce = randomBytes(16).toString('base64url');
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', contentSecurityPolicy(nonce))
      .send(
        text
          .replace(NONCE_SLOT, `<meta name="csp-nonce" content="${nonce}">`)
          .replace(BUILD_SLOT, `<meta name="vcfarm-build" content="${app.pageBuild}">`),
      );
  };
  await app.register(fastifyStatic, { root, prefix: '/', index: false });
  app.get('/', (_request, reply) => sendPage(reply, 'index.html'));
  app.get('/admin', (_request, reply) => sendPage(reply, 'admin.html'));
}
