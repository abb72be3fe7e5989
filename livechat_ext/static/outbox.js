/**
 * The sending side of the message queue, for one client: writes queued
 * messages (texts, stickers, notes) to the socket in order, each at most once per socket, and settles
 * them from the server's answers.
 *
 * - `message_sent`, or our message seen stored as `sent` (in
 *   `message_received`, `message_updated` or `conversation_joined.messages`):
 *   confirmed, removed. A note (`note_send`) is settled the same way.
 * - `error` `delivery_failed`, `invalid_message` or `forbidden`: marked failed.
 * - any other `error` answering a `message_send` (e.g. `rate_limited`, which
 *   drops the frame): written again after a short delay, same client_msg_id;
 *   after five such errors in a row, marked failed.
 * - the socket is gone: every unconfirmed entry is written again on the next
 *   socket, same client_msg_id (the server is idempotent on it).
 *
 * @module outbox
 */

import { ClientFrameType, ServerFrameType, ErrorCode } from './protocol.js';
import { makeTimers } from './timers.js';

const FATAL_SEND_ERRORS = Object.freeze([ErrorCode.DELIVERY_FAILED, ErrorCode.INVALID_MESSAGE, ErrorCode.FORBIDDEN]);
/** Transient errors in a row after which a message is marked failed rather than resent forever. */
const MAX_TRANSIENT_ERRORS = 5;

export class Outbox {
  /**
   * @param {object} options
   * @param {import('./messageQueue.js').MessageQueue} options.queue
   * @param {(type: string, payload: Record<string, unknown>) => string | null} options.send returns the frame's ref, null if not sent
   * @param {() => boolean} options.canSend whether the client is authenticated
   * @param {number} [options.resendDelayMs=1000]
   * @param {Partial<import('./timers.js').Timers>} [options.timers]
   */
  constructor(options) {
    this.queue = options.queue;
    this._send = options.send;
    this._canSend = options.canSend;
    this._resendDelayMs = options.resendDelayMs ?? 1000;
    this._timers = makeTimers(options.timers);
    /** @type {Set<string>} client_msg_ids written to the current socket */
    this._written = new Set();
    /** @type {Map<string, string>} ref of a message_send -> its client_msg_id */
    this._refs = new Map();
    /** @type {Map<string, number>} transient errors per client_msg_id */
    this._transientErrors = new Map();
    /** @type {unknown} */
    this._resendTimer = null;
  }

  /** Write every queued message not yet written to this socket, oldest first. */
  flush() {
    if (!this._canSend()) return;
    for (const entry of this.queue.sendable()) {
      if (this._written.has(entry.clientMsgId)) continue;
      const type = entry.kind === 'note' ? ClientFrameType.NOTE_SEND : ClientFrameType.MESSAGE_SEND;
      // a sticker goes as `message_send` with `sticker` instead of `text` (1.1)
      const body = entry.kind === 'sticker' && entry.sticker
        ? { sticker: { package_id: entry.sticker.package_id, sticker_id: entry.sticker.sticker_id } }
        : { text: entry.text };
      const ref = this._send(type, {
        line_user_id: entry.lineUserId,
        ...body,
        client_msg_id: entry.clientMsgId,
      });
      if (ref === null) return;
      this._written.add(entry.clientMsgId);
      this._refs.set(ref, entry.clientMsgId);
    }
  }

  /**
   * Settle entries from a server frame; other frames are ignored.
   * @param {import('./protocol.js').Frame} frame
   */
  handle(frame) {
    const payload = /** @type {any} */ (frame.payload);
    switch (frame.type) {
      case ServerFrameType.MESSAGE_SENT:
        this._transientErrors.delete(payload.client_msg_id);
        this.queue.confirm(payload.client_msg_id);
        break;
      case ServerFrameType.MESSAGE_RECEIVED:
      case ServerFrameType.MESSAGE_UPDATED:
        this._settle(payload.message);
        break;
      case ServerFrameType.CONVERSATION_JOINED:
        for (const message of payload.messages ?? []) this._settle(message);
        break;
      case ServerFrameType.ERROR:
        this._error(payload, frame.ref);
        break;
      default:
    }
  }

  /** The socket is gone: everything unconfirmed is written again on the next one. */
  reset() {
    this._written.clear();
    this._refs.clear();
    this._transientErrors.clear();
    if (this._resendTimer !== null) this._timers.clearTimeout(this._resendTimer);
    this._resendTimer = null;
  }

  /**
   * A stored copy of one of our messages: `sent` confirms, `failed` fails,
   * `pending` leaves the entry (the server is still delivering it).
   * @param {any} message
   */
  _settle(message) {
    const id = message?.client_msg_id;
    if (typeof id !== 'string' || !this.queue.get(id)) return;
    if (message.status === 'failed') {
      this._written.delete(id);
      this.queue.fail(id, ErrorCode.DELIVERY_FAILED);
    }
    else if (message.status === undefined || message.status === 'sent') this.queue.confirm(id);
  }

  /**
   * @param {any} payload
   * @param {string | undefined} ref
   */
  _error(payload, ref) {
    const id = payload.client_msg_id ?? (ref === undefined ? undefined : this._refs.get(ref));
    if (typeof id !== 'string' || !this.queue.get(id)) return;
    this._written.delete(id); // a retry, automatic or by the user, writes it again
    const errors = (this._transientErrors.get(id) ?? 0) + 1;
    if (FATAL_SEND_ERRORS.includes(payload.code) || errors >= MAX_TRANSIENT_ERRORS) {
      this._transientErrors.delete(id);
      this.queue.fail(id, `${payload.code}: ${payload.message ?? ''}`.trim());
      return;
    }
    this._transientErrors.set(id, errors);
    if (this._resendTimer === null) {
      this._resendTimer = this._timers.setTimeout(() => {
        this._resendTimer = null;
        this.flush();
      }, this._resendDelayMs);
    }
  }
}
