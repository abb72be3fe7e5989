import type { Frame, AuthSuccessPayload } from './protocol.js';
import type { ConnectionStateMachine, ConnectionStateName } from './stateMachine.js';
import type { ReconnectOptions, ReconnectStrategy } from './reconnectStrategy.js';
import type { TokenProvider } from './tokens.js';
import type { Timers } from './timers.js';

export interface ConnectionOptions {
  url: string;
  tokens: TokenProvider;
  WebSocketImpl?: new (url: string) => WebSocketLike;
  /** Seconds; default the server's heartbeat_interval. */
  heartbeatInterval?: number | null;
  /** Seconds after a ping without any frame before the socket is given up. Default 10. */
  heartbeatTimeout?: number;
  /** Seconds from opening the socket to auth_success before it is given up (reported as 1006). Default 15. */
  connectTimeout?: number;
  reauthLeadMs?: number;
  reconnectStrategy?: ReconnectStrategy;
  reconnect?: ReconnectOptions;
  timers?: Partial<Timers>;
}

/** The part of the browser WebSocket the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export interface ConnectionEvents {
  frame: (frame: Frame) => void;
  connected: (payload: AuthSuccessPayload) => void;
  reauthenticated: (payload: AuthSuccessPayload) => void;
  token: (token: string) => void;
  disconnect: (code: number, reason: string) => void;
}

/** The socket lifecycle under LiveChatClient: auth, heartbeat, reconnect, in-band re-auth. */
export declare class Connection {
  constructor(options: ConnectionOptions);
  readonly url: string;
  readonly tokens: TokenProvider;
  readonly stateMachine: ConnectionStateMachine;
  readonly reconnect: ReconnectStrategy;
  readonly state: ConnectionStateName;
  on<K extends keyof ConnectionEvents>(name: K, listener: ConnectionEvents[K]): () => void;
  connect(): void;
  disconnect(): void;
  tokenRefreshed(): void;
  send(type: string, payload?: Record<string, unknown>): string | null;
}
