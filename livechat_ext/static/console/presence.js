// @ts-check
/**
 * Who is online: seeded by `auth_success.operators`, kept by `operator_status`.
 *
 * @module console/presence
 */

import { el, avatar } from './dom.js';

export class Presence {
  /**
   * @param {object} options
   * @param {HTMLElement} options.list
   * @param {HTMLElement} options.count
   */
  constructor(options) {
    this.list = options.list;
    this.count = options.count;
    /** @type {Map<string, {status: string, lastSeen: string | null}>} */
    this.operators = new Map();
    this.self = /** @type {string | null} */ (null);
  }

  /** @param {Array<{admin_id: string, status: string, last_seen?: string | null}>} operators */
  reset(operators) {
    this.operators.clear();
    for (const o of operators ?? []) this.operators.set(o.admin_id, { status: o.status, lastSeen: o.last_seen ?? null });
    this.render();
  }

  /** @param {{admin_id: string, status: string, last_seen?: string | null}} payload */
  update(payload) {
    this.operators.set(payload.admin_id, { status: payload.status, lastSeen: payload.last_seen ?? null });
    this.render();
  }

  render() {
    const entries = [...this.operators.entries()].sort(([a, x], [b, y]) =>
      Number(y.status === 'online') - Number(x.status === 'online') || Number(b === this.self) - Number(a === this.self) || a.localeCompare(b));
    const online = entries.filter(([, o]) => o.status === 'online').length;
    this.count.textContent = `${online} online`;
    this.list.replaceChildren(...entries.map(([id, o]) => {
      const li = el('li', `operator ${o.status === 'online' ? 'online' : 'offline'}`);
      li.title = `${id}: ${o.status}`;
      const face = avatar({ name: id, seed: id, size: 'sm' });
      li.append(face, el('span', 'operator-name', id === this.self ? `${id} (you)` : id), el('span', 'presence-dot'));
      li.dataset.adminId = id;
      return li;
    }));
  }
}
