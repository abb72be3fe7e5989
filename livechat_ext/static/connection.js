/**
 * `Connection`: the socket lifecycle under `LiveChatClient`, with no chat
 * features: open, authenticate with the first frame, ping, reconnect with
 * backoff, recover from a 4001 with a fresh token, and re-authenticate
 * in-band before the JWT expires.
 *
 * Events (`on(name, listener)`):
 * - `frame` (frame): every server frame, after the connection handled it
 * - `connected` (auth_success payload): authenticated on a new socket
 * - `reauthenticated` (auth_success payload): an in-band re-auth succeeded
 * - `token` (token): the token about to be used, before the socket opens
 * - `disconnect` (code, reason): a socket or a connection attempt ended
 *
 * @module connection
 */

import { ClientFrameType as C, ServerFrameType as S, CloseCode, AuthErrorCode, makeFrame, parseFrame } from './protocol.js';
import { ReconnectStrategy } from './reconnectStrategy.js';
import { ConnectionState, ConnectionStateMachine } from './stateMachine.js';
import { Heartbeat } from './heartbeat.js';
import { TokenProvider } from './tokens.js';
import { Emitter } from './emitter.js';
import { reauthDelay } from './jwt.js';
import { makeTimers } from './timers.js';

const OPEN = 1;
const REAUTH_RETRY_MS = 5000;

