import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before } from 'node:test';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { type ServiceOptions, startService, type TestService } from './service.js';

/**
 * A test file's service (`startService(options)`) and Chromium: started before its tests, closed
 * after them. Read `svc` and `browser` inside the tests (they are set once `before` has run).
 */
export function serviceWithBrowser(options: ServiceOptions): { svc: TestService; browser: Browser } {
  const env = {} as { svc: TestService; browser: Browser };
  before(async () => {
    env.svc = await startService(options);
    env.browser = await launchChromium();
  });
  after(async () => {
    await env.browser?.close();
    await env.svc?.close();
  });
  return env;
}

/** Debian's Chromium, headless, with nothing that reaches outside loopback. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** A page of `baseUrl` whose session is `token` (an anonymous token or an API key), set before any script runs. */
export async function pageWithToken(browser: Browser, baseUrl: string, token: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true });
  await context.addInitScript((t) => {
    (globalThis as unknown as { localStorage: { setItem(k: string, v: string): void } }).localStorage.setItem(
      'vcfarm.token',
      t,
    );
  }, token);
  const page = await context.newPage();
  await page.goto(baseUrl);
  return page;
}

interface MediaElement {
  readyState: number;
  duration: number;
  currentTime: number;
  error: unknown;
  addEventListener(type: string, fn: () => void, opts?: { once: boolean }): void;
}

/**
 * Waits for an `<audio>` element's metadata (or its error) by listening for the element's own
 * events, and returns its duration; NaN when the element failed to load.
 */
export function audioDuration(audio: Locator, timeoutMs = 20_000): Promise<number> {
  return audio.evaluate(
    (el, ms) =>
      new Promise<number>((resolve) => {
        const a = el as unknown as MediaElement;
        if (a.error) return resolve(Number.NaN);
        if (a.readyState >= 1 && Number.isFinite(a.duration)) return resolve(a.duration);
        const timer = setTimeout(() => resolve(Number.NaN), ms);
        a.addEventListener(
          'loadedmetadata',
          () => {
            clearTimeout(timer);
            resolve(a.duration);
          },
          { once: true },
        );
        a.addEventListener(
          'error',
          () => {
            clearTimeout(timer);
            resolve(Number.NaN);
          },
          { once: true },
        );
      }),
    timeoutMs,
  );
}

/** Seeks an `<audio>` element to `t` seconds and resolves once the browser says the seek is done. */
export function seekAudio(audio: Locator, t: number): Promise<number> {
  return audio.evaluate(
    (el, to) =>
      new Promise<number>((resolve) => {
        const a = el as unknown as MediaElement;
        a.addEventListener('seeked', () => resolve(a.currentTime), { once: true });
        a.currentTime = to;
      }),
    t,
  );
}

const require = createRequire(import.meta.url);
let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core (WCAG 2 A/AA rules) in the page as it is now and returns the serious and critical
 * violations. The script goes in through the DevTools protocol, so the page's CSP stays as it is.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<unknown> } })
      .axe;
    const result = (await axe.run((globalThis as unknown as { document: unknown }).document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    })) as {
      violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
    };
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        targets: v.nodes.map((n) => n.target.join(' ')),
      }));
  });
}

/** Fails with the violations listed when axe finds a serious or critical one; `where` names the page state. */
export async function assertAccessible(page: Page, where: string): Promise<void> {
  const found = await axeViolations(page);
  if (found.length > 0) throw new Error(`accessibility (${where}): ${JSON.stringify(found, null, 1)}`);
}
