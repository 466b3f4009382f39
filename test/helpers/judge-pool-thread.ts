// A judge pool's thread (judge-pool.ts): one engine and one Judge, made at the first task, judge the pairs
// this thread is given.
import { workerData } from 'node:worker_threads';
import { VoiceConversionEngine } from '../../workers/engine/index.js';
import { engineConverter } from './engine-converter.js';
import { Judge, type Pair, type Verdict } from './judge.js';
import type { JudgePoolData } from './judge-pool.js';
import { PcmCache } from './librispeech.js';

const data = workerData as JudgePoolData;
let ready: Promise<{ engine: VoiceConversionEngine; judge: Judge }> | undefined;

const setUp = async () => {
  const engine = await VoiceConversionEngine.load(data.modelDir);
  return { engine, judge: await Judge.create(new PcmCache(data.cacheDir)) };
};

export default async function judgePair(pair: Pair): Promise<Verdict> {
  ready ??= setUp();
  const { engine, judge } = await ready;
  return judge.judge(pair, engineConverter(engine, 1), engine.sampleRate);
}
