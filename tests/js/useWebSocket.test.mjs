import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUseWebSocket, LiveChatClient } from '../../livechat_ext/static/index.js';
import { renderHook } from './fakeReact.mjs';
import { makeFakeWebSocket } from './fakeWebSocket.mjs';
import { FakeClock, FakeStorage, flush, makeJwt } from './fakes.mjs';

const AUTH_SUCCESS = { admin_id: 'admin-1', session_id: 's', heartbeat_interval: 30, operators: [] };

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

const render = (props, flags) => renderHook((React) => createUseWebSocket(React), props, flags);

async function accept(ws) {
  await flush();
  const socket = ws.last();
  socket.open();
  socket.deliver('auth_success', AUTH_SUCCESS);
  return socket;
}

const SEED = ['isConnected', 'connectionState', 'lastMessage', 'sendMessage', 'connect', 'disconnect'];
const MORE = [
  'sendText', 'retryMessage', 'joinConversation', 'leaveConversation', 'startTyping', 'stopTyping',
  'sendNote', 'assign', 'resolve', 'reopen', 'markRead', 'sendSticker',
  'isReconnecting', 'queuedCount', 'client',
];

test('the hook returns the seed names and the client features beside them', async () => {
  const { props, ws } = options();
  const hook = render(props);
  const result = hook.result();
  assert.deepEqual(Object.keys(result).sort(), [...SEED, ...MORE].sort());
  for (const name of ['sendMessage', 'connect', 'disconnect', ...MORE.slice(0, 12)]) {
    assert.equal(typeof result[name], 'function', name);
  }
  assert.ok(result.client instanceof LiveChatClient);
  assert.equal(result.connectionState, 'connecting');
  assert.equal(result.isConnected, false);
  assert.equal(result.lastMessage, null);
  assert.equal(result.queuedCount, 0);

  await accept(ws);
  assert.equal(hook.result().connectionState, 'connected');
  assert.equal(hook.result().isConnected, true);
  assert.equal(hook.result().lastMessage.type, 'auth_success');
  hook.unmount();
});

test('sendMessage(type, payload) queues a message, remembers a join, throttles typing, sends other frames as they are', async () => {
  const { props, ws } = options();
  const hook = render(props);
  const { sendMessage } = hook.result();
  // before the socket is up: the message is queued, the join remembered
  const clientMsgId = sendMessage('message_send', { line_user_id: 'U1', text: 'hello' });
  assert.match(clientMsgId, /.+/);
  assert.equal(sendMessage('join_conversation', { line_user_id: 'U1' }), null);
  assert.equal(sendMessage('ping', {}), null, 'not sent: the socket is not open');
  assert.equal(hook.result().queuedCount, 1);

  const socket = await accept(ws);
  assert.deepEqual(socket.framesOfType('join_conversation').map((f) => f.payload), [{ line_user_id: 'U1' }]);
  assert.deepEqual(socket.framesOfType('message_send').map((f) => f.payload), [
    { line_user_id: 'U1', text: 'hello', client_msg_id: clientMsgId },
  ]);
  sendMessage('typing_start', { line_user_id: 'U1' });
  sendMessage('typing_start', { line_user_id: 'U1' });
  assert.equal(socket.framesOfType('typing_start').length, 1, 'throttled');
  const ref = sendMessage('ping', {});
  assert.equal(socket.frames.at(-1).type, 'ping');
  assert.equal(socket.frames.at(-1).ref, ref);
  hook.unmount();
});

test('sendMessage refuses what it cannot send, saying what to do instead', () => {
  const { props } = options({ autoConnect: false });
  const hook = render(props);
  const { sendMessage } = hook.result();
  assert.throws(() => sendMessage('U1', 'hello'), /not a client frame type.*sendText\(lineUserId, text\)/);
  assert.throws(() => sendMessage('auth', { token: 't' }), /authenticates by itself/);
  assert.throws(
    () => sendMessage('message_send', { line_user_id: 'U1', text: 'x', client_msg_id: 'mine' }),
    /client_msg_id is set by the client/,
  );
  assert.throws(() => sendMessage('join_conversation', { line_user_id: 'U1', after_seq: 3 }), /after_seq is set by the client/);
  assert.throws(() => sendMessage('message_send', { line_user_id: 'U1', text: '' }), RangeError);
  assert.throws(() => sendMessage('ping', null), /payload must be an object/);
  assert.equal(hook.result().queuedCount, 0, 'nothing was queued');
  hook.unmount();
});

