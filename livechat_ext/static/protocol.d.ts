// Types of the live chat wire protocol, version 1.1 (PROTOCOL.md).

export declare const PROTOCOL_VERSION: '1.1';

export declare const ClientFrameType: Readonly<{
  AUTH: 'auth';
  JOIN_CONVERSATION: 'join_conversation';
  LEAVE_CONVERSATION: 'leave_conversation';
  TYPING_START: 'typing_start';
  TYPING_STOP: 'typing_stop';
  MESSAGE_SEND: 'message_send';
  PING: 'ping';
  CONVERSATION_ASSIGN: 'conversation_assign';
  CONVERSATION_RESOLVE: 'conversation_resolve';
  CONVERSATION_REOPEN: 'conversation_reopen';
  MARK_READ: 'mark_read';
  NOTE_SEND: 'note_send';
}>;

export declare const ServerFrameType: Readonly<{
  AUTH_SUCCESS: 'auth_success';
  AUTH_ERROR: 'auth_error';
  CONVERSATION_JOINED: 'conversation_joined';
  CONVERSATION_LEFT: 'conversation_left';
  MESSAGE_RECEIVED: 'message_received';
  MESSAGE_UPDATED: 'message_updated';
  MESSAGE_SENT: 'message_sent';
  USER_TYPING: 'user_typing';
  CONVERSATION_UPDATED: 'conversation_updated';
  OPERATOR_STATUS: 'operator_status';
  /** 1.1: presence changes of a short window, coalesced. */
  OPERATORS_CHANGED: 'operators_changed';
  NOTIFICATION: 'notification';
  PONG: 'pong';
  ERROR: 'error';
}>;

export declare const FrameType: Readonly<typeof ClientFrameType & typeof ServerFrameType>;

export type ClientFrameTypeName = (typeof ClientFrameType)[keyof typeof ClientFrameType];
export type ServerFrameTypeName = (typeof ServerFrameType)[keyof typeof ServerFrameType];
export type FrameTypeName = ClientFrameTypeName | ServerFrameTypeName;

export declare const CloseCode: Readonly<{
  NORMAL: 1000;
  GOING_AWAY: 1001;
  ABNORMAL: 1006;
  POLICY_VIOLATION: 1008;
  MESSAGE_TOO_BIG: 1009;
  INTERNAL_ERROR: 1011;
  SERVICE_RESTART: 1012;
  TRY_AGAIN_LATER: 1013;
  UNAUTHORIZED: 4001;
  HEARTBEAT_TIMEOUT: 4002;
  RATE_LIMIT_ABUSE: 4008;
}>;
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

export declare const ErrorCode: Readonly<{
  BAD_FRAME: 'bad_frame';
  INVALID_JSON: 'invalid_json';
  INVALID_MESSAGE: 'invalid_message';
  UNKNOWN_TYPE: 'unknown_type';
  NOT_AUTHENTICATED: 'not_authenticated';
  FORBIDDEN: 'forbidden';
  RATE_LIMITED: 'rate_limited';
  DELIVERY_FAILED: 'delivery_failed';
  INTERNAL_ERROR: 'internal_error';
}>;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export declare const AuthErrorCode: Readonly<{
  INVALID_TOKEN: 'invalid_token';
  TOKEN_EXPIRED: 'token_expired';
  AUTH_TIMEOUT: 'auth_timeout';
}>;
export type AuthErrorCodeValue = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

export declare const ConversationStatus: Readonly<{ OPEN: 'open'; RESOLVED: 'resolved' }>;
export type ConversationStatusValue = (typeof ConversationStatus)[keyof typeof ConversationStatus];

export declare const Limits: Readonly<{
  TEXT_MAX_CHARS: 5000;
  CLIENT_MSG_ID_MAX_CHARS: 64;
  REF_MAX_CHARS: 64;
}>;

// ---- objects ----------------------------------------------------------------

export type MessageKind = 'text' | 'sticker' | 'image' | 'video' | 'audio' | 'file' | 'location' | 'unsupported' | 'note';
export type MessageStatus = 'received' | 'pending' | 'sent' | 'failed';

