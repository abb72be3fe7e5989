/**
 * `LiveChatClient`: the live chat features over a `Connection`.
 *
 * - catch-up: it remembers the joined conversations and the highest `rev` seen
 *   in each; after a reconnect it re-joins each with `after_rev` (new and
 *   changed messages alike; `after_seq` with a server that gives no rev) and
 *   pages on while `has_more`, then flushes the message queue in order;
 * - messages (text or a sticker) and internal notes go through a persistent
 *   queue (`MessageQueue` + `Outbox`), so none is lost on a drop or a reload,
 *   and none is sent twice;
 * - the team workflow (1.1): assign, resolve, reopen, mark read;
 * - typing indicators are throttled and stop by themselves.
 *
 * @module client
 */

import { ClientFrameType as C, ServerFrameType as S, Limits, presenceChanges } from './protocol.js';
import { ConnectionState } from './stateMachine.js';
import { Connection } from './connection.js';
import { MessageQueue, queueStorageKey } from './messageQueue.js';
import { Outbox } from './outbox.js';
import { ConversationTracker } from './conversationTracker.js';
import { TypingThrottle } from './typing.js';
import { TokenProvider } from './tokens.js';
import { Emitter } from './emitter.js';
import { decodeJwtPayload } from './jwt.js';
import { generateClientMsgId } from './ids.js';
import { makeTimers } from './timers.js';

/** Constructor callbacks and the event each one listens to. */
const CALLBACK_OPTIONS = Object.freeze({
  onMessage: 'message',
  onConnect: 'connect',
  onDisconnect: 'disconnect',
  onStateChange: 'statechange',
  onQueueChange: 'queuechange',
});

/** @typedef {import('./protocol.js').Frame} Frame */
/** @typedef {import('./stateMachine.js').ConnectionStateName} ConnectionStateName */

export class LiveChatClient {
  /** @param {import('./client.js').LiveChatClientOptions} options documented in client.d.ts */
  constructor(options) {
    if (!options || typeof options.url !== 'string') throw new TypeError('url is required');
    if (options.token == null && typeof options.getToken !== 'function') {
      throw new TypeError('token or getToken is required');
    }
    this.url = options.url;
    const timers = makeTimers(options);
    this._timers = timers;
    this._generateId = options.generateId ?? generateClientMsgId;
    const sub = decodeJwtPayload(options.token)?.sub;
    /** @type {string | null} */
    this._adminId = options.adminId ?? (typeof sub === 'string' ? sub : null);

    this.connection = new Connection({ ...options, tokens: new TokenProvider(options), timers });
    this.stateMachine = this.connection.stateMachine;
    this.reconnect = this.connection.reconnect;
    this.queue = options.queue ?? new MessageQueue({ storage: options.storage, key: queueStorageKey(this.url, this._adminId) });
    this.conversations = new ConversationTracker();
    this._outbox = new Outbox({
      queue: this.queue,
      send: (type, payload) => this.connection.send(type, payload),
      canSend: () => this.isConnected,
      timers,
    });
    this._typing = new TypingThrottle({
      send: (type, lineUserId) => this.connection.send(type, { line_user_id: lineUserId }),
      throttleMs: options.typingThrottleMs,
      idleMs: options.typingIdleMs,
      timers,
    });
    /** @type {Map<string, boolean>} ref of a join -> whether it was a catch-up join */
    this._joins = new Map();
    /** @type {string | null} `auth_success.server_instance` of the last connect */
    this._serverInstance = null;

    this._events = new Emitter();
    this._frames = new Emitter();
    for (const [option, event] of Object.entries(CALLBACK_OPTIONS)) {
      const callback = /** @type {any} */ (options)[option];
      if (typeof callback === 'function') this._events.on(event, callback);
    }
    this.stateMachine.onChange((state, previous) => this._events.emit('statechange', state, previous));
    this.queue.onChange((entries) => this._events.emit('queuechange', entries));
    this.connection.on('token', (token) => this._adoptAdmin(decodeJwtPayload(token)?.sub));
    this.connection.on('connected', (payload) => this._connected(payload));
    this.connection.on('reauthenticated', (payload) => this._adoptAdmin(payload.admin_id));
    this.connection.on('frame', (frame) => this._receive(frame));
    this.connection.on('disconnect', (code, reason) => {
      this._typing.reset();
      this._outbox.reset();
      this._joins.clear();
      this._events.emit('disconnect', code, reason);
    });
  }

