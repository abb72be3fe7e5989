import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { accept, connected, makeClient } from './harness.mjs';
import { flush, makeJwt } from './fakes.mjs';

test('a ping goes out every heartbeat_interval from auth_success; a pong keeps the socket', async () => {
  const { socket, clock, client } = await connected();
  clock.tick(29_999);
  assert.equal(socket.framesOfType('ping').length, 0);
  clock.tick(1);
  const [ping] = socket.framesOfType('ping');
  assert.equal(typeof ping.ref, 'string');
  socket.deliver('pong', {}, ping.ref);
  clock.tick(30_000);
  socket.deliver('pong', {});
  clock.tick(30_000);
  socket.deliver('pong', {});
  assert.equal(socket.framesOfType('ping').length, 3);
  assert.equal(client.state, 'connected');
});

test('no frame within the timeout after a ping: close and reconnect', async () => {
  const ctx = await connected();
  const closes = [];
  ctx.client.onDisconnect((code) => closes.push(code));
  ctx.clock.tick(30_000);
  ctx.clock.tick(9_999);
  assert.equal(ctx.client.state, 'connected');
  ctx.clock.tick(1);
  assert.equal(ctx.socket.closedWith.code, 4002);
  assert.deepEqual(closes, [4002]);
  assert.equal(ctx.client.state, 'reconnecting');
  ctx.clock.tick(1000);
  await accept(ctx);
  assert.equal(ctx.ws.sockets.length, 2);
});

test('the heartbeatInterval option overrides the server value', async () => {
  const { socket, clock } = await connected({ heartbeatInterval: 5 });
  clock.tick(5000);
  assert.equal(socket.framesOfType('ping').length, 1);
});

test('with the real timer globals (node:test mock.timers), pings follow heartbeat_interval', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const ctx = await connected({ setTimeout: undefined, clearTimeout: undefined });
  t.mock.timers.tick(30_000);
  assert.equal(ctx.socket.framesOfType('ping').length, 1);
  ctx.client.disconnect();
});

test('in-band re-auth with a fresh token before exp, on the same socket', async () => {
  const clock = { now: Date.UTC(2026, 10, 28, 12) };
  const exp1 = clock.now / 1000 + 600;
  const tokens = [makeJwt({ sub: 'admin-1', exp: exp1 }), makeJwt({ sub: 'admin-1', exp: exp1 + 600 })];
  let calls = 0;
  const ctx = await connected({
    token: undefined,
    getToken: async () => tokens[Math.min(calls++, 1)],
    heartbeatInterval: 3600,
  });
  let connects = 0;
  ctx.client.onConnect(() => connects++);
  ctx.clock.tick(539_999);
  await flush();
  assert.equal(ctx.socket.framesOfType('auth').length, 1);
  ctx.clock.tick(1); // 60 s before exp
  await flush();
  const auths = ctx.socket.framesOfType('auth');
  assert.equal(auths.length, 2);
  assert.equal(auths[1].payload.token, tokens[1]);
  ctx.socket.deliver('auth_success', { admin_id: 'admin-1', session_id: 's-1', heartbeat_interval: 30, operators: [] }, auths[1].ref);
  assert.equal(ctx.client.state, 'connected');
  assert.equal(connects, 0, 'a re-auth is not a new connection');
  assert.equal(ctx.ws.sockets.length, 1);
  // the new token expires 1200 s after the start, now is 540 s: re-auth again 60 s before, in 600 s
  assert.deepEqual(ctx.clock.pending, [600_000, 3_060_000], 'the next re-auth, then the heartbeat');
});

test('a fixed token is never refreshed in-band; setToken sends it in-band', async () => {
  const token = makeJwt({ sub: 'admin-1', exp: Date.UTC(2026, 10, 28, 12) / 1000 + 120 });
  const ctx = await connected({ token, heartbeatInterval: 3600 });
  ctx.clock.tick(200_000);
  await flush();
  assert.equal(ctx.socket.framesOfType('auth').length, 1);
  const fresh = makeJwt({ sub: 'admin-1', exp: Date.UTC(2026, 10, 28, 13) / 1000 });
  ctx.client.setToken(fresh);
  await flush();
  assert.equal(ctx.socket.framesOfType('auth')[1].payload.token, fresh);
});

test('typing_start at most once per 2 s per conversation; typing_stop by itself after a pause', async () => {
  const { client, socket, clock } = await connected({ heartbeatInterval: 3600 });
  const typing = () => socket.frames.filter((f) => f.type.startsWith('typing')).map((f) => `${f.type}:${f.payload.line_user_id}`);
  client.startTyping('U1');
  clock.tick(500);
  client.startTyping('U1');
  client.startTyping('U2');
  clock.tick(1500);
  client.startTyping('U1');
  assert.deepEqual(typing(), ['typing_start:U1', 'typing_start:U2', 'typing_start:U1']);
  clock.tick(3000);
  assert.deepEqual(typing().slice(3).sort(), ['typing_stop:U1', 'typing_stop:U2']);
  client.stopTyping('U1');
  assert.equal(typing().length, 5, 'no stop without a start');
});

test('sending a message stops typing first; typing is not sent while offline', async () => {
  const { client, socket } = await connected();
  client.startTyping('U1');
  client.sendMessage('U1', 'done');
  assert.deepEqual(socket.frames.slice(1).map((f) => f.type), ['typing_start', 'typing_stop', 'message_send']);
  const offline = makeClient();
  offline.client.startTyping('U1');
  offline.client.connect();
  const other = await accept(offline);
  assert.deepEqual(other.framesOfType('typing_start'), []);
});
