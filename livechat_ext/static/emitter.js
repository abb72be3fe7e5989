/**
 * A minimal event emitter shared by the client modules.
 *
 * A listener that throws does not stop the others: its error is rethrown in a
 * microtask, where it reaches the host's error reporting.
 *
 * @module emitter
 */

export class Emitter {
  constructor() {
    /** @type {Map<string, Set<(...args: any[]) => void>>} */
    this._listeners = new Map();
  }

  /**
   * @param {string} name
   * @param {(...args: any[]) => void} listener
   * @returns {() => void} removes the listener
   */
  on(name, listener) {
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    let set = this._listeners.get(name);
    if (!set) {
      set = new Set();
      this._listeners.set(name, set);
    }
    set.add(listener);
    return () => this.off(name, listener);
  }

  /**
   * @param {string} name
   * @param {(...args: any[]) => void} listener
   */
  off(name, listener) {
    this._listeners.get(name)?.delete(listener);
  }

  /**
   * @param {string} name
   * @param {...unknown} args
   */
  emit(name, ...args) {
    const set = this._listeners.get(name);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
