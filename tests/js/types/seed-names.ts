// Compiled by `tsc -p tsconfig.json` (tests/js/test_node.py), never run: the
// names of the Next.js design (hooks/useWebSocket.ts, lib/websocket/client.ts,
// messageQueue.ts, reconnectStrategy.ts) type-check as a Next.js app imports
// them from the package, and misuse does not.
import { useWebSocket, type UseWebSocketResult } from '@livechat-ext/client/useWebSocket';
import { LiveChatClient, LiveChatWebSocketClient } from '@livechat-ext/client/client';
import { MessageQueue } from '@livechat-ext/client/messageQueue';
import { getReconnectDelay, ReconnectStrategy } from '@livechat-ext/client/reconnectStrategy';
import { ConnectionState, type ConnectionStateName } from '@livechat-ext/client/stateMachine';
import { createUseWebSocket, getReconnectDelay as fromIndex } from '@livechat-ext/client';

export function useSeedNames(token: string): UseWebSocketResult {
  const seen: string[] = [];
  const ws = useWebSocket({
    url: 'wss://chat.example/ws/live-chat',
    token,
    reconnectInterval: 1000,
    maxReconnectAttempts: 5,
    onMessage: (frame) => {
      if (frame.type === 'message_received') seen.push(frame.payload.message.line_user_id);
    },
  });
  const connected: boolean = ws.isConnected;
  const state: ConnectionStateName = ws.connectionState;
  const clientMsgId: string | null = ws.sendMessage('message_send', { line_user_id: 'U1', text: 'hello' });
  ws.sendMessage('join_conversation', { line_user_id: 'U1' });
  ws.sendMessage('typing_start', { line_user_id: 'U1' });
  ws.sendMessage('ping', {});
  // @ts-expect-error the queue chooses client_msg_id
  ws.sendMessage('message_send', { line_user_id: 'U1', text: 'hello', client_msg_id: 'mine' });
  // @ts-expect-error a server frame type
  ws.sendMessage('message_received', {});
  // @ts-expect-error the client authenticates by itself
  ws.sendMessage('auth', { token });
  // @ts-expect-error the text is required
  ws.sendMessage('message_send', { line_user_id: 'U1' });
  ws.sendMessage('message_send', { line_user_id: 'U1', sticker: { package_id: '446', sticker_id: '1988' } });
  // @ts-expect-error a message is a text or a sticker, not both
  ws.sendMessage('message_send', { line_user_id: 'U1', text: 'hi', sticker: { package_id: '446', sticker_id: '1988' } });
  const sticker: string = ws.sendSticker('U1', { package_id: '446', sticker_id: '1988' });
  const sent: string = ws.sendText('U1', 'hello') + sticker;
  void [connected, state, clientMsgId, sent];
  return ws;
}

export const states: ConnectionStateName[] = [
  ConnectionState.CONNECTING,
  ConnectionState.CONNECTED,
  ConnectionState.DISCONNECTED,
  ConnectionState.RECONNECTING,
  ConnectionState.IDLE,
];
export const delay: number = getReconnectDelay(3, { baseDelayMs: 500 }) + fromIndex(0);
export const client: LiveChatClient = new LiveChatWebSocketClient({ url: 'wss://x/ws/live-chat', token: 't' });
export const strategy = new ReconnectStrategy({ baseDelayMs: 500, maxAttempts: 3 });
export const queue = new MessageQueue();
export const hookFor = createUseWebSocket;
