import type { UseWebSocketOptions, UseWebSocketResult } from './createUseWebSocket.js';

export type { ReactLike, SendMessagePayloads, UseWebSocketOptions, UseWebSocketResult } from './createUseWebSocket.js';
export { createUseWebSocket } from './createUseWebSocket.js';

/** The React hook, bound to the `react` package. */
export declare function useWebSocket(options: UseWebSocketOptions): UseWebSocketResult;
