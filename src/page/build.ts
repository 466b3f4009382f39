import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** The build of the pages this instance serves (pageBuildId). */
    pageBuild: string;
  }
}

/** The pages, built by Vite from web/ (scripts/ensure-build.sh) into dist/public. */
export const WEB_ROOT = fileURLToPath(new URL('../../public/', import.meta.url));

/** The answer header that names the build: a page compares it with the build it was loaded from. */
export const BUILD_HEADER = 'x-vcfarm-build';

/**
 * The build of the pages in `root`: a hash of their HTML as built, which names every script and
 * style by its content hash, so any change to the page's code is another build; `unbuilt` when
 * there are no pages.
 */
export async function pageBuildId(root: string): Promise<string> {
  const hash = createHash('sha256');
  let found = false;
  for (const file of ['index.html', 'admin.html']) {
    const text = await readFile(path.join(root, file)).catch(() => undefined);
    if (!text) continue;
    found = true;
    hash.update(file).update(text);
  }
  return found ? hash.digest('hex').slice(0, 16) : 'unbuilt';
}

export interface PageBuildOptions {
  /** The built pages' folder. Default WEB_ROOT (dist/public). */
  root?: string;
}

/**
 * Reads the pages' build once at start and names it on every answer (`x-vcfarm-build`), so a page
 * left open across a deploy can tell that the API now belongs to another build and offer a reload
 * (an old page talking to a new API meets routes that moved).
 */
export const pageBuildPlugin = fp(
  async (app: FastifyInstance, opts: PageBuildOptions) => {
    app.decorate('pageBuild', await pageBuildId(opts.root ?? WEB_ROOT));
    app.addHook('onSend', async (_request, reply) => {
      reply.header(BUILD_HEADER, app.pageBuild);
    });
  },
  { name: 'vcfarm-page-build' },
);
