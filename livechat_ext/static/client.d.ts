import type {
  AuthSuccessPayload,
  OperatorPresence,
  ClientPayloads,
  ClientFrameTypeName,
  ServerFrame,
  ServerFrameOf,
  ServerFrameTypeName,
  ServerPayloads,
} from './protocol.js';
import type { ConnectionStateMachine, ConnectionStateName } from './stateMachine.js';
import type { ReconnectOptions, ReconnectStrategy } from './reconnectStrategy.js';
import type { MessageQueue, QueueEntry, StickerRef, StorageLike } from './messageQueue.js';
import type { ConversationTracker } from './conversationTracker.js';
import type { Connection, WebSocketLike } from './connection.js';

export interface LiveChatClientOptions {
  /** The WebSocket URL, e.g. `wss://host/ws/live-chat`. */
  url: string;
  /** A fixed JWT. Give this or getToken. */
  token?: string | null;
  /** Called before every connection attempt, after a 4001, and before the JWT's exp (in-band re-auth). */
  getToken?: () => string | Promise<string>;
  /** The operator's admin id, for the queue's storage key; default the token's `sub`, then `auth_success.admin_id`. */
  adminId?: string;
  /** Seconds between pings; default the server's `heartbeat_interval` (30). */
  heartbeatInterval?: number;
  /** Seconds after a ping without any frame before the socket is given up and reconnected. Default 10. */
  heartbeatTimeout?: number;
  /** Seconds from opening the socket to auth_success before it is given up and retried (reported as 1006). Default 15. */
  connectTimeout?: number;
  /** Re-authenticate this many ms before exp (at most half the remaining lifetime). Default 60000. */
  reauthLeadMs?: number;
  reconnect?: ReconnectOptions;
  reconnectStrategy?: ReconnectStrategy;
  /** Where the queue is saved. Default sessionStorage, else memory. */
  storage?: StorageLike;
  queue?: MessageQueue;
  /** Default globalThis.WebSocket. */
  WebSocketImpl?: new (url: string) => WebSocketLike;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (handle: unknown) => void;
  now?: () => number;
  /** Default crypto.randomUUID(). */
  generateId?: () => string;
  /** At most one typing_start per conversation this often. Default 2000. */
  typingThrottleMs?: number;
  /** typing_stop is sent after this long without startTyping(). Default 3000. */
  typingIdleMs?: number;
  onMessage?: (frame: ServerFrame) => void;
  onConnect?: (payload: AuthSuccessPayload) => void;
  onDisconnect?: (code: number, reason: string) => void;
  onStateChange?: (state: ConnectionStateName, previous: ConnectionStateName) => void;
  onQueueChange?: (entries: QueueEntry[]) => void;
}

export declare class LiveChatClient {
  constructor(options: LiveChatClientOptions);
  readonly url: string;
  readonly connection: Connection;
  readonly stateMachine: ConnectionStateMachine;
  readonly reconnect: ReconnectStrategy;
  readonly queue: MessageQueue;
  readonly conversations: ConversationTracker;
  readonly state: ConnectionStateName;
  /** True once auth_success was received on the current socket. */
  readonly isConnected: boolean;
  readonly adminId: string | null;

  /** A user action: lifts a 4001/4008 block and restarts the backoff. */
  connect(): void;
  /** Closes with 1000; no reconnect until connect(). */
  disconnect(): void;
  /** A new token: in-band re-auth when connected, reconnect after 4001/4008. */
  setToken(token?: string): void;
  tokenRefreshed(): void;
  /** A raw frame, not queued; returns its ref or null when the socket is not open. */
  send<T extends ClientFrameTypeName>(type: T, payload?: ClientPayloads[T]): string | null;
  send(type: string, payload?: Record<string, unknown>): string | null;
  /** Queues the message (sent now if connected) and returns its client_msg_id. */
  sendMessage(lineUserId: string, text: string): string;
  /**
   * Queues a LINE sticker (1.1): a `message_send` with `sticker` instead of `text`, queued,
   * confirmed and retried like a text. Ids are strings of digits (integers are accepted).
   * Returns its client_msg_id.
   */
  sendSticker(lineUserId: string, sticker: StickerRef | { package_id: string | number; sticker_id: string | number }): string;
  /** Queues an internal note (1.1; never sent to the LINE user) and returns its client_msg_id. */
  sendNote(lineUserId: string, text: string): string;
  /** Assigns the conversation (null: to nobody); answered with conversation_updated. Null when not connected. */
  assign(lineUserId: string, adminId: string | null): string | null;
  /** Resolves the conversation: it goes back to the host's bot. */
  resolve(lineUserId: string): string | null;
  reopen(lineUserId: string): string | null;
  /** Marks the user's messages up to seq read for the team (and in LINE); never lowers it. */
  markRead(lineUserId: string, seq: number): string | null;
  retryMessage(clientMsgId: string): boolean;
  joinConversation(lineUserId: string): string | null;
  leaveConversation(lineUserId: string): string | null;
  startTyping(lineUserId: string): void;
  stopTyping(lineUserId: string): void;

  onMessage(handler: (frame: ServerFrame) => void): () => void;
  onConnect(handler: (payload: AuthSuccessPayload) => void): () => void;
  onDisconnect(handler: (code: number, reason: string) => void): () => void;
  onStateChange(handler: (state: ConnectionStateName, previous: ConnectionStateName) => void): () => void;
  onQueueChange(handler: (entries: QueueEntry[]) => void): () => void;
  /**
   * Presence changes, once per frame that carries any: one from an `operator_status`,
   * each operator once (latest state) from an `operators_changed` (1.1). Apply them in
   * order over `auth_success.operators`.
   */
  onPresence(handler: (changes: OperatorPresence[], frame: ServerFrame) => void): () => void;
  on<T extends ServerFrameTypeName>(type: T, handler: (payload: ServerPayloads[T], frame: ServerFrameOf<T>) => void): () => void;
}

/** The name the Next.js design gives the client class: the same class as LiveChatClient. */
export { LiveChatClient as LiveChatWebSocketClient };
