/** Stable codes for engine failures; matched by `code` across thread boundaries, never by message. */
export const EngineErrorCode = {
  /** model.json is malformed, or disagrees with the graphs it describes. */
  modelManifest: 'VC_ERR_MODEL_MANIFEST',
  /** A voice profile does not fit the loaded model (wrong sample rate, field missing or mis-sized). */
  voiceProfile: 'VC_ERR_VOICE_PROFILE',
  /** Bad options passed to the engine or a converter. */
  engineOptions: 'VC_ERR_ENGINE_OPTIONS',
  /** A graph of the model failed inside ONNX Runtime (e.g. tensor sizes that do not fit together). */
  modelRun: 'VC_ERR_MODEL_RUN',
  /** A converter was used after flush(). */
  converterState: 'VC_ERR_CONVERTER_STATE',
} as const;

export type EngineErrorCode = (typeof EngineErrorCode)[keyof typeof EngineErrorCode];

export class EngineError extends Error {
  readonly code: EngineErrorCode;

  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineError';
    this.code = code;
  }
}

export class ModelManifestError extends EngineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(EngineErrorCode.modelManifest, message, options);
    this.name = 'ModelManifestError';
  }
}

export class VoiceProfileError extends EngineError {
  constructor(message: string) {
    super(EngineErrorCode.voiceProfile, message);
    this.name = 'VoiceProfileError';
  }
}

export class EngineOptionsError extends EngineError {
  constructor(message: string) {
    super(EngineErrorCode.engineOptions, message);
    this.name = 'EngineOptionsError';
  }
}
