import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { OPSET } from '../../models/builder/built-model.js';
import {
  bandCepstraA,
  fitBandCepstra,
  formantWarp,
  inverseRoot,
  toNative,
  warpedMap,
} from '../../models/builder/envelope-map.js';
import { GraphBuilder } from '../../models/builder/graph-builder.js';
import { cepstrumEdge, cepstrumTable, frameCepstrum } from '../../workers/engine/voice-features.js';

/**
 * The warped envelope map (envelope-map.ts warpedMap), built as an ONNX graph and run by ONNX Runtime: its
 * in-graph inverse square root (Newton-Schulz) and the property the map exists for, that frames with the
 * source's covariance, warped, come out with the target's covariance.
 */
const Q = 24;

/** Deterministic pseudo-random numbers in [-1, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

type Matrix = number[][];
const mul = (a: Matrix, b: Matrix): Matrix =>
  a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
const transpose = (a: Matrix): Matrix => a[0].map((_, j) => a.map((row) => row[j]));
const identity = (n: number): Matrix =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));

/** A symmetric positive definite matrix with eigenvalues from 1 down to `smallest` (a profile floors at 1e-3). */
function spd(seed: number, smallest: number): Matrix {
  const next = random(seed);
  // Orthogonal basis by Gram-Schmidt of random vectors.
  const basis: number[][] = [];
  while (basis.length < Q) {
    const v = Array.from({ length: Q }, next);
    for (const u of basis) {
      const d = v.reduce((s, x, i) => s + x * u[i], 0);
      for (let i = 0; i < Q; i++) v[i] -= d * u[i];
    }
    const norm = Math.hypot(...v);
    basis.push(v.map((x) => x / norm));
  }
  const eig = basis.map((_, i) => smallest ** (i / (Q - 1)));
  return Array.from({ length: Q }, (_, i) =>
    Array.from({ length: Q }, (_, j) => basis.reduce((s, u, k) => s + eig[k] * u[i] * u[j], 0)),
  );
}

/** Symmetric square root by the same Newton-Schulz iteration in plain JS is not what is tested: Denman-Beavers. */
function sqrtm(a: Matrix): Matrix {
  // Denman-Beavers with exact inverses (Gauss-Jordan): Y -> A^(1/2).
  const inv = (m: Matrix): Matrix => {
    const n = m.length;
    const x = m.map((row, i) => [...row, ...identity(n)[i]]);
    for (let c = 0; c < n; c++) {
      let p = c;
      for (let r = c + 1; r < n; r++) if (Math.abs(x[r][c]) > Math.abs(x[p][c])) p = r;
      [x[c], x[p]] = [x[p], x[c]];
      const d = x[c][c];
      for (let k = 0; k < 2 * n; k++) x[c][k] /= d;
      for (let r = 0; r < n; r++) {
        if (r === c) continue;
        const f = x[r][c];
        for (let k = 0; k < 2 * n; k++) x[r][k] -= f * x[c][k];
      }
    }
    return x.map((row) => row.slice(n));
  };
  let y = a;
  let z = identity(a.length);
  for (let i = 0; i < 60; i++) {
    const yi = inv(y);
    const zi = inv(z);
    y = y.map((row, r) => row.map((v, c) => (v + zi[r][c]) / 2));
    z = z.map((row, r) => row.map((v, c) => (v + yi[r][c]) / 2));
  }
  return y;
}

const flat = (m: Matrix): Float32Array => Float32Array.from(m.flat());
const tensor = (m: Matrix): Tensor => new Tensor('float32', flat(m), [m.length, m[0].length]);
const maxAbs = (a: Matrix, b: Matrix): number =>
  Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))));

test('the in-graph inverse square root of a covariance with eigenvalues down to 1e-3 is exact to the ridge', async () => {
  const s = spd(7, 1e-3);
  const b = new GraphBuilder('inverse-root');
  const input = b.input('s', 'float32', [Q, Q]);
  b.output(inverseRoot(b, input, Q, 0), 'z', 'float32', [Q, Q]);
  const session = await InferenceSession.create(b.toBytes(OPSET));
  try {
    const out = await session.run({ s: tensor(s) });
    const data = out.z.data as Float32Array;
    const z = Array.from({ length: Q }, (_, i) => Array.from(data.subarray(i * Q, (i + 1) * Q)));
    // Z S Z = I and Z symmetric.
    assert.ok(maxAbs(mul(mul(z, s), z), identity(Q)) < 2e-3, 'Z S Z = I');
    assert.ok(maxAbs(z, transpose(z)) < 1e-2 * Math.max(...z.flat().map(Math.abs)), 'Z symmetric');
  } finally {
    await session.release();
  }
});

