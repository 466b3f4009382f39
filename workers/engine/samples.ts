import type { InferenceSession, Tensor } from 'onnxruntime-node';

/** Input samples beyond this are treated as broken and clamped (float decoders can overshoot 1 a little). */
const INPUT_CLAMP = 8;

/** Replaces non-finite samples by 0 and clamps the rest, in place (on a window's own copy of the stream). */
export function sanitise(pcm: Float32Array): Float32Array {
  for (let i = 0; i < pcm.length; i++) {
    const v = pcm[i];
    pcm[i] = v - v === 0 ? Math.max(-INPUT_CLAMP, Math.min(INPUT_CLAMP, v)) : 0;
  }
  return pcm;
}

/** A graph output's data as float32, or an error naming `what`. */
export function floats(
  value: InferenceSession.OnnxValueMapType[string] | undefined,
  what: string,
): Float32Array {
  const data = (value as Tensor | undefined)?.data;
  if (!(data instanceof Float32Array)) throw new Error(`${what} is not a float32 tensor`);
  return data;
}