export interface Message {
  id: string;
  line_user_id: string;
  /** Per conversation, strictly increasing. */
  seq: number;
  /** 1.1: per conversation, strictly increasing, taken by every creation and change; the latest change's. */
  rev: number;
  /** `internal`: a note among operators (kind `note`), never sent to LINE. */
  direction: 'inbound' | 'outbound' | 'internal';
  sender: { type: 'user' | 'operator'; id: string };
  kind: MessageKind;
  text: string | null;
  /** Kind-specific fields (sticker ids, file name, location, LINE message id). */
  data: Record<string, unknown>;
  status: MessageStatus;
  /** The sender's id for an outbound message; null inbound. */
  client_msg_id: string | null;
  /** ISO-8601 UTC. */
  created_at: string;
}

/** Where the content of an image, video or audio message is (LINE's `contentProvider`). */
export interface ContentProvider {
  type: 'line' | 'external';
  originalContentUrl?: string;
  previewImageUrl?: string;
}

/**
 * `Message.data` of a sticker or media message (1.1, "Media and stickers"). The URLs are the
 * plugin's, usable as they are in <img>, <video>, <audio> or <a download>: they answer 202
 * while the content is not fetched from LINE yet, 410 once the user unsent it. Older
 * messages may have no `content_url`.
 */
export interface MediaData {
  content_url?: string;
  /** Image and video: a small preview. */
  preview_url?: string;
  /** File. */
  file_name?: string;
  /** File: bytes. */
  file_size?: number;
  /** Video and audio: milliseconds. */
  duration?: number;
  /** Sticker. */
  package_id?: string;
  sticker_id?: string;
  content_provider?: ContentProvider;
  /** The user unsent the message (1.1): content fields are cleared. */
  unsent?: boolean;
  [field: string]: unknown;
}

export interface Conversation {
  line_user_id: string;
  display_name: string | null;
  picture_url: string | null;
  last_message: Message | null;
  last_seq: number;
  /** 1.1: the highest rev in the conversation. */
  last_rev: number;
  status: ConversationStatusValue;
  /** The admin id it is assigned to, or null. */
  assignee: string | null;
  /** The highest inbound seq an operator marked read (shared by the team). */
  read_seq: number;
  /** Inbound messages above read_seq. */
  unread_count: number;
  updated_at: string;
}

export interface OperatorPresence {
  admin_id: string;
  status: 'online' | 'offline';
  /** When an offline operator was last seen (ISO-8601 UTC), null while online. */
  last_seen?: string | null;
  /** 1.1: the display name from the operator's token, or the admin id. */
  name?: string;
}

// ---- client frame payloads ---------------------------------------------------

export interface AuthPayload { token: string }
/** With after_rev (1.1) the new and changed messages since; it wins over after_seq. */
export interface JoinConversationPayload { line_user_id: string; after_seq?: number; after_rev?: number }
export interface LeaveConversationPayload { line_user_id: string }
export interface TypingPayload { line_user_id: string }
/** A LINE sticker's ids (1.1, "Media and stickers"). */
export interface StickerIds { package_id: string; sticker_id: string }
/** Exactly one of `text` and `sticker` (1.1). */
export type MessageSendPayload =
  | { line_user_id: string; text: string; sticker?: never; client_msg_id: string }
  | { line_user_id: string; sticker: StickerIds; text?: never; client_msg_id: string };
export type PingPayload = Record<string, never>;
export interface ConversationAssignPayload { line_user_id: string; admin_id: string | null }
export interface ConversationPayload { line_user_id: string }
export interface MarkReadPayload { line_user_id: string; seq: number }
export interface NoteSendPayload { line_user_id: string; text: string; client_msg_id: string }

export interface ClientPayloads {
  auth: AuthPayload;
  join_conversation: JoinConversationPayload;
  leave_conversation: LeaveConversationPayload;
  typing_start: TypingPayload;
  typing_stop: TypingPayload;
  message_send: MessageSendPayload;
  ping: PingPayload;
  conversation_assign: ConversationAssignPayload;
  conversation_resolve: ConversationPayload;
  conversation_reopen: ConversationPayload;
  mark_read: MarkReadPayload;
  note_send: NoteSendPayload;
}

