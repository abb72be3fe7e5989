export type ConnectionStateName = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'reconnecting';

export declare const ConnectionState: Readonly<{
  IDLE: 'idle';
  CONNECTING: 'connecting';
  CONNECTED: 'connected';
  DISCONNECTED: 'disconnected';
  RECONNECTING: 'reconnecting';
}>;

/** Allowed transitions from each state. */
export declare const TRANSITIONS: Readonly<Record<ConnectionStateName, readonly ConnectionStateName[]>>;

export declare class IllegalTransitionError extends Error {
  constructor(from: string, to: string);
  readonly from: string;
  readonly to: string;
}

export type StateListener = (state: ConnectionStateName, previous: ConnectionStateName) => void;

export declare class ConnectionStateMachine {
  constructor(initial?: ConnectionStateName);
  readonly state: ConnectionStateName;
  canTransition(to: string): boolean;
  /** Returns false if already in `to`; throws IllegalTransitionError if the table forbids it. */
  transition(to: ConnectionStateName): boolean;
  onChange(listener: StateListener): () => void;
}
