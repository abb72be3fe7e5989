// @ts-check
/**
 * The conversation list: REST pages plus live `conversation_updated`, newest
 * first, a filter, and unread counts (messages that arrived while the
 * conversation was not open; kept for the tab's session).
 *
 * @module console/inbox
 */

import { el, avatar, relativeTime, fullTime, plural } from './dom.js';
import { previewText } from './content.js';

const UNREAD_KEY = 'livechat_ext:console:unread';

/** @param {any} c */
export const displayName = (c) => c?.display_name || c?.line_user_id || 'Unknown user';

export class Inbox {
  /**
   * @param {object} options
   * @param {HTMLElement} options.list the <ul>
   * @param {HTMLElement} options.empty shown when nothing matches
   * @param {(lineUserId: string) => void} options.onOpen
   * @param {(total: number) => void} [options.onUnreadChange]
   */
  constructor(options) {
    this.list = options.list;
    this.empty = options.empty;
    this._onOpen = options.onOpen;
    this._onUnreadChange = options.onUnreadChange ?? (() => {});
    /** @type {Map<string, any>} */
    this.conversations = new Map();
    /** @type {Map<string, number>} */
    this.unread = new Map(Object.entries(readUnread()));
    /** @type {Map<string, HTMLLIElement>} */
    this._rows = new Map();
    this.openId = /** @type {string | null} */ (null);
    this.filter = '';
    /** @type {(adminId: string | null | undefined) => string} an operator's display name */
    this.nameOf = (id) => id ?? 'Operator';
    this.selfId = /** @type {string | null} */ (null);
    this.list.addEventListener('keydown', (event) => this._keydown(event));
  }

  /** @param {any} conversation @returns {any | undefined} the previous copy */
  upsert(conversation) {
    const before = this.conversations.get(conversation.line_user_id);
    // A REST page can be older than a live update that overtook it.
    if (before && Date.parse(before.updated_at) > Date.parse(conversation.updated_at)) return before;
    // A name once known stays shown: an update without it (profile not fetched yet) keeps it.
    if (before?.display_name && !conversation.display_name) {
      conversation = { ...conversation, display_name: before.display_name, picture_url: conversation.picture_url ?? before.picture_url };
    }
    this.conversations.set(conversation.line_user_id, conversation);
    return before;
  }

  /**
   * A live update: counts it as unread when it brings a new inbound message
   * to a conversation that is not open (or open in a hidden page).
   * @param {any} conversation
   * @param {boolean} visible whether the open conversation is on screen
   */
  live(conversation, visible) {
    const before = this.upsert(conversation);
    const message = conversation.last_message;
    const isNew = message && message.direction === 'inbound' && message.seq > (before?.last_seq ?? 0);
    const watching = conversation.line_user_id === this.openId && visible;
    if (isNew && !watching) {
      const id = conversation.line_user_id;
      // One update per message: each one that brings a new inbound message counts once.
      this.unread.set(id, (this.unread.get(id) ?? 0) + 1);
      this._saveUnread();
    }
    this.render();
  }

  /** Forget every conversation and unread count (the server restarted on other data). */
  reset() {
    this.conversations.clear();
    this.unread.clear();
    this._saveUnread();
    this.render();
  }

  /** @param {string | null} id */
  setOpen(id) {
    this.openId = id;
    if (id && this.unread.delete(id)) this._saveUnread();
    this.render();
  }

  /** @param {string} id */
  markRead(id) {
    if (this.unread.delete(id)) {
      this._saveUnread();
      this.render();
    }
  }

  /** @param {string} text */
  setFilter(text) {
    this.filter = text.trim().toLowerCase();
    this.render();
  }

