export { type DecodeCheckOptions, measureDecodedDuration } from './decode-check.js';
export {
  ALLOWED_DEMUXERS,
  DEMUXER_CONTENT_TYPES,
  inputGuardArgs,
  OUTPUT_FORMATS,
  type OutputFormat,
  outputSizeBound,
  PLAIN_OUTPUT_RATE,
} from './formats.js';
export { assertDurationsAgree, assertWavHeaderHonest } from './header-check.js';
export { type AudioInfo, probeAudio } from './probe.js';
export { firstStderrLine, type MediaRun, type SpawnMediaOptions, spawnMedia } from './spawn-media.js';
export { toolReason, withoutPaths } from './tool-reason.js';
export { type PcmSampleFormat, type PcmWavLayout, parsePcmWav, WavHeaderError } from './wav-header.js';
