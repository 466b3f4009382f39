import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { contentDisposition } from '../../src/api/send-file.js';
import { ApiClient } from '../helpers/client.js';
import { startService, type TestService } from '../helpers/service.js';
import { tinyWav } from '../helpers/tiny-audio.js';

// Content-Disposition for client-chosen names, checked against RFC 8187's grammar for `filename*`
// and read back by an independent parser: Python's `email` package (quoted strings, RFC 2231/8187
// extended values), taking `filename*` over `filename` as RFC 6266 asks.

let svc: TestService;
before(async () => {
  svc = await startService({ workers: 1 });
});
after(async () => {
  await svc?.close();
});

/** The file name `header` gives: its decoded `filename*` if it has one, else its `filename`. */
function nameIn(header: string): string {
  const script = [
    'import sys, json',
    'from email.message import Message',
    'from email.utils import collapse_rfc2231_value',
    'm = Message()',
    "m['Content-Disposition'] = sys.argv[1]",
    "names = [v for k, v in m.get_params(header='content-disposition') if k == 'filename']",
    'extended = [collapse_rfc2231_value(v) for v in names if isinstance(v, tuple)]',
    'print(json.dumps((extended or names)[0]))',
  ].join('\n');
  return JSON.parse(execFileSync('python3', ['-c', script, header], { encoding: 'utf8' }));
}

/** Only visible ASCII and spaces: a header value Node sends as is and every client can read. */
const PLAIN_HEADER = /^[\x20-\x7e]+$/;

/** RFC 8187 `ext-value` for UTF-8: only attr-chars and %XX escapes (no `'`, `(`, `)`, `*`, ...). */
const EXT_VALUE = /filename\*=UTF-8''[A-Za-z0-9!#$&+\-.^_`|~%]+(;|$)/;

/** The header is plain, any `filename*` is well-formed, and the name read back is `name`. */
function assertNames(header: string, name: string): void {
  assert.match(header, PLAIN_HEADER, header);
  if (header.includes('filename*')) assert.match(header, EXT_VALUE, header);
  assert.equal(nameIn(header), name, header);
}

const ODD_NAMES = ['say "hi".wav', "it's (take 2).wav", 'a;b=c.wav', 'ünï 名前.wav', '100% back\\slash*.wav'];

test('uploads with odd names play and download under those names: quotes, apostrophes, `;`, non-ASCII, `%`, `\\`, `*`', async () => {
  const user = await ApiClient.anonymous(svc.baseUrl);
  const wav = await readFile(tinyWav(1, 8000));
  for (const name of ODD_NAMES) {
    const up = await user.uploadBytes(wav, name);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    // The name as the server has it (a form sends `"` as %22, as browsers do).
    const stored: string = up.body.upload.filename;
    // 1. The original, inline under its own name.
    const audio = await fetch(`${svc.baseUrl}/api/uploads/${up.body.upload.id}/audio`, {
      headers: user.headers(),
    });
    assert.equal(audio.status, 200);
    await audio.arrayBuffer();
    const header = audio.headers.get('content-disposition') ?? '';
    assert.match(header, /^inline;/);
    assertNames(header, stored);
    // 2. A result, as an attachment named after it.
    const job = await user.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', pitchSemitones: 1 });
    assert.equal((await user.waitForJob(job.id)).state, 'completed');
    const result = await fetch(`${svc.baseUrl}/api/jobs/${job.id}/result`, { headers: user.headers() });
    assert.equal(result.status, 200);
    await result.arrayBuffer();
    const saved = result.headers.get('content-disposition') ?? '';
    assert.match(saved, /^attachment;/);
    assertNames(saved, `${stored.replace(/\.[^.]*$/, '')}-converted.wav`);
  }
});

test('names no upload can carry (a newline, a tab, a quote beside non-ASCII) still make a header with only plain characters', () => {
  // A part whose name holds CR/LF is refused at upload (security.test 12), so these come from
  // the function the routes call.
  for (const name of ['line\nbreak.wav', 'tab\there.wav', '"ü";\r\n.wav', 'say "hi".wav', "it's (1)*.wav"])
    assertNames(contentDisposition('attachment', name), name);
});