  /** @returns {import('./stateMachine.js').ConnectionStateName} */
  get state() {
    return this.connection.state;
  }

  /** True once `auth_success` was received on the current socket. */
  get isConnected() {
    return this.state === ConnectionState.CONNECTED;
  }

  /** The operator's admin id once known (option `adminId`, the token's `sub`, or `auth_success`). */
  get adminId() {
    return this._adminId;
  }

  /** Connect now. A user action: it lifts a 4001/4008 block and restarts the backoff. */
  connect() {
    this.connection.connect();
  }

  /** Close with 1000 and stay closed until `connect()`. Queued messages stay queued. */
  disconnect() {
    this.connection.disconnect();
  }

  /**
   * A new token: re-authenticates in-band when connected, reconnects when a
   * 4001 or 4008 close stopped the client. Omit it when `getToken` returns it.
   * @param {string} [token]
   */
  setToken(token) {
    if (token !== undefined) this.connection.tokens.set(token);
    this.connection.tokenRefreshed();
  }

  /** Same as `setToken()` without a value: `getToken` now returns a new token. */
  tokenRefreshed() {
    this.connection.tokenRefreshed();
  }

  /**
   * Send a raw frame on the open socket, without queueing.
   * @param {string} type
   * @param {Record<string, unknown>} [payload]
   * @returns {string | null} its ref, or null when the socket is not open
   */
  send(type, payload = {}) {
    return this.connection.send(type, payload);
  }

  /**
   * Queue a text message; it is sent now if connected, else after the next connect.
   * @param {string} lineUserId
   * @param {string} text 1 to 5000 characters, counted in UTF-16 code units (`.length`) as LINE and the server count them
   * @returns {string} its client_msg_id, kept for every retry
   * @throws {TypeError | RangeError} for a missing conversation or a text out of bounds
   */
  sendMessage(lineUserId, text) {
    return this._enqueue(lineUserId, text, 'message');
  }

  /**
   * Queue a LINE sticker (1.1, "Media and stickers"): a `message_send` with
   * `sticker` instead of `text`, queued, confirmed and retried like a text.
   * @param {string} lineUserId
   * @param {{package_id: string | number, sticker_id: string | number}} sticker ids of a sticker LINE lets an account send
   * @returns {string} its client_msg_id
   * @throws {TypeError} for a missing conversation or sticker ids that are not digits
   */
  sendSticker(lineUserId, sticker) {
    if (typeof lineUserId !== 'string' || lineUserId === '') throw new TypeError('lineUserId is required');
    const ref = stickerRef(sticker);
    const clientMsgId = this._generateId();
    this._typing.stop(lineUserId);
    const createdAt = new Date(this._timers.now()).toISOString();
    this.queue.enqueue({ clientMsgId, lineUserId, sticker: ref, createdAt, kind: 'sticker' });
    this._outbox.flush();
    return clientMsgId;
  }

  /**
   * Queue an internal note (1.1): shown to the team in the conversation, never
   * sent to the LINE user. Queued, confirmed and retried like a message.
   * @param {string} lineUserId
   * @param {string} text 1 to 5000 characters
   * @returns {string} its client_msg_id
   * @throws {TypeError | RangeError} for a missing conversation or a text out of bounds
   */
  sendNote(lineUserId, text) {
    return this._enqueue(lineUserId, text, 'note');
  }

  /**
   * Assign a conversation to an operator (null: to nobody). Answered with
   * `conversation_updated`, which every operator allowed to see it gets.
   * @param {string} lineUserId
   * @param {string | null} adminId
   * @returns {string | null} the frame's ref, null when not connected
   */
  assign(lineUserId, adminId) {
    return this._workflow(C.CONVERSATION_ASSIGN, { line_user_id: lineUserId, admin_id: adminId ?? null });
  }

  /** Resolve: the conversation goes back to the host's bot. @param {string} lineUserId @returns {string | null} */
  resolve(lineUserId) {
    return this._workflow(C.CONVERSATION_RESOLVE, { line_user_id: lineUserId });
  }

  /** @param {string} lineUserId @returns {string | null} the frame's ref, null when not connected */
  reopen(lineUserId) {
    return this._workflow(C.CONVERSATION_REOPEN, { line_user_id: lineUserId });
  }

