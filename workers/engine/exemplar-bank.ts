/**
 * Envelope exemplars: an evenly spaced sample of a stream's frames' band cepstra with their voicing, in
 * bounded memory, for a model that pulls each frame's requested envelope toward the mean of its k nearest
 * frames of the target voice (the profile's `envelopeExemplars`; models/builder/envelope-map.ts
 * exemplarBlend). Every `stride`-th frame is kept, the stride doubling (and every other row dropped)
 * whenever the store is full, as FormantInventory does, so a long clone keeps between cap / 2 and cap rows
 * spread over all of it.
 */
export class ExemplarBank {
  readonly #cap: number;
  readonly #width: number;
  #rows: number[] = [];
  #stride = 1;
  #seen = 0;

  /** `cepstra`: Q, the band cepstra per row (each row holds Q + 1 numbers: the class, then c1..cQ). */
  constructor(cap: number, cepstra: number) {
    this.#cap = cap;
    this.#width = cepstra + 1;
  }

  add(cepstra: ArrayLike<number>, voiced: boolean): void {
    if (this.#seen++ % this.#stride !== 0) return;
    const w = this.#width;
    if (this.#rows.length >= w * this.#cap) {
      this.#rows = this.#rows.filter((_, i) => Math.floor(i / w) % 2 === 0);
      this.#stride *= 2;
      if ((this.#seen - 1) % this.#stride !== 0) return;
    }
    this.#rows.push(voiced ? 1 : -1);
    for (let i = 0; i < w - 1; i++) this.#rows.push(cepstra[i]);
  }

  /** [n][Q + 1] row-major: class (1 voiced, -1 not), c1..cQ, the cepstra rounded to 4 decimals. */
  rows(): number[] {
    const w = this.#width;
    return this.#rows.map((v, i) => (i % w === 0 ? v : Number(v.toFixed(4))));
  }
}
