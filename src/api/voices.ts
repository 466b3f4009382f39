import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ForbiddenError, ValidationError, VcError } from '../errors/index.js';
import { currentPreview, DEFAULT_MODEL, type PresetVoice } from '../models/index.js';
import type { Voice } from '../workspace/index.js';
import { callerOf, userOf } from './caller.js';
import { ModelName } from './fields.js';
import { intakeAudio } from './intake.js';
import { ErrorBody, IdParams, JobViewSchema } from './schemas.js';

const VoiceSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  model: Type.String(),
  state: Type.Enum(['pending', 'ready', 'failed']),
  createdAt: Type.Number(),
  referenceSec: Type.Number(),
  jobId: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  /** Its reference recording, signed for its owner (GET /api/voices/:id/preview). */
  previewUrl: Type.String(),
});
const PresetSchema = Type.Object({
  id: Type.String(),
  /** The preset's file name in its model folder. */
  name: Type.String(),
  /** A human name to show ("Clara"); the file name when the preset file gives none. */
  displayName: Type.String(),
  /** One line on how it sounds, from the preset file; null when it gives none. */
  description: Type.Union([Type.String(), Type.Null()]),
  model: Type.String(),
  f0Median: Type.Union([Type.Number(), Type.Null()]),
  /** A few seconds of speech converted toward it, signed for the caller; null until its preview is built. */
  previewUrl: Type.Union([Type.String(), Type.Null()]),
});

const NAME = /^[\p{L}\p{N} _.,'()-]{1,80}$/u;

/** Target voices: the user's clones (POST makes one from a reference recording) plus the presets. */
export const voiceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const view = async (userId: string, v: Voice) => {
    const ready = (await app.voices.profilePath(userId, v.id)) !== undefined;
    const job =
      !ready && v.jobId ? await app.conversions.get(userId, v.jobId).catch(() => undefined) : undefined;
    const failed = job?.state === 'failed' || job?.state === 'cancelled';
    return {
      id: v.id,
      name: v.name,
      model: v.model,
      state: ready ? ('ready' as const) : failed ? ('failed' as const) : ('pending' as const),
      createdAt: v.createdAt,
      referenceSec: v.reference.durationSec,
      jobId: v.jobId,
      error: failed ? (job?.error ?? null) : null,
      previewUrl: app.resultLinks.previewUrl(v.id, '', userId),
    };
  };
  const presetView = async (userId: string, p: PresetVoice) => ({
    ...p,
    previewUrl: (await currentPreview(app.models.dirOf(p.model), p.name))
      ? app.resultLinks.previewUrl(p.id, p.model, userId)
      : null,
  });

  app.post(
    '/voices',
    {
      config: { rateClass: 'voiceClones' },
      onRequest: app.takeUploadSlot,
      schema: {
        consumes: ['multipart/form-data'],
        querystring: Type.Object({ model: Type.Optional(ModelName) }, { additionalProperties: false }),
        response: {
          202: Type.Object({ voice: VoiceSchema, job: JobViewSchema }),
          400: ErrorBody,
          409: ErrorBody,
          413: ErrorBody,
          415: ErrorBody,
          429: ErrorBody,
          503: ErrorBody,
          507: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const { userId } = caller;
      const model = await app.models.get(request.query.model ?? DEFAULT_MODEL);
      // A reference is stored in the workspace like an upload: the same intake, caps and quotas.
      // Fields may come before or after the file; the file is streamed to disk as it arrives.
      return intakeAudio(app, request, caller, {
        fields: ['name'],
        save: (source, clientName, limits) =>
          app.voices.saveReference(userId, source, clientName, 'pending', model.name, limits),
        remove: (stored) => app.voices.remove(userId, stored.id),
        accept: async (stored, fields) => {
          const name = fields.name?.trim();
          if (!name)
            throw new ValidationError(
              'body.name is required: 1-80 letters, digits, spaces or simple punctuation',
            );
          if (!NAME.test(name))
            throw new ValidationError('body.name must be 1-80 letters, digits, spaces or simple punctuation');
          const voice = { ...stored, name };
          const job = await app.conversions.enqueueClone(userId, voice, {
            priority: 'normal',
            requestId: request.id,
          });
          await app.voices.setJob(userId, voice.id, job.id, name);
          request.log.info({ voiceId: voice.id, jobId: job.id }, 'voice clone queued');
          return reply.status(202).send({ voice: await view(userId, { ...voice, jobId: job.id }), job });
        },
      });
    },
  );

  app.get(
    '/voices',
    {
      schema: {
        response: {
          200: Type.Object({ voices: Type.Array(VoiceSchema), presets: Type.Array(PresetSchema) }),
        },
      },
    },
    async (request) => {
      const userId = userOf(request);
      const voices = await Promise.all((await app.voices.list(userId)).map((v) => view(userId, v)));
      const presets = await Promise.all(
        (await app.models.list()).flatMap((m) => m.presets).map((p) => presetView(userId, p)),
      );
      return { voices, presets };
    },
  );

  /**
   * A preset is listed with the user's voices but is the service's: its id answers what it is,
   * not a bare "voice not found".
   */
  const refusePreset = async (id: string, refusal: (id: string) => Error) => {
    const presets = (await app.models.list()).flatMap((m) => m.presets);
    if (presets.some((p) => p.id === id)) throw refusal(id);
  };

  app.get(
    '/voices/:id',
    { schema: { params: IdParams, response: { 200: Type.Object({ voice: VoiceSchema }), 404: ErrorBody } } },
    async (request) => {
      const userId = userOf(request);
      await refusePreset(
        request.params.id,
        (id) => new VcError('VC_ERR_NOT_FOUND', `${id} is a preset voice: GET /api/voices lists the presets`),
      );
      return { voice: await view(userId, await app.voices.get(userId, request.params.id)) };
    },
  );

  app.patch(
    '/voices/:id',
    {
      schema: {
        params: IdParams,
        body: Type.Object({ name: Type.String({ maxLength: 200 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ voice: VoiceSchema }),
          400: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
        },
      },
    },
    async (request) => {
      const userId = userOf(request);
      await refusePreset(
        request.params.id,
        () => new ForbiddenError('preset voices come with the service and cannot be renamed'),
      );
      const name = request.body.name.trim();
      if (!NAME.test(name))
        throw new ValidationError('body.name must be 1-80 letters, digits, spaces or simple punctuation');
      const voice = await app.voices.rename(userId, request.params.id, name);
      request.log.info({ voiceId: voice.id }, 'voice renamed');
      return { voice: await view(userId, voice) };
    },
  );

  app.delete(
    '/voices/:id',
    {
      schema: {
        params: IdParams,
        response: { 204: Type.Null(), 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const userId = userOf(request);
      await refusePreset(
        request.params.id,
        () => new ForbiddenError('preset voices come with the service and cannot be removed'),
      );
      const voice = await app.voices.get(userId, request.params.id);
      await app.conversions.retire(userId, 'voice', voice.id);
      if (voice.jobId) await app.conversions.cancel(userId, voice.jobId).catch(() => {});
      await app.voices.remove(userId, voice.id);
      request.log.info({ voiceId: voice.id }, 'voice deleted');
      return reply.status(204).send(null);
    },
  );
};