  /**
   * Mark the user's messages up to `seq` read, for the whole team (and "Read"
   * for the user in LINE). The server never lowers it, so repeating is harmless.
   * @param {string} lineUserId
   * @param {number} seq an inbound message's seq
   * @returns {string | null} the frame's ref, null when not connected
   */
  markRead(lineUserId, seq) {
    if (!Number.isInteger(seq) || seq < 1) throw new RangeError('seq must be a positive integer');
    return this._workflow(C.MARK_READ, { line_user_id: lineUserId, seq });
  }

  /** @param {string} type @param {Record<string, unknown>} payload @returns {string | null} */
  _workflow(type, payload) {
    if (typeof payload.line_user_id !== 'string' || payload.line_user_id === '') {
      throw new TypeError('lineUserId is required');
    }
    return this.isConnected ? this.connection.send(type, payload) : null;
  }

  /** @param {string} lineUserId @param {string} text @param {'message' | 'note'} kind @returns {string} */
  _enqueue(lineUserId, text, kind) {
    if (typeof lineUserId !== 'string' || lineUserId === '') throw new TypeError('lineUserId is required');
    const length = typeof text === 'string' ? text.length : 0;
    if (length < 1 || length > Limits.TEXT_MAX_CHARS) {
      throw new RangeError(`text must be 1 to ${Limits.TEXT_MAX_CHARS} characters`);
    }
    const clientMsgId = this._generateId();
    if (kind === 'message') this._typing.stop(lineUserId);
    const createdAt = new Date(this._timers.now()).toISOString();
    this.queue.enqueue({ clientMsgId, lineUserId, text, createdAt, ...(kind === 'note' ? { kind } : {}) });
    this._outbox.flush();
    return clientMsgId;
  }

  /**
   * Put a failed message back in the queue, with the same client_msg_id.
   * @param {string} clientMsgId
   * @returns {boolean} whether it was failed and is queued again
   */
  retryMessage(clientMsgId) {
    const requeued = this.queue.retry(clientMsgId);
    if (requeued) this._outbox.flush();
    return requeued;
  }

  /**
   * Join now, or on the next connect; remembered for catch-up after reconnects.
   * @param {string} lineUserId
   * @returns {string | null} the frame's ref, null if not sent yet
   */
  joinConversation(lineUserId) {
    this.conversations.join(lineUserId);
    return this.isConnected ? this._join(lineUserId, undefined) : null;
  }

  /** @param {string} lineUserId @returns {string | null} the frame's ref, null if not sent */
  leaveConversation(lineUserId) {
    this.conversations.leave(lineUserId);
    this._typing.stop(lineUserId);
    return this.isConnected ? this.connection.send(C.LEAVE_CONVERSATION, { line_user_id: lineUserId }) : null;
  }

  /** Throttled `typing_start`; `typing_stop` follows by itself when typing pauses. @param {string} lineUserId */
  startTyping(lineUserId) {
    if (this.isConnected) this._typing.start(lineUserId);
  }

  /** @param {string} lineUserId */
  stopTyping(lineUserId) {
    this._typing.stop(lineUserId);
  }

  /** @param {(frame: import('./protocol.js').ServerFrame) => void} handler every server frame @returns {() => void} unsubscribe */
  onMessage(handler) {
    return this._events.on('message', handler);
  }

  /** @param {(payload: any) => void} handler after `auth_success` on a new socket @returns {() => void} */
  onConnect(handler) {
    return this._events.on('connect', handler);
  }

  /** @param {(code: number, reason: string) => void} handler @returns {() => void} */
  onDisconnect(handler) {
    return this._events.on('disconnect', handler);
  }

  /** @param {(state: ConnectionStateName, previous: ConnectionStateName) => void} handler @returns {() => void} */
  onStateChange(handler) {
    return this._events.on('statechange', handler);
  }

  /** @param {(entries: import('./messageQueue.js').QueueEntry[]) => void} handler @returns {() => void} */
  onQueueChange(handler) {
    return this._events.on('queuechange', handler);
  }

