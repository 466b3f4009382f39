import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toolReason, withoutPaths } from '../../src/media/index.js';

test('toolReason keeps ffmpeg’s reason and drops the input path and the demuxer prefix', () => {
  const file = '/srv/data/workspaces/u_1/uploads/abc.part';
  assert.equal(
    toolReason(`file:${file}: Invalid data found when processing input\nmore`, 'ffprobe exit 1'),
    'Invalid data found when processing input',
  );
  assert.equal(
    toolReason('[wav @ 0x55d5c1e0] invalid start code in RIFF header\n', 'x'),
    'invalid start code in RIFF header',
  );
  assert.equal(toolReason('', 'ffmpeg exit 1'), 'ffmpeg exit 1');
  assert.equal(toolReason(`file:${file}:`, 'ffmpeg exit 1'), 'ffmpeg exit 1');
});

test('withoutPaths removes every absolute path, file: URL included', () => {
  assert.equal(
    withoutPaths('encoding failed: /tmp/vcfarm-data-x/outputs/j.ogg.3.part: No space left on device'),
    'encoding failed: No space left on device',
  );
  assert.equal(withoutPaths('cannot open file:/etc/passwd here'), 'cannot open here');
  assert.equal(withoutPaths('the limit is 5/min, 600 s'), 'the limit is 5/min, 600 s');
});
