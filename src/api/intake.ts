import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TooLargeError, ValidationError } from '../errors/index.js';
import { assertRoomForUpload, assertWithinStorage } from '../limits/index.js';
import type { LimitedStream, UploadLimits } from '../workspace/index.js';
import type { Caller } from './caller.js';
import { formFilename, multipartParts } from './multipart.js';

export interface IntakeOptions<T, R> {
  /** Text fields the route reads besides the file (none: `[]`); any other field is refused (400). */
  fields: readonly string[];
  /** Stores the file with every check (see the workspace's receiveAudio). */
  save(source: LimitedStream, clientName: string, limits: UploadLimits): Promise<T>;
  /** Removes what `save` stored. */
  remove(record: T): Promise<void>;
  /** The route's own work once the body is read and the storage quota checked. */
  accept(record: T, fields: Record<string, string>): Promise<R>;
}

const ONE_FILE = 'the multipart body must contain one file field "file"';

/** A text part the route does not read: refused, so a misspelt or misplaced field is not lost unnoticed. */
function unknownField(name: string, known: readonly string[]): ValidationError {
  const takes =
    known.length === 0
      ? 'only a file field "file"'
      : `a file field "file" and ${known.map((f) => `"${f}"`).join(', ')}`;
  return new ValidationError(`unknown multipart field "${name.slice(0, 64)}": this route takes ${takes}`);
}

/**
 * Receives one audio file from a multipart body (field `file`) for an upload or a voice reference:
 * checks the quota's room first, streams the file through `save`, reads every other part (so limits
 * on parts and fields surface as 413 even after the file), checks the stored total, then runs
 * `accept`. On any refusal or failure, before or inside `accept`, the stored file is removed: nothing
 * stays in the workspace.
 */
export async function intakeAudio<T, R>(
  app: FastifyInstance,
  request: FastifyRequest,
  caller: Caller,
  options: IntakeOptions<T, R>,
): Promise<R> {
  const { userId, plan, limits } = caller;
  assertRoomForUpload(await app.usage.usage(userId), plan);
  const fields: Record<string, string> = {};
  let record: T | undefined;
  try {
    for await (const part of multipartParts(request, { limits: { fileSize: limits.maxUploadBytes } })) {
      if (part.type !== 'file') {
        if (part.valueTruncated || part.fieldnameTruncated)
          throw new TooLargeError(`multipart field "${part.fieldname.slice(0, 64)}" is over the size limit`);
        if (!options.fields.includes(part.fieldname)) throw unknownField(part.fieldname, options.fields);
        fields[part.fieldname] = String(part.value);
        continue;
      }
      if (part.fieldname !== 'file' || record !== undefined) {
        part.file.resume();
        throw new ValidationError(ONE_FILE);
      }
      record = await options.save(part.file, formFilename(part.filename), {
        maxBytes: limits.maxUploadBytes,
        maxDurationSec: limits.maxDurationSec,
        probeTimeoutMs: app.config.probeTimeoutMs,
        decodeTimeoutMs: app.config.decodeCheckTimeoutMs,
        decodeSlots: app.decodeChecks,
      });
    }
    if (record === undefined)
      throw new ValidationError(
        'the multipart body must contain a file field "file" (with a file name free of control characters)',
      );
    assertWithinStorage(await app.usage.usage(userId), plan);
    return await options.accept(record, fields);
  } catch (err) {
    if (record !== undefined) {
      const stored = record;
      await options.remove(stored).catch((removeErr) => {
        request.log.error({ err: removeErr }, 'a refused file could not be removed');
      });
    }
    throw err;
  }
}