  /**
   * Presence changes, once per frame that carries any: an `operator_status`
   * gives one, an `operators_changed` (1.1, a window of changes coalesced by the
   * server) gives each operator once in its latest state. Apply them in order
   * over `auth_success.operators`.
   * @param {(changes: import('./protocol.js').OperatorPresence[], frame: any) => void} handler
   * @returns {() => void} unsubscribe
   */
  onPresence(handler) {
    return this._events.on('message', (/** @type {any} */ frame) => {
      const changes = presenceChanges(frame);
      if (changes.length > 0) handler(changes, frame);
    });
  }

  /**
   * Frames of one server type.
   * @param {string} type
   * @param {(payload: any, frame: any) => void} handler called with the frame's payload and the frame
   * @returns {() => void} unsubscribe
   */
  on(type, handler) {
    return this._frames.on(type, handler);
  }

  /** Authenticated on a new socket: catch up on every joined conversation, then flush in order. @param {any} payload */
  _connected(payload) {
    this._adoptAdmin(payload.admin_id);
    const instance = payload.server_instance;
    if (typeof instance === 'string') {
      // Another run of the server, maybe on another store: catch-up by seq would skip or repeat.
      if (this._serverInstance !== null && instance !== this._serverInstance) this.conversations.forgetSeqs();
      this._serverInstance = instance;
    }
    for (const id of this.conversations.joined()) this._join(id, this.conversations.beginCatchUp(id));
    this._outbox.flush();
    this._events.emit('connect', payload);
  }

  /** @param {Frame} frame */
  _receive(frame) {
    const payload = /** @type {any} */ (frame.payload);
    if (frame.type === S.CONVERSATION_JOINED) this._joined(payload, frame.ref);
    else if (frame.type === S.CONVERSATION_LEFT) this.conversations.leave(payload.line_user_id);
    else if (frame.type === S.MESSAGE_SENT || frame.type === S.MESSAGE_RECEIVED || frame.type === S.MESSAGE_UPDATED) {
      this.conversations.noteMessage(payload.message);
    }
    this._outbox.handle(frame);
    this._events.emit('message', frame);
    this._frames.emit(frame.type, frame.payload, frame);
  }

  /** @param {any} payload @param {string | undefined} ref */
  _joined(payload, ref) {
    const catchUp = ref !== undefined && this._joins.get(ref) === true;
    if (ref !== undefined) this._joins.delete(ref);
    const next = this.conversations.applyJoined(payload, catchUp);
    if (next !== undefined) this._join(payload.line_user_id, next);
  }

  /**
   * @param {string} lineUserId
   * @param {import('./conversationTracker.js').Cursor | undefined} cursor `after_rev` or `after_seq`; none for the latest history
   * @returns {string | null}
   */
  _join(lineUserId, cursor) {
    const ref = this.connection.send(C.JOIN_CONVERSATION, { line_user_id: lineUserId, ...cursor });
    if (ref !== null) this._joins.set(ref, cursor !== undefined);
    return ref;
  }

  /** The operator became known: use their queue, carrying what was queued before. @param {unknown} adminId */
  _adoptAdmin(adminId) {
    if (typeof adminId !== 'string' || adminId === '' || adminId === this._adminId) return;
    const wasUnknown = this._adminId === null;
    this._adminId = adminId;
    this.queue.useKey(queueStorageKey(this.url, adminId), { carry: wasUnknown });
  }
}

/**
 * The ids of a sticker, as strings of digits (LINE's package and sticker ids are).
 * @param {unknown} sticker
 * @returns {{package_id: string, sticker_id: string}}
 */
function stickerRef(sticker) {
  const s = /** @type {Record<string, unknown> | null} */ (sticker && typeof sticker === 'object' ? sticker : null);
  const id = (/** @type {unknown} */ value) => (typeof value === 'number' && Number.isInteger(value) && value >= 0 ? String(value) : value);
  const packageId = id(s?.package_id);
  const stickerId = id(s?.sticker_id);
  if (typeof packageId !== 'string' || !/^\d{1,20}$/.test(packageId) || typeof stickerId !== 'string' || !/^\d{1,20}$/.test(stickerId)) {
    throw new TypeError('sticker must be {package_id, sticker_id}, each a string of digits');
  }
  return { package_id: packageId, sticker_id: stickerId };
}

/** The name the Next.js design gives the client class (lib/websocket/client.ts): the same class. */
export { LiveChatClient as LiveChatWebSocketClient };
