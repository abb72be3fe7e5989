/**
 * The client side of the heartbeat: a `ping` every interval, and a dead
 * connection detected when nothing at all arrives within a timeout after a
 * ping (a silent socket may never fire `close` on its own).
 *
 * @module heartbeat
 */

import { makeTimers } from './timers.js';

export class Heartbeat {
  /**
   * @param {object} options
   * @param {() => void} options.sendPing
   * @param {() => void} options.onTimeout called once when no frame followed a ping in time
   * @param {Partial<import('./timers.js').Timers>} [options.timers]
   */
  constructor(options) {
    this._sendPing = options.sendPing;
    this._onTimeout = options.onTimeout;
    this._timers = makeTimers(options.timers);
    this._intervalMs = 0;
    this._timeoutMs = 0;
    /** @type {unknown} */
    this._tick = null;
    /** @type {unknown} */
    this._deadline = null;
  }

  /** Whether pings are being sent. */
  get running() {
    return this._tick !== null;
  }

  /**
   * Start (or restart) pinging.
   * @param {number} intervalMs between pings
   * @param {number} timeoutMs how long after a ping a frame must arrive
   */
  start(intervalMs, timeoutMs) {
    this.stop();
    this._intervalMs = intervalMs;
    this._timeoutMs = timeoutMs;
    this._schedule();
  }

  /** Any frame arrived: the connection is alive. */
  received() {
    if (this._deadline !== null) {
      this._timers.clearTimeout(this._deadline);
      this._deadline = null;
    }
  }

  /** Stop pinging and forget the pending deadline. */
  stop() {
    if (this._tick !== null) this._timers.clearTimeout(this._tick);
    this._tick = null;
    this.received();
  }

  _schedule() {
    this._tick = this._timers.setTimeout(() => {
      this._tick = null;
      if (this._deadline === null) {
        this._deadline = this._timers.setTimeout(() => {
          this._deadline = null;
          this.stop();
          this._onTimeout();
        }, this._timeoutMs);
      }
      this._schedule();
      this._sendPing();
    }, this._intervalMs);
  }
}
