/** Sample encodings the in-process reader decodes. */
export type PcmSampleFormat = 's16' | 's24' | 's32' | 'f32';

/** Where a plain PCM RIFF/WAVE file keeps its samples, and how they are laid out. */
export interface PcmWavLayout {
  sampleFormat: PcmSampleFormat;
  channels: number;
  sampleRate: number;
  /** Bytes per frame (all channels of one instant). */
  blockAlign: number;
  /** File offset of the first sample. */
  dataOffset: number;
  /** Bytes of samples: a whole number of frames, all inside the file. */
  dataBytes: number;
}

/** The header is malformed or contradicts the file: refuse the file, do not guess. */
export class WavHeaderError extends Error {}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** Bytes 2..15 of every KSDATAFORMAT_SUBTYPE GUID; bytes 0..1 are the format tag. */
const SUBTYPE_GUID_TAIL = Buffer.from([
  0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
]);
/** Channel counts the reader downmixes exactly as ffmpeg's `-ac 1` does ((L + R)·√½ for stereo). */
const MAX_CHANNELS = 2;

interface Fmt {
  tag: number;
  channels: number;
  sampleRate: number;
  byteRate: number;
  blockAlign: number;
  bits: number;
  validBits: number;
}

function readFmt(b: Buffer, at: number, len: number): Fmt {
  if (len < 16) throw new WavHeaderError(`the fmt chunk is ${len} bytes, at least 16 are needed`);
  const fmt: Fmt = {
    tag: b.readUInt16LE(at),
    channels: b.readUInt16LE(at + 2),
    sampleRate: b.readUInt32LE(at + 4),
    byteRate: b.readUInt32LE(at + 8),
    blockAlign: b.readUInt16LE(at + 12),
    bits: b.readUInt16LE(at + 14),
    validBits: b.readUInt16LE(at + 14),
  };
  if (fmt.tag === WAVE_FORMAT_EXTENSIBLE) {
    if (len < 40 || b.readUInt16LE(at + 16) < 22)
      throw new WavHeaderError('the extensible fmt chunk is too short');
    fmt.validBits = b.readUInt16LE(at + 18);
    if (!b.subarray(at + 26, at + 40).equals(SUBTYPE_GUID_TAIL)) fmt.tag = -1;
    else fmt.tag = b.readUInt16LE(at + 24);
  }
  if (fmt.channels === 0) throw new WavHeaderError('the fmt chunk declares 0 channels');
  if (fmt.sampleRate < 4000 || fmt.sampleRate > 192_000)
    throw new WavHeaderError(`sample rate ${fmt.sampleRate} is outside 4000..192000 Hz`);
  return fmt;
}

/** The sizes a PCM fmt chunk states must agree with each other. */
function checkPcmSizes(fmt: Fmt): void {
  if (fmt.blockAlign !== fmt.channels * (fmt.bits / 8))
    throw new WavHeaderError(
      `block align ${fmt.blockAlign} does not fit ${fmt.channels} channels of ${fmt.bits} bits`,
    );
  if (fmt.byteRate !== fmt.sampleRate * fmt.blockAlign)
    throw new WavHeaderError(`byte rate ${fmt.byteRate} does not fit the sample rate and block align`);
}

function sampleFormatOf(f: Fmt): PcmSampleFormat | null {
  if (f.validBits !== f.bits) return null;
  if (f.tag === WAVE_FORMAT_PCM && f.bits === 16) return 's16';
  if (f.tag === WAVE_FORMAT_PCM && f.bits === 24) return 's24';
  if (f.tag === WAVE_FORMAT_PCM && f.bits === 32) return 's32';
  if (f.tag === WAVE_FORMAT_IEEE_FLOAT && f.bits === 32) return 'f32';
  return null;
}

/**
 * Reads the header of a RIFF/WAVE file strictly, from its first bytes (`head`) and its size.
 * Returns where its PCM samples lie when it is a plain s16/s24/s32/f32 file with one or two
 * channels; `null` when it is a WAV this reader leaves to ffmpeg (another codec, more channels,
 * RF64, a streamed file of unknown length, chunks before `data` longer than `head`). Throws
 * WavHeaderError when the header is malformed or claims more than the file holds.
 */
export function parsePcmWav(head: Buffer, fileSize: number): PcmWavLayout | null {
  if (head.length < 12) throw new WavHeaderError('the file is too short for a RIFF header');
  if (head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') return null;
  const riffSize = head.readUInt32LE(4);
  if (riffSize === 0 || riffSize === 0xffffffff) return null;
  if (riffSize + 8 > fileSize)
    throw new WavHeaderError(`the RIFF header claims ${riffSize + 8} bytes but the file holds ${fileSize}`);
  const end = riffSize + 8;
  let fmt: Fmt | undefined;
  for (let at = 12; ; ) {
    if (at + 8 > end) throw new WavHeaderError('the file has no data chunk');
    if (at + 8 > head.length) return null;
    const id = head.toString('latin1', at, at + 4);
    const len = head.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'data') {
      if (!fmt) throw new WavHeaderError('the data chunk comes before the fmt chunk');
      const sampleFormat = sampleFormatOf(fmt);
      if (!sampleFormat || fmt.channels > MAX_CHANNELS) return null;
      checkPcmSizes(fmt);
      if (len === 0 || len === 0xffffffff) return null;
      if (body + len > end)
        throw new WavHeaderError(`the data chunk claims ${len} bytes but ${end - body} follow it`);
      if (len % fmt.blockAlign !== 0)
        throw new WavHeaderError(`the data chunk holds a partial frame (${len} bytes)`);
      return {
        sampleFormat,
        channels: fmt.channels,
        sampleRate: fmt.sampleRate,
        blockAlign: fmt.blockAlign,
        dataOffset: body,
        dataBytes: len,
      };
    }
    if (body + len > end) throw new WavHeaderError(`the "${id}" chunk runs past the end of the file`);
    if (id === 'fmt ') {
      if (fmt) throw new WavHeaderError('the file has two fmt chunks');
      if (body + len > head.length) return null;
      fmt = readFmt(head, body, len);
    }
    at = body + len + (len % 2);
  }
}
