import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveChatClient } from '../../livechat_ext/static/index.js';
import { makeClient, accept, connected } from './harness.mjs';
import { flush, makeJwt } from './fakes.mjs';

test('the first frame is auth with the token; auth_success means connected', async () => {
  const ctx = makeClient();
  const states = [];
  let connectPayload = null;
  ctx.client.onStateChange((state) => states.push(state));
  ctx.client.onConnect((payload) => (connectPayload = payload));
  ctx.client.connect();
  assert.equal(ctx.client.state, 'connecting');
  await flush();
  const socket = ctx.ws.last();
  assert.equal(socket.url, 'wss://chat.example/ws/live-chat');
  socket.open();
  const [auth] = socket.frames;
  assert.equal(auth.type, 'auth');
  assert.equal(auth.payload.token, makeJwt({ sub: 'admin-1' }));
  assert.equal(typeof auth.ref, 'string');
  assert.equal(ctx.client.state, 'connecting', 'not before auth_success');
  socket.deliver('auth_success', { admin_id: 'admin-1', session_id: 's', heartbeat_interval: 30, operators: [] }, auth.ref);
  assert.equal(ctx.client.state, 'connected');
  assert.deepEqual(states, ['connecting', 'connected']);
  assert.equal(connectPayload.admin_id, 'admin-1');
});

test('every frame sent carries a distinct string ref', async () => {
  const { client, socket } = await connected();
  client.joinConversation('U1');
  client.send('ping');
  client.sendMessage('U1', 'hi');
  const refs = socket.frames.map((f) => f.ref);
  assert.ok(refs.every((ref) => typeof ref === 'string' && ref.length > 0));
  assert.equal(new Set(refs).size, refs.length);
});

test('connect -> auth_success -> drop -> reconnecting -> connected', async () => {
  const ctx = await connected();
  const states = [];
  const closes = [];
  ctx.client.onStateChange((state) => states.push(state));
  ctx.client.onDisconnect((code, reason) => closes.push([code, reason]));
  ctx.socket.serverClose(1006);
  assert.equal(ctx.client.state, 'reconnecting');
  assert.deepEqual(closes, [[1006, '']]);
  assert.deepEqual(ctx.clock.pending, [1000]);
  ctx.clock.tick(1000);
  assert.equal(ctx.client.state, 'connecting');
  const second = await accept(ctx);
  assert.notEqual(second, ctx.socket);
  assert.equal(ctx.client.state, 'connected');
  assert.deepEqual(states, ['reconnecting', 'connecting', 'connected']);
});

for (const code of [1001, 1006, 1012, 1013, 4002]) {
  test(`reconnects after close ${code}`, async () => {
    const ctx = await connected();
    ctx.socket.serverClose(code);
    assert.equal(ctx.client.state, 'reconnecting');
    ctx.clock.tick(1000);
    await flush();
    assert.equal(ctx.ws.sockets.length, 2);
  });
}

for (const code of [4001, 4008]) {
  test(`no reconnect after close ${code} until a new token is given`, async () => {
    const ctx = await connected();
    ctx.socket.serverClose(code);
    assert.equal(ctx.client.state, 'disconnected');
    ctx.clock.tick(120_000);
    await flush();
    assert.equal(ctx.ws.sockets.length, 1);
    const fresh = makeJwt({ sub: 'admin-1', n: 2 });
    ctx.client.setToken(fresh);
    assert.equal(ctx.client.state, 'connecting');
    const socket = await accept(ctx);
    assert.equal(socket.frames[0].payload.token, fresh);
    assert.equal(ctx.client.state, 'connected');
  });
}

test('after 4008, an explicit connect() is the user acting: it reconnects', async () => {
  const ctx = await connected();
  ctx.socket.serverClose(4008);
  ctx.client.connect();
  await accept(ctx);
  assert.equal(ctx.client.state, 'connected');
});

test('token_expired with getToken: fetch a fresh token, then reconnect with it', async () => {
  const tokens = [makeJwt({ sub: 'admin-1', v: 1 }), makeJwt({ sub: 'admin-1', v: 2 })];
  let calls = 0;
  const ctx = await connected({ token: undefined, getToken: async () => tokens[Math.min(calls++, 1)] });
  ctx.socket.deliver('auth_error', { code: 'token_expired', message: 'expired' });
  ctx.socket.serverClose(4001);
  assert.equal(ctx.client.state, 'reconnecting');
  await flush();
  ctx.clock.tick(1000);
  const socket = await accept(ctx);
  assert.equal(socket.frames[0].payload.token, tokens[1]);
  assert.equal(ctx.client.state, 'connected');
});

test('4001 and getToken still returns the rejected token: stay disconnected', async () => {
  const token = makeJwt({ sub: 'admin-1' });
  const ctx = await connected({ token: undefined, getToken: async () => token });
  ctx.socket.deliver('auth_error', { code: 'invalid_token', message: 'bad' });
  ctx.socket.serverClose(4001);
  await flush();
  assert.equal(ctx.client.state, 'disconnected');
  ctx.clock.tick(60_000);
  assert.equal(ctx.ws.sockets.length, 1);
});