test('frames with the source covariance, warped and mapped, get the target covariance and mean', async () => {
  const sourceCov = spd(11, 1e-3);
  const targetCov = spd(23, 1e-3);
  const sourceRoot = sqrtm(sourceCov);
  const targetRoot = sqrtm(targetCov);
  const next = random(5);
  // A warp-like mixing matrix: near the identity, rows shifted toward their neighbours.
  const warp = identity(Q).map((row, i) =>
    row.map((v, j) => 0.8 * v + (j === i + 1 ? 0.3 : 0) + 0.02 * next()),
  );
  const sourceMean = Array.from({ length: Q }, next);
  const targetMean = Array.from({ length: Q }, next);
  const b = new GraphBuilder('warped-map');
  const cepstra = b.input('c', 'float32', [Q, Q]);
  const w = b.input('w', 'float32', [Q, Q]);
  const voiced = b.input('v', 'float32', [Q, 1]);
  const stats = (name: string): string => b.input(name, 'float32', [2, Q, Q]);
  const means = (name: string): string => b.input(name, 'float32', [2, Q]);
  const x = {
    sourceFormants: '',
    targetFormants: '',
    strength: '',
    sourceMean: means('mu_s'),
    sourceInverseRoot: stats('unused'),
    targetMean: means('mu_t'),
    targetRoot: stats('root_t'),
    sourceRoot: stats('root_s'),
  };
  b.output(warpedMap(b, cepstra, voiced, x, w, Q, 0), 'mapped', 'float32', [Q, Q]);
  const session = await InferenceSession.create(b.toBytes(OPSET));
  const both = (m: Matrix): Tensor =>
    new Tensor('float32', Float32Array.from([...m.flat(), ...m.flat()]), [2, Q, Q]);
  // The graph's inputs for frames `c` (one per row); everything else is the fixed statistics above.
  const feeds = (c: Matrix): Record<string, Tensor> => ({
    c: tensor(c),
    w: tensor(warp),
    v: new Tensor('float32', new Float32Array(Q).fill(1), [Q, 1]),
    mu_s: new Tensor('float32', Float32Array.from([...sourceMean, ...sourceMean]), [2, Q]),
    mu_t: new Tensor('float32', Float32Array.from([...targetMean, ...targetMean]), [2, Q]),
    root_t: both(targetRoot),
    root_s: both(sourceRoot),
    ...(session.inputNames.includes('unused') ? { unused: both(identity(Q)) } : {}),
  });
  try {
    // Row i: the source's mean plus unit vector i, so row i of the output minus mu_t is row i of the map M.
    const rows = identity(Q).map((row) => row.map((v, j) => v + sourceMean[j]));
    const out = await session.run(feeds(rows));
    const data = out.mapped.data as Float32Array;
    const m = Array.from({ length: Q }, (_, i) =>
      Array.from(data.subarray(i * Q, (i + 1) * Q), (v, j) => v - targetMean[j]),
    );
    // Deviations d with covariance S_s come out as d M, with covariance M^T S_s M.
    const mapped = mul(mul(transpose(m), sourceCov), m);
    assert.ok(maxAbs(mapped, targetCov) < 0.02, `covariance off by ${maxAbs(mapped, targetCov)}`);
    // The source's mean itself lands on the target's.
    const atMean = await session.run(feeds(identity(Q).map(() => [...sourceMean])));
    const first = Array.from((atMean.mapped.data as Float32Array).subarray(0, Q));
    assert.ok(Math.max(...first.map((v, j) => Math.abs(v - targetMean[j]))) < 1e-4);
  } finally {
    await session.release();
  }
});

/**
 * The formant warp alone as a graph (8 kHz band, 256 bins) with the given ratio limits: `run` reads
 * where the output's frequencies `hz` come from, in Hz, for source and target formants and strength.
 */
