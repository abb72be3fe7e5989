/**
 * Names and constants of the live chat wire protocol (PROTOCOL.md, version 1.1).
 *
 * Every value here is part of the contract with the server: they are frozen,
 * and a change means a new protocol version.
 *
 * @module protocol
 */

/** The protocol version this client speaks; the server's Python constant must match. */
export const PROTOCOL_VERSION = '1.1';

/** Frame types a client sends. */
export const ClientFrameType = Object.freeze({
  AUTH: 'auth',
  JOIN_CONVERSATION: 'join_conversation',
  LEAVE_CONVERSATION: 'leave_conversation',
  TYPING_START: 'typing_start',
  TYPING_STOP: 'typing_stop',
  MESSAGE_SEND: 'message_send',
  PING: 'ping',
  // 1.1: the team workflow
  CONVERSATION_ASSIGN: 'conversation_assign',
  CONVERSATION_RESOLVE: 'conversation_resolve',
  CONVERSATION_REOPEN: 'conversation_reopen',
  MARK_READ: 'mark_read',
  NOTE_SEND: 'note_send',
});

/** Frame types the server sends. */
export const ServerFrameType = Object.freeze({
  AUTH_SUCCESS: 'auth_success',
  AUTH_ERROR: 'auth_error',
  CONVERSATION_JOINED: 'conversation_joined',
  CONVERSATION_LEFT: 'conversation_left',
  MESSAGE_RECEIVED: 'message_received',
  MESSAGE_UPDATED: 'message_updated', // 1.1
  MESSAGE_SENT: 'message_sent',
  USER_TYPING: 'user_typing',
  CONVERSATION_UPDATED: 'conversation_updated',
  OPERATOR_STATUS: 'operator_status',
  OPERATORS_CHANGED: 'operators_changed', // 1.1: presence changes coalesced
  NOTIFICATION: 'notification',
  PONG: 'pong',
  ERROR: 'error',
});

/** Every frame type, both directions. */
export const FrameType = Object.freeze({ ...ClientFrameType, ...ServerFrameType });

/** WebSocket close codes (PROTOCOL.md, "Heartbeat and close codes"). */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  ABNORMAL: 1006,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  UNAUTHORIZED: 4001,
  HEARTBEAT_TIMEOUT: 4002,
  RATE_LIMIT_ABUSE: 4008,
});

/** The `code` of an `error` frame. */
export const ErrorCode = Object.freeze({
  BAD_FRAME: 'bad_frame',
  INVALID_JSON: 'invalid_json',
  INVALID_MESSAGE: 'invalid_message',
  UNKNOWN_TYPE: 'unknown_type',
  NOT_AUTHENTICATED: 'not_authenticated',
  FORBIDDEN: 'forbidden',
  RATE_LIMITED: 'rate_limited',
  DELIVERY_FAILED: 'delivery_failed',
  INTERNAL_ERROR: 'internal_error',
});

/** The `code` of an `auth_error` frame. */
export const AuthErrorCode = Object.freeze({
  INVALID_TOKEN: 'invalid_token',
  TOKEN_EXPIRED: 'token_expired',
  AUTH_TIMEOUT: 'auth_timeout',
});

/** A conversation's `status` (1.1). */
export const ConversationStatus = Object.freeze({
  OPEN: 'open',
  RESOLVED: 'resolved',
});

/** Limits the server validates; checking them here keeps a bad send out of the queue. */
export const Limits = Object.freeze({
  TEXT_MAX_CHARS: 5000,
  CLIENT_MSG_ID_MAX_CHARS: 64,
  REF_MAX_CHARS: 64,
});

/**
 * @typedef {object} Frame
 * @property {string} type
 * @property {Record<string, unknown>} payload
 * @property {string} [ref]
 * @property {string} [timestamp] set by the server only
 */

/**
 * Build a client frame. The timestamp is left out: the server ignores it.
 *
 * @param {string} type a frame type, e.g. `ClientFrameType.PING`
 * @param {Record<string, unknown>} [payload] defaults to `{}`
 * @param {string | number} [ref] correlation id, copied by the server into its direct answer
 * @returns {Frame}
 * @throws {TypeError} when `type` is not a non-empty string or `ref` is too long
 */
export function makeFrame(type, payload = {}, ref = undefined) {
  if (typeof type !== 'string' || type === '') {
    throw new TypeError('frame type must be a non-empty string');
  }
  /** @type {Frame} */
  const frame = { type, payload: payload ?? {} };
  if (ref !== undefined && ref !== null) {
    const text = String(ref);
    if (text.length > Limits.REF_MAX_CHARS) {
      throw new TypeError(`ref is longer than ${Limits.REF_MAX_CHARS} characters`);
    }
    frame.ref = text;
  }
  return frame;
}

/**
 * Parse a text frame from the server.
 *
 * @param {unknown} data the `MessageEvent.data` of the socket
 * @returns {import('./protocol.js').ServerFrame | null} null for binary data, invalid JSON or a frame without a type
 */
export function parseFrame(data) {
  if (typeof data !== 'string') return null;
  let value;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || typeof value.type !== 'string') return null;
  if (value.payload === null || typeof value.payload !== 'object') value.payload = {};
  return value;
}

/**
 * The presence changes a server frame carries (PROTOCOL.md 1.1, "Presence at
 * scale"): the payload of an `operator_status`, the `operators` of an
 * `operators_changed` (each operator once, in its latest state), none for any
 * other frame. A 1.1 client handles both kinds.
 * @param {{type: string, payload?: any}} frame
 * @returns {Array<{admin_id: string, status: 'online' | 'offline', last_seen?: string | null, name?: string}>}
 */
export function presenceChanges(frame) {
  const payload = frame?.payload;
  if (frame?.type === ServerFrameType.OPERATOR_STATUS && payload && typeof payload.admin_id === 'string') return [payload];
  if (frame?.type === ServerFrameType.OPERATORS_CHANGED && Array.isArray(payload?.operators)) {
    return payload.operators.filter((/** @type {any} */ o) => o && typeof o.admin_id === 'string');
  }
  return [];
}
