'use client';
// The live part of the operator page, on useWebSocket from @livechat-ext/client.
// It renders on the server too (no socket there); the socket opens in the
// browser, once per tab, also under React's strict mode.
import { useCallback, useEffect, useMemo, useReducer, useState } from 'react';
import { useWebSocket } from '@livechat-ext/client/useWebSocket';
import type { QueueEntry } from '@livechat-ext/client/messageQueue';
import { TokenSource, listConversations, socketUrl } from './api';
import { initialState, reducer, sortedConversations, thread } from './state';
import { ConnectionBanner, ConversationList, Notifications, Presence } from './panels';
import { Composer, Thread } from './thread';

interface Props {
  pluginUrl: string;
  operator: { adminId: string; name: string };
}

export default function LiveChatAdmin({ pluginUrl, operator }: Props) {
  const tokens = useMemo(() => new TokenSource(), []);
  const [state, dispatch] = useReducer(reducer, initialState);
  const [listError, setListError] = useState<string | null>(null);

  const refreshList = useCallback(async () => {
    try {
      dispatch({ type: 'conversations', conversations: await listConversations(pluginUrl, await tokens.current()) });
      setListError(null);
    } catch (error) {
      setListError(String(error));
    }
  }, [pluginUrl, tokens]);

  const chat = useWebSocket({
    url: socketUrl(pluginUrl),
    getToken: tokens.fetchNew,
    reconnectInterval: 1000,
    onMessage: (frame) => dispatch({ type: 'frame', frame }),
    // after every (re)connect: the list may have changed while the socket was down
    onConnect: () => void refreshList(),
  });

  const { selected } = state;
  const { joinConversation, leaveConversation, client, queuedCount } = chat;
  useEffect(() => {
    if (!selected) return;
    joinConversation(selected);
    return () => void leaveConversation(selected);
  }, [selected, joinConversation, leaveConversation]);

  // Messages still in the offline queue (not yet confirmed by the server).
  const [outbox, setOutbox] = useState<QueueEntry[]>([]);
  useEffect(() => {
    setOutbox(client.queue.entries());
    return client.onQueueChange(setOutbox);
  }, [client, queuedCount]);

  const conversation = selected ? state.conversations[selected] : undefined;
  return (
    <div className="admin">
      <ConnectionBanner state={chat.connectionState} reconnecting={chat.isReconnecting} queued={queuedCount} onRetry={chat.connect} />
      <header className="topbar">
        <h1>Live chat</h1>
        <span data-testid="me">Signed in as {operator.name}</span>
        <Presence operators={state.operators} me={state.me} />
        <form method="post" action="/api/logout">
          <button type="submit">Sign out</button>
        </form>
      </header>
      <div className="columns">
        <ConversationList
          conversations={sortedConversations(state)}
          unread={state.unread}
          selected={selected}
          error={listError}
          onSelect={(lineUserId) => dispatch({ type: 'select', lineUserId })}
        />
        <section className="conversation" aria-label="Conversation">
          {selected ? (
            <>
              <h2 data-testid="conversation-name">{conversation?.display_name ?? selected}</h2>
              <Thread
                messages={thread(state, selected)}
                queued={outbox.filter((e) => e.lineUserId === selected)}
                typing={(state.typing[selected] ?? []).filter((id) => id !== state.me)}
                names={state.operators}
                onRetry={chat.retryMessage}
              />
              <Composer
                key={selected}
                onSend={(text) => chat.sendMessage('message_send', { line_user_id: selected, text })}
                onTyping={() => chat.startTyping(selected)}
              />
            </>
          ) : (
            <p className="empty">Pick a conversation.</p>
          )}
        </section>
      </div>
      <Notifications toasts={state.toasts} onDismiss={(id) => dispatch({ type: 'dismiss', id })} />
    </div>
  );
}
