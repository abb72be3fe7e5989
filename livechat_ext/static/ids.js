/**
 * Client message ids: generated once, when the operator sends, and kept for
 * every retry so the server's idempotency on (line_user_id, client_msg_id)
 * holds across reconnects and reloads.
 *
 * @module ids
 */

/**
 * A new random id: `crypto.randomUUID()` where available, else a UUID v4 from
 * `crypto.getRandomValues`, else (very old runtimes) time plus `Math.random`.
 *
 * @returns {string} at most 36 characters
 */
export function generateClientMsgId() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  if (c && typeof c.getRandomValues === 'function') {
    const bytes = c.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}
