import type { AuthSuccessPayload, ClientFrameTypeName, ClientPayloads, ServerFrame, StickerIds } from './protocol.js';
import type { ConnectionStateName } from './stateMachine.js';
import type { LiveChatClient, LiveChatClientOptions } from './client.js';

export interface UseWebSocketOptions extends Omit<LiveChatClientOptions, 'token' | 'getToken' | 'onMessage' | 'onConnect' | 'onDisconnect'> {
  /** The WebSocket URL, e.g. `wss://host/ws/live-chat`. A new URL makes a new client. */
  url: string;
  /** The operator's JWT. While it is null or undefined (and there is no getToken), the hook does not connect. */
  token?: string | null;
  /** Asked before each connection attempt and when a fresh token is needed; takes precedence over `token`. */
  getToken?: () => string | Promise<string>;
  /** Milliseconds before the first retry after a drop; the wait doubles up to 30 s (plus jitter). Default 1000. */
  reconnectInterval?: number;
  /** Retries after a drop before giving up (state `disconnected`). Default Infinity. */
  maxReconnectAttempts?: number;
  onMessage?: (frame: ServerFrame) => void;
  onConnect?: (payload: AuthSuccessPayload) => void;
  onDisconnect?: (code: number, reason: string) => void;
  /** Connect on mount (once there is a token). Default true. */
  autoConnect?: boolean;
}

/** What `sendMessage(type, payload)` takes: the client adds `client_msg_id` to a message and `after_seq` to a join. */
export type SendMessagePayloads = Omit<ClientPayloads, 'message_send' | 'note_send' | 'join_conversation'> & {
  /** A text, or a sticker (1.1) instead: exactly one of the two. */
  message_send:
    | { line_user_id: string; text: string; sticker?: never }
    | { line_user_id: string; sticker: StickerIds; text?: never };
  note_send: Omit<ClientPayloads['note_send'], 'client_msg_id'>;
  join_conversation: Omit<ClientPayloads['join_conversation'], 'after_seq' | 'after_rev'>;
};

export interface UseWebSocketResult {
  /** True once `auth_success` was received on the current socket. */
  isConnected: boolean;
  connectionState: ConnectionStateName;
  /** The last server frame (pongs excluded), or null. */
  lastMessage: ServerFrame | null;
  /**
   * A frame of any client type but `auth`. `message_send` is queued (sent now or after the next
   * connect, never twice) and returns its client_msg_id; `join_conversation` is remembered for
   * catch-up; typing is throttled; any other type is sent if the socket is open (its ref, else null).
   */
  sendMessage<T extends Exclude<ClientFrameTypeName, 'auth'>>(type: T, payload: T extends keyof SendMessagePayloads ? SendMessagePayloads[T] : never): string | null;
  /** Connect now (a user action: lifts a 4001/4008 block). Throws without a token or getToken. */
  connect(): void;
  /** Close with 1000; no reconnect until connect(). */
  disconnect(): void;
  /** Queue a text for a conversation; returns its client_msg_id. Same as sendMessage('message_send', ...). */
  sendText(lineUserId: string, text: string): string;
  /** Queue a LINE sticker (1.1); returns its client_msg_id. Same as sendMessage('message_send', {line_user_id, sticker}). */
  sendSticker(lineUserId: string, sticker: StickerIds): string;
  /** Queue a failed message again, with the same client_msg_id. */
  retryMessage(clientMsgId: string): boolean;
  /** Queue an internal note (protocol 1.1: never sent to LINE); returns its client_msg_id. */
  sendNote(lineUserId: string, text: string): string;
  /** Assign the conversation (null: unassign); the frame's ref, or null when not sent now. */
  assign(lineUserId: string, adminId: string | null): string | null;
  resolve(lineUserId: string): string | null;
  reopen(lineUserId: string): string | null;
  /** Raise the team's read state to `seq` (an inbound message's seq). */
  markRead(lineUserId: string, seq: number): string | null;
  joinConversation(lineUserId: string): string | null;
  leaveConversation(lineUserId: string): string | null;
  startTyping(lineUserId: string): void;
  stopTyping(lineUserId: string): void;
  /** Waiting to reconnect, or connecting again after a drop. */
  isReconnecting: boolean;
  /** Messages waiting for the server's confirmation. */
  queuedCount: number;
  client: LiveChatClient;
}

/** The parts of React the hook uses. */
export interface ReactLike {
  useState: <T>(initial: T | (() => T)) => [T, (value: T | ((previous: T) => T)) => void];
  useEffect: (effect: () => void | (() => void), deps?: readonly unknown[]) => void;
  useRef: <T>(initial: T) => { current: T };
  useCallback: <T extends (...args: any[]) => any>(callback: T, deps: readonly unknown[]) => T;
}

/** The hook bound to the React you pass (a page without a bundler: `createUseWebSocket(window.React)`). */
export declare function createUseWebSocket(React: ReactLike): (options: UseWebSocketOptions) => UseWebSocketResult;
