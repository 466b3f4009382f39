import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contentSecurityPolicy } from '../../src/page/index.js';
import { serviceWithBrowser } from '../helpers/browser.js';

// The API reference (/api/docs, Swagger UI) in Chromium: it renders its operations and runs one
// against the service, under the service's own strict Content-Security-Policy, with no violation.

const env = serviceWithBrowser({ workers: 0 });

test('the reference page lists the operations, runs one, and breaks no CSP rule', async () => {
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const reports: string[] = [];
  // 1. Violations are reported from a listener added before any page script (the DevTools
  //    protocol's init script, which the page's CSP does not govern), and from the console.
  await context.exposeFunction('reportCsp', (line: string) => reports.push(line));
  await context.addInitScript(() => {
    const g = globalThis as unknown as {
      document: {
        addEventListener(t: string, f: (e: { violatedDirective: string; blockedURI: string }) => void): void;
      };
      reportCsp(line: string): void;
    };
    g.document.addEventListener('securitypolicyviolation', (e) =>
      g.reportCsp(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`),
    );
  });
  const pageErrors: string[] = [];
  context.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) reports.push(`console: ${m.text()}`);
  });
  context.on('weberror', (e) => pageErrors.push(e.error().message));
  const page = await context.newPage();
  try {
    const answer = await page.goto(`${env.svc.baseUrl}/api/docs`);
    assert.equal(answer?.status(), 200);
    // The page runs under the service's one strict policy: no exception made for it.
    assert.equal(answer?.headers()['content-security-policy'], contentSecurityPolicy());
    // 2. Swagger UI fetched /api/openapi.json and drew one block per operation.
    const createJob = page.locator(
      '#operations-jobs-post_api_jobs, .opblock-post:has([data-path="/api/jobs"])',
    );
    await page.locator('.opblock').first().waitFor({ timeout: 30_000 });
    const operations = await page.locator('.opblock').count();
    assert.ok(operations >= 25, `only ${operations} operations drawn`);
    assert.ok((await createJob.count()) >= 1, 'POST /api/jobs is not listed');
    // 3. The page works, not only draws: "Try it out" on POST /api/session reaches the service.
    const session = page.locator('.opblock-post:has([data-path="/api/session"])').first();
    await session.locator('.opblock-summary').click();
    await session.locator('button.try-out__btn').click();
    await session.locator('button.execute').click();
    const status = session.locator('.live-responses-table tr.response .response-col_status').first();
    await status.waitFor({ timeout: 20_000 });
    assert.equal((await status.textContent())?.trim(), '201');
    // 4. Its stylesheet applied: the operation blocks are laid out, not raw lists.
    const border = await page
      .locator('.opblock')
      .first()
      .evaluate(
        (el) =>
          (
            globalThis as unknown as { getComputedStyle(e: unknown): { borderRadius: string } }
          ).getComputedStyle(el).borderRadius,
      );
    assert.notEqual(border, '0px');
    assert.deepEqual(reports, []);
    assert.deepEqual(pageErrors, []);
  } finally {
    await context.close();
  }
});
