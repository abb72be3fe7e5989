export interface ReconnectOptions {
  /** Delay before the first retry. Default 1000. */
  baseDelayMs?: number;
  /** Cap of the exponential part. Default 30000. */
  maxDelayMs?: number;
  /** Random extra delay, in [0, jitterMs). Default 1000. */
  jitterMs?: number;
  /** Retries after which the client gives up. Default Infinity. */
  maxAttempts?: number;
  /** Returns a number in [0, 1). Default Math.random. */
  random?: () => number;
}

/** Close codes that block reconnecting until a new token or a user action: 4001, 4008. */
export declare const BLOCKING_CLOSE_CODES: readonly number[];

/**
 * The wait before retry number `attempt` (0 for the first retry after a drop):
 * min(baseDelayMs * 2^attempt, maxDelayMs) plus jitter in [0, jitterMs), in milliseconds.
 * Throws a RangeError when `attempt` is not a whole number >= 0.
 */
export declare function getReconnectDelay(attempt: number, options?: Omit<ReconnectOptions, 'maxAttempts'>): number;

export declare class ReconnectStrategy {
  constructor(options?: ReconnectOptions);
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly jitterMs: number;
  readonly maxAttempts: number;
  /** Retries scheduled since the last successful connect. */
  readonly attempts: number;
  readonly exhausted: boolean;
  /** True after a 4001 or 4008 close, until tokenRefreshed() or userAction(). */
  readonly blocked: boolean;
  /** min(base * 2^n, max) + jitter, counting the attempt; null once maxAttempts is reached. */
  nextDelay(): number | null;
  reset(): void;
  shouldReconnect(closeCode: number, context?: { clientInitiated?: boolean }): boolean;
  tokenRefreshed(): void;
  userAction(): void;
}
