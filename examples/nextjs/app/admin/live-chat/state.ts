// What the page shows, as a reducer over the server's frames. Messages are
// kept by id (an operator's message comes again when its status changes), so
// a frame seen twice, live or in catch-up, changes nothing.
import type { Conversation, Message, ServerFrame } from '@livechat-ext/client/protocol';

export interface Toast {
  id: number;
  kind: string;
  title: string;
  body: string;
}

export interface ChatState {
  me: string | null;
  conversations: Record<string, Conversation>;
  messages: Record<string, Record<string, Message>>;
  typing: Record<string, string[]>;
  operators: Record<string, { status: string; name?: string }>;
  unread: Record<string, boolean>;
  toasts: Toast[];
  selected: string | null;
  nextToastId: number;
}

export type Action =
  | { type: 'frame'; frame: ServerFrame }
  | { type: 'conversations'; conversations: Conversation[] }
  | { type: 'select'; lineUserId: string }
  | { type: 'dismiss'; id: number };

export const initialState: ChatState = {
  me: null,
  conversations: {},
  messages: {},
  typing: {},
  operators: {},
  unread: {},
  toasts: [],
  selected: null,
  nextToastId: 1,
};

const MAX_TOASTS = 4;

function withMessages(state: ChatState, list: Message[]): ChatState {
  if (list.length === 0) return state;
  const messages = { ...state.messages };
  for (const message of list) messages[message.line_user_id] = { ...messages[message.line_user_id], [message.id]: message };
  const unread = { ...state.unread };
  for (const m of list) if (m.direction === 'inbound' && m.line_user_id !== state.selected) unread[m.line_user_id] = true;
  return { ...state, messages, unread };
}

function withToast(state: ChatState, kind: string, title: string, body: string): ChatState {
  const toast = { id: state.nextToastId, kind, title, body };
  return { ...state, toasts: [...state.toasts, toast].slice(-MAX_TOASTS), nextToastId: state.nextToastId + 1 };
}

function withOperators(state: ChatState, list: Array<{ admin_id: string; status: string; name?: string }>): ChatState {
  const operators = { ...state.operators };
  for (const o of list) operators[o.admin_id] = { status: o.status, name: o.name ?? operators[o.admin_id]?.name };
  return { ...state, operators };
}

// Frames of protocol 1.1 (message_updated, operators_changed) are read too, by
// name: a 1.0 server never sends them.
function onFrame(state: ChatState, frame: ServerFrame): ChatState {
  const { type, payload } = frame as { type: string; payload: any };
  switch (type) {
    case 'auth_success':
      return withOperators({ ...state, me: payload.admin_id }, payload.operators);
    case 'operator_status':
      return withOperators(state, [payload]);
    case 'operators_changed':
      return withOperators(state, payload.operators);
    case 'conversation_joined':
      return withMessages({ ...state, typing: { ...state.typing, [payload.line_user_id]: payload.typing } }, payload.messages);
    case 'message_received':
    case 'message_updated':
    case 'message_sent':
      return withMessages(state, [payload.message]);
    case 'conversation_updated': {
      const c: Conversation = payload.conversation;
      const before = state.conversations[c.line_user_id];
      const news = c.last_seq > (before?.last_seq ?? 0) && c.last_message?.direction === 'inbound';
      const unread = news && c.line_user_id !== state.selected ? { ...state.unread, [c.line_user_id]: true } : state.unread;
      return { ...state, unread, conversations: { ...state.conversations, [c.line_user_id]: c } };
    }
    case 'user_typing': {
      const others = (state.typing[payload.line_user_id] ?? []).filter((id) => id !== payload.admin_id);
      const typing = payload.is_typing ? [...others, payload.admin_id] : others;
      return { ...state, typing: { ...state.typing, [payload.line_user_id]: typing } };
    }
    case 'notification':
      return withToast(state, payload.kind, payload.title, payload.body);
    case 'error':
      return withToast(state, 'error', `Error: ${payload.code}`, payload.message);
    default:
      return state;
  }
}

export function reducer(state: ChatState, action: Action): ChatState {
  switch (action.type) {
    case 'frame':
      return onFrame(state, action.frame);
    case 'conversations': {
      const conversations = { ...state.conversations };
      for (const c of action.conversations) conversations[c.line_user_id] = c;
      return { ...state, conversations };
    }
    case 'select':
      return { ...state, selected: action.lineUserId, unread: { ...state.unread, [action.lineUserId]: false } };
    case 'dismiss':
      return { ...state, toasts: state.toasts.filter((t) => t.id !== action.id) };
  }
}

/** Newest first, by the time of the last message (or of the last change). */
export function sortedConversations(state: ChatState): Conversation[] {
  const at = (c: Conversation) => c.last_message?.created_at ?? c.updated_at;
  return Object.values(state.conversations).sort((a, b) => at(b).localeCompare(at(a)));
}

/** A conversation's messages, oldest first. */
export function thread(state: ChatState, lineUserId: string): Message[] {
  return Object.values(state.messages[lineUserId] ?? {}).sort((a, b) => a.seq - b.seq);
}
