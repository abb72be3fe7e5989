/**
 * The React hook over `LiveChatClient`, for the React you pass:
 * `createUseWebSocket(React)`. This module imports no 'react', so a page
 * without a bundler can load it; `useWebSocket.js` is the same hook bound to
 * the `react` package.
 *
 * What it does across React's lifecycle:
 * - rendering reads nothing from the browser: the client object is made on
 *   first render (no socket, no timer), and the first render's state is the
 *   same on the server and in the browser, so hydration matches;
 * - the socket opens in an effect and closes in its cleanup. Strict mode's
 *   mount, unmount, mount runs in one go, before the first socket would open
 *   (the token is awaited first), so it opens one socket, not two;
 * - callbacks are read through a ref: new closures each render are fine.
 *
 * @module createUseWebSocket
 */

import { LiveChatClient } from './client.js';
import { ConnectionState } from './stateMachine.js';
import { ClientFrameType as C, ServerFrameType } from './protocol.js';

/** @typedef {import('./createUseWebSocket.js').UseWebSocketOptions} UseWebSocketOptions */
/** @typedef {import('./createUseWebSocket.js').UseWebSocketResult} UseWebSocketResult */

/**
 * @param {import('./createUseWebSocket.js').ReactLike} React
 * @returns {(options: UseWebSocketOptions) => UseWebSocketResult}
 * @throws {TypeError} when `React` has no hooks
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
    const hasToken = hasCredentials(options);

    // Constants, not the client's values: the server renders these too.
    const [connectionState, setConnectionState] = useState(/** @type {import('./stateMachine.js').ConnectionStateName} */ (ConnectionState.IDLE));
    const [isReconnecting, setIsReconnecting] = useState(false);
    const [lastMessage, setLastMessage] = useState(/** @type {any} */ (null));
    const [queuedCount, setQueuedCount] = useState(0);

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
      if (autoConnect && hasToken) client.connect();
      sync();
      setQueuedCount(client.queue.queuedCount);
      return () => {
        for (const off of unsubscribe) off();
        client.disconnect();
      };
    }, [client, autoConnect, hasToken]);

    useEffect(() => {
      if (options.token !== undefined && options.token !== null) client.setToken(options.token);
    }, [client, options.token]);

    return {
      isConnected: connectionState === ConnectionState.CONNECTED,
      connectionState,
      lastMessage,
      sendMessage: useCallback((type, payload) => sendFrame(client, type, payload), [client]),
      connect: useCallback(() => {
        if (!hasCredentials(optionsRef.current)) throw new Error('useWebSocket: no token or getToken yet');
        client.connect();
      }, [client]),
      disconnect: useCallback(() => client.disconnect(), [client]),
      sendText: useCallback((lineUserId, text) => client.sendMessage(lineUserId, text), [client]),
      retryMessage: useCallback((clientMsgId) => client.retryMessage(clientMsgId), [client]),
      sendSticker: useCallback((lineUserId, sticker) => client.sendSticker(lineUserId, sticker), [client]),
      sendNote: useCallback((lineUserId, text) => client.sendNote(lineUserId, text), [client]),
      assign: useCallback((lineUserId, adminId) => client.assign(lineUserId, adminId), [client]),
      resolve: useCallback((lineUserId) => client.resolve(lineUserId), [client]),
      reopen: useCallback((lineUserId) => client.reopen(lineUserId), [client]),
      markRead: useCallback((lineUserId, seq) => client.markRead(lineUserId, seq), [client]),
      joinConversation: useCallback((lineUserId) => client.joinConversation(lineUserId), [client]),
      leaveConversation: useCallback((lineUserId) => client.leaveConversation(lineUserId), [client]),
      startTyping: useCallback((lineUserId) => client.startTyping(lineUserId), [client]),
      stopTyping: useCallback((lineUserId) => client.stopTyping(lineUserId), [client]),
      isReconnecting,
      queuedCount,
      client,
    };
  };
}

/** @param {UseWebSocketOptions} options */
function hasCredentials(options) {
  return typeof options.getToken === 'function' || (typeof options.token === 'string' && options.token !== '');
}

/**
 * @param {UseWebSocketOptions} options
 * @param {{current: UseWebSocketOptions}} optionsRef the latest options
 * @returns {LiveChatClient}
 */
