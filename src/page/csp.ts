/**
 * The pages are dist/public (HTML, hashed script and style files) from this origin, with no inline
 * code; they play results from signed same-origin links (blob: media stays allowed for decoded
 * previews) and talk to the API and WebSocket of the same host. With a nonce (the HTML pages get
 * a fresh one per answer) a `<style>` element carrying it is allowed too: the waveform library
 * (wavesurfer.js) puts one in its shadow root and takes the nonce as its `cspNonce` option.
 */
export function contentSecurityPolicy(nonce?: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    nonce ? `style-src 'self' 'nonce-${nonce}'` : "style-src 'self'",
    "img-src 'self' data:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
  ].join('; ');
}