  /** @returns {any[]} newest first, filtered */
  visible() {
    const all = [...this.conversations.values()].sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at));
    if (!this.filter) return all;
    return all.filter((c) => [c.display_name, c.line_user_id, c.last_message?.text]
      .some((v) => typeof v === 'string' && v.toLowerCase().includes(this.filter)));
  }

  render() {
    const focusedId = /** @type {HTMLElement | null} */ (document.activeElement)?.closest?.('[data-id]')?.getAttribute('data-id');
    const items = this.visible();
    const keep = new Set(items.map((c) => c.line_user_id));
    for (const [id, row] of this._rows) {
      if (!keep.has(id)) {
        row.remove();
        this._rows.delete(id);
      }
    }
    items.forEach((c, index) => {
      let row = this._rows.get(c.line_user_id);
      if (!row) {
        row = /** @type {HTMLLIElement} */ (el('li'));
        this._rows.set(c.line_user_id, row);
      }
      row.replaceChildren(this._button(c));
      if (this.list.children[index] !== row) this.list.insertBefore(row, this.list.children[index] ?? null);
    });
    this.empty.hidden = items.length > 0;
    this.empty.textContent = this.conversations.size === 0 ? 'No conversations yet. They appear here when a LINE user writes.' : 'No conversation matches the filter.';
    if (focusedId && this._rows.has(focusedId)) this._rows.get(focusedId)?.querySelector('button')?.focus();
    this._onUnreadChange([...this.unread.values()].reduce((a, b) => a + b, 0));
  }

  refreshTimes() {
    for (const [id, row] of this._rows) {
      const c = this.conversations.get(id);
      const time = row.querySelector('time');
      if (c && time) time.textContent = relativeTime(c.last_message?.created_at ?? c.updated_at);
    }
  }

  /** @param {any} c */
  _button(c) {
    const id = c.line_user_id;
    const unread = this.unread.get(id) ?? 0;
    const button = /** @type {HTMLButtonElement} */ (el('button', `conv${id === this.openId ? ' active' : ''}${unread ? ' unread' : ''}`));
    button.type = 'button';
    button.dataset.id = id;
    if (id === this.openId) button.setAttribute('aria-current', 'true');
    button.addEventListener('click', () => this._onOpen(id));
    const name = displayName(c);
    const face = avatar({ name: c.display_name || 'LINE user', seed: id, picture: c.picture_url });
    if (c.followed === false) face.classList.add('blocked');
    const body = el('span', 'conv-body');
    const top = el('span', 'conv-top');
    top.append(el('span', 'conv-name', name));
    if (c.followed === false) top.append(el('span', 'tag tag-blocked', 'Blocked'));
    const when = c.last_message?.created_at ?? c.updated_at;
    const time = el('time', 'conv-time', relativeTime(when));
    time.setAttribute('datetime', when);
    time.title = fullTime(when);
    top.append(time);
    const bottom = el('span', 'conv-bottom');
    const last = c.last_message;
    const preview = el('span', 'conv-preview');
    if (last?.direction === 'outbound') {
      const who = last.sender?.id && last.sender.id === this.selfId ? 'You' : this.nameOf(last.sender?.id);
      preview.append(el('span', 'conv-you', `${who}: `));
    }
    preview.append(document.createTextNode(previewText(last)));
    bottom.append(preview);
    if (unread) {
      const badge = el('span', 'badge', unread > 99 ? '99+' : String(unread));
      badge.setAttribute('aria-label', plural(unread, 'unread message'));
      bottom.append(badge);
    }
    button.append(face, body);
    body.append(top, bottom);
    return button;
  }

  /** Arrow keys move between conversations, Home/End jump. @param {KeyboardEvent} event */
  _keydown(event) {
    const buttons = /** @type {HTMLButtonElement[]} */ ([...this.list.querySelectorAll('button.conv')]);
    const index = buttons.indexOf(/** @type {any} */ (document.activeElement));
    if (index < 0) return;
    const to = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    buttons[Math.max(0, Math.min(buttons.length - 1, to))]?.focus();
  }

  _saveUnread() {
    try {
      sessionStorage.setItem(UNREAD_KEY, JSON.stringify(Object.fromEntries(this.unread)));
    } catch {
      // storage disabled
    }
  }
}

/** @returns {Record<string, number>} */
function readUnread() {
  try {
    const value = JSON.parse(sessionStorage.getItem(UNREAD_KEY) ?? '{}');
    return value && typeof value === 'object' ? value : {};
  } catch {
    return {};
  }
}
