import { patterned } from '../validation/index.js';
import { MODEL_NAME, PAGE_LIMIT } from './job-limits.js';

export { PlanName, patternWords, WorkerId } from '../validation/index.js';

/**
 * String fields the routes check with a pattern, each with the words a caller is told when a value
 * does not match ("querystring.limit must be a whole number from 1 to 100"): the error handler says
 * these (`patternWords`), never the pattern itself. Every pattern in a route schema comes from
 * here (test/integration/validation-messages.test.ts walks the OpenAPI document for any other);
 * the words live in src/validation, shared with the start-up checks of the environment and files
 * (a worker id, a plan name).
 */

export { MODEL_NAME, OUTPUT_FORMATS, PITCH_SEMITONES, STRENGTH } from './job-limits.js';

/** An upload, job or voice id (a preset's too). */
export const Id = patterned('^[a-zA-Z0-9_-]{8,64}$', "an id of 8-64 letters, digits, '-' or '_'");

/** A model folder name (GET /api/models). */
export const ModelName = patterned(MODEL_NAME.pattern, MODEL_NAME.words);

/** A page size in a query string (not coerced: a string of digits). */
export const PageLimit = patterned(PAGE_LIMIT.pattern, PAGE_LIMIT.words);

/** The `nextCursor` of a previous page of jobs. */
export const JobCursor = patterned(
  '^[0-9]{1,16}_[a-zA-Z0-9_-]{8,64}$',
  'the nextCursor of a previous page, as it was given',
);

const STATE = '(queued|active|completed|failed|cancelled)';
/** Job states, comma-separated. */
export const JobStates = patterned(
  `^${STATE}(,${STATE})*$`,
  'one or more of queued, active, completed, failed, cancelled, separated by commas',
);

/** A signed link's expiry, Unix seconds. */
export const LinkExpiry = patterned('^[0-9]{1,12}$', 'the expiry of a signed link: up to 12 digits');

/** A signed link's signature. */
export const LinkSignature = patterned(
  '^[A-Za-z0-9_-]{16,128}$',
  "the signature of a signed link: 16-128 letters, digits, '-' or '_'",
);

/** The user a signed link was made for. */
export const LinkUser = patterned(
  '^u_[a-z0-9]{4,64}$',
  'a user id: "u_" then 4-64 lower-case letters or digits',
);

/** An account's name (admin). */
export const AccountName = patterned(
  '^[\\w .@+-]+$',
  "1-100 letters, digits, spaces, '_', '.', '@', '+' or '-'",
  { minLength: 1, maxLength: 100 },
);

/** The Idempotency-Key header (checked by src/idempotency, described here for the document). */
export const IdempotencyKey = patterned('^[\\x21-\\x7e]{1,255}$', '1-255 printable ASCII characters');
