// @ts-check
/**
 * The open conversation's messages: stored messages (by seq) merged with the
 * operator's own queued or failed sends and notes (by client_msg_id), drawn as
 * grouped bubbles with day separators. Internal notes are drawn apart, full
 * width and labelled, never as a bubble to the user; a later state of a
 * message (`message_updated`, a higher `rev`) replaces what is shown. The list is redrawn as a whole; screen readers
 * hear new messages from a separate live region, not from the redraw.
 *
 * @module console/thread
 */

import { el, icon, avatar, clockTime, fullTime, dayKey, dayLabel } from './dom.js';
import { messageContent } from './content.js';
import { linksChanged } from './media.js';

const GROUP_GAP_MS = 5 * 60_000;

/**
 * @typedef {object} Item
 * @property {string} key `c:<client_msg_id>` for outbound with an id, else `m:<id>`
 * @property {number} seq Infinity while only queued
 * @property {'inbound' | 'outbound' | 'internal'} direction
 * @property {string} author admin id for outbound, the user for inbound
 * @property {string} kind
 * @property {string | null} text
 * @property {Record<string, any>} data
 * @property {string} createdAt
 * @property {'received' | 'pending' | 'sent' | 'failed'} status
 * @property {string | null} clientMsgId
 * @property {string | null} error
 * @property {boolean} retryable
 */

/** @param {any} m @returns {string} */
const keyOf = (m) => (m.direction !== 'inbound' && m.client_msg_id ? `c:${m.client_msg_id}` : `m:${m.id}`);

export class Thread {
  /**
   * @param {object} options
   * @param {HTMLElement} options.list the <ol>
   * @param {HTMLElement} options.scroller the element that scrolls
   * @param {(clientMsgId: string) => void} options.onRetry
   * @param {() => void} options.onLoadOlder
   */
  constructor(options) {
    this.list = options.list;
    this.scroller = options.scroller;
    this._onRetry = options.onRetry;
    this._onLoadOlder = options.onLoadOlder;
    /** @type {Map<string, any>} stored messages by key */
    this._stored = new Map();
    /** @type {Map<string, any>} queue entries of this conversation by key */
    this._queued = new Map();
    this.conversation = /** @type {any} */ (null);
    this.adminId = /** @type {string | null} */ (null);
    /** @type {(adminId: string) => string} an operator's display name */
    this.nameOf = (id) => id;
    this.hasMore = false;
    this.loadingOlder = false;
    this.loaded = false;
  }

  /** @param {any} conversation */
  reset(conversation) {
    this.conversation = conversation;
    this._stored.clear();
    this._queued.clear();
    this.hasMore = false;
    this.loadingOlder = false;
    this.loaded = false;
    this.list.replaceChildren();
  }

  /** Lowest stored seq, for paging older history. */
  get oldestSeq() {
    let min = Infinity;
    for (const m of this._stored.values()) min = Math.min(min, m.seq);
    return Number.isFinite(min) ? min : null;
  }

  /** Highest stored seq of a message from the user (what marking read covers), or 0. */
  get lastInboundSeq() {
    let max = 0;
    for (const m of this._stored.values()) if (m.direction === 'inbound') max = Math.max(max, m.seq);
    return max;
  }

  /**
   * @param {any[]} messages
   * @returns {any[]} those not shown before
   */
  merge(messages) {
    const fresh = [];
    for (const m of messages) {
      if (!m || typeof m.seq !== 'number') continue;
      const key = keyOf(m);
      const before = this._stored.get(key);
      if (!before) fresh.push(m);
      const newer = (m.rev ?? 0) > (before?.rev ?? 0); // a later change: unsent, read, delivered
      // fresh content links (a join after they expired) replace the old ones too
      const relinked = before && linksChanged(before.data, m.data);
      if (!before || newer || relinked || before.seq !== m.seq || before.status !== m.status) this._stored.set(key, m);
    }
    return fresh;
  }

