import type { RedisClient } from '../redis/core.js';
import { folderStamp } from './folder-stamp.js';

export { folderStamp };

/**
 * What workers found loading a model's graphs, which the API cannot check itself (it never loads
 * ONNX Runtime). Stored in Redis (one hash field per model) with the folder's stamp, so a report
 * lapses by itself once the folder is changed, and every API instance and worker sees it.
 */
export class ModelLoadReports {
  readonly #key: string;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.#key = `${prefix}:models:load-errors`;
  }

  /** Records that model `name` (folder `dir`) cannot be loaded; `message` must name no server path. */
  async record(name: string, dir: string, message: string): Promise<void> {
    await this.redis.hset(this.#key, name, JSON.stringify({ stamp: await folderStamp(dir), message }));
  }

  /** The model loaded and ran: any earlier report is void. */
  async clear(name: string): Promise<void> {
    await this.redis.hdel(this.#key, name);
  }

  /** The reported error of model `name`, if one was recorded for the folder as it is now. */
  async errorFor(name: string, dir: string): Promise<string | undefined> {
    const raw = await this.redis.hget(this.#key, name);
    if (!raw) return undefined;
    const report = JSON.parse(raw) as { stamp: string; message: string };
    return report.stamp === (await folderStamp(dir)) ? report.message : undefined;
  }
}
