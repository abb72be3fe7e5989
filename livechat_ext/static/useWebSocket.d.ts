import type { AuthSuccessPayload, ServerFrame } from './protocol.js';
import type { ConnectionStateName } from './stateMachine.js';
import type { LiveChatClient, LiveChatClientOptions } from './client.js';

export interface UseWebSocketOptions extends Omit<LiveChatClientOptions, 'onMessage' | 'onConnect' | 'onDisconnect'> {
  onMessage?: (frame: ServerFrame) => void;
  onConnect?: (payload: AuthSuccessPayload) => void;
  onDisconnect?: (code: number, reason: string) => void;
  /** Connect on mount. Default true. */
  autoConnect?: boolean;
}

export interface UseWebSocketResult {
  sendMessage(lineUserId: string, text: string): string;
  /** 1.1: an internal note, queued like a message. */
  sendNote(lineUserId: string, text: string): string;
  assign(lineUserId: string, adminId: string | null): string | null;
  resolve(lineUserId: string): string | null;
  reopen(lineUserId: string): string | null;
  markRead(lineUserId: string, seq: number): string | null;
  joinConversation(lineUserId: string): string | null;
  leaveConversation(lineUserId: string): string | null;
  startTyping(lineUserId: string): void;
  stopTyping(lineUserId: string): void;
  connectionState: ConnectionStateName;
  /** Waiting to reconnect, or connecting again after a drop. */
  isReconnecting: boolean;
  /** The last server frame (pongs excluded), or null. */
  lastMessage: ServerFrame | null;
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

/** The hook bound to the React you pass: `createUseWebSocket(React)`. */
export declare function createUseWebSocket(React: ReactLike): (options: UseWebSocketOptions) => UseWebSocketResult;

/** The hook bound to globalThis.React; throws if it is not set. */
export declare function useWebSocket(options: UseWebSocketOptions): UseWebSocketResult;
