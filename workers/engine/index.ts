export type { ChunkerOptions, ChunkWindow } from './chunker.js';
export { Chunker } from './chunker.js';
export type {
  AnalyseOptions,
  Converter,
  ConverterOptions,
  PcmSource,
  ReferenceAnalysis,
  RunOptions,
} from './engine.js';
export { SOURCE_ANALYSIS_SECONDS, VoiceConversionEngine } from './engine.js';
export { shrinkToPrior, sourcePriorOf } from './envelope-prior.js';
export {
  EngineError,
  EngineErrorCode,
  EngineOptionsError,
  ModelManifestError,
  VoiceProfileError,
} from './errors.js';
export { ExemplarBank } from './exemplar-bank.js';
export type { FormantMatchOptions } from './formant-match.js';
export {
  FORMANT_MATCH_DEFAULTS,
  FormantInventory,
  matchFormantRatios,
  withMatchedFormants,
} from './formant-match.js';
export { coarsePitch, frameNoise } from './frame-feeds.js';
export { Limiter, PEAK_CEILING } from './limiter.js';
export { LoudnessMeter, loudnessGain } from './loudness.js';
export type {
  GraphInputSpec,
  GraphSpec,
  InputSource,
  ModelManifest,
  SourcePrior,
  TensorSpec,
} from './manifest.js';
export { parseManifest } from './manifest.js';
export { checkGraph, loadModel } from './model-loader.js';
export { ENVELOPE_CLASSES } from './profile-accumulator.js';
export { bandCepstrumWeight, cepstrumEdge } from './voice-features.js';
export type { VoiceProfile } from './voice-profile.js';
export {
  CEPSTRA,
  MAX_ENVELOPE_EXEMPLARS,
  parseVoiceProfile,
  pitchMapFor,
  pitchRatioFor,
  VoiceProfileSchema,
} from './voice-profile.js';
