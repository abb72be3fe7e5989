/**
 * Typing indicators: at most one `typing_start` per conversation every
 * `throttleMs` (the server keeps a start alive for `typing_timeout`, 6 s by
 * default), and a `typing_stop` sent by itself after `idleMs` without a call.
 *
 * @module typing
 */

import { makeTimers } from './timers.js';

export class TypingThrottle {
  /**
   * @param {object} options
   * @param {(type: 'typing_start' | 'typing_stop', lineUserId: string) => void} options.send
   * @param {number} [options.throttleMs=2000]
   * @param {number} [options.idleMs=3000]
   * @param {Partial<import('./timers.js').Timers>} [options.timers]
   */
  constructor(options) {
    this._send = options.send;
    this.throttleMs = options.throttleMs ?? 2000;
    this.idleMs = options.idleMs ?? 3000;
    this._timers = makeTimers(options.timers);
    /** @type {Map<string, {sentAt: number, idle: unknown}>} */
    this._active = new Map();
  }

  /**
   * The operator typed in this conversation.
   * @param {string} lineUserId
   * @returns {boolean} whether a `typing_start` was sent
   */
  start(lineUserId) {
    const now = this._timers.now();
    const current = this._active.get(lineUserId);
    if (current) this._timers.clearTimeout(current.idle);
    const due = !current || now - current.sentAt >= this.throttleMs;
    if (due) this._send('typing_start', lineUserId);
    this._active.set(lineUserId, {
      sentAt: due || !current ? now : current.sentAt,
      idle: this._timers.setTimeout(() => this.stop(lineUserId), this.idleMs),
    });
    return due;
  }

  /**
   * The operator stopped typing (or sent the message).
   * @param {string} lineUserId
   * @returns {boolean} whether a `typing_stop` was sent
   */
  stop(lineUserId) {
    const current = this._active.get(lineUserId);
    if (!current) return false;
    this._timers.clearTimeout(current.idle);
    this._active.delete(lineUserId);
    this._send('typing_stop', lineUserId);
    return true;
  }

  /** Forget every conversation without sending: the connection is gone, and the server expires typing with it. */
  reset() {
    for (const { idle } of this._active.values()) this._timers.clearTimeout(idle);
    this._active.clear();
  }
}
