export { type DeliveryData, postDelivery } from './delivery.js';
export { attemptsWithin, retryDelay, WEBHOOK_QUEUE, webhooksPlugin } from './plugin.js';
export { signatureHeader } from './signature.js';
export { assertWebhookUrl, isPublicAddress, parseWebhookUrl } from './ssrf.js';
export { DEFAULT_EVENTS, PROGRESS_INTERVAL_MS, WEBHOOK_EVENTS, WebhookStore } from './store.js';
