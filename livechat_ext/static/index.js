/**
 * The live chat client, all in one import:
 * `import { LiveChatClient } from '/live-chat/static/index.js'` (or
 * '@livechat-ext/client'). It loads nothing but these modules, so a page
 * without a bundler can use it; the React-bound hook `useWebSocket` imports
 * 'react' and is its own entry: '@livechat-ext/client/useWebSocket'.
 *
 * @module livechat_ext
 */

export {
  PROTOCOL_VERSION,
  ClientFrameType,
  ServerFrameType,
  FrameType,
  CloseCode,
  ErrorCode,
  AuthErrorCode,
  ConversationStatus,
  Limits,
  makeFrame,
  parseFrame,
  presenceChanges,
} from './protocol.js';
export { ReconnectStrategy, BLOCKING_CLOSE_CODES, getReconnectDelay } from './reconnectStrategy.js';
export { ConnectionState, ConnectionStateMachine, IllegalTransitionError, TRANSITIONS } from './stateMachine.js';
export { MessageQueue, MemoryStorage, queueStorageKey } from './messageQueue.js';
export { Connection } from './connection.js';
export { LiveChatClient, LiveChatWebSocketClient } from './client.js';
export { createUseWebSocket } from './createUseWebSocket.js';
export { decodeJwtPayload } from './jwt.js';
export { generateClientMsgId } from './ids.js';
