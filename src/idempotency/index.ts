export {
  carriesIdempotencyKey,
  IDEMPOTENT_ROUTES,
  type IdempotencyOptions,
  idempotencyPlugin,
} from './plugin.js';
