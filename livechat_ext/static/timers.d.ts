export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Milliseconds since the epoch. */
  now(): number;
}
export declare const MAX_TIMEOUT_MS: number;
export declare function makeTimers(overrides?: Partial<Timers>): Timers;
