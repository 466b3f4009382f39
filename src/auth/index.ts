export { type Account, AccountStore, API_KEY_PREFIX } from './accounts.js';
export { ADMIN_TOKEN_MIN_LENGTH, AdminCredential, AdminFailures } from './admin.js';
export { authPlugin, bearerToken } from './plugin.js';
export { hashToken, type Principal, SessionStore } from './session-store.js';
