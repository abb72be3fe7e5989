/**
 * The clock seam: every module that waits takes a `Timers` object, so tests
 * can drive time by hand. The defaults look the globals up at call time,
 * which also lets `node:test`'s `mock.timers` take over.
 *
 * @module timers
 */

/**
 * @typedef {object} Timers
 * @property {(fn: () => void, ms: number) => unknown} setTimeout
 * @property {(handle: unknown) => void} clearTimeout
 * @property {() => number} now milliseconds since the epoch
 */

/** Longest delay `setTimeout` honours; a longer one would fire at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * @param {Partial<Timers>} [overrides]
 * @returns {Timers}
 */
export function makeTimers(overrides = {}) {
  return {
    setTimeout: overrides.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms)),
    clearTimeout:
      overrides.clearTimeout ??
      ((handle) => globalThis.clearTimeout(/** @type {any} */ (handle))),
    now: overrides.now ?? (() => Date.now()),
  };
}