test('the hook sends a sticker (1.1) through the queue: sendMessage with sticker, or sendSticker', async () => {
  const { props, ws } = options();
  const hook = render(props);
  const { sendMessage, sendSticker } = hook.result();
  const a = sendMessage('message_send', { line_user_id: 'U1', sticker: { package_id: '446', sticker_id: '1988' } });
  const b = sendSticker('U1', { package_id: '789', sticker_id: '10855' });
  assert.throws(
    () => sendMessage('message_send', { line_user_id: 'U1', text: 'hi', sticker: { package_id: '446', sticker_id: '1988' } }),
    /text or sticker, not both/,
  );
  assert.equal(hook.result().queuedCount, 2);
  const socket = await accept(ws);
  assert.deepEqual(socket.framesOfType('message_send').map((f) => f.payload), [
    { line_user_id: 'U1', sticker: { package_id: '446', sticker_id: '1988' }, client_msg_id: a },
    { line_user_id: 'U1', sticker: { package_id: '789', sticker_id: '10855' }, client_msg_id: b },
  ]);
  hook.unmount();
});

test('reconnectInterval is the first retry delay and maxReconnectAttempts ends the retries', async () => {
  const { props, ws, clock } = options({ reconnectInterval: 250, maxReconnectAttempts: 2 });
  const hook = render(props);
  const first = await accept(ws);
  first.serverClose(1012);
  assert.equal(hook.result().connectionState, 'reconnecting');
  assert.deepEqual(clock.pending, [250]);
  clock.tick(250);
  await flush();
  ws.last().serverClose(1006);
  assert.deepEqual(clock.pending, [500], 'the backoff doubles from reconnectInterval');
  clock.tick(500);
  await flush();
  assert.equal(ws.sockets.length, 3);
  ws.last().serverClose(1006);
  assert.equal(hook.result().connectionState, 'disconnected', 'two retries, then it gives up');
  assert.deepEqual(clock.pending, []);
  hook.unmount();
});

test('reconnectInterval and maxReconnectAttempts out of range are errors', () => {
  for (const bad of [{ reconnectInterval: 0 }, { reconnectInterval: NaN }, { reconnectInterval: '1000' }]) {
    assert.throws(() => render(options(bad).props), /reconnectInterval must be a positive number/, JSON.stringify(bad));
  }
  for (const bad of [{ maxReconnectAttempts: -1 }, { maxReconnectAttempts: 1.5 }]) {
    assert.throws(() => render(options(bad).props), /maxReconnectAttempts must be a whole number/, JSON.stringify(bad));
  }
});

test('strict mode (effects mounted, cleaned up and mounted again) opens one socket', async () => {
  const { props, ws } = options();
  const hook = render(props, { strict: true });
  await flush();
  assert.equal(ws.sockets.length, 1);
  await accept(ws);
  assert.equal(ws.sockets.length, 1);
  assert.equal(hook.result().connectionState, 'connected');
  assert.equal(ws.last().framesOfType('auth').length, 1);
  hook.unmount();
  assert.equal(ws.last().closedWith.code, 1000);
});

test('fast refresh (effects run again, state kept) closes the socket and opens one new one, queue kept', async () => {
  const { props, ws } = options();
  const hook = render(props);
  const first = await accept(ws);
  const client = hook.result().client;
  hook.refresh();
  assert.equal(first.closedWith.code, 1000, 'the cleanup closed it');
  assert.equal(hook.result().client, client, 'state is kept: the same client');
  hook.result().sendText('U1', 'written across the refresh');
  const second = await accept(ws);
  assert.equal(ws.sockets.length, 2);
  assert.equal(second.framesOfType('message_send').length, 1);
  assert.equal(hook.result().connectionState, 'connected');
  hook.unmount();
});

