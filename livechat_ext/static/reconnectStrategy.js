/**
 * When and how soon to reconnect: exponential backoff with jitter, and the
 * close codes after which reconnecting is useless until something changes.
 *
 * Pure bookkeeping: it never touches a socket or a timer, so it is tested
 * without either.
 *
 * @module reconnectStrategy
 */

import { CloseCode } from './protocol.js';

/**
 * Close codes after which reconnecting with the same token cannot help:
 * 4001 (unauthorized) and 4008 (rate limit abuse). They block reconnecting
 * until `tokenRefreshed()` or `userAction()`.
 * @type {readonly number[]}
 */
export const BLOCKING_CLOSE_CODES = Object.freeze([CloseCode.UNAUTHORIZED, CloseCode.RATE_LIMIT_ABUSE]);

/**
 * @typedef {object} ReconnectOptions
 * @property {number} [baseDelayMs=1000] delay before the first retry
 * @property {number} [maxDelayMs=30000] cap of the exponential part
 * @property {number} [jitterMs=1000] random extra delay, in [0, jitterMs)
 * @property {number} [maxAttempts=Infinity] retries after which `nextDelay()` gives up
 * @property {() => number} [random=Math.random] returns a number in [0, 1)
 */

/**
 * The wait before retry number `attempt` (0 for the first retry after a drop):
 * min(baseDelayMs * 2^attempt, maxDelayMs), plus jitter in [0, jitterMs).
 *
 * @param {number} attempt a whole number >= 0
 * @param {ReconnectOptions} [options] `baseDelayMs`, `maxDelayMs`, `jitterMs`, `random`
 * @returns {number} milliseconds
 * @throws {RangeError} when `attempt` is not a whole number >= 0
 */
export function getReconnectDelay(attempt, options = {}) {
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new RangeError(`attempt must be a whole number >= 0, not ${String(attempt)}`);
  }
  const base = options.baseDelayMs ?? 1000;
  const exponential = Math.min(base * 2 ** attempt, options.maxDelayMs ?? 30000);
  const r = Math.min(Math.max((options.random ?? Math.random)(), 0), 1 - Number.EPSILON);
  return exponential + Math.floor(r * (options.jitterMs ?? 1000));
}

export class ReconnectStrategy {
  /** @param {ReconnectOptions} [options] */
  constructor(options = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 30000;
    this.jitterMs = options.jitterMs ?? 1000;
    this.maxAttempts = options.maxAttempts ?? Infinity;
    this._random = options.random ?? Math.random;
    this._attempts = 0;
    this._blocked = false;
  }

  /** Retries scheduled since the last successful connect. */
  get attempts() {
    return this._attempts;
  }

  /** True once `maxAttempts` retries were handed out. */
  get exhausted() {
    return this._attempts >= this.maxAttempts;
  }

  /** True after a 4001 or 4008 close, until a new token or a user action. */
  get blocked() {
    return this._blocked;
  }

  /**
   * The delay before the next retry, counting it as an attempt.
   * Attempt n (from 0) waits `getReconnectDelay(n)`: min(base * 2^n, max) plus jitter in [0, jitterMs).
   *
   * @returns {number | null} milliseconds, or null when attempts are exhausted
   */
  nextDelay() {
    if (this.exhausted) return null;
    const { baseDelayMs, maxDelayMs, jitterMs } = this;
    const delay = getReconnectDelay(this._attempts, { baseDelayMs, maxDelayMs, jitterMs, random: this._random });
    this._attempts += 1;
    return delay;
  }

  /** Call after a successful connect (authenticated): the next drop starts again at 1 s. */
  reset() {
    this._attempts = 0;
  }

  /**
   * Whether a close with this code is worth a reconnect. 4001 and 4008 answer
   * false and block every later reconnect until `tokenRefreshed()` or
   * `userAction()`. 1000 closed by the client itself answers false; every
   * other code (1001, 1006, 1012, 1013, 4002, 1009, ...) answers true.
   *
   * @param {number} closeCode
   * @param {{clientInitiated?: boolean}} [context]
   * @returns {boolean}
   */
  shouldReconnect(closeCode, context = {}) {
    if (BLOCKING_CLOSE_CODES.includes(closeCode)) {
      this._blocked = true;
      return false;
    }
    if (this._blocked) return false;
    if (closeCode === CloseCode.NORMAL && context.clientInitiated) return false;
    return true;
  }

  /** A new token is available: lift the block of a 4001 or 4008 close. */
  tokenRefreshed() {
    this._blocked = false;
  }

  /** The user asked to connect: lift the block and start the backoff again. */
  userAction() {
    this._blocked = false;
    this._attempts = 0;
  }
}
