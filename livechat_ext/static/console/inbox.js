// @ts-check
/**
 * The conversation list: REST pages plus live `conversation_updated`, newest
 * first, a view (Mine, Unassigned, All open, Resolved), a filter, and the
 * server's unread counts: what nobody on the team has marked read yet, the
 * same in every browser.
 *
 * @module console/inbox
 */

import { el, avatar, relativeTime, fullTime, plural } from './dom.js';
import { previewText } from './content.js';

/** @param {any} c */
export const displayName = (c) => c?.display_name || c?.line_user_id || 'Unknown user';

/** @typedef {'mine' | 'unassigned' | 'open' | 'resolved'} View */

/** What each view shows, and how it asks the REST API for it. */
export const VIEWS = Object.freeze({
  mine: { filters: { status: 'open', assignee: 'mine' }, empty: 'Nothing is assigned to you.' },
  unassigned: { filters: { status: 'open', assignee: 'unassigned' }, empty: 'Every open conversation has someone.' },
  open: { filters: { status: 'open' }, empty: 'No open conversations.' },
  resolved: { filters: { status: 'resolved' }, empty: 'No resolved conversations.' },
});

/** @param {any} c @param {View} view @param {string | null} me */
function inView(c, view, me) {
  const open = (c.status ?? 'open') === 'open';
  if (view === 'resolved') return !open;
  if (!open) return false;
  if (view === 'mine') return c.assignee === me;
  if (view === 'unassigned') return !c.assignee;
  return true;
}

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
    /** @type {View} */
    this.view = 'open';
    this.adminId = /** @type {string | null} */ (null);
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

  /** A live update (its unread count is the server's). @param {any} conversation */
  live(conversation) {
    this.upsert(conversation);
    this.render();
  }

  /** Forget every conversation (the server restarted, maybe on other data); unread counts are the server's. */
  reset() {
    this.conversations.clear();
    this.render();
  }

  /** @param {string | null} id */
  setOpen(id) {
    this.openId = id;
    this.render();
  }

  /** @param {View} view */
  setView(view) {
    this.view = view;
    this.render();
  }

  /** @param {string} id @returns {number} unread messages nobody marked read */
  unreadOf(id) {
    return Number(this.conversations.get(id)?.unread_count ?? 0);
  }

  /** @param {string} text */
  setFilter(text) {
    this.filter = text.trim().toLowerCase();
    this.render();
  }

  /** @returns {any[]} newest first, filtered */
  visible() {
    const all = [...this.conversations.values()]
      .filter((c) => inView(c, this.view, this.adminId))
      .sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at));
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
    this.empty.textContent = this.conversations.size === 0 ? 'No conversations yet. They appear here when a LINE user writes.'
      : this.filter ? 'No conversation matches the filter.' : VIEWS[this.view].empty;
    if (focusedId && this._rows.has(focusedId)) this._rows.get(focusedId)?.querySelector('button')?.focus();
    let total = 0;
    for (const c of this.conversations.values()) if ((c.status ?? 'open') === 'open') total += this.unreadOf(c.line_user_id);
    this._onUnreadChange(total);
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
    const unread = this.unreadOf(id);
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
    if (c.status === 'resolved') top.append(el('span', 'tag tag-resolved', 'Resolved'));
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
    if (c.assignee) {
      const mine = c.assignee === this.adminId;
      const who = el('span', `conv-assignee${mine ? ' mine' : ''}`, mine ? 'You' : this.nameOf(c.assignee));
      who.title = `Assigned to ${this.nameOf(c.assignee)}`;
      bottom.append(who);
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
}
