/**
 * Reading a JWT's claims without verifying it: the client only needs `exp`
 * (to re-authenticate before it) and `sub` (the operator, for the queue key).
 * Verification is the server's job.
 *
 * @module jwt
 */

import { MAX_TIMEOUT_MS } from './timers.js';

/**
 * @param {string} segment base64url
 * @returns {string} the decoded UTF-8 text
 */
function decodeBase64Url(segment) {
  const base64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/**
 * The claims of a JWT, unverified.
 *
 * @param {unknown} token
 * @returns {Record<string, unknown> | null} null when it is not a JWT
 */
export function decodeJwtPayload(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(decodeBase64Url(parts[1]));
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}

/**
 * When to re-authenticate: `leadMs` before `exp`, but never earlier than half
 * the remaining lifetime, so a short-lived token is not refreshed at once.
 *
 * @param {unknown} token
 * @param {number} nowMs
 * @param {number} [leadMs=60000]
 * @returns {number | null} a delay in ms (0 if already expired), or null without a numeric `exp`
 */
export function reauthDelay(token, nowMs, leadMs = 60000) {
  const exp = decodeJwtPayload(token)?.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return null;
  const remaining = exp * 1000 - nowMs;
  if (remaining <= 0) return 0;
  const lead = Math.min(leadMs, remaining / 2);
  return Math.min(Math.floor(remaining - lead), MAX_TIMEOUT_MS);
}