function makeClient(options, optionsRef) {
  const { onMessage, onConnect, onDisconnect, autoConnect, getToken, token, reconnectInterval, maxReconnectAttempts, ...rest } =
    options;
  const latest = () => optionsRef.current;
  return new LiveChatClient({
    ...rest,
    reconnect: reconnectOptions(options),
    // Without a token yet, the client reads the one a later render passes (the hook connects then).
    ...(getToken || !token
      ? { getToken: () => (latest().getToken ?? getToken ?? (() => latest().token ?? ''))() }
      : { token }),
    onMessage: (frame) => latest().onMessage?.(frame),
    onConnect: (payload) => latest().onConnect?.(payload),
    onDisconnect: (code, reason) => latest().onDisconnect?.(code, reason),
  });
}

/**
 * The seed's `reconnectInterval` and `maxReconnectAttempts`, as the strategy's options.
 * @param {UseWebSocketOptions} options
 * @returns {import('./reconnectStrategy.js').ReconnectOptions}
 * @throws {RangeError} for a value the backoff cannot use
 */
function reconnectOptions(options) {
  const reconnect = { ...options.reconnect };
  const { reconnectInterval: interval, maxReconnectAttempts: attempts } = options;
  if (interval !== undefined) {
    if (typeof interval !== 'number' || !Number.isFinite(interval) || interval <= 0) {
      throw new RangeError(`reconnectInterval must be a positive number of milliseconds, not ${String(interval)}`);
    }
    reconnect.baseDelayMs = interval;
  }
  if (attempts !== undefined) {
    if (typeof attempts !== 'number' || !(Number.isInteger(attempts) || attempts === Infinity) || attempts < 0) {
      throw new RangeError(`maxReconnectAttempts must be a whole number >= 0 or Infinity, not ${String(attempts)}`);
    }
    reconnect.maxAttempts = attempts;
  }
  return reconnect;
}

/**
 * The client method each frame type goes through, and the payload fields it takes:
 * the queue gives `message_send` its `client_msg_id`, the tracker gives `join_conversation`
 * its `after_seq` (catch-up), typing is throttled.
 * @type {Record<string, {fields: string[], send: (client: LiveChatClient, payload: any) => string | null}>}
 */
const ROUTED = {
  [C.MESSAGE_SEND]: {
    fields: ['line_user_id', 'text', 'sticker'], // exactly one of text and sticker (1.1)
    send: (c, p) => {
      if (p.text !== undefined && p.sticker !== undefined) throw new TypeError("sendMessage('message_send'): give text or sticker, not both");
      return p.sticker !== undefined ? c.sendSticker(p.line_user_id, p.sticker) : c.sendMessage(p.line_user_id, p.text);
    },
  },
  [C.NOTE_SEND]: { fields: ['line_user_id', 'text'], send: (c, p) => c.sendNote(p.line_user_id, p.text) },
  [C.JOIN_CONVERSATION]: { fields: ['line_user_id'], send: (c, p) => c.joinConversation(p.line_user_id) },
  [C.LEAVE_CONVERSATION]: { fields: ['line_user_id'], send: (c, p) => c.leaveConversation(p.line_user_id) },
  [C.TYPING_START]: { fields: ['line_user_id'], send: (c, p) => (c.startTyping(p.line_user_id), null) },
  [C.TYPING_STOP]: { fields: ['line_user_id'], send: (c, p) => (c.stopTyping(p.line_user_id), null) },
};

/**
 * The seed's `sendMessage(type, payload)`: a frame of any client type. The
 * types above go through the client's queue, tracker and throttle; any other
 * is sent as it is when the socket is open.
 *
 * @param {LiveChatClient} client
 * @param {string} type
 * @param {object} [payload]
 * @returns {string | null} the client_msg_id of a `message_send`, else the frame's ref, or null when not sent now
 * @throws {TypeError | RangeError} for a type that is not a client frame, `auth`, or a field the client sets
 */
function sendFrame(client, type, payload = {}) {
  const types = /** @type {string[]} */ (Object.values(C));
  if (!types.includes(type)) {
    throw new TypeError(
      `sendMessage(type, payload): ${JSON.stringify(type)} is not a client frame type (${types.join(', ')}); ` +
        'to send a text, sendText(lineUserId, text)',
    );
  }
  if (type === C.AUTH) throw new TypeError('sendMessage: the client authenticates by itself; pass a new token instead');
  if (payload === null || typeof payload !== 'object') throw new TypeError('sendMessage: payload must be an object');
  const route = ROUTED[type];
  if (!route) return client.send(type, /** @type {Record<string, unknown>} */ (payload));
  const extra = Object.keys(payload).filter((field) => !route.fields.includes(field));
  if (extra.length > 0) {
    throw new TypeError(`sendMessage('${type}'): ${extra.join(', ')} is set by the client; give only ${route.fields.join(', ')}`);
  }
  return route.send(client, payload);
}
