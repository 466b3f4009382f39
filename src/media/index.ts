export { ALLOWED_DEMUXERS, inputGuardArgs, OUTPUT_FORMATS, type OutputFormat } from './formats.js';
export { type AudioInfo, probeAudio } from './probe.js';
