// @ts-check
/**
 * The team workflow in the open conversation (protocol 1.1): who handles it
 * (assign to me, to a teammate, or to nobody), resolve and reopen, and
 * whether the composer writes to the user or an internal note.
 *
 * @module console/workflow
 */

import { byId } from './dom.js';

/** @typedef {'reply' | 'note'} ComposeModeName */

export class ConversationActions {
  /**
   * @param {object} options
   * @param {import('../static/client.js').LiveChatClient} options.client
   * @param {string} options.adminId
   * @param {() => string | null} options.openId the open conversation
   * @param {() => string[]} options.teammates admin ids to offer, the operator's own included
   * @param {(adminId: string) => string} [options.nameOf] an operator's display name
   */
  constructor(options) {
    this.client = options.client;
    this.adminId = options.adminId;
    this._openId = options.openId;
    this._teammates = options.teammates;
    this._nameOf = options.nameOf ?? ((/** @type {string} */ id) => id);
    this.assignee = byId('assignee');
    this.assignMe = /** @type {HTMLButtonElement} */ (byId('assign-me'));
    this.assignTo = /** @type {HTMLSelectElement} */ (byId('assign-to'));
    this.resolve = /** @type {HTMLButtonElement} */ (byId('resolve'));
    this.status = byId('conv-status');
    this.conversation = /** @type {any} */ (null);
    this.assignMe.addEventListener('click', () => this._assign(this.adminId));
    this.assignTo.addEventListener('change', () => {
      const value = this.assignTo.value;
      if (value !== (this.conversation?.assignee ?? '')) this._assign(value === '' ? null : value);
    });
    this.resolve.addEventListener('click', () => {
      const id = this._openId();
      if (!id) return;
      if (this.conversation?.status === 'resolved') this.client.reopen(id);
      else this.client.resolve(id);
    });
  }

  /** @param {string | null} adminId */
  _assign(adminId) {
    const id = this._openId();
    if (id) this.client.assign(id, adminId);
  }

  /** Show a conversation's state. @param {any} conv */
  show(conv) {
    this.conversation = conv;
    const resolved = conv.status === 'resolved';
    const who = conv.assignee;
    this.assignee.textContent = who ? `Assigned to ${who === this.adminId ? 'you' : this._nameOf(who)}` : 'Unassigned';
    this.assignee.classList.toggle('mine', who === this.adminId);
    this.assignMe.hidden = who === this.adminId;
    this.status.hidden = !resolved;
    this.resolve.textContent = resolved ? 'Reopen' : 'Resolve';
    this.resolve.title = resolved ? 'Open it again for the team' : 'Done: the user goes back to the bot';
    this.resolve.classList.toggle('primary', !resolved);
    this.resolve.classList.toggle('ghost', resolved);
    this._options(who);
    this.setEnabled(this.client.isConnected);
  }

  /** @param {boolean} connected the buttons act on the socket only */
  setEnabled(connected) {
    for (const control of [this.assignMe, this.assignTo, this.resolve]) control.disabled = !connected;
  }

  /** @param {string | null} current */
  _options(current) {
    const ids = new Set(this._teammates());
    ids.add(this.adminId);
    if (current) ids.add(current);
    const options = [new Option('Unassigned', '')];
    const name = (/** @type {string} */ id) => this._nameOf(id);
    for (const id of [...ids].sort((a, b) => Number(b === this.adminId) - Number(a === this.adminId) || name(a).localeCompare(name(b)))) {
      options.push(new Option(id === this.adminId ? `${name(id)} (you)` : name(id), id));
    }
    this.assignTo.replaceChildren(...options);
    this.assignTo.value = current ?? '';
  }
}

/**
 * Reply to the user, or write an internal note: the composer looks different
 * in note mode so a note is never sent to the user by mistake.
 */
export class ComposeMode {
  /**
   * @param {object} options
   * @param {HTMLElement} options.root the radio group
   * @param {HTMLFormElement} options.form
   * @param {HTMLTextAreaElement} options.input
   * @param {(mode: ComposeModeName) => void} options.onChange
   */
  constructor(options) {
    this.root = options.root;
    this.form = options.form;
    this.input = options.input;
    this._onChange = options.onChange;
    /** @type {ComposeModeName} */
    this.mode = 'reply';
    this.buttons = /** @type {HTMLButtonElement[]} */ ([...this.root.querySelectorAll('button[data-mode]')]);
    for (const button of this.buttons) {
      button.addEventListener('click', () => this.set(/** @type {ComposeModeName} */ (button.dataset.mode)));
    }
  }

  /** @param {ComposeModeName} mode */
  set(mode) {
    this.mode = mode;
    for (const button of this.buttons) button.setAttribute('aria-checked', String(button.dataset.mode === mode));
    const note = mode === 'note';
    this.form.classList.toggle('note-mode', note);
    this.input.placeholder = note ? 'Internal note — only your team sees it, never the user' : 'Write a reply…';
    byId('send').setAttribute('aria-label', note ? 'Add note' : 'Send');
    this._onChange(mode);
  }
}
