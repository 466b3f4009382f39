import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';

// The authentication scheme is case-insensitive (RFC 7235 §2.1): `bearer`, `BEARER` and `Bearer`
// are one scheme, for users' tokens and the admin credential alike.
const ADMIN_TOKEN = 'auth-scheme-admin-token-0123456789abcdef';
let svc: TestService;
before(async () => {
  svc = await startService({ workers: 0, env: { ADMIN_TOKEN } });
});
after(async () => {
  await svc?.close();
});

test('any case of the Bearer scheme is accepted; another scheme or a malformed header is a 401', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const token = user.session?.token ?? '';
  const get = (url: string, authorization: string) =>
    fetch(`${svc.baseUrl}${url}`, { headers: { authorization } });
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    assert.equal((await get('/api/jobs', `${scheme} ${token}`)).status, 200, scheme);
    assert.equal((await get('/api/admin/users', `${scheme} ${ADMIN_TOKEN}`)).status, 200, `admin ${scheme}`);
  }
  // One or more spaces separate scheme and token (1*SP).
  assert.equal((await get('/api/jobs', `bearer  ${token}`)).status, 200);
  for (const header of [
    `Basic ${token}`,
    `Bearer${token}`,
    `Bearer ${token} extra`,
    `Bearertoken ${token}`,
  ]) {
    const res = await get('/api/jobs', header);
    assert.equal(res.status, 401, header);
    assert.equal(((await res.json()) as { error: string }).error, 'VC_ERR_UNAUTHORIZED');
  }
});
