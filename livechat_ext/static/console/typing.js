// @ts-check
/**
 * "alice is typing…" for the open conversation, from `user_typing` and
 * `conversation_joined.typing`. Each entry also expires here, in case the
 * server's stop is lost with a dropped connection.
 *
 * @module console/typing
 */

import { el } from './dom.js';

const EXPIRE_MS = 8000;

export class TypingIndicator {
  /**
   * @param {HTMLElement} root
   * @param {(adminId: string) => string} [nameOf] an operator's display name
   */
  constructor(root, nameOf = (id) => id) {
    this.root = root;
    this.nameOf = nameOf;
    /** @type {Map<string, number>} admin id -> expiry timer */
    this._who = new Map();
  }

  /** @param {string[]} adminIds */
  reset(adminIds = []) {
    for (const timer of this._who.values()) window.clearTimeout(timer);
    this._who.clear();
    for (const id of adminIds) this.set(id, true, false);
    this.render();
  }

  /** @param {string} adminId @param {boolean} isTyping @param {boolean} [draw] */
  set(adminId, isTyping, draw = true) {
    window.clearTimeout(this._who.get(adminId));
    this._who.delete(adminId);
    if (isTyping) this._who.set(adminId, window.setTimeout(() => this.set(adminId, false), EXPIRE_MS));
    if (draw) this.render();
  }

  render() {
    const names = [...this._who.keys()].map((id) => this.nameOf(id));
    if (names.length === 0) {
      this.root.replaceChildren();
      this.root.classList.remove('on');
      return;
    }
    let text;
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else text = `${names.length} operators are typing…`;
    const dots = el('span', 'typing-dots');
    dots.setAttribute('aria-hidden', 'true');
    for (let i = 0; i < 3; i += 1) dots.append(el('span'));
    this.root.replaceChildren(dots, el('span', 'typing-text', text));
    this.root.classList.add('on');
  }
}