async function formantWarpGraph(name: string, limits: Parameters<typeof formantWarp>[3]) {
  const bandHz = 8000;
  const top = 256;
  const b = new GraphBuilder(name);
  const x = {
    sourceFormants: b.input('fs', 'float32', [3]),
    targetFormants: b.input('ft', 'float32', [3]),
    strength: b.input('strength', 'float32', [1]),
    sourceMean: '',
    sourceInverseRoot: '',
    targetMean: '',
    targetRoot: '',
  };
  const index = b.input('index', 'float32', [1, 'n']);
  const warp = formantWarp(b, x, { bandHz } as Parameters<typeof formantWarp>[2], limits);
  b.output(warp(index, top), 'read', 'float32', [1, 'n']);
  const session = await InferenceSession.create(b.toBytes(OPSET));
  const run = async (fs: number[], ft: number[], strength: number, hz: number[]): Promise<number[]> => {
    const out = await session.run({
      fs: new Tensor('float32', Float32Array.from(fs), [3]),
      ft: new Tensor('float32', Float32Array.from(ft), [3]),
      strength: new Tensor('float32', Float32Array.from([strength]), [1]),
      index: new Tensor('float32', Float32Array.from(hz.map((v) => (v * top) / bandHz)), [1, hz.length]),
    });
    return Array.from(out.read.data as Float32Array, (v) => (v * bandHz) / top);
  };
  return { run, release: () => session.release() };
}

test('the formant warp reads the source at its formants where the output has the target formants, the identity at strength 0 or without formants', async () => {
  const { run, release } = await formantWarpGraph('formant-warp', [0.75, 1.35]);
  try {
    // Female -> male: F1 ratio 0.8, F2 0.85, F3 clipped at 0.75 (asks 0.7).
    const fs = [600, 2000, 3000];
    const ft = [480, 1700, 2100];
    const t = [480, 1700, 2250];
    const read = await run(fs, ft, 1, [...t, 240, 1090, 4500]);
    const expected = [600, 2000, 3000, 300, 600 + ((1090 - 480) * 1400) / 1220, 4500 / 0.75];
    for (const [i, v] of read.entries())
      assert.ok(Math.abs(v - expected[i]) < 0.5, `${v} Hz, expected ${expected[i]}`);
    const hz = [0, 300, 1000, 2500, 5000, 8000];
    for (const [name, r] of [
      ['strength 0', await run(fs, ft, 0, hz)],
      ['no formants', await run([0, 0, 0], ft, 1, hz)],
    ] as const)
      for (const [i, v] of r.entries()) assert.ok(Math.abs(v - hz[i]) < 0.5, `${name}: ${v} Hz for ${hz[i]}`);
  } finally {
    await release();
  }
});

test('the formant warp takes one ratio range per formant: F1 beyond the shared range, F2 and F3 held to it', async () => {
  const limits = [
    [0.5, 2],
    [0.75, 1.35],
    [0.75, 1.35],
  ] as const;
  const { run, release } = await formantWarpGraph('formant-warp-limits', limits);
  try {
    // Female -> male as 150 -> 2514: F1 asks 0.55 (inside 0.5..2), F2 0.9, F3 asks 0.7 (clipped at 0.75).
    const read = await run([560, 1600, 2800], [308, 1440, 1960], 1, [308, 1440, 2100, 154]);
    const expected = [560, 1600, 2800, 280];
    for (const [i, v] of read.entries())
      assert.ok(Math.abs(v - expected[i]) < 0.5, `${v} Hz, expected ${expected[i]}`);
  } finally {
    await release();
  }
});

