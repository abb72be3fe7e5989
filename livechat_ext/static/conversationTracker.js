/**
 * The conversations a client has joined and, for each, how far it has seen
 * without a gap: the highest `rev` (protocol 1.1: every new or changed
 * message takes the next rev) and the highest `seq`. After a reconnect it
 * re-joins each with `after_rev` (or `after_seq` when the server gave no rev)
 * and pages on while `has_more` is true: new messages and changed ones
 * (statuses, unsends, reads) alike, so nothing is missed.
 *
 * While a catch-up is paging, live messages (which are newer than every
 * page) are held apart: counting them at once would make the next page skip
 * what lies between. They count when the catch-up ends.
 *
 * @module conversationTracker
 */

/**
 * @typedef {object} Position how far a conversation is known, in one ordering
 * @property {number | undefined} seen highest value seen without a gap
 * @property {number | undefined} live highest live value seen while catching up
 */

/**
 * @typedef {object} TrackedConversation
 * @property {Position} seq
 * @property {Position} rev
 * @property {boolean} catchingUp
 * @property {'after_rev' | 'after_seq' | undefined} by the cursor of the running catch-up
 */

/** @typedef {{after_rev: number} | {after_seq: number}} Cursor */

/**
 * @param {number | undefined} a
 * @param {unknown} b
 * @returns {number | undefined}
 */
function maxOf(a, b) {
  if (typeof b !== 'number' || !Number.isFinite(b)) return a;
  return a === undefined ? b : Math.max(a, b);
}

/** @returns {Position} */
const position = () => ({ seen: undefined, live: undefined });

export class ConversationTracker {
  constructor() {
    /** @type {Map<string, TrackedConversation>} */
    this._conversations = new Map();
  }

  /** @param {string} lineUserId */
  join(lineUserId) {
    if (!this._conversations.has(lineUserId)) {
      this._conversations.set(lineUserId, { seq: position(), rev: position(), catchingUp: false, by: undefined });
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

  /** @param {string} lineUserId @returns {number | undefined} highest seq seen without a gap */
  lastSeq(lineUserId) {
    return this._conversations.get(lineUserId)?.seq.seen;
  }

  /** @param {string} lineUserId @returns {number | undefined} highest rev seen without a gap */
  lastRev(lineUserId) {
    return this._conversations.get(lineUserId)?.rev.seen;
  }

  /**
   * A live message (`message_received`, `message_updated` or `message_sent`).
   * @param {{line_user_id?: string, seq?: number, rev?: number} | null | undefined} message
   */
  noteMessage(message) {
    const c = message?.line_user_id ? this._conversations.get(message.line_user_id) : undefined;
    if (!c) return;
    for (const [name, value] of /** @type {const} */ ([['seq', message?.seq], ['rev', message?.rev]])) {
      const p = c[name];
      if (c.catchingUp) p.live = maxOf(p.live, value);
      else p.seen = maxOf(p.seen, value);
    }
  }

  /** Forget every seq and rev (the server is another run, maybe with another store): the next joins ask for the latest history. */
  forgetSeqs() {
    for (const c of this._conversations.values()) {
      c.seq = position();
      c.rev = position();
      c.catchingUp = false;
      c.by = undefined;
    }
  }

  /**
   * A reconnect starts: the cursor to re-join with.
   * @param {string} lineUserId
   * @returns {Cursor | undefined} undefined when nothing was seen yet (join for the latest history)
   */
  beginCatchUp(lineUserId) {
    const c = this._conversations.get(lineUserId);
    if (!c) return undefined;
    c.seq.live = c.rev.live = undefined;
    const cursor = cursorOf(c);
    c.catchingUp = cursor !== undefined;
    c.by = cursor === undefined ? undefined : 'after_rev' in cursor ? 'after_rev' : 'after_seq';
    return cursor;
  }

  /**
   * Apply a `conversation_joined` payload.
   *
   * @param {{line_user_id: string, last_seq?: number, last_rev?: number, messages?: Array<{seq?: number, rev?: number}>, has_more?: boolean}} payload
   * @param {boolean} catchUp whether it answers a join with a cursor
   * @returns {Cursor | undefined} the cursor of the next page, or undefined when done
   */
  applyJoined(payload, catchUp) {
    this.join(payload.line_user_id);
    const c = /** @type {TrackedConversation} */ (this._conversations.get(payload.line_user_id));
    let pageSeq;
    let pageRev;
    for (const message of payload.messages ?? []) {
      pageSeq = maxOf(pageSeq, message?.seq);
      pageRev = maxOf(pageRev, message?.rev);
    }
    if (!catchUp) {
      // The latest history: everything up to last_seq and last_rev is known.
      c.seq.seen = maxOf(maxOf(c.seq.seen, pageSeq), payload.last_seq);
      c.rev.seen = maxOf(maxOf(c.rev.seen, pageRev), payload.last_rev);
      return undefined;
    }
    const key = c.by === 'after_seq' ? 'seq' : 'rev';
    const before = c[key].seen;
    c.seq.seen = maxOf(c.seq.seen, pageSeq);
    c.rev.seen = maxOf(c.rev.seen, pageRev);
    const next = c[key].seen;
    if (payload.has_more && next !== undefined && next !== before) {
      return key === 'rev' ? { after_rev: next } : { after_seq: next };
    }
    for (const p of [c.seq, c.rev]) {
      p.seen = maxOf(p.seen, p.live);
      p.live = undefined;
    }
    c.catchingUp = false;
    c.by = undefined;
    return undefined;
  }
}

/** @param {TrackedConversation} c @returns {Cursor | undefined} */
function cursorOf(c) {
  if (c.rev.seen !== undefined) return { after_rev: c.rev.seen };
  if (c.seq.seen !== undefined) return { after_seq: c.seq.seen };
  return undefined;
}
