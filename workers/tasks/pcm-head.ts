/**
 * One read of a PCM stream for the two passes of a voice conversion: the head (its first `samples`,
 * split inside a block where needed, or the whole stream when it is shorter) is read and kept for the
 * source analysis, then `all()` gives the whole stream, the kept head followed by the rest of the
 * same read. Nothing is decoded twice (an ffmpeg start costs about 0.2 s of a core here), and memory
 * stays bounded by the head for any length.
 */
export class PcmHead {
  readonly #source: AsyncIterator<Float32Array>;
  readonly blocks: Float32Array[] = [];
  #leftover: Float32Array | undefined;
  #ended = false;

  private constructor(source: AsyncIterator<Float32Array>) {
    this.#source = source;
  }

  /** Reads the first `samples` of `source`. */
  static async read(source: AsyncIterable<Float32Array>, samples: number): Promise<PcmHead> {
    const head = new PcmHead(source[Symbol.asyncIterator]());
    try {
      await head.#fill(samples);
    } catch (err) {
      await head.close();
      throw err;
    }
    return head;
  }

  async #fill(samples: number): Promise<void> {
    let kept = 0;
    while (kept < samples) {
      const next = await this.#source.next();
      if (next.done) {
        this.#ended = true;
        return;
      }
      const block = next.value;
      const room = samples - kept;
      this.blocks.push(block.length <= room ? block : block.subarray(0, room));
      if (block.length > room) this.#leftover = block.subarray(room);
      kept += Math.min(room, block.length);
    }
  }

  /** The whole stream: the head again, then the rest, reporting the samples given so far. */
  async *all(onSamples?: (samples: number) => void): AsyncGenerator<Float32Array> {
    let given = 0;
    const give = (block: Float32Array) => {
      given += block.length;
      onSamples?.(given);
      return block;
    };
    try {
      for (const block of this.blocks) yield give(block);
      if (this.#leftover) yield give(this.#leftover);
      while (!this.#ended) {
        const next = await this.#source.next();
        if (next.done) this.#ended = true;
        else yield give(next.value);
      }
    } finally {
      await this.close();
    }
  }

  /** Stops the read early (e.g. kills its decoder) when the rest will not be read. */
  async close(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    await this.#source.return?.();
  }
}