test('the fit measures the output as requested below fromHz: a rumble there changes nothing, above it everything', async () => {
  const n = 1024;
  const sampleRate = 24000;
  const bandHz = 8000;
  const nb = n / 2 + 1;
  const span = (bandHz * n) / sampleRate;
  const o = { quefrencies: Q, bandHz, sampleRate, relativeFloor: 1e-5 } as Parameters<
    typeof fitBandCepstra
  >[4];
  const b = new GraphBuilder('fit-band-cepstra');
  const natural = b.input('power', 'float32', ['f', nb]);
  const requested = b.input('requested', 'float32', ['f', Q]);
  const native = toNative(b, n, natural);
  b.output(fitBandCepstra(b, n, native, requested, o, 150), 'blind', 'float32', ['f', Q]);
  b.output(fitBandCepstra(b, n, native, requested, o, 0), 'whole', 'float32', ['f', Q]);
  const session = await InferenceSession.create(b.toBytes(OPSET));
  // A smooth envelope from c1..c24 (c0 = 3) on the natural bins, and the same with a 40 dB bump at 0-60 Hz
  // (a rumble), and with one at 1-1.2 kHz.
  const next = random(7);
  const c = Array.from({ length: Q }, (_, i) => (0.6 * next()) / (i + 1));
  const envelope = (k: number): number =>
    3 + 2 * c.reduce((s, v, i) => s + v * Math.cos((Math.PI * (i + 1) * Math.min(k, span)) / span), 0);
  const hz = (k: number): number => (k * sampleRate) / n;
  const bump = (from: number, to: number) => (k: number) =>
    hz(k) >= from && hz(k) < to ? 40 * (Math.LN10 / 10) : 0;
  const frames = [() => 0, bump(0, 60), bump(1000, 1200)].map((extra) =>
    Array.from({ length: nb }, (_, k) => Math.exp(envelope(k) + extra(k))),
  );
  try {
    const out = await session.run({
      power: new Tensor('float32', Float32Array.from(frames.flat()), [frames.length, nb]),
      requested: new Tensor('float32', Float32Array.from([c, c, c].flat()), [frames.length, Q]),
    });
    const rows = (name: string) =>
      Array.from({ length: frames.length }, (_, f) =>
        Array.from((out[name].data as Float32Array).subarray(f * Q, (f + 1) * Q)),
      );
    const blind = rows('blind');
    const whole = rows('whole');
    const apart = (a: number[], r: number[]) => Math.max(...a.map((v, i) => Math.abs(v - r[i])));
    // The plain measure sees the smooth envelope as requested, and the rumble as a miss.
    assert.ok(apart(whole[0], c) < 0.02, `smooth envelope measured ${apart(whole[0], c)} off`);
    assert.ok(apart(whole[1], c) > 0.05, `rumble moved the plain measure by ${apart(whole[1], c)}`);
    // Blind below 150 Hz: the rumble is not seen, a bump at 1-1.2 kHz is, as the plain measure sees it.
    assert.ok(apart(blind[0], c) < 0.02, `smooth envelope measured ${apart(blind[0], c)} off`);
    assert.ok(
      apart(blind[1], blind[0]) < 0.01,
      `rumble moved the blind measure by ${apart(blind[1], blind[0])}`,
    );
    assert.ok(apart(blind[2], c) > 0.1, `a bump at 1-1.2 kHz moved it by only ${apart(blind[2], c)}`);
    assert.ok(
      apart(blind[2], whole[2]) < 0.02,
      `blind and plain differ by ${apart(blind[2], whole[2])} on it`,
    );
  } finally {
    await session.release();
  }
});

test("the graph's band cepstra from 120 Hz are the profile's (voice-features.ts), and a rumble below 120 Hz changes neither", async () => {
  const n = 1024;
  const sampleRate = 24000;
  const nb = n / 2 + 1;
  const fromHz = 120;
  const o = { quefrencies: Q, bandHz: 8000, sampleRate, relativeFloor: 1e-5, fromHz };
  const b = new GraphBuilder('band-cepstra-from');
  const natural = b.input('power', 'float32', ['f', nb]);
  b.output(bandCepstraA(b, n, toNative(b, n, natural), o), 'cepstra', 'float32', ['f', Q]);
  const session = await InferenceSession.create(b.toBytes(OPSET));
  const next = random(11);
  // A random smooth spectrum, the same with +47 dB at 0-60 Hz (LibriSpeech 198's rumble), and a rough one.
  const base = Array.from({ length: nb }, (_, k) => Math.exp(2 * Math.sin(k / 37) + 0.5 * next() - k / 100));
  const rumbled = base.map((v, k) => ((k * sampleRate) / n < 60 ? v * 10 ** 4.7 : v));
  const rough = Array.from({ length: nb }, () => Math.exp(4 * next()));
  const frames = [base, rumbled, rough];
  try {
    const out = await session.run({
      power: new Tensor('float32', Float32Array.from(frames.flat()), [frames.length, nb]),
    });
    const graph = out.cepstra.data as Float32Array;
    const table = cepstrumTable(nb, sampleRate, fromHz);
    const edge = cepstrumEdge(sampleRate / n, fromHz);
    const rows = frames.map((f) => {
      const row = new Float64Array(Q);
      frameCepstrum(Float32Array.from(f), 0, nb, table, row, edge);
      return row;
    });
    for (let f = 0; f < frames.length; f++) {
      for (let q = 0; q < Q; q++) {
        const g = graph[f * Q + q];
        assert.ok(Math.abs(g - rows[f][q]) < 1e-3, `frame ${f} c${q + 1}: graph ${g}, profile ${rows[f][q]}`);
      }
    }
    const apart = (a: ArrayLike<number>, r: ArrayLike<number>) =>
      Math.max(...Array.from(a, (v, i) => Math.abs(v - r[i])));
    assert.ok(
      apart(rows[0], rows[1]) < 1e-9,
      `rumble moved the profile's cepstra by ${apart(rows[0], rows[1])}`,
    );
    assert.ok(
      apart(graph.subarray(0, Q), graph.subarray(Q, 2 * Q)) < 1e-4,
      `rumble moved the graph's cepstra by ${apart(graph.subarray(0, Q), graph.subarray(Q, 2 * Q))}`,
    );
  } finally {
    await session.release();
  }
});
