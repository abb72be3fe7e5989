/**
 * The conversations a client has joined and, for each, the highest `seq` it
 * has seen without a gap: after a reconnect it re-joins each with
 * `after_seq` = that seq and pages on while `has_more` is true.
 *
 * While a catch-up is paging, live messages (which are newer than every
 * page) are held apart: counting them at once would make the next page skip
 * what lies between. They count when the catch-up ends.
 *
 * @module conversationTracker
 */

/**
 * @typedef {object} TrackedConversation
 * @property {number | undefined} seq highest seq seen without a gap; undefined before the first `conversation_joined`
 * @property {boolean} catchingUp
 * @property {number | undefined} liveSeq highest live seq seen while catching up
 */

/**
 * @param {number | undefined} a
 * @param {unknown} b
 * @returns {number | undefined}
 */
function maxSeq(a, b) {
  if (typeof b !== 'number' || !Number.isFinite(b)) return a;
  return a === undefined ? b : Math.max(a, b);
}

export class ConversationTracker {
  constructor() {
    /** @type {Map<string, TrackedConversation>} */
    this._conversations = new Map();
  }

  /** @param {string} lineUserId */
  join(lineUserId) {
    if (!this._conversations.has(lineUserId)) {
      this._conversations.set(lineUserId, { seq: undefined, catchingUp: false, liveSeq: undefined });
    }
  }

  /** @param {string} lineUserId */
  leave(lineUserId) {
    this._conversations.delete(lineUserId);
  }

  /** @param {string} lineUserId */
  has(lineUserId) {
    return this._conversations.has(lineUserId);
  }

  /** @returns {string[]} joined conversations, in join order */
  joined() {
    return [...this._conversations.keys()];
  }

  /**
   * @param {string} lineUserId
   * @returns {number | undefined} highest seq seen without a gap
   */
  lastSeq(lineUserId) {
    return this._conversations.get(lineUserId)?.seq;
  }

  /**
   * A live message (`message_received` or `message_sent`).
   * @param {{line_user_id?: string, seq?: number} | null | undefined} message
   */
  noteMessage(message) {
    const c = message?.line_user_id ? this._conversations.get(message.line_user_id) : undefined;
    if (!c) return;
    if (c.catchingUp) c.liveSeq = maxSeq(c.liveSeq, message?.seq);
    else c.seq = maxSeq(c.seq, message?.seq);
  }

  /** Forget every seq (the server is another run, maybe with another store): the next joins ask for the latest history. */
  forgetSeqs() {
    for (const c of this._conversations.values()) {
      c.seq = undefined;
      c.catchingUp = false;
      c.liveSeq = undefined;
    }
  }

  /**
   * A reconnect starts: the `after_seq` to re-join with.
   * @param {string} lineUserId
   * @returns {number | undefined} undefined when nothing was seen yet (join for the latest history)
   */
  beginCatchUp(lineUserId) {
    const c = this._conversations.get(lineUserId);
    if (!c) return undefined;
    c.liveSeq = undefined;
    c.catchingUp = c.seq !== undefined;
    return c.seq;
  }

  /**
   * Apply a `conversation_joined` payload.
   *
   * @param {{line_user_id: string, last_seq?: number, messages?: Array<{seq?: number}>, has_more?: boolean}} payload
   * @param {boolean} catchUp whether it answers a join with `after_seq`
   * @returns {number | undefined} the `after_seq` of the next page, or undefined when done
   */
  applyJoined(payload, catchUp) {
    this.join(payload.line_user_id);
    const c = /** @type {TrackedConversation} */ (this._conversations.get(payload.line_user_id));
    let pageSeq;
    for (const message of payload.messages ?? []) pageSeq = maxSeq(pageSeq, message?.seq);
    if (!catchUp) {
      // The latest history: everything up to last_seq is known.
      c.seq = maxSeq(maxSeq(c.seq, pageSeq), payload.last_seq);
      return undefined;
    }
    const before = c.seq;
    c.seq = maxSeq(c.seq, pageSeq);
    if (payload.has_more && c.seq !== undefined && c.seq !== before) return c.seq;
    c.seq = maxSeq(c.seq, c.liveSeq);
    c.catchingUp = false;
    c.liveSeq = undefined;
    return undefined;
  }
}
