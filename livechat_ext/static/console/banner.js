// @ts-check
/**
 * The connection banner: connecting, reconnecting (attempt n, next try in s),
 * offline with the queued count, or an authentication failure with a way to
 * paste a new token. Hidden while connected with nothing queued.
 *
 * @module console/banner
 */

import { el, icon, plural } from './dom.js';
import { ReconnectStrategy } from '../static/reconnectStrategy.js';

/** A ReconnectStrategy that remembers when the next attempt is due, for the countdown. */
export class VisibleReconnectStrategy extends ReconnectStrategy {
  /** @param {import('../static/reconnectStrategy.js').ReconnectOptions} [options] */
  constructor(options) {
    super(options);
    /** @type {number | null} epoch ms of the next attempt */
    this.nextAt = null;
  }

  nextDelay() {
    const delay = super.nextDelay();
    this.nextAt = delay === null ? null : Date.now() + delay;
    return delay;
  }
}

/**
 * @typedef {object} BannerState
 * @property {string} connection the client's state
 * @property {number} attempts
 * @property {number | null} nextAt
 * @property {number} queued
 * @property {number} failed
 * @property {string | null} authError
 * @property {boolean} everConnected
 */

export class Banner {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root
   * @param {HTMLElement} options.dot the status dot in the header
   * @param {() => void} options.onRetry
   * @param {() => void} options.onNewToken
   */
  constructor(options) {
    this.root = options.root;
    this.dot = options.dot;
    this._onRetry = options.onRetry;
    this._onNewToken = options.onNewToken;
    /** @type {BannerState} */
    this.state = { connection: 'idle', attempts: 0, nextAt: null, queued: 0, failed: 0, authError: null, everConnected: false };
    this._ticker = /** @type {number | undefined} */ (undefined);
    this._last = '';
  }

  /** @param {Partial<BannerState>} patch */
  update(patch) {
    Object.assign(this.state, patch);
    if (this.state.connection === 'connected') this.state.everConnected = true;
    this.render();
  }

  render() {
    const s = this.state;
    window.clearInterval(this._ticker);
    this._ticker = undefined;
    /** @type {{tone: string, text: string, action?: [string, () => void]} | null} */
    let view = null;
    const queued = s.queued ? ` · ${plural(s.queued, 'message')} queued` : '';
    if (s.authError) {
      view = { tone: 'error', text: `${s.authError} Sign in again to continue${queued}.`, action: ['Paste a new token', this._onNewToken] };
    } else if (s.connection === 'connecting' || s.connection === 'idle') {
      view = s.everConnected
        ? { tone: 'warn', text: `Reconnecting${s.attempts ? ` (attempt ${s.attempts})` : ''}…${queued}` }
        : { tone: 'info', text: `Connecting…${queued}` };
    } else if (s.connection === 'reconnecting') {
      const seconds = s.nextAt ? Math.max(0, Math.ceil((s.nextAt - Date.now()) / 1000)) : 0;
      const when = seconds > 0 ? `next try in ${seconds} s` : 'trying now';
      view = {
        tone: 'warn',
        text: `Offline — reconnecting (attempt ${Math.max(1, s.attempts)}, ${when})${queued || ' · messages you send are queued'}.`,
        action: ['Retry now', this._onRetry],
      };
      if (seconds > 0) this._ticker = window.setInterval(() => this.render(), 1000);
    } else if (s.connection === 'disconnected') {
      view = { tone: 'error', text: `Disconnected${queued}.`, action: ['Reconnect', this._onRetry] };
    } else if (s.failed) {
      view = { tone: 'error', text: `${plural(s.failed, 'message')} could not be delivered. Use Retry next to ${s.failed === 1 ? 'it' : 'them'}.` };
    } else if (s.queued) {
      view = { tone: 'info', text: `Sending ${plural(s.queued, 'queued message')}…` };
    }
    this.dot.dataset.state = s.authError ? 'error' : s.connection;
    this.dot.title = s.authError ? 'Signed out' : s.connection === 'connected' ? 'Connected' : s.connection;
    const signature = view ? `${view.tone}|${view.text}|${view.action?.[0] ?? ''}` : '';
    if (signature === this._last) return;
    this._last = signature;
    this.root.hidden = !view;
    this.root.dataset.tone = view?.tone ?? '';
    this.root.dataset.state = s.authError ? 'auth' : s.connection;
    if (!view) {
      this.root.replaceChildren();
      return;
    }
    const iconName = { error: 'alert', warn: 'offline', info: 'sync' }[view.tone] ?? 'sync';
    const text = el('span', 'banner-text', view.text);
    this.root.replaceChildren(icon(iconName), text);
    if (view.action) {
      const [label, handler] = view.action;
      const button = /** @type {HTMLButtonElement} */ (el('button', 'banner-action', label));
      button.type = 'button';
      button.addEventListener('click', handler);
      this.root.append(button);
    }
  }
}
