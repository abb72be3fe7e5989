// A conversation: its messages, the ones still queued, who is typing, the composer.
import { useState, type FormEvent } from 'react';
import type { Message } from '@livechat-ext/client/protocol';
import type { QueueEntry } from '@livechat-ext/client/messageQueue';

function describe(message: Message): string {
  if (message.text) return message.text;
  return message.kind === 'sticker' ? '(sticker)' : `(${message.kind})`;
}

export function Thread(props: {
  messages: Message[];
  queued: QueueEntry[];
  typing: string[];
  names: Record<string, { name?: string }>;
  onRetry: (clientMsgId: string) => boolean;
}) {
  const { messages, queued, typing, names, onRetry } = props;
  // A queued entry that the server already shows (by client_msg_id) is not shown twice.
  const shown = new Set(messages.map((m) => m.client_msg_id).filter(Boolean));
  return (
    <div className="thread" data-testid="thread">
      <ol>
        {messages.map((m) => (
          <li key={m.id} className={`msg ${m.direction}`} data-testid="message" data-status={m.status}>
            {describe(m)}
            {m.direction === 'outbound' ? <small> {m.status}</small> : null}
          </li>
        ))}
        {queued
          .filter((e) => !shown.has(e.clientMsgId))
          .map((e) => (
            <li key={e.clientMsgId} className="msg outbound" data-testid="message" data-status={e.status === 'failed' ? 'failed' : 'queued'}>
              {e.text}
              <small> {e.status === 'failed' ? `failed: ${e.error ?? ''}` : 'queued'}</small>
              {e.status === 'failed' ? (
                <button type="button" onClick={() => onRetry(e.clientMsgId)}>
                  Retry
                </button>
              ) : null}
            </li>
          ))}
      </ol>
      {typing.length > 0 ? (
        <p className="typing" data-testid="typing">
          {typing.map((id) => names[id]?.name ?? id).join(', ')} typing…
        </p>
      ) : null}
    </div>
  );
}

export function Composer(props: { onSend: (text: string) => void; onTyping: () => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    try {
      props.onSend(text);
      setText('');
      setError(null);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  return (
    <form className="composer" onSubmit={submit}>
      <input
        aria-label="Reply"
        data-testid="composer"
        value={text}
        maxLength={5000}
        onChange={(event) => {
          setText(event.target.value);
          props.onTyping();
        }}
      />
      <button type="submit" disabled={text.trim() === ''}>
        Send
      </button>
      {error ? <p role="alert">{error}</p> : null}
    </form>
  );
}
