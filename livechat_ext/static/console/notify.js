// @ts-check
/**
 * `notification` frames: an in-page toast (click opens the conversation) and,
 * while the page is hidden and permission was granted, a system notification.
 *
 * @module console/notify
 */

import { el, icon } from './dom.js';

const TOAST_MS = 8000;
const MAX_TOASTS = 4;

export class Notifier {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the toast list
   * @param {HTMLButtonElement} options.bell the button that asks for permission
   * @param {(lineUserId: string) => void} options.onOpen
   */
  constructor(options) {
    this.root = options.root;
    this.bell = options.bell;
    this._onOpen = options.onOpen;
    this.bell.addEventListener('click', () => this._ask());
    this._showBell();
  }

  get supported() {
    return typeof Notification !== 'undefined';
  }

  async _ask() {
    if (!this.supported) return;
    if (Notification.permission === 'default') await Notification.requestPermission();
    this._showBell();
    if (Notification.permission === 'denied') {
      this.toast({ title: 'Notifications are blocked', body: 'Allow them for this site in the browser settings.', kind: 'info' });
    } else if (Notification.permission === 'granted') {
      this.toast({ title: 'Desktop notifications are on', body: 'You will be notified while this tab is in the background.', kind: 'info' });
    }
  }

  _showBell() {
    const permission = this.supported ? Notification.permission : 'unsupported';
    this.bell.dataset.permission = permission;
    const labels = {
      granted: 'Desktop notifications are on',
      denied: 'Desktop notifications are blocked in the browser',
      default: 'Turn on desktop notifications',
      unsupported: 'This browser has no desktop notifications',
    };
    const label = labels[/** @type {keyof typeof labels} */ (permission)];
    this.bell.setAttribute('aria-label', label);
    this.bell.title = label;
    this.bell.setAttribute('aria-pressed', String(permission === 'granted'));
  }

  /**
   * @param {{kind?: string, title?: string, body?: string, line_user_id?: string | null}} payload
   */
  notify(payload) {
    this.toast(payload);
    if (document.visibilityState === 'hidden' && this.supported && Notification.permission === 'granted') {
      try {
        const n = new Notification(payload.title || 'Live chat', {
          body: payload.body ?? '', tag: payload.line_user_id ?? undefined,
        });
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

  /** @param {{kind?: string, title?: string, body?: string, line_user_id?: string | null}} payload */
  toast(payload) {
    const item = el('li', `toast toast-${payload.kind ?? 'info'}`);
    const open = /** @type {HTMLButtonElement} */ (el('button', 'toast-main'));
    open.type = 'button';
    const iconName = { new_message: 'chat', follow: 'user', unfollow: 'block', unsend: 'undo' }[payload.kind ?? ''] ?? 'bell';
    const badge = el('span', 'toast-icon');
    badge.append(icon(iconName));
    const text = el('span', 'toast-text');
    text.append(el('strong', 'toast-title', payload.title || 'Live chat'));
    if (payload.body) text.append(el('span', 'toast-body', payload.body));
    open.append(badge, text);
    const id = payload.line_user_id;
    if (id) {
      open.title = 'Open the conversation';
      open.addEventListener('click', () => {
        this._onOpen(id);
        item.remove();
      });
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
    while (this.root.children.length > MAX_TOASTS) this.root.lastElementChild?.remove();
    let timer = window.setTimeout(() => item.remove(), TOAST_MS);
    item.addEventListener('mouseenter', () => window.clearTimeout(timer));
    item.addEventListener('mouseleave', () => { timer = window.setTimeout(() => item.remove(), TOAST_MS / 2); });
  }
}
