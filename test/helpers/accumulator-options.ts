/**
 * ProfileAccumulator options the unit tests share: model 'm' at 24 kHz, 256-sample frames (10.7 ms), the
 * default model's voicing threshold (0.8) and silence floor (-50 dB), `bins` power bins a frame.
 */
export function accumulatorOptions(bins: number) {
  return { model: 'm', sampleRate: 24000, bins, frameHop: 256, voicingThreshold: 0.8, silenceDb: -50 };
}