// ---- server frame payloads ---------------------------------------------------

export interface AuthSuccessPayload {
  admin_id: string;
  session_id: string;
  /** Seconds between pings. */
  heartbeat_interval: number;
  operators: OperatorPresence[];
  /** '1.1'. */
  protocol_version: string;
  /** Added: new for every run of the server; when it changes, refetch what you show. */
  server_instance?: string;
}
export interface AuthErrorPayload { code: AuthErrorCodeValue; message: string }
export interface ConversationJoinedPayload {
  line_user_id: string;
  /** 0 while the conversation has no message. */
  last_seq: number;
  /** 1.1: the highest rev; join again with after_rev = the highest received while has_more. */
  last_rev: number;
  /** Oldest first. */
  messages: Message[];
  has_more: boolean;
  /** Admin ids typing now. */
  typing: string[];
}
export interface ConversationLeftPayload { line_user_id: string }
export interface MessageReceivedPayload { message: Message }
/** 1.1: a message already shown changed; replace it by id. */
export interface MessageUpdatedPayload { message: Message }
export interface MessageSentPayload { client_msg_id: string; message: Message }
export interface UserTypingPayload { line_user_id: string; admin_id: string; is_typing: boolean; name?: string }
export interface ConversationUpdatedPayload { conversation: Conversation }
export interface OperatorStatusPayload { admin_id: string; status: 'online' | 'offline'; last_seen: string | null; name?: string }
/** 1.1: the presence changes of a window (at most 1 s), each operator once, in its latest state. */
export interface OperatorsChangedPayload { operators: OperatorPresence[] }
export interface NotificationPayload {
  kind: string;
  title: string;
  body: string;
  line_user_id?: string;
  data?: Record<string, unknown>;
}
export type PongPayload = Record<string, never>;
export interface ErrorPayload {
  code: ErrorCodeValue;
  message: string;
  client_msg_id?: string;
  details?: unknown;
}

export interface ServerPayloads {
  auth_success: AuthSuccessPayload;
  auth_error: AuthErrorPayload;
  conversation_joined: ConversationJoinedPayload;
  conversation_left: ConversationLeftPayload;
  message_received: MessageReceivedPayload;
  message_updated: MessageUpdatedPayload;
  message_sent: MessageSentPayload;
  user_typing: UserTypingPayload;
  conversation_updated: ConversationUpdatedPayload;
  operator_status: OperatorStatusPayload;
  operators_changed: OperatorsChangedPayload;
  notification: NotificationPayload;
  pong: PongPayload;
  error: ErrorPayload;
}

// ---- envelopes ---------------------------------------------------------------

export interface Frame<T extends string = string, P = Record<string, unknown>> {
  type: T;
  payload: P;
  /** Client correlation id, at most 64 characters, echoed in the direct answer. */
  ref?: string;
  /** Set by the server: ISO-8601 UTC with milliseconds and Z. */
  timestamp?: string;
}

export type ServerFrameOf<T extends ServerFrameTypeName> = Frame<T, ServerPayloads[T]> & { timestamp: string };
export type ClientFrameOf<T extends ClientFrameTypeName> = Frame<T, ClientPayloads[T]>;
/** Any server frame, discriminated by `type`. */
export type ServerFrame = { [T in ServerFrameTypeName]: ServerFrameOf<T> }[ServerFrameTypeName];
/** Any client frame, discriminated by `type`. */
export type ClientFrame = { [T in ClientFrameTypeName]: ClientFrameOf<T> }[ClientFrameTypeName];

export declare function makeFrame<T extends ClientFrameTypeName>(type: T, payload?: ClientPayloads[T], ref?: string | number): ClientFrameOf<T>;
export declare function makeFrame(type: string, payload?: Record<string, unknown>, ref?: string | number): Frame;

/** Parse a text frame; null for binary data, invalid JSON or a frame without a type. */
export declare function parseFrame(data: unknown): ServerFrame | null;

/**
 * The presence changes a server frame carries: an `operator_status` payload, the
 * `operators` of an `operators_changed` (1.1), none for any other frame.
 */
export declare function presenceChanges(frame: { type: string; payload?: unknown }): OperatorPresence[];