test('without a token the hook waits; the token of a later render connects it', async () => {
  const { props, ws } = options({ token: null });
  const hook = render(props);
  await flush();
  assert.equal(ws.sockets.length, 0);
  assert.equal(hook.result().connectionState, 'idle');
  assert.throws(() => hook.result().connect(), /no token/);

  const token = makeJwt({ sub: 'admin-1' });
  hook.render({ ...props, token });
  await flush();
  assert.equal(ws.sockets.length, 1);
  ws.last().open();
  assert.equal(ws.last().framesOfType('auth')[0].payload.token, token);
  hook.unmount();
});

test('the first render does not read the browser: a queue saved in storage shows after mount', () => {
  const storage = new FakeStorage();
  const seeded = options({ storage, autoConnect: false });
  const first = render(seeded.props);
  first.result().sendText('U1', 'kept across reloads');
  first.unmount();

  const { props } = options({ storage, autoConnect: false });
  let firstRender;
  const hook = renderHook((React) => {
    const useWebSocket = createUseWebSocket(React);
    return (p) => {
      const result = useWebSocket(p);
      firstRender ??= { queuedCount: result.queuedCount, connectionState: result.connectionState };
      return result;
    };
  }, props);
  assert.deepEqual(firstRender, { queuedCount: 0, connectionState: 'idle' }, 'what the server renders');
  assert.equal(hook.result().queuedCount, 1, 'then the effect shows the saved queue');
  hook.unmount();
});

test('state, queuedCount, lastMessage and callbacks follow the client; unmount disconnects', async () => {
  const seen = [];
  const { props, ws, clock } = options({ onMessage: (frame) => seen.push(`first:${frame.type}`) });
  const hook = render(props);
  hook.result().sendText('U1', 'queued while connecting');
  assert.equal(hook.result().queuedCount, 1);

  // a new onMessage closure on a later render is the one called
  hook.render({ ...props, onMessage: (frame) => seen.push(`second:${frame.type}`) });
  const socket = await accept(ws);
  const send = socket.framesOfType('message_send')[0];
  socket.deliver('message_sent', { client_msg_id: send.payload.client_msg_id, message: {} }, send.ref);
  assert.equal(hook.result().queuedCount, 0);
  assert.equal(hook.result().lastMessage.type, 'message_sent');
  assert.deepEqual(seen, ['second:auth_success', 'second:message_sent']);

  socket.serverClose(1012);
  assert.equal(hook.result().connectionState, 'reconnecting');
  assert.equal(hook.result().isReconnecting, true);
  assert.equal(hook.result().isConnected, false);
  clock.tick(1000);
  assert.equal(hook.result().isReconnecting, true, 'still reconnecting while the new socket opens');

  const client = hook.result().client;
  hook.unmount();
  assert.equal(client.state, 'disconnected');
});

test('disconnect() and connect() from the hook', async () => {
  const { props, ws } = options();
  const hook = render(props);
  await accept(ws);
  hook.result().disconnect();
  assert.equal(hook.result().connectionState, 'disconnected');
  assert.equal(ws.last().closedWith.code, 1000);
  hook.result().connect();
  await accept(ws);
  assert.equal(ws.sockets.length, 2);
  assert.equal(hook.result().isConnected, true);
  hook.unmount();
});

test('autoConnect=false leaves the client idle; the action functions are stable across renders', () => {
  const { props, ws } = options({ autoConnect: false });
  const hook = render(props);
  const first = hook.result();
  assert.equal(first.connectionState, 'idle');
  assert.equal(ws.sockets.length, 0);
  const second = hook.render({ ...props });
  for (const name of ['sendMessage', 'sendText', 'connect', 'disconnect', 'client']) {
    assert.equal(second[name], first[name], name);
  }
  hook.unmount();
});

test('createUseWebSocket refuses something that is not React', () => {
  assert.throws(() => createUseWebSocket(undefined), TypeError);
});