  /** @param {any[]} entries the client's queue entries (every conversation) */
  setQueue(entries) {
    this._queued.clear();
    const id = this.conversation?.line_user_id;
    for (const e of entries) if (e.lineUserId === id) this._queued.set(`c:${e.clientMsgId}`, e);
  }

  /** @returns {Item[]} */
  items() {
    /** @type {Item[]} */
    const items = [];
    for (const [key, m] of this._stored) {
      const queued = this._queued.get(key);
      let status = m.status;
      if (queued) status = queued.status === 'failed' ? 'failed' : 'pending';
      items.push({
        key, seq: m.seq, direction: m.direction, author: m.sender?.id ?? (m.direction === 'inbound' ? 'user' : 'operator'),
        kind: m.kind, text: m.text, data: m.data ?? {}, createdAt: m.created_at, status,
        clientMsgId: m.client_msg_id ?? null, error: queued?.error ?? m.error ?? null,
        retryable: status === 'failed' && Boolean(m.client_msg_id) && (m.text != null || (m.kind === 'sticker' && Boolean(m.data?.sticker_id))),
      });
    }
    for (const [key, e] of this._queued) {
      if (this._stored.has(key)) continue;
      const note = e.kind === 'note';
      const sticker = e.kind === 'sticker' && e.sticker;
      items.push({
        key, seq: Infinity, direction: note ? 'internal' : 'outbound', author: this.adminId ?? 'you',
        kind: note ? 'note' : sticker ? 'sticker' : 'text', text: sticker ? null : e.text,
        data: sticker ? { package_id: e.sticker.package_id, sticker_id: e.sticker.sticker_id } : {},
        createdAt: e.createdAt, status: e.status === 'failed' ? 'failed' : 'pending',
        clientMsgId: e.clientMsgId, error: e.error ?? null, retryable: e.status === 'failed',
      });
    }
    return items.sort((a, b) => a.seq - b.seq || Date.parse(a.createdAt) - Date.parse(b.createdAt));
  }

  /**
   * Redraw. `mode` says how to keep the scroll position: `bottom` follows new
   * messages when the reader was at the end, `prepend` keeps the view still
   * while older history appears above.
   * @param {'auto' | 'bottom' | 'prepend'} [mode]
   */
  render(mode = 'auto') {
    const sc = this.scroller;
    const atEnd = sc.scrollHeight - sc.scrollTop - sc.clientHeight < 80;
    const fromBottom = sc.scrollHeight - sc.scrollTop;
    const items = this.items();
    const fragment = document.createDocumentFragment();
    if (this.hasMore || this.loadingOlder) fragment.append(this._olderRow());
    else if (this.loaded && items.length > 0) fragment.append(el('li', 'thread-start', 'Start of the conversation'));
    if (this.loaded && items.length === 0) {
      fragment.append(el('li', 'thread-empty', 'No messages yet. Say hello — your reply goes to the user on LINE.'));
    }
    let lastDay = '';
    items.forEach((item, i) => {
      const day = dayKey(item.createdAt);
      if (day !== lastDay) {
        const sep = el('li', 'day');
        sep.append(el('span', '', dayLabel(item.createdAt)));
        fragment.append(sep);
        lastDay = day;
      }
      const prev = items[i - 1];
      const next = items[i + 1];
      fragment.append(this._row(item, !sameGroup(prev, item), !sameGroup(item, next)));
    });
    this.list.replaceChildren(fragment);
    if (mode === 'prepend') sc.scrollTop = sc.scrollHeight - fromBottom;
    else if (mode === 'bottom' || atEnd) sc.scrollTop = sc.scrollHeight;
  }

  _olderRow() {
    const li = el('li', 'older');
    const button = /** @type {HTMLButtonElement} */ (el('button', 'ghost small', this.loadingOlder ? 'Loading…' : 'Load earlier messages'));
    button.type = 'button';
    button.disabled = this.loadingOlder;
    button.addEventListener('click', () => this._onLoadOlder());
    li.append(button);
    return li;
  }

