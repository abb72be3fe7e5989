/**
 * The live chat client, all in one import:
 * `import { LiveChatClient } from '/live-chat/static/index.js'`.
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
} from './protocol.js';
export { ReconnectStrategy, BLOCKING_CLOSE_CODES } from './reconnectStrategy.js';
export { ConnectionState, ConnectionStateMachine, IllegalTransitionError, TRANSITIONS } from './stateMachine.js';
export { MessageQueue, MemoryStorage, queueStorageKey } from './messageQueue.js';
export { Connection } from './connection.js';
export { LiveChatClient } from './client.js';
export { createUseWebSocket, useWebSocket } from './useWebSocket.js';
export { decodeJwtPayload } from './jwt.js';
export { generateClientMsgId } from './ids.js';
