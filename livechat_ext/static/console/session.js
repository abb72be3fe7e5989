// @ts-check
/**
 * Where the operator's token lives: taken from `#token=` once (then removed
 * from the address bar), kept in sessionStorage for this tab.
 *
 * @module console/session
 */

import { decodeJwtPayload } from '../static/jwt.js';

const KEY = 'livechat_ext:console:token';

/** Takes `#token=` from the URL, if any, and stores it. @returns {string | null} the token in use */
export function loadToken() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromUrl = hash.get('token');
  if (fromUrl) {
    hash.delete('token');
    const rest = hash.toString();
    history.replaceState(history.state, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
    saveToken(fromUrl.trim());
    return fromUrl.trim();
  }
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

/** @param {string} token */
export function saveToken(token) {
  try {
    sessionStorage.setItem(KEY, token);
  } catch {
    // storage disabled: the token lives for this page only
  }
}

export function clearToken() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing stored
  }
}

/**
 * What the token says about itself, unverified (the server decides).
 * @param {string} token
 * @returns {{adminId: string | null, name: string | null, expiresAt: number | null}}
 */
export function describeToken(token) {
  const payload = decodeJwtPayload(token) ?? {};
  return {
    adminId: typeof payload.sub === 'string' ? payload.sub : null,
    name: typeof payload.name === 'string' ? payload.name : null,
    expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null,
  };
}

/** @param {string} token @returns {boolean} whether it looks like a JWT that has not expired */
export function looksUsable(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  const { expiresAt } = describeToken(token);
  return expiresAt === null || expiresAt > Date.now();
}
