// The folder's surface without its Fastify plugins: what worker processes import.
export { withDeadline } from './deadline.js';
