// @ts-check
/**
 * The sticker picker of the composer: LINE's free stickers by package (tabs),
 * each a button. Keyboard: the toggle opens it on the first sticker; arrows
 * move in the grid (Home/End to the ends), Left/Right between the package
 * tabs; Enter or Space sends; Esc closes and gives focus back to the toggle.
 * A sticker whose image cannot load (LINE's CDN out of reach) shows its number.
 *
 * @module console/stickers
 */

import { el } from './dom.js';
import { STICKER_PACKAGES, stickerIds, stickerImageUrl } from './media.js';

export class StickerPicker {
  /**
   * @param {object} options
   * @param {HTMLButtonElement} options.toggle
   * @param {HTMLElement} options.panel
   * @param {(sticker: {package_id: string, sticker_id: string}) => boolean} options.onPick true when it was sent
   */
  constructor(options) {
    this.toggle = options.toggle;
    this.panel = options.panel;
    this._onPick = options.onPick;
    this.pack = STICKER_PACKAGES[0].id;
    this.tabs = el('div', 'sticker-tabs');
    this.tabs.setAttribute('role', 'tablist');
    this.tabs.setAttribute('aria-label', 'Sticker packages');
    this.grid = el('div', 'sticker-grid');
    this.grid.id = 'sticker-grid';
    this.grid.setAttribute('role', 'tabpanel');
    this.panel.replaceChildren(this.tabs, this.grid);
    for (const pack of STICKER_PACKAGES) {
      const tab = /** @type {HTMLButtonElement} */ (el('button', 'sticker-tab', pack.title));
      tab.type = 'button';
      tab.id = `sticker-tab-${pack.id}`;
      tab.dataset.pack = pack.id;
      tab.setAttribute('role', 'tab');
      tab.setAttribute('aria-controls', this.grid.id);
      tab.addEventListener('click', () => this.show(pack.id, false));
      this.tabs.append(tab);
    }
    this.toggle.addEventListener('click', () => (this.isOpen ? this.close(true) : this.open()));
    this.tabs.addEventListener('keydown', (e) => this._tabKey(e));
    this.grid.addEventListener('keydown', (e) => this._gridKey(e));
    this.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        this.close(true);
      }
    });
    document.addEventListener('pointerdown', (e) => {
      const target = /** @type {Node} */ (e.target);
      if (this.isOpen && !this.panel.contains(target) && !this.toggle.contains(target)) this.close(false);
    });
    this.panel.addEventListener('focusout', (e) => {
      const next = /** @type {Node | null} */ (e.relatedTarget);
      if (this.isOpen && next && !this.panel.contains(next) && !this.toggle.contains(next)) this.close(false);
    });
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  /** @param {boolean} enabled @param {string} [why] the toggle's tooltip while disabled */
  setEnabled(enabled, why) {
    this.toggle.disabled = !enabled;
    this.toggle.title = enabled ? 'Send a sticker' : why ?? 'Stickers are not available';
    if (!enabled) this.close(false);
  }

  open() {
    if (this.toggle.disabled) return;
    this.panel.hidden = false;
    this.toggle.setAttribute('aria-expanded', 'true');
    this.show(this.pack, true);
  }

  /** @param {boolean} refocus give focus back to the toggle */
  close(refocus) {
    if (!this.isOpen) return;
    this.panel.hidden = true;
    this.toggle.setAttribute('aria-expanded', 'false');
    if (refocus) this.toggle.focus();
  }

  /** Show a package's stickers. @param {string} packId @param {boolean} focusSticker */
  show(packId, focusSticker) {
    const pack = STICKER_PACKAGES.find((p) => p.id === packId) ?? STICKER_PACKAGES[0];
    this.pack = pack.id;
    for (const tab of this._tabs()) {
      const selected = tab.dataset.pack === pack.id;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
    }
    this.grid.setAttribute('aria-labelledby', `sticker-tab-${pack.id}`);
    if (this.grid.dataset.pack !== pack.id) {
      this.grid.dataset.pack = pack.id;
      const ids = stickerIds(pack);
      this.grid.replaceChildren(...ids.map((id, i) => this._sticker(pack, id, i, ids.length)));
    }
    if (focusSticker) (this._stickers().find((b) => b.tabIndex === 0) ?? this._stickers()[0])?.focus();
  }

  /**
   * @param {{id: string, title: string}} pack
   * @param {string} id
   * @param {number} index
   * @param {number} count
   */
  _sticker(pack, id, index, count) {
    const button = /** @type {HTMLButtonElement} */ (el('button', 'sticker-choice'));
    button.type = 'button';
    button.tabIndex = index === 0 ? 0 : -1;
    button.dataset.packageId = pack.id;
    button.dataset.stickerId = id;
    button.setAttribute('aria-label', `${pack.title} sticker ${index + 1} of ${count}`);
    const img = /** @type {HTMLImageElement} */ (el('img'));
    img.alt = '';
    img.loading = 'lazy';
    img.decoding = 'async';
    img.referrerPolicy = 'no-referrer';
    img.addEventListener('error', () => img.replaceWith(el('span', 'sticker-fallback', String(index + 1))), { once: true });
    img.src = stickerImageUrl(id);
    button.append(img);
    button.addEventListener('click', () => {
      if (this._onPick({ package_id: pack.id, sticker_id: id })) this.close(true);
    });
    return button;
  }

  /** @returns {HTMLButtonElement[]} */
  _tabs() {
    return /** @type {HTMLButtonElement[]} */ ([...this.tabs.querySelectorAll('button[role=tab]')]);
  }

  /** @returns {HTMLButtonElement[]} */
  _stickers() {
    return /** @type {HTMLButtonElement[]} */ ([...this.grid.querySelectorAll('button.sticker-choice')]);
  }

  /** Stickers per row, as laid out now. */
  _columns() {
    const items = this._stickers();
    if (items.length === 0) return 1;
    const top = items[0].offsetTop;
    const n = items.findIndex((b) => b.offsetTop !== top);
    return n <= 0 ? items.length : n;
  }

  /** @param {KeyboardEvent} e */
  _tabKey(e) {
    const tabs = this._tabs();
    const at = tabs.findIndex((t) => t === document.activeElement);
    if (at < 0) return;
    let next = -1;
    if (e.key === 'ArrowRight') next = (at + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') next = (at - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = tabs.length - 1;
    else if (e.key === 'ArrowDown') {
      e.preventDefault();
      (this._stickers().find((b) => b.tabIndex === 0) ?? this._stickers()[0])?.focus();
      return;
    }
    if (next < 0) return;
    e.preventDefault();
    const pack = /** @type {string} */ (tabs[next].dataset.pack);
    this.show(pack, false);
    tabs[next].focus();
  }

  /** @param {KeyboardEvent} e */
  _gridKey(e) {
    const items = this._stickers();
    const at = items.findIndex((b) => b === document.activeElement);
    if (at < 0) return;
    const cols = this._columns();
    let next = at;
    if (e.key === 'ArrowRight') next = at + 1;
    else if (e.key === 'ArrowLeft') next = at - 1;
    else if (e.key === 'ArrowDown') next = at + cols;
    else if (e.key === 'ArrowUp') {
      if (at < cols) {
        // from the first row up to the package tabs
        e.preventDefault();
        this._tabs().find((t) => t.tabIndex === 0)?.focus();
        return;
      }
      next = at - cols;
    } else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = items.length - 1;
    else return;
    e.preventDefault();
    next = Math.max(0, Math.min(items.length - 1, next));
    items[at].tabIndex = -1;
    items[next].tabIndex = 0;
    items[next].focus();
  }
}
