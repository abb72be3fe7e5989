// @ts-check
/**
 * The composer: Enter sends, Shift+Enter adds a line, the textarea grows with
 * its text, a counter shows near LINE's 5000-character limit (UTF-16 code
 * units, JavaScript's `.length`, as LINE and the server count), and typing
 * goes out while the operator types. The unsent text of each conversation is
 * kept in localStorage, so a reload or a switch loses no draft.
 *
 * @module console/composer
 */

import { Limits } from '../static/protocol.js';

const COUNTER_FROM = 4000;

export class Composer {
  /**
   * @param {object} options
   * @param {HTMLFormElement} options.form
   * @param {HTMLTextAreaElement} options.input
   * @param {HTMLButtonElement} options.send
   * @param {HTMLElement} options.counter
   * @param {(text: string) => boolean} options.onSend true when the text was taken
   * @param {() => void} options.onTyping
   * @param {() => void} options.onStopTyping
   */
  constructor(options) {
    this.form = options.form;
    this.input = options.input;
    this.sendButton = options.send;
    this.counter = options.counter;
    this._onSend = options.onSend;
    this._onTyping = options.onTyping;
    this._onStopTyping = options.onStopTyping;
    this._placeholder = this.input.placeholder;
    /** @type {string | null} where the open conversation's draft is kept */
    this._draftKey = null;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener('input', () => {
      this._saveDraft();
      this.refresh();
      if (this.input.value.trim()) this._onTyping();
      else this._onStopTyping();
    });
    this.input.addEventListener('blur', () => this._onStopTyping());
    this.refresh();
  }

  submit() {
    const text = this.input.value;
    if (!text.trim() || text.length > Limits.TEXT_MAX_CHARS) return;
    if (this._onSend(text)) {
      this.input.value = '';
      this._saveDraft();
      this.refresh();
      this.input.focus();
    }
  }

  /** @param {boolean} enabled @param {string} [placeholder] short: a phone shows about 30 characters */
  setEnabled(enabled, placeholder) {
    this.input.disabled = !enabled;
    this.input.placeholder = placeholder ?? this._placeholder;
    this.refresh();
  }

  /** Show the draft kept under `key` (a conversation's), and keep edits there. @param {string | null} key */
  useDraft(key) {
    this._draftKey = key;
    let text = '';
    try {
      text = key ? localStorage.getItem(key) ?? '' : '';
    } catch {
      // storage disabled: no drafts
    }
    this.input.value = text;
    this.refresh();
  }

  _saveDraft() {
    const key = this._draftKey;
    if (!key) return;
    try {
      if (this.input.value.trim()) localStorage.setItem(key, this.input.value);
      else localStorage.removeItem(key);
    } catch {
      // storage disabled or full: the draft lasts while the page does
    }
  }

  refresh() {
    const length = this.input.value.length;
    const over = length > Limits.TEXT_MAX_CHARS;
    this.counter.hidden = length < COUNTER_FROM;
    this.counter.textContent = `${length.toLocaleString()} / ${Limits.TEXT_MAX_CHARS.toLocaleString()}`;
    this.counter.classList.toggle('over', over);
    this.input.setAttribute('aria-invalid', String(over));
    this.sendButton.disabled = this.input.disabled || over || !this.input.value.trim();
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 200)}px`;
  }
}
