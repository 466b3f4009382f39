import { decodePcm, type PcmStreamOptions } from './pcm-source.js';
import { pcmWavLayout, readPcmWav } from './wav-source.js';

export type PcmReader = (onSamples?: (samples: number) => void) => AsyncGenerator<Float32Array>;

/**
 * Chooses once how a task's input is read, then reads it as often as asked: a file the probe
 * called WAV whose header shows plain PCM (s16/s24/s32/f32, mono or stereo) is read in-process,
 * which spares an ffmpeg start (most of a short job's cost); anything else goes through ffmpeg.
 */
export async function pcmReaderFor(o: Omit<PcmStreamOptions, 'onSamples'>): Promise<PcmReader> {
  const layout = o.demuxer === 'wav' ? await pcmWavLayout(o.inputPath, o.sampleRate) : null;
  if (layout) return (onSamples) => readPcmWav(layout, { ...o, onSamples });
  return (onSamples) => decodePcm({ ...o, onSamples });
}
