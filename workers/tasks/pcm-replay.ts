/**
 * Keeps the blocks of a short stream while it is read once, so a second pass can replay them
 * instead of decoding the file again. Each ffmpeg start costs about 0.2 s of a core here (215
 * shared libraries), as much as converting 30 s of audio; for short inputs that start is most
 * of the job. Streams longer than `maxSamples` are not kept (memory stays bounded): the second
 * pass decodes again.
 */
export class PcmReplay {
  #blocks: Float32Array[] | undefined = [];
  #samples = 0;
  #ended = false;

  constructor(private readonly maxSamples: number) {}

  /** Passes `source` through, keeping its blocks while they fit. */
  async *record(source: AsyncIterable<Float32Array>): AsyncGenerator<Float32Array> {
    for await (const block of source) {
      this.#samples += block.length;
      if (this.#samples > this.maxSamples) this.#blocks = undefined;
      this.#blocks?.push(block);
      yield block;
    }
    this.#ended = true;
  }

  /** True when the whole stream was read and kept. */
  get complete(): boolean {
    return this.#ended && this.#blocks !== undefined;
  }

  /** The kept stream again, reporting the samples played so far; only when `complete`. */
  async *play(onSamples?: (samples: number) => void): AsyncGenerator<Float32Array> {
    if (!this.complete || !this.#blocks) throw new Error('PcmReplay.play: the stream was not kept whole');
    let played = 0;
    for (const block of this.#blocks) {
      played += block.length;
      onSamples?.(played);
      yield block;
    }
  }
}
