/**
 * `useWebSocket(options)`: the React hook, bound to the `react` package (a
 * peer dependency of @livechat-ext/client). For a bundled app (Next.js, Vite):
 *
 *     import { useWebSocket } from '@livechat-ext/client/useWebSocket';
 *
 * A page without a bundler cannot resolve 'react': it uses
 * `createUseWebSocket(React)` from createUseWebSocket.js (or index.js).
 * Loading this module touches no browser global, so it imports on a server.
 *
 * @module useWebSocket
 */

import { useCallback, useEffect, useRef, useState } from 'react';
import { createUseWebSocket } from './createUseWebSocket.js';

export { createUseWebSocket };

/** @type {ReturnType<typeof createUseWebSocket> | null} made on first use, not at import */
let hook = null;

/**
 * @param {import('./createUseWebSocket.js').UseWebSocketOptions} options
 * @returns {import('./createUseWebSocket.js').UseWebSocketResult}
 */
export function useWebSocket(options) {
  hook ??= createUseWebSocket({ useCallback, useEffect, useRef, useState });
  return hook(options);
}