test('an auth_timeout 4001 is not the token\'s fault: reconnect with backoff', async () => {
  const ctx = makeClient();
  ctx.client.connect();
  await flush();
  ctx.ws.last().open();
  ctx.ws.last().deliver('auth_error', { code: 'auth_timeout', message: 'too slow' });
  ctx.ws.last().serverClose(4001);
  await flush();
  assert.equal(ctx.client.state, 'reconnecting');
  ctx.clock.tick(1000);
  await accept(ctx);
  assert.equal(ctx.client.state, 'connected');
});

test('maxAttempts stops reconnecting', async () => {
  const ctx = makeClient({ reconnect: { random: () => 0, maxAttempts: 2 } });
  ctx.client.connect();
  await flush();
  ctx.ws.last().serverClose(1006);
  ctx.clock.tick(1000);
  await flush();
  ctx.ws.last().serverClose(1006);
  ctx.clock.tick(2000);
  await flush();
  ctx.ws.last().serverClose(1006);
  assert.equal(ctx.ws.sockets.length, 3);
  assert.equal(ctx.client.state, 'disconnected');
  ctx.clock.tick(600_000);
  assert.equal(ctx.ws.sockets.length, 3);
});

test('backoff grows across failed attempts and resets after auth_success', async () => {
  const ctx = makeClient();
  ctx.client.connect();
  await flush();
  ctx.ws.last().serverClose(1006);
  assert.deepEqual(ctx.clock.pending, [1000]);
  ctx.clock.tick(1000);
  await flush();
  ctx.ws.last().serverClose(1006);
  assert.deepEqual(ctx.clock.pending, [2000]);
  ctx.clock.tick(2000);
  const socket = await accept(ctx);
  socket.serverClose(1012);
  assert.ok(ctx.clock.pending.includes(1000));
});

test('disconnect() closes with 1000 and never reconnects', async () => {
  const ctx = await connected();
  const closes = [];
  ctx.client.onDisconnect((code) => closes.push(code));
  ctx.client.disconnect();
  assert.deepEqual(ctx.socket.closedWith, { code: 1000, reason: 'client disconnect' });
  assert.equal(ctx.client.state, 'disconnected');
  assert.deepEqual(closes, [1000]);
  ctx.clock.tick(60_000);
  await flush();
  assert.equal(ctx.ws.sockets.length, 1);
});

test('disconnect() while waiting for getToken opens no socket', async () => {
  let release;
  const ctx = makeClient({ token: undefined, getToken: () => new Promise((resolve) => (release = resolve)) });
  ctx.client.connect();
  ctx.client.disconnect();
  release(makeJwt({ sub: 'admin-1' }));
  await flush();
  assert.equal(ctx.ws.sockets.length, 0);
  assert.equal(ctx.client.state, 'disconnected');
});

test('a failing getToken counts as a failed attempt and is retried', async () => {
  let fail = true;
  const ctx = makeClient({
    token: undefined,
    getToken: async () => {
      if (fail) throw new Error('session expired');
      return makeJwt({ sub: 'admin-1' });
    },
  });
  ctx.client.connect();
  await flush();
  assert.equal(ctx.client.state, 'reconnecting');
  fail = false;
  ctx.clock.tick(1000);
  await accept(ctx);
  assert.equal(ctx.client.state, 'connected');
});

test('on(type) handlers get the payload and the frame; invalid frames are ignored', async () => {
  const { client, socket } = await connected();
  const seen = [];
  const all = [];
  client.on('operator_status', (payload, frame) => seen.push([payload.status, frame.type]));
  client.onMessage((frame) => all.push(frame.type));
  socket.deliverRaw('not json');
  socket.deliver('operator_status', { admin_id: 'a2', status: 'online', last_seen: null });
  assert.deepEqual(seen, [['online', 'operator_status']]);
  assert.deepEqual(all, ['operator_status']);
});

test('the constructor needs a url and a token or getToken', () => {
  assert.throws(() => new LiveChatClient({}), TypeError);
  assert.throws(() => new LiveChatClient({ url: 'wss://x' }), TypeError);
});

test('a socket with no auth_success within connectTimeout is given up and retried', async () => {
  const ctx = makeClient({ connectTimeout: 15 });
  const closes = [];
  ctx.client.onDisconnect((code, reason) => closes.push([code, reason]));
  ctx.client.connect();
  await flush();
  ctx.ws.last().open();
  ctx.clock.tick(14_999);
  assert.equal(ctx.client.state, 'connecting');
  ctx.clock.tick(1);
  assert.deepEqual(closes, [[1006, 'connect timeout']]);
  assert.equal(ctx.ws.sockets[0].closedWith.code, 1000, 'a client may not send 1006');
  assert.equal(ctx.client.state, 'reconnecting');
  ctx.clock.tick(1000);
  await accept(ctx);
  assert.equal(ctx.client.state, 'connected');
});
