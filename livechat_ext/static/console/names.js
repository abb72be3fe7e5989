// @ts-check
/**
 * Operators' display names by admin id, from presence (`auth_success.operators`,
 * `operator_status`) and `user_typing`, which carry the name from each
 * operator's token. Kept in localStorage, so a message from an operator who
 * is offline now is still labelled with their name after a reload.
 *
 * @module console/names
 */

const KEY = 'livechat_ext:console:operator-names';
const MAX = 500;

export class OperatorNames {
  constructor() {
    /** @type {Map<string, string>} */
    this._names = new Map(Object.entries(read()));
    /** @type {Set<() => void>} */
    this._listeners = new Set();
  }

  /**
   * Remember a name (a frame without one, from an older server, teaches nothing).
   * @param {string | undefined | null} adminId
   * @param {string | undefined | null} name
   */
  learn(adminId, name) {
    if (!adminId || typeof name !== 'string' || name === '' || this._names.get(adminId) === name) return;
    this._names.delete(adminId); // newest last: the oldest are dropped first
    this._names.set(adminId, name);
    while (this._names.size > MAX) this._names.delete(/** @type {string} */ (this._names.keys().next().value));
    try {
      localStorage.setItem(KEY, JSON.stringify(Object.fromEntries(this._names)));
    } catch {
      // storage disabled or full: the names last for this page
    }
    for (const listener of this._listeners) listener();
  }

  /** @param {string | null | undefined} adminId @returns {string} the display name, or the id */
  nameOf(adminId) {
    if (!adminId) return 'Operator';
    return this._names.get(adminId) ?? adminId;
  }

  /** @param {() => void} listener called when a name is learned or changes */
  onChange(listener) {
    this._listeners.add(listener);
  }
}

/** @returns {Record<string, string>} */
function read() {
  try {
    const value = JSON.parse(localStorage.getItem(KEY) ?? '{}');
    if (!value || typeof value !== 'object') return {};
    return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === 'string'));
  } catch {
    return {};
  }
}
