import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePcmWav, WavHeaderError } from '../../src/media/index.js';

interface WavSpec {
  tag?: number;
  channels?: number;
  rate?: number;
  bits?: number;
  blockAlign?: number;
  byteRate?: number;
  /** Bytes of sample data actually present. */
  frames?: number;
  /** What the data chunk's length field says (default: the bytes present). */
  dataLen?: number;
  /** What the RIFF length field says (default: the file's length - 8). */
  riffLen?: number;
  /** Chunks as [id, body] in order; `data` and `fmt ` stand for the generated ones. */
  order?: (string | [string, Buffer])[];
  /** WAVE_FORMAT_EXTENSIBLE with this sub-format tag. */
  extensible?: { subTag: number; validBits?: number; guidTail?: Buffer };
  fmtLen?: number;
}

const GUID_TAIL = Buffer.from([0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71]);

/** Builds a RIFF/WAVE file from its parts, each field overridable to make it lie. */
function wav(s: WavSpec = {}): Buffer {
  const channels = s.channels ?? 1;
  const bits = s.bits ?? 16;
  const rate = s.rate ?? 24000;
  const blockAlign = s.blockAlign ?? channels * (bits / 8);
  const byteRate = s.byteRate ?? rate * blockAlign;
  const ext = s.extensible;
  const fmt = Buffer.alloc(s.fmtLen ?? (ext ? 40 : 16));
  if (fmt.length >= 16) {
    fmt.writeUInt16LE(ext ? 0xfffe : (s.tag ?? 1), 0);
    fmt.writeUInt16LE(channels, 2);
    fmt.writeUInt32LE(rate, 4);
    fmt.writeUInt32LE(byteRate, 8);
    fmt.writeUInt16LE(blockAlign, 12);
    fmt.writeUInt16LE(bits, 14);
  }
  if (ext && fmt.length >= 40) {
    fmt.writeUInt16LE(22, 16);
    fmt.writeUInt16LE(ext.validBits ?? bits, 18);
    fmt.writeUInt32LE(channels === 2 ? 3 : 4, 20);
    fmt.writeUInt16LE(ext.subTag, 24);
    (ext.guidTail ?? GUID_TAIL).copy(fmt, 26);
  }
  const data = Buffer.alloc((s.frames ?? 100) * blockAlign, 1);
  const chunk = (id: string, body: Buffer, len = body.length) => {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(len, 4);
    return Buffer.concat([head, body, Buffer.alloc(body.length % 2)]);
  };
  const parts = (s.order ?? ['fmt ', 'data']).map((p) => {
    if (typeof p !== 'string') return chunk(p[0], p[1]);
    return p === 'fmt ' ? chunk('fmt ', fmt) : chunk('data', data, s.dataLen);
  });
  const body = Buffer.concat([Buffer.from('WAVE'), ...parts]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(s.riffLen ?? body.length, 4);
  return Buffer.concat([head, body]);
}

const parse = (b: Buffer, size = b.length) => parsePcmWav(b, size);

test('plain PCM WAVs: s16, s24, s32, f32, mono and stereo, extensible, with other chunks first', () => {
  assert.deepEqual(parse(wav()), {
    sampleFormat: 's16',
    channels: 1,
    sampleRate: 24000,
    blockAlign: 2,
    dataOffset: 44,
    dataBytes: 200,
  });
  assert.equal(parse(wav({ bits: 24, channels: 2 }))?.sampleFormat, 's24');
  assert.equal(parse(wav({ bits: 24, channels: 2 }))?.blockAlign, 6);
  assert.equal(parse(wav({ bits: 32 }))?.sampleFormat, 's32');
  assert.equal(parse(wav({ bits: 32, tag: 3 }))?.sampleFormat, 'f32');
  assert.equal(parse(wav({ bits: 32, extensible: { subTag: 3 }, channels: 2 }))?.sampleFormat, 'f32');
  assert.equal(parse(wav({ extensible: { subTag: 1 } }))?.sampleFormat, 's16');
  const withList = wav({ order: [['LIST', Buffer.alloc(33)], 'fmt ', ['fact', Buffer.alloc(4)], 'data'] });
  assert.equal(parse(withList)?.dataOffset, 12 + 8 + 34 + 8 + 16 + 8 + 4 + 8);
  // Trailing bytes after the RIFF chunk (some editors append tags) are ignored.
  const trailing = Buffer.concat([wav(), Buffer.from('ID3 tag junk')]);
  assert.equal(parse(trailing)?.dataBytes, 200);
});

test('WAVs that are fine but not for the in-process reader are left to ffmpeg (null)', () => {
  assert.equal(parse(Buffer.from('RF64\xff\xff\xff\xffWAVEds64', 'latin1')), null, 'RF64');
  assert.equal(parse(Buffer.concat([Buffer.from('OggS'), Buffer.alloc(40)])), null, 'not RIFF');
  assert.equal(parse(wav({ bits: 8 })), null, 'unsigned 8-bit');
  assert.equal(parse(wav({ tag: 2, bits: 4, blockAlign: 256, byteRate: 12000 })), null, 'ADPCM');
  assert.equal(parse(wav({ tag: 7, bits: 8 })), null, 'mu-law');
  assert.equal(parse(wav({ tag: 3, bits: 64 })), null, 'f64');
  assert.equal(parse(wav({ channels: 6 })), null, '5.1: ffmpeg downmixes with its own matrix');
  assert.equal(parse(wav({ extensible: { subTag: 1, validBits: 20 }, bits: 24 })), null, '20 of 24 bits');
  assert.equal(parse(wav({ extensible: { subTag: 1, guidTail: Buffer.alloc(14, 7) } })), null, 'other GUID');
  assert.equal(parse(wav({ dataLen: 0xffffffff })), null, 'streamed, length unknown');
  assert.equal(parse(wav({ riffLen: 0xffffffff })), null, 'streamed, RIFF length unknown');
  const bigList = wav({ order: [['LIST', Buffer.alloc(70_000)], 'fmt ', 'data'] });
  assert.equal(parse(bigList.subarray(0, 64 * 1024), bigList.length), null, 'data beyond the head');
});

test('malformed headers are refused with WavHeaderError naming what is wrong', () => {
  const cases: [string, Buffer, RegExp, number?][] = [
    ['too short', Buffer.from('RIFF'), /too short/],
    ['RIFF longer than the file', wav({ riffLen: 10_000 }), /RIFF header claims/],
    ['data longer than the file', wav({ dataLen: 10_000 }), /data chunk claims 10000/],
    ['truncated data', wav().subarray(0, 100), /RIFF header claims/],
    ['no fmt', wav({ order: ['data'] }), /data chunk comes before the fmt chunk/],
    ['data before fmt', wav({ order: ['data', 'fmt '] }), /before the fmt chunk/],
    ['two fmt', wav({ order: ['fmt ', 'fmt ', 'data'] }), /two fmt chunks/],
    ['no data', wav({ order: ['fmt '] }), /no data chunk/],
    ['short fmt', wav({ fmtLen: 14 }), /at least 16/],
    [
      'short extensible fmt',
      wav({ extensible: { subTag: 1 }, fmtLen: 24 }),
      /extensible fmt chunk is too short/,
    ],
    ['zero channels', wav({ channels: 0, blockAlign: 2 }), /0 channels/],
    ['rate 0', wav({ rate: 0 }), /sample rate 0/],
    ['rate too high', wav({ rate: 400_000 }), /sample rate 400000/],
    ['block align lies', wav({ blockAlign: 3 }), /block align 3/],
    ['byte rate lies', wav({ byteRate: 1234 }), /byte rate 1234/],
    ['partial frame', wav({ channels: 2, dataLen: 398 }), /partial frame/],
    [
      'chunk past the end',
      wav({ order: ['fmt ', ['LIST', Buffer.alloc(8)], 'data'] }).subarray(0, 64),
      /runs past|RIFF header claims/,
    ],
  ];
  for (const [name, bytes, message, size] of cases) {
    assert.throws(
      () => parse(bytes, size),
      (err: unknown) => err instanceof WavHeaderError && message.test(err.message),
      name,
    );
  }
});

test('a chunk whose length runs past the RIFF end is refused', () => {
  const b = wav({ order: ['fmt ', ['LIST', Buffer.alloc(8)], 'data'] });
  // Make the LIST chunk claim far more than follows it, the RIFF length staying true.
  b.writeUInt32LE(1_000_000, 12 + 24 + 4);
  assert.throws(() => parse(b), /"LIST" chunk runs past the end/);
});
