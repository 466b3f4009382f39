import { AudioTooLongError, UnsupportedAudioError } from '../errors/index.js';
import { DEMUXER_FOR_FORMAT_NAME, inputGuardArgs } from './formats.js';
import { firstStderrLine, spawnMedia } from './spawn-media.js';

export interface AudioInfo {
  /** Demuxer name to pass as `-f` when decoding this file. */
  demuxer: string;
  codec: string;
  durationSec: number;
  sampleRate: number;
  channels: number;
}

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  sample_rate?: string;
  channels?: number;
  duration?: string;
  disposition?: { attached_pic?: number };
}
interface ProbeOutput {
  streams?: ProbeStream[];
  format?: { format_name?: string; duration?: string };
}

const MAX_PROBE_OUTPUT = 1 << 20;

async function runFfprobe(file: string, timeoutMs: number): Promise<string> {
  // biome-ignore format: flag/value pairs read best one pair per line
  const args = [
    '-v', 'error',
    ...inputGuardArgs(),
    '-print_format', 'json',
    '-show_format',
    '-show_streams',
    `file:${file}`,
  ];
  let bytes = 0;
  const chunks: Buffer[] = [];
  const run = await spawnMedia('ffprobe', args, {
    timeoutMs,
    timeoutError: () => new UnsupportedAudioError(`probing took longer than ${timeoutMs} ms`),
    onStdout: (b, stop) => {
      bytes += b.length;
      chunks.push(b);
      if (bytes > MAX_PROBE_OUTPUT) stop(new UnsupportedAudioError('not a readable audio file'));
    },
  });
  if (run.stopped) throw run.stopped;
  if (run.code !== 0)
    // ffprobe's words name the file's path and its own memory addresses: logs only.
    throw new UnsupportedAudioError('not a readable audio file', {
      cause: new Error(firstStderrLine(run, 'ffprobe')),
    });
  return Buffer.concat(chunks).toString();
}

/**
 * Probes one file with ffprobe restricted to the allowed demuxers and the `file` protocol, and
 * checks that it is plain audio vcfarm can convert. Throws UnsupportedAudioError otherwise.
 */
export async function probeAudio(
  file: string,
  opts: { timeoutMs: number; maxDurationSec: number },
): Promise<AudioInfo> {
  let parsed: ProbeOutput;
  try {
    parsed = JSON.parse(await runFfprobe(file, opts.timeoutMs)) as ProbeOutput;
  } catch (err) {
    if (err instanceof UnsupportedAudioError) throw err;
    throw new UnsupportedAudioError('not a readable audio file', { cause: err });
  }
  const formatName = parsed.format?.format_name ?? '';
  const demuxer = DEMUXER_FOR_FORMAT_NAME[formatName];
  if (!demuxer) throw new UnsupportedAudioError(`container "${formatName || 'unknown'}" is not accepted`);
  const streams = (parsed.streams ?? []).filter(
    (s) => !(s.codec_type === 'video' && s.disposition?.attached_pic),
  );
  const audio = streams.filter((s) => s.codec_type === 'audio');
  if (audio.length === 0) throw new UnsupportedAudioError('the file has no audio stream');
  if (streams.length > 1)
    throw new UnsupportedAudioError('the file must hold exactly one audio stream and nothing else');
  const a = audio[0];
  const sampleRate = Number(a.sample_rate);
  const channels = Number(a.channels);
  const durationSec = Number(a.duration ?? parsed.format?.duration);
  if (!Number.isFinite(sampleRate) || sampleRate < 4000 || sampleRate > 192_000) {
    throw new UnsupportedAudioError(`sample rate ${a.sample_rate} is outside 4000..192000 Hz`);
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 8) {
    throw new UnsupportedAudioError(`${a.channels} channels is outside 1..8`);
  }
  if (!Number.isFinite(durationSec) || durationSec <= 0)
    throw new UnsupportedAudioError('the audio has no duration');
  if (durationSec > opts.maxDurationSec) {
    throw new AudioTooLongError(
      `the audio lasts ${durationSec.toFixed(1)} s; the limit is ${opts.maxDurationSec} s`,
    );
  }
  return { demuxer, codec: a.codec_name ?? 'unknown', durationSec, sampleRate, channels };
}
