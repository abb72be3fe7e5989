// The parts around the thread: connection banner, conversation list, who is
// online, notifications.
import type { Conversation } from '@livechat-ext/client/protocol';
import type { ConnectionStateName } from '@livechat-ext/client/stateMachine';
import type { Toast } from './state';

export function ConnectionBanner(props: {
  state: ConnectionStateName;
  reconnecting: boolean;
  queued: number;
  onRetry: () => void;
}) {
  const { state, reconnecting, queued, onRetry } = props;
  if (state === 'connected') return <div data-testid="connection" data-state={state} hidden />;
  const queuedNote = queued > 0 ? ` ${queued} message${queued === 1 ? '' : 's'} queued.` : '';
  const text = reconnecting
    ? 'Connection lost. Reconnecting…'
    : state === 'disconnected'
      ? 'Disconnected.'
      : 'Connecting…';
  return (
    <div className="banner" role="status" data-testid="connection" data-state={reconnecting ? 'reconnecting' : state}>
      {text}
      {queuedNote}
      {state === 'disconnected' ? (
        <button type="button" onClick={onRetry}>
          Reconnect
        </button>
      ) : null}
    </div>
  );
}

export function ConversationList(props: {
  conversations: Conversation[];
  unread: Record<string, boolean>;
  selected: string | null;
  error: string | null;
  onSelect: (lineUserId: string) => void;
}) {
  const { conversations, unread, selected, error, onSelect } = props;
  return (
    <nav className="inbox" aria-label="Conversations">
      {error ? <p role="alert">{error}</p> : null}
      {conversations.length === 0 ? <p className="empty">No conversations yet.</p> : null}
      <ul>
        {conversations.map((c) => (
          <li key={c.line_user_id}>
            <button
              type="button"
              className="conv"
              data-testid="conversation"
              aria-current={c.line_user_id === selected ? 'true' : undefined}
              data-unread={unread[c.line_user_id] ? 'true' : undefined}
              onClick={() => onSelect(c.line_user_id)}
            >
              <strong>{c.display_name ?? c.line_user_id}</strong>
              <span className="preview">{c.last_message?.text ?? ''}</span>
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}

export function Presence(props: { operators: Record<string, { status: string; name?: string }>; me: string | null }) {
  const online = Object.entries(props.operators).filter(([, o]) => o.status === 'online');
  return (
    <ul className="presence" aria-label="Operators online" data-testid="presence">
      {online.map(([id, o]) => (
        <li key={id}>
          {o.name ?? id}
          {id === props.me ? ' (you)' : ''}
        </li>
      ))}
    </ul>
  );
}

export function Notifications(props: { toasts: Toast[]; onDismiss: (id: number) => void }) {
  return (
    <aside className="toasts" aria-live="polite" data-testid="notifications">
      {props.toasts.map((t) => (
        <div key={t.id} className={`toast toast-${t.kind}`} role="status">
          <strong>{t.title}</strong> {t.body}
          <button type="button" aria-label="Dismiss" onClick={() => props.onDismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </aside>
  );
}
