/**
 * Where the client's JWT comes from: a fixed token, or a `getToken` callback
 * asked before every connection attempt and whenever a fresh one is needed.
 *
 * @module tokens
 */

export class TokenProvider {
  /**
   * @param {object} options
   * @param {string | null} [options.token]
   * @param {(() => string | Promise<string>) | null} [options.getToken]
   */
  constructor(options) {
    this._token = options.token ?? null;
    this._getToken = options.getToken ?? null;
    /** @type {string | null} a token already fetched, used by the next `get()` */
    this._next = null;
  }

  /** Whether a new token can be obtained without the host's help. */
  get canRefresh() {
    return this._getToken !== null;
  }

  /** Replace the fixed token. @param {string} token */
  set(token) {
    this._token = token;
  }

  /** Use this token for the next `get()`. @param {string} token */
  prime(token) {
    this._next = token;
  }

  /**
   * The token for a connection attempt.
   * @returns {Promise<string>}
   * @throws {Error} when there is none or `getToken` fails
   */
  async get() {
    const primed = this._next;
    this._next = null;
    const token = primed ?? (this._getToken ? await this._getToken() : this._token);
    if (typeof token !== 'string' || token === '') throw new Error('no token available');
    return token;
  }

  /**
   * A token different from `current`, if one can be had.
   * @param {string | null} current
   * @returns {Promise<string | null>}
   */
  async fresh(current) {
    let token;
    try {
      token = this._getToken ? await this._getToken() : this._token;
    } catch {
      return null;
    }
    return typeof token === 'string' && token !== '' && token !== current ? token : null;
  }
}
