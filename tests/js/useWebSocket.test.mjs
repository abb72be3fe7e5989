import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUseWebSocket, useWebSocket, LiveChatClient } from '../../livechat_ext/static/index.js';
import { renderHook } from './fakeReact.mjs';
import { makeFakeWebSocket } from './fakeWebSocket.mjs';
import { FakeClock, FakeStorage, flush, makeJwt } from './fakes.mjs';

function options(extra = {}) {
  const clock = new FakeClock();
  const ws = makeFakeWebSocket();
  return {
    ws,
    clock,
    props: {
      url: 'wss://chat.example/ws/live-chat',
      token: makeJwt({ sub: 'admin-1' }),
      WebSocketImpl: ws.WebSocketImpl,
      storage: new FakeStorage(),
      setTimeout: clock.setTimeout,
      clearTimeout: clock.clearTimeout,
      now: clock.now,
      reconnect: { random: () => 0 },
      ...extra,
    },
  };
}

const SHAPE = [
  'sendMessage', 'joinConversation', 'leaveConversation', 'startTyping', 'stopTyping',
  'sendNote', 'assign', 'resolve', 'reopen', 'markRead',
  'connectionState', 'isReconnecting', 'lastMessage', 'queuedCount', 'client',
];

test('createUseWebSocket(React) returns the documented shape and connects', async () => {
  const { props, ws } = options();
  const hook = renderHook((React) => createUseWebSocket(React), props);
  const result = hook.result();
  assert.deepEqual(Object.keys(result).sort(), [...SHAPE].sort());
  for (const name of SHAPE.slice(0, 10)) assert.equal(typeof result[name], 'function', name);
  assert.ok(result.client instanceof LiveChatClient);
  assert.equal(result.connectionState, 'connecting');
  assert.equal(result.isReconnecting, false);
  assert.equal(result.lastMessage, null);
  assert.equal(result.queuedCount, 0);

  await flush();
  const socket = ws.last();
  socket.open();
  socket.deliver('auth_success', { admin_id: 'admin-1', session_id: 's', heartbeat_interval: 30, operators: [] });
  assert.equal(hook.result().connectionState, 'connected');
  assert.equal(hook.result().lastMessage.type, 'auth_success');
  hook.unmount();
});

test('state, queuedCount, lastMessage and callbacks follow the client; unmount disconnects', async () => {
  const seen = [];
  const { props, ws, clock } = options({ onMessage: (frame) => seen.push(`first:${frame.type}`) });
  const hook = renderHook((React) => createUseWebSocket(React), props);
  hook.result().sendMessage('U1', 'queued while connecting');
  assert.equal(hook.result().queuedCount, 1);

  // a new onMessage closure on a later render is the one called
  hook.render({ ...props, onMessage: (frame) => seen.push(`second:${frame.type}`) });
  await flush();
  const socket = ws.last();
  socket.open();
  socket.deliver('auth_success', { admin_id: 'admin-1', session_id: 's', heartbeat_interval: 30, operators: [] });
  const send = socket.framesOfType('message_send')[0];
  socket.deliver('message_sent', { client_msg_id: send.payload.client_msg_id, message: {} }, send.ref);
  assert.equal(hook.result().queuedCount, 0);
  assert.equal(hook.result().lastMessage.type, 'message_sent');
  assert.deepEqual(seen, ['second:auth_success', 'second:message_sent']);

  socket.serverClose(1012);
  assert.equal(hook.result().connectionState, 'reconnecting');
  assert.equal(hook.result().isReconnecting, true);
  clock.tick(1000);
  assert.equal(hook.result().isReconnecting, true, 'still reconnecting while the new socket opens');

  const client = hook.result().client;
  hook.unmount();
  assert.equal(client.state, 'disconnected');
});

test('autoConnect=false leaves the client idle; the action functions are stable across renders', () => {
  const { props, ws } = options({ autoConnect: false });
  const hook = renderHook((React) => createUseWebSocket(React), props);
  const first = hook.result();
  assert.equal(first.connectionState, 'idle');
  assert.equal(ws.sockets.length, 0);
  const second = hook.render({ ...props });
  assert.equal(second.sendMessage, first.sendMessage);
  assert.equal(second.client, first.client);
  hook.unmount();
});

test('useWebSocket uses globalThis.React, and says so when it is missing', async () => {
  assert.throws(() => useWebSocket({ url: 'wss://x', token: 't' }), /globalThis\.React/);
  const { props } = options({ autoConnect: false });
  const hook = renderHook((React) => {
    globalThis.React = React;
    return useWebSocket;
  }, props);
  try {
    assert.equal(hook.result().connectionState, 'idle');
  } finally {
    hook.unmount();
    delete globalThis.React;
  }
});

test('createUseWebSocket refuses something that is not React', () => {
  assert.throws(() => createUseWebSocket(undefined), TypeError);
});
