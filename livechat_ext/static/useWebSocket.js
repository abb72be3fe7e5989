/**
 * A React hook over `LiveChatClient`.
 *
 * React is the host's: this module never imports 'react', so it loads in a
 * browser without a bundler. Two ways in:
 *
 * - `createUseWebSocket(React)` returns the hook bound to the React you pass
 *   (`import * as React from 'react'` in a bundled app);
 * - `useWebSocket(options)` uses `globalThis.React` (a page that loads React
 *   from a script tag) and throws a clear error if there is none.
 *
 * The client is created on first render (and again if `url` changes), connects
 * in an effect when `autoConnect` (default true), and disconnects on unmount.
 * Callbacks are read through a ref, so passing new closures each render is fine.
 *
 * @module useWebSocket
 */

import { LiveChatClient } from './client.js';
import { ConnectionState } from './stateMachine.js';
import { ServerFrameType } from './protocol.js';

/**
 * @typedef {object} ReactLike the parts of React the hook uses
 * @property {<T>(initial: T | (() => T)) => [T, (value: T | ((previous: T) => T)) => void]} useState
 * @property {(effect: () => void | (() => void), deps?: readonly unknown[]) => void} useEffect
 * @property {<T>(initial: T) => {current: T}} useRef
 * @property {<T extends Function>(callback: T, deps: readonly unknown[]) => T} useCallback
 */

/**
 * @param {ReactLike} React
 * @returns {(options: import('./useWebSocket.js').UseWebSocketOptions) => import('./useWebSocket.js').UseWebSocketResult}
 */
export function createUseWebSocket(React) {
  if (!React || typeof React.useState !== 'function') throw new TypeError('createUseWebSocket needs React');
  const { useState, useEffect, useRef, useCallback } = React;

  return function useWebSocket(options) {
    const optionsRef = useRef(options);
    optionsRef.current = options;
    const clientRef = useRef(/** @type {LiveChatClient | null} */ (null));
    if (clientRef.current === null || clientRef.current.url !== options.url) {
      clientRef.current = makeClient(options, optionsRef);
    }
    const client = clientRef.current;
    const autoConnect = options.autoConnect ?? true;

    const [connectionState, setConnectionState] = useState(client.state);
    const [isReconnecting, setIsReconnecting] = useState(false);
    const [lastMessage, setLastMessage] = useState(/** @type {any} */ (null));
    const [queuedCount, setQueuedCount] = useState(client.queue.queuedCount);

    useEffect(() => {
      const sync = () => {
        const state = client.state;
        setConnectionState(state);
        setIsReconnecting(
          state === ConnectionState.RECONNECTING ||
            (state === ConnectionState.CONNECTING && client.reconnect.attempts > 0),
        );
      };
      const unsubscribe = [
        client.onStateChange(sync),
        client.onQueueChange(() => setQueuedCount(client.queue.queuedCount)),
        client.onMessage((frame) => {
          if (frame.type !== ServerFrameType.PONG) setLastMessage(frame);
        }),
      ];
      sync();
      setQueuedCount(client.queue.queuedCount);
      if (autoConnect) client.connect();
      return () => {
        for (const off of unsubscribe) off();
        client.disconnect();
      };
    }, [client, autoConnect]);

    useEffect(() => {
      if (options.token !== undefined && options.token !== null) client.setToken(options.token);
    }, [client, options.token]);

    return {
      sendMessage: useCallback((lineUserId, text) => client.sendMessage(lineUserId, text), [client]),
      sendNote: useCallback((lineUserId, text) => client.sendNote(lineUserId, text), [client]),
      assign: useCallback((lineUserId, adminId) => client.assign(lineUserId, adminId), [client]),
      resolve: useCallback((lineUserId) => client.resolve(lineUserId), [client]),
      reopen: useCallback((lineUserId) => client.reopen(lineUserId), [client]),
      markRead: useCallback((lineUserId, seq) => client.markRead(lineUserId, seq), [client]),
      joinConversation: useCallback((lineUserId) => client.joinConversation(lineUserId), [client]),
      leaveConversation: useCallback((lineUserId) => client.leaveConversation(lineUserId), [client]),
      startTyping: useCallback((lineUserId) => client.startTyping(lineUserId), [client]),
      stopTyping: useCallback((lineUserId) => client.stopTyping(lineUserId), [client]),
      connectionState,
      isReconnecting,
      lastMessage,
      queuedCount,
      client,
    };
  };
}

/**
 * @param {import('./useWebSocket.js').UseWebSocketOptions} options
 * @param {{current: import('./useWebSocket.js').UseWebSocketOptions}} optionsRef the latest options
 * @returns {LiveChatClient}
 */
function makeClient(options, optionsRef) {
  const { onMessage, onConnect, onDisconnect, autoConnect, getToken, ...rest } = options;
  return new LiveChatClient({
    ...rest,
    getToken: getToken ? () => /** @type {any} */ (optionsRef.current.getToken ?? getToken)() : undefined,
    onMessage: (frame) => optionsRef.current.onMessage?.(frame),
    onConnect: (payload) => optionsRef.current.onConnect?.(payload),
    onDisconnect: (code, reason) => optionsRef.current.onDisconnect?.(code, reason),
  });
}

/**
 * The hook bound to `globalThis.React`.
 * @param {import('./useWebSocket.js').UseWebSocketOptions} options
 * @returns {import('./useWebSocket.js').UseWebSocketResult}
 * @throws {Error} when `globalThis.React` is not there: use `createUseWebSocket(React)`
 */
export function useWebSocket(options) {
  const React = /** @type {any} */ (globalThis).React;
  if (!React) {
    throw new Error('useWebSocket: globalThis.React is not set; use createUseWebSocket(React) instead');
  }
  let hook = boundHooks.get(React);
  if (!hook) {
    hook = createUseWebSocket(React);
    boundHooks.set(React, hook);
  }
  return hook(options);
}

/** One hook per React object, so `useWebSocket` does not rebuild it each render. */
const boundHooks = new WeakMap();
