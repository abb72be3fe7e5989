/**
 * The connection state of a client, with an explicit transition table.
 *
 * `connecting` covers opening the socket and authenticating; `connected`
 * means `auth_success` was received. An illegal transition throws an
 * `IllegalTransitionError`; a transition to the current state is a no-op.
 *
 * @module stateMachine
 */

import { Emitter } from './emitter.js';

/** @typedef {'idle' | 'connecting' | 'connected' | 'disconnected' | 'reconnecting'} ConnectionStateName */

/** The five states. */
export const ConnectionState = Object.freeze({
  IDLE: 'idle',
  CONNECTING: 'connecting',
  CONNECTED: 'connected',
  DISCONNECTED: 'disconnected',
  RECONNECTING: 'reconnecting',
});

const S = ConnectionState;

/**
 * Allowed transitions, from each state.
 * @type {Readonly<Record<ConnectionStateName, readonly ConnectionStateName[]>>}
 */
export const TRANSITIONS = Object.freeze({
  [S.IDLE]: Object.freeze([S.CONNECTING]),
  [S.CONNECTING]: Object.freeze([S.CONNECTED, S.RECONNECTING, S.DISCONNECTED]),
  [S.CONNECTED]: Object.freeze([S.RECONNECTING, S.DISCONNECTED]),
  [S.RECONNECTING]: Object.freeze([S.CONNECTING, S.DISCONNECTED]),
  [S.DISCONNECTED]: Object.freeze([S.CONNECTING]),
});

/** Thrown on a transition that the table does not allow. */
export class IllegalTransitionError extends Error {
  /**
   * @param {string} from
   * @param {string} to
   */
  constructor(from, to) {
    super(`illegal connection state transition: ${from} -> ${to}`);
    this.name = 'IllegalTransitionError';
    this.from = from;
    this.to = to;
  }
}

/**
 * @callback StateListener
 * @param {ConnectionStateName} state the new state
 * @param {ConnectionStateName} previous
 * @returns {void}
 */

export class ConnectionStateMachine {
  /** @param {ConnectionStateName} [initial='idle'] */
  constructor(initial = S.IDLE) {
    if (!(initial in TRANSITIONS)) throw new TypeError(`unknown state: ${initial}`);
    /** @type {ConnectionStateName} */
    this._state = initial;
    this._emitter = new Emitter();
  }

  /** @returns {ConnectionStateName} */
  get state() {
    return this._state;
  }

  /**
   * @param {string} to
   * @returns {boolean} whether `transition(to)` would change the state without throwing
   */
  canTransition(to) {
    return TRANSITIONS[this._state].includes(/** @type {ConnectionStateName} */ (to));
  }

  /**
   * Move to `to` and notify the listeners.
   *
   * @param {ConnectionStateName} to
   * @returns {boolean} true if the state changed, false if it already was `to`
   * @throws {IllegalTransitionError} when the table does not allow it
   */
  transition(to) {
    if (to === this._state) return false;
    if (!this.canTransition(to)) throw new IllegalTransitionError(this._state, to);
    const previous = this._state;
    this._state = to;
    this._emitter.emit('change', to, previous);
    return true;
  }

  /**
   * @param {StateListener} listener
   * @returns {() => void} removes the listener
   */
  onChange(listener) {
    return this._emitter.on('change', listener);
  }
}
