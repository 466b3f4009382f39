import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';

// QA s27: GET /api/voices lists the presets with the caller's voices, and DELETE of a preset's id
// said "cannot be removed" (403); a PATCH of the same id answered "voice not found" (404) and
// renamed nothing, and a GET of it "voice not found" as for an id that is nothing at all.

let svc: TestService;
let user: ApiClient;
before(async () => {
  svc = await startService({ workers: 0 });
  user = await ApiClient.anonymous(svc.baseUrl);
});
after(async () => {
  await svc?.close();
});

test("a preset's id says what it is on every voice route: 403 to rename or remove it, a 404 that names it a preset to read it", async () => {
  const listed = await user.request('GET', '/api/voices');
  assert.equal(listed.status, 200);
  const preset = listed.body.presets[0] as { id: string; displayName: string };
  assert.ok(preset, 'a preset is listed');
  const rename = await user.request('PATCH', `/api/voices/${preset.id}`, { name: 'Mine now' });
  assert.deepEqual(
    [rename.status, rename.body],
    [
      403,
      { error: 'VC_ERR_FORBIDDEN', message: 'preset voices come with the service and cannot be renamed' },
    ],
  );
  const remove = await user.request('DELETE', `/api/voices/${preset.id}`);
  assert.deepEqual(
    [remove.status, remove.body],
    [
      403,
      { error: 'VC_ERR_FORBIDDEN', message: 'preset voices come with the service and cannot be removed' },
    ],
  );
  const read = await user.request('GET', `/api/voices/${preset.id}`);
  assert.deepEqual(
    [read.status, read.body],
    [
      404,
      {
        error: 'VC_ERR_NOT_FOUND',
        message: `${preset.id} is a preset voice: GET /api/voices lists the presets`,
      },
    ],
  );
  // Unchanged, and an id that is no voice at all is still a plain "voice not found".
  const again = await user.request('GET', '/api/voices');
  assert.equal(
    again.body.presets.find((p: { id: string }) => p.id === preset.id).displayName,
    preset.displayName,
  );
  const none = await user.request('PATCH', '/api/voices/no-such-voice-1', { name: 'x' });
  assert.deepEqual(
    [none.status, none.body.error, none.body.message],
    [404, 'VC_ERR_NOT_FOUND', 'voice not found'],
  );
});
