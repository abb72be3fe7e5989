// @ts-check
/**
 * `notification` frames: a notification centre behind the bell keeps them all
 * (unseen ones counted on the bell); a few show as toasts, which never cover
 * the conversation's header or composer; a system notification while the page
 * is hidden and permission was granted. Opening a conversation dismisses its
 * toasts and marks its notifications seen.
 *
 * @module console/notify
 */

import { el, icon, relativeTime, fullTime } from './dom.js';

const TOAST_MS = 8000;
const MAX_TOASTS = 3;
const MAX_TOASTS_NARROW = 1;
const KEEP = 100;
const NARROW = window.matchMedia('(max-width: 760px)');
const ICONS = /** @type {Record<string, string>} */ ({
  new_message: 'chat', follow: 'user', unfollow: 'block', unsend: 'undo', error: 'alert',
});

/**
 * @typedef {{kind?: string, title?: string, body?: string, line_user_id?: string | null}} Payload
 * @typedef {{id: number, payload: Payload, at: string, seen: boolean}} Entry
 */

export class Notifier {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the toast list
   * @param {HTMLButtonElement} options.bell opens the centre
   * @param {HTMLElement} options.count the unseen count on the bell
   * @param {HTMLElement} options.centre the panel
   * @param {HTMLElement} options.list the centre's list
   * @param {HTMLElement} options.empty shown when the centre is empty
   * @param {HTMLButtonElement} options.clear
   * @param {HTMLButtonElement} options.close
   * @param {HTMLButtonElement} options.desktop asks for system notifications
   * @param {(lineUserId: string) => void} options.onOpen
   */
  constructor(options) {
    this.root = options.root;
    this.bell = options.bell;
    this.count = options.count;
    this.centre = options.centre;
    this.list = options.list;
    this.empty = options.empty;
    this.desktop = options.desktop;
    this._onOpen = options.onOpen;
    /** @type {Entry[]} newest first */
    this.entries = [];
    this._next = 1;
    this.bell.addEventListener('click', () => this.toggle());
    options.close.addEventListener('click', () => this.toggle(false));
    options.clear.addEventListener('click', () => this.clear());
    this.desktop.addEventListener('click', () => this._ask());
    this.centre.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.toggle(false);
    });
    NARROW.addEventListener('change', () => this._trim());
    this._renderCentre();
  }

  get supported() {
    return typeof Notification !== 'undefined';
  }

  /** @param {Payload} payload a `notification` frame: kept in the centre, shown as a toast */
  notify(payload) {
    const entry = { id: this._next++, payload, at: new Date().toISOString(), seen: this.isOpen };
    this.entries.unshift(entry);
    this.entries.length = Math.min(this.entries.length, KEEP);
    this._renderCentre();
    this._toast(entry);
    if (document.visibilityState === 'hidden' && this.supported && Notification.permission === 'granted') {
      try {
        const n = new Notification(payload.title || 'Live chat', { body: payload.body ?? '', tag: payload.line_user_id ?? undefined });
        n.addEventListener('click', () => {
          window.focus();
          if (payload.line_user_id) this._onOpen(payload.line_user_id);
          n.close();
        });
      } catch {
        // some platforms only allow notifications from a service worker
      }
    }
  }

  /** A message of the console itself (an error, a confirmation): a toast, not kept. @param {Payload} payload */
  toast(payload) {
    this._toast({ id: this._next++, payload, at: new Date().toISOString(), seen: true });
  }

  /** The conversation was opened: its toasts go, its notifications are seen. @param {string} lineUserId */
  dismissFor(lineUserId) {
    for (const item of [...this.root.children]) {
      if (/** @type {HTMLElement} */ (item).dataset.lineUserId === lineUserId) item.remove();
    }
    let changed = false;
    for (const entry of this.entries) {
      if (entry.payload.line_user_id === lineUserId && !entry.seen) {
        entry.seen = true;
        changed = true;
      }
    }
    if (changed) this._renderCentre();
  }

  get isOpen() {
    return !this.centre.hidden;
  }

  /** @param {boolean} [open] */
  toggle(open = !this.isOpen) {
    this.centre.hidden = !open;
    this.bell.setAttribute('aria-expanded', String(open));
    if (open) {
      for (const entry of this.entries) entry.seen = true;
      this.root.replaceChildren(); // everything is in view now
      this._renderCentre();
      /** @type {HTMLElement | null} */ (this.centre.querySelector('button'))?.focus();
    } else {
      this._renderCentre();
      this.bell.focus();
    }
  }

  clear() {
    this.entries = [];
    this._renderCentre();
  }

  _renderCentre() {
    const unseen = this.entries.filter((e) => !e.seen).length;
    this.count.hidden = unseen === 0;
    this.count.textContent = unseen > 99 ? '99+' : String(unseen);
    const label = unseen ? `Notifications, ${unseen} new` : 'Notifications';
    this.bell.setAttribute('aria-label', label);
    this.bell.title = label;
    this.empty.hidden = this.entries.length > 0;
    this.list.replaceChildren(...this.entries.map((entry) => this._row(entry)));
    const permission = this.supported ? Notification.permission : 'unsupported';
    this.desktop.hidden = permission === 'unsupported';
    this.desktop.textContent = {
      granted: 'Desktop notifications are on',
      denied: 'Desktop notifications are blocked in the browser',
      default: 'Turn on desktop notifications',
    }[/** @type {'granted' | 'denied' | 'default'} */ (permission)] ?? '';
    this.desktop.disabled = permission !== 'default';
  }

  /** @param {Entry} entry */
  _row(entry) {
    const li = el('li', `notif${entry.seen ? '' : ' unseen'}`);
    const button = /** @type {HTMLButtonElement} */ (el('button', 'notif-main'));
    button.type = 'button';
    button.append(...this._content(entry.payload));
    const time = el('time', 'notif-time', relativeTime(entry.at));
    time.setAttribute('datetime', entry.at);
    time.title = fullTime(entry.at);
    button.append(time);
    const id = entry.payload.line_user_id;
    button.disabled = !id;
    if (id) {
      button.addEventListener('click', () => {
        this.toggle(false);
        this._onOpen(id);
      });
    }
    li.append(button);
    return li;
  }

  /** @param {Payload} payload @returns {HTMLElement[]} */
  _content(payload) {
    const badge = el('span', 'toast-icon');
    badge.append(icon(ICONS[payload.kind ?? ''] ?? 'bell'));
    const text = el('span', 'toast-text');
    text.append(el('strong', 'toast-title', payload.title || 'Live chat'));
    if (payload.body) text.append(el('span', 'toast-body', payload.body));
    return [badge, text];
  }

  /** @param {Entry} entry */
  _toast(entry) {
    if (this.isOpen) return; // the centre shows it
    const { payload } = entry;
    const item = el('li', `toast toast-${payload.kind ?? 'info'}`);
    const open = /** @type {HTMLButtonElement} */ (el('button', 'toast-main'));
    open.type = 'button';
    open.append(...this._content(payload));
    const id = payload.line_user_id;
    if (id) {
      item.dataset.lineUserId = id;
      open.title = 'Open the conversation';
      open.addEventListener('click', () => this._onOpen(id));
    } else {
      open.addEventListener('click', () => item.remove());
    }
    const close = /** @type {HTMLButtonElement} */ (el('button', 'toast-close'));
    close.type = 'button';
    close.setAttribute('aria-label', 'Dismiss');
    close.append(icon('x'));
    close.addEventListener('click', () => item.remove());
    item.append(open, close);
    this.root.prepend(item);
    this._trim();
    let timer = window.setTimeout(() => item.remove(), TOAST_MS);
    item.addEventListener('mouseenter', () => window.clearTimeout(timer));
    item.addEventListener('mouseleave', () => { timer = window.setTimeout(() => item.remove(), TOAST_MS / 2); });
  }

  /** A few toasts at most (one on a phone), below whatever header is on screen. */
  _trim() {
    const max = NARROW.matches ? MAX_TOASTS_NARROW : MAX_TOASTS;
    while (this.root.children.length > max) this.root.lastElementChild?.remove();
    const header = [...document.querySelectorAll('.conv-head, .side-head')]
      .find((node) => /** @type {HTMLElement} */ (node).offsetParent !== null);
    const top = header ? header.getBoundingClientRect().bottom : 0;
    document.documentElement.style.setProperty('--toast-top', `${Math.round(top) + 8}px`);
  }

  async _ask() {
    if (!this.supported || Notification.permission !== 'default') return;
    await Notification.requestPermission();
    this._renderCentre();
  }
}