export class Connection {
  /**
   * @param {object} options
   * @param {string} options.url
   * @param {TokenProvider} options.tokens
   * @param {any} [options.WebSocketImpl] default `globalThis.WebSocket`, looked up at connect time
   * @param {number | null} [options.heartbeatInterval] seconds; default the server's `heartbeat_interval`
   * @param {number} [options.heartbeatTimeout=10] seconds after a ping without any frame before giving up
   * @param {number} [options.connectTimeout=15] seconds from opening to `auth_success` before giving up
   * @param {number} [options.reauthLeadMs=60000]
   * @param {ReconnectStrategy} [options.reconnectStrategy]
   * @param {import('./reconnectStrategy.js').ReconnectOptions} [options.reconnect]
   * @param {import('./timers.js').Timers} options.timers
   */
  constructor(options) {
    this.url = options.url;
    this.tokens = options.tokens;
    this._WebSocket = options.WebSocketImpl ?? null;
    this._timers = makeTimers(options.timers);
    this._heartbeatInterval = options.heartbeatInterval ?? null;
    this._heartbeatTimeout = options.heartbeatTimeout ?? 10;
    this._connectTimeout = options.connectTimeout ?? 15;
    this._reauthLeadMs = options.reauthLeadMs ?? 60000;
    this.stateMachine = new ConnectionStateMachine();
    this.reconnect = options.reconnectStrategy ?? new ReconnectStrategy(options.reconnect);
    this._heartbeat = new Heartbeat({
      sendPing: () => this.send(C.PING),
      onTimeout: () => this._abandon(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout'),
      timers: this._timers,
    });
    this._events = new Emitter();
    this._refCounter = 0;
    this._generation = 0; // bumped by each open and by disconnect(), to ignore stale callbacks
    /** @type {any} */
    this._ws = null;
    /** @type {string | null} */
    this._currentToken = null;
    /** @type {string | null} */
    this._lastAuthError = null;
    /** @type {unknown} */
    this._reconnectTimer = null;
    /** @type {unknown} */
    this._reauthTimer = null;
    /** @type {unknown} */
    this._connectTimer = null;
  }

  /** @returns {import('./stateMachine.js').ConnectionStateName} */
  get state() {
    return this.stateMachine.state;
  }

  /**
   * @param {'frame' | 'connected' | 'reauthenticated' | 'token' | 'disconnect'} name
   * @param {(...args: any[]) => void} listener
   * @returns {() => void} unsubscribe
   */
  on(name, listener) {
    return this._events.on(name, listener);
  }

  /** Connect now. A user action: it lifts a 4001/4008 block and restarts the backoff. */
  connect() {
    this.reconnect.userAction();
    if (this.state === ConnectionState.CONNECTING || this.state === ConnectionState.CONNECTED) return;
    this._clearTimer('_reconnectTimer');
    void this._open();
  }

  /** Close with 1000 and stay closed until `connect()`. */
  disconnect() {
    this._generation += 1;
    this._clearTimer('_reconnectTimer');
    const ws = this._ws;
    if (ws) {
      this._teardown();
      try {
        ws.close(CloseCode.NORMAL, 'client disconnect');
      } catch {
        // already closed
      }
      this._events.emit('disconnect', CloseCode.NORMAL, 'client disconnect');
    }
    if (this.state !== ConnectionState.IDLE) this.stateMachine.transition(ConnectionState.DISCONNECTED);
  }

  /** A new token is available: re-auth in-band if connected, reconnect if a 4001/4008 stopped us. */
  tokenRefreshed() {
    const blocked = this.reconnect.blocked;
    this.reconnect.tokenRefreshed();
    if (this.state === ConnectionState.CONNECTED) void this._reauth();
    else if (blocked && this.state === ConnectionState.DISCONNECTED) void this._open();
  }

  /**
   * Write a frame with a fresh `ref` on the open socket.
   * @param {string} type
   * @param {Record<string, unknown>} [payload]
   * @returns {string | null} its ref, or null when the socket is not open
   */
  send(type, payload = {}) {
    const ws = this._ws;
    if (!ws || ws.readyState !== OPEN) return null;
    const ref = String(++this._refCounter);
    try {
      ws.send(JSON.stringify(makeFrame(type, payload, ref)));
    } catch {
      return null;
    }
    return ref;
  }

  async _open() {
    this.stateMachine.transition(ConnectionState.CONNECTING);
    const generation = ++this._generation;
    let token;
    let ws;
    try {
      token = await this.tokens.get();
      if (generation !== this._generation) return;
      this._events.emit('token', token);
      ws = new (this._WebSocket ?? globalThis.WebSocket)(this.url);
    } catch (error) {
      if (generation === this._generation) this._afterClose(CloseCode.ABNORMAL, String(error));
      return;
    }
    this._ws = ws;
    this._currentToken = token;
    this._lastAuthError = null;
    // A socket that never opens, or a server that never answers auth, must not hang the client.
    this._connectTimer = this._timers.setTimeout(() => {
      this._connectTimer = null;
      this._abandon(CloseCode.ABNORMAL, 'connect timeout');
    }, this._connectTimeout * 1000);
    ws.onopen = () => {
      if (this._ws === ws) this.send(C.AUTH, { token });
    };
    ws.onmessage = (/** @type {{data: unknown}} */ event) => {
      if (this._ws === ws) this._receive(event.data);
    };
    ws.onclose = (/** @type {{code: number, reason?: string}} */ event) => {
      if (this._ws !== ws) return;
      this._teardown();
      this._afterClose(event.code, event.reason ?? '');
    };
    ws.onerror = () => {}; // a close event follows
  }

  /** @param {unknown} data */
  _receive(data) {
    const frame = parseFrame(data);
    if (!frame) return;
    this._heartbeat.received();
    const payload = /** @type {any} */ (frame.payload);
    if (frame.type === S.AUTH_SUCCESS) this._authenticated(payload);
    else if (frame.type === S.AUTH_ERROR) this._lastAuthError = payload.code ?? null;
    this._events.emit('frame', frame);
  }

  /** @param {any} payload */
  _authenticated(payload) {
    this._scheduleReauth();
    if (this.state === ConnectionState.CONNECTED) {
      this._events.emit('reauthenticated', payload);
      return;
    }
    this._clearTimer('_connectTimer');
    this.stateMachine.transition(ConnectionState.CONNECTED);
    this.reconnect.reset();
    const interval = (this._heartbeatInterval ?? payload.heartbeat_interval ?? 30) * 1000;
    this._heartbeat.start(interval, Math.min(this._heartbeatTimeout * 1000, interval));
    this._events.emit('connected', payload);
  }

  /** The socket (or the attempt) ended: reconnect, recover from a 4001, or stop. @param {number} code @param {string} reason */
  _afterClose(code, reason) {
    this._events.emit('disconnect', code, reason);
    const recoverable = this.tokens.canRefresh || this._lastAuthError === AuthErrorCode.AUTH_TIMEOUT;
    if (code === CloseCode.UNAUTHORIZED && recoverable) {
      this.reconnect.shouldReconnect(code); // blocks until a new token
      this.stateMachine.transition(ConnectionState.RECONNECTING);
      void this._recoverFromUnauthorized(this._generation);
    } else if (this.reconnect.shouldReconnect(code)) {
      this._scheduleReconnect();
    } else {
      this.stateMachine.transition(ConnectionState.DISCONNECTED);
    }
  }

  /** After a 4001, reconnect only with a different token, or if the token was not the problem. @param {number} generation */
  async _recoverFromUnauthorized(generation) {
    if (this._lastAuthError !== AuthErrorCode.AUTH_TIMEOUT) {
      const fresh = await this.tokens.fresh(this._currentToken);
      if (generation !== this._generation) return;
      if (fresh === null) {
        this.stateMachine.transition(ConnectionState.DISCONNECTED);
        return;
      }
      this.tokens.prime(fresh);
    }
    this.reconnect.tokenRefreshed();
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    const delay = this.reconnect.nextDelay();
    if (delay === null) {
      this.stateMachine.transition(ConnectionState.DISCONNECTED);
      return;
    }
    this.stateMachine.transition(ConnectionState.RECONNECTING);
    this._reconnectTimer = this._timers.setTimeout(() => {
      this._reconnectTimer = null;
      void this._open();
    }, delay);
  }

  /** Give up on a silent socket without waiting for its closing handshake. @param {number} code @param {string} reason */
  _abandon(code, reason) {
    const ws = this._ws;
    if (!ws) return;
    this._teardown();
    try {
      // A client may only send 1000 or 3000-4999; 1006 is reported locally, never sent.
      ws.close(code === CloseCode.ABNORMAL ? CloseCode.NORMAL : code, reason);
    } catch {
      // already closing
    }
    this._afterClose(code, reason);
  }

  _teardown() {
    this._ws = null;
    this._heartbeat.stop();
    this._clearTimer('_reauthTimer');
    this._clearTimer('_connectTimer');
  }

  _scheduleReauth() {
    this._clearTimer('_reauthTimer');
    if (!this.tokens.canRefresh) return;
    const delay = reauthDelay(this._currentToken, this._timers.now(), this._reauthLeadMs);
    if (delay !== null) this._reauthAfter(delay);
  }

  /** @param {number} delay */
  _reauthAfter(delay) {
    this._reauthTimer = this._timers.setTimeout(() => {
      this._reauthTimer = null;
      void this._reauth();
    }, delay);
  }

  /** Send `auth` in-band with a fresh token: the session goes on without a reconnect. */
  async _reauth() {
    const ws = this._ws;
    const token = await this.tokens.fresh(this._currentToken);
    if (this._ws !== ws || this.state !== ConnectionState.CONNECTED) return;
    if (token === null) {
      // Nothing new yet: ask again shortly; the server's token_expired is the backstop.
      if (this.tokens.canRefresh) this._reauthAfter(REAUTH_RETRY_MS);
      return;
    }
    this._currentToken = token;
    this.send(C.AUTH, { token });
  }

  /** @param {'_reconnectTimer' | '_reauthTimer' | '_connectTimer'} name */
  _clearTimer(name) {
    if (this[name] !== null) this._timers.clearTimeout(this[name]);
    this[name] = null;
  }
}
