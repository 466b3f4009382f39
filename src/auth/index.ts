export { type Account, AccountStore, API_KEY_PREFIX } from './accounts.js';
export { AdminCredential } from './admin.js';
export { authPlugin, bearerToken } from './plugin.js';
export { hashToken, type Principal, SessionStore } from './session-store.js';