  /** @param {Item} item @param {boolean} first @param {boolean} last */
  _row(item, first, last) {
    if (item.direction === 'internal') return this._note(item);
    const out = item.direction === 'outbound';
    const li = el('li', `msg ${out ? 'out' : 'in'}${first ? ' first' : ''}${last ? ' last' : ''} status-${item.status}`);
    li.dataset.key = item.key;
    if (item.clientMsgId) li.dataset.clientMsgId = item.clientMsgId;
    if (Number.isFinite(item.seq)) li.dataset.seq = String(item.seq);
    if (first && out) {
      const name = this.nameOf(item.author);
      li.append(el('span', 'msg-author', item.author === this.adminId ? `${name} (you)` : name));
    }
    const line = el('div', 'msg-line');
    if (!out) {
      const name = this.conversation?.display_name || this.conversation?.line_user_id || 'User';
      const slot = el('span', 'msg-avatar');
      if (last) slot.append(avatar({ name, seed: this.conversation?.line_user_id ?? name, picture: this.conversation?.picture_url, size: 'sm' }));
      line.append(slot);
    }
    const { node, bare } = messageContent(item);
    const bubble = el('div', bare ? 'bubble bare' : 'bubble');
    bubble.append(node);
    line.append(bubble);
    li.append(line);
    li.append(this._meta(item));
    return li;
  }

  /** An internal note: its own row, labelled, so it never passes for a message to the user. @param {Item} item */
  _note(item) {
    const li = el('li', `msg internal first last status-${item.status}`);
    li.dataset.key = item.key;
    if (item.clientMsgId) li.dataset.clientMsgId = item.clientMsgId;
    if (Number.isFinite(item.seq)) li.dataset.seq = String(item.seq);
    const bubble = el('div', 'bubble');
    const who = item.author === this.adminId ? 'you' : item.author;
    bubble.append(el('span', 'note-label', `Internal note by ${who} · only your team sees this`));
    bubble.append(messageContent({ ...item, kind: 'note' }).node);
    li.append(bubble, this._meta(item));
    return li;
  }

  /** @param {Item} item */
  _meta(item) {
    const meta = el('div', 'msg-meta');
    const time = el('time', '', clockTime(item.createdAt));
    time.setAttribute('datetime', item.createdAt);
    time.title = fullTime(item.createdAt);
    meta.append(time);
    if (item.direction === 'inbound') {
      // marked read by the team: the user sees "Read" in LINE too
      if (item.data.read === true) meta.append(el('span', 'read-mark', 'Read'));
      return meta;
    }
    if (item.direction === 'internal' && item.status === 'sent') return meta;
    const labels = { pending: 'Sending', sent: 'Sent', failed: 'Not delivered', received: '' };
    const icons = { pending: 'clock', sent: 'check', failed: 'alert', received: 'check' };
    const status = el('span', `status status-${item.status}`);
    status.append(icon(icons[item.status]));
    status.append(el('span', item.status === 'failed' ? '' : 'visually-hidden', labels[item.status]));
    if (item.error && item.status === 'failed') status.title = item.error;
    meta.append(status);
    if (item.retryable && item.clientMsgId) {
      const id = item.clientMsgId;
      const retry = /** @type {HTMLButtonElement} */ (el('button', 'retry', 'Retry'));
      retry.type = 'button';
      retry.addEventListener('click', () => this._onRetry(id));
      meta.append(retry);
    }
    return meta;
  }
}

/** @param {Item | undefined} a @param {Item | undefined} b */
function sameGroup(a, b) {
  if (!a || !b) return false;
  if (a.direction !== b.direction || a.author !== b.author) return false;
  if (dayKey(a.createdAt) !== dayKey(b.createdAt)) return false;
  return Math.abs(Date.parse(b.createdAt) - Date.parse(a.createdAt)) < GROUP_GAP_MS;
}
