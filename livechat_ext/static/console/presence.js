// @ts-check
/**
 * Who is online: seeded by `auth_success.operators`, kept by `operator_status`
 * and `operators_changed` (1.1: many changes in one frame, drawn once).
 *
 * @module console/presence
 */

import { el, avatar } from './dom.js';

export class Presence {
  /**
   * @param {object} options
   * @param {HTMLElement} options.list
   * @param {HTMLElement} options.count
   * @param {import('./names.js').OperatorNames} options.names
   */
  constructor(options) {
    this.list = options.list;
    this.count = options.count;
    this.names = options.names;
    /** @type {Map<string, {status: string, lastSeen: string | null}>} */
    this.operators = new Map();
    this.self = /** @type {string | null} */ (null);
  }

  /** @param {Array<{admin_id: string, status: string, last_seen?: string | null, name?: string}>} operators */
  reset(operators) {
    this.operators.clear();
    for (const o of operators ?? []) {
      this.names.learn(o.admin_id, o.name);
      this.operators.set(o.admin_id, { status: o.status, lastSeen: o.last_seen ?? null });
    }
    this.render();
  }

  /** @param {{admin_id: string, status: string, last_seen?: string | null, name?: string}} payload */
  update(payload) {
    this.apply([payload]);
  }

  /**
   * Presence changes in order (an `operators_changed` gives many): the list is drawn once.
   * @param {Array<{admin_id: string, status: string, last_seen?: string | null, name?: string}>} changes
   */
  apply(changes) {
    for (const o of changes) {
      this.names.learn(o.admin_id, o.name);
      this.operators.set(o.admin_id, { status: o.status, lastSeen: o.last_seen ?? null });
    }
    if (changes.length > 0) this.render();
  }

  render() {
    const name = (/** @type {string} */ id) => this.names.nameOf(id);
    const entries = [...this.operators.entries()].sort(([a, x], [b, y]) =>
      Number(y.status === 'online') - Number(x.status === 'online') || Number(b === this.self) - Number(a === this.self) || name(a).localeCompare(name(b)));
    const online = entries.filter(([, o]) => o.status === 'online').length;
    this.count.textContent = `${online} online`;
    this.list.replaceChildren(...entries.map(([id, o]) => {
      const li = el('li', `operator ${o.status === 'online' ? 'online' : 'offline'}`);
      li.title = `${name(id)} (${id}): ${o.status}`;
      const face = avatar({ name: name(id), seed: id, size: 'sm' });
      li.append(face, el('span', 'operator-name', id === this.self ? `${name(id)} (you)` : name(id)), el('span', 'presence-dot'));
      li.dataset.adminId = id;
      return li;
    }));
  }
}
