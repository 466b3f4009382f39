import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { ADMIN_TOKEN } from './admin.js';
import { launchChromium } from './browser.js';
import { generousPlans, shippedPlans, writePlans } from './plans.js';
import { startService, type TestService } from './service.js';

/** What the page tests drive: a service, Chromium, and a scratch folder removed by `close`. */
export interface PageBench {
  svc: TestService;
  browser: Browser;
  dir: string;
  close(): Promise<void>;
}

/**
 * A service with one worker and the admin token, where anonymous users get the shipped free
 * plan's API limit (config/plans.json) and everything else is generous; and Debian's Chromium.
 */
export async function startPageBench(name: string, env: Record<string, string> = {}): Promise<PageBench> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `vcfarm-${name}-`));
  const plans = writePlans(dir, generousPlans(), (p) => {
    p.plans.free.rateLimits.api = shippedPlans().plans.free.rateLimits.api;
  });
  const svc = await startService({ workers: 1, env: { PLANS_FILE: plans, ADMIN_TOKEN, ...env } });
  const browser = await launchChromium();
  return {
    svc,
    browser,
    dir,
    async close() {
      await browser.close();
      await svc.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
