import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeClient, accept, connected } from './harness.mjs';
import { flush, message, FakeStorage } from './fakes.mjs';

const sends = (socket) => socket.framesOfType('message_send').map((f) => f.payload);
const sentMessage = (p, seq) =>
  message(p.line_user_id, seq, { direction: 'outbound', status: 'sent', client_msg_id: p.client_msg_id, text: p.text });

test('a message sent while connected goes out at once and stays queued until message_sent', async () => {
  const { client, socket } = await connected();
  const id = client.sendMessage('U1', 'hello');
  const [frame] = socket.framesOfType('message_send');
  assert.deepEqual(frame.payload, { line_user_id: 'U1', text: 'hello', client_msg_id: id });
  assert.equal(client.queue.queuedCount, 1);
  socket.deliver('message_sent', { client_msg_id: id, message: sentMessage(frame.payload, 1) }, frame.ref);
  assert.equal(client.queue.size, 0);
});

test('messages sent while offline are flushed in order, with their ids, after connecting', async () => {
  const ctx = makeClient();
  const ids = ['one', 'two', 'three'].map((text) => ctx.client.sendMessage('U1', text));
  assert.equal(ctx.client.queue.queuedCount, 3);
  ctx.client.connect();
  const socket = await accept(ctx);
  assert.deepEqual(sends(socket), [
    { line_user_id: 'U1', text: 'one', client_msg_id: ids[0] },
    { line_user_id: 'U1', text: 'two', client_msg_id: ids[1] },
    { line_user_id: 'U1', text: 'three', client_msg_id: ids[2] },
  ]);
  assert.equal(socket.frames[0].type, 'auth', 'nothing before auth');
});

test('across a reconnect: unconfirmed re-sent in order with the same ids; a confirmed one never again', async () => {
  const ctx = await connected();
  const a = ctx.client.sendMessage('U1', 'a');
  const b = ctx.client.sendMessage('U1', 'b');
  const [frameA] = ctx.socket.framesOfType('message_send');
  ctx.socket.deliver('message_sent', { client_msg_id: a, message: sentMessage(frameA.payload, 1) }, frameA.ref);
  ctx.socket.serverClose(1012);
  const c = ctx.client.sendMessage('U1', 'c'); // while reconnecting
  ctx.clock.tick(1000);
  const socket = await accept(ctx);
  assert.deepEqual(sends(socket).map((p) => p.client_msg_id), [b, c]);
  assert.deepEqual(sends(socket).map((p) => p.text), ['b', 'c']);
});

test('a flush never writes the same message twice on one socket', async () => {
  const { client, socket } = await connected();
  const id = client.sendMessage('U1', 'a');
  client.sendMessage('U1', 'b');
  client.retryMessage(id); // not failed: nothing happens
  assert.deepEqual(sends(socket).map((p) => p.text), ['a', 'b']);
});

test('error delivery_failed marks the entry failed; retryMessage resends it with the same id', async () => {
  const { client, socket } = await connected();
  const id = client.sendMessage('U1', 'a');
  socket.deliver('error', { code: 'delivery_failed', message: 'LINE said 400', client_msg_id: id });
  assert.equal(client.queue.get(id).status, 'failed');
  assert.equal(client.queue.queuedCount, 0);
  assert.equal(client.retryMessage(id), true);
  assert.deepEqual(sends(socket).map((p) => p.client_msg_id), [id, id]);
});

test('a failed entry is not re-sent after a reconnect', async () => {
  const ctx = await connected();
  const id = ctx.client.sendMessage('U1', 'a');
  ctx.socket.deliver('error', { code: 'delivery_failed', message: 'no', client_msg_id: id });
  ctx.socket.serverClose(1006);
  ctx.clock.tick(1000);
  const socket = await accept(ctx);
  assert.deepEqual(sends(socket), []);
});

test('rate_limited drops the frame: it is written again shortly, same id', async () => {
  const { client, socket, clock } = await connected();
  const id = client.sendMessage('U1', 'a');
  const [frame] = socket.framesOfType('message_send');
  socket.deliver('error', { code: 'rate_limited', message: 'slow down' }, frame.ref);
  assert.equal(sends(socket).length, 1);
  clock.tick(1000);
  assert.deepEqual(sends(socket).map((p) => p.client_msg_id), [id, id]);
});

test('message_received carrying our client_msg_id confirms the entry', async () => {
  const { client, socket } = await connected();
  const id = client.sendMessage('U1', 'a');
  const payload = sends(socket)[0];
  socket.deliver('message_received', { message: sentMessage(payload, 5) });
  assert.equal(client.queue.get(id), undefined);
});

test('the queue survives a reload: a new client on the same storage sends it', async () => {
  const storage = new FakeStorage();
  const first = makeClient({}, { storage });
  const id = first.client.sendMessage('U1', 'written before the reload');

  const second = makeClient({}, { storage });
  assert.equal(second.client.queue.queuedCount, 1);
  second.client.connect();
  const socket = await accept(second);
  assert.deepEqual(sends(socket), [{ line_user_id: 'U1', text: 'written before the reload', client_msg_id: id }]);
});

test('with getToken, messages queued before the operator is known are kept after auth', async () => {
  const storage = new FakeStorage();
  const ctx = makeClient({ token: undefined, getToken: async () => 'opaque-token' }, { storage });
  const id = ctx.client.sendMessage('U1', 'early');
  ctx.client.connect();
  const socket = await accept(ctx);
  assert.equal(ctx.client.adminId, 'admin-1');
  assert.deepEqual(sends(socket).map((p) => p.client_msg_id), [id]);
  assert.ok([...storage.items.keys()].every((key) => key.endsWith('|admin-1')));
});

test('sendMessage validates the conversation and the text length', async () => {
  const { client } = makeClient();
  assert.throws(() => client.sendMessage('', 'x'), TypeError);
  assert.throws(() => client.sendMessage('U1', ''), RangeError);
  assert.throws(() => client.sendMessage('U1', 'x'.repeat(5001)), RangeError);
  assert.doesNotThrow(() => client.sendMessage('U1', '😀'.repeat(2500)));
  assert.throws(() => client.sendMessage('U1', '😀'.repeat(2501)), RangeError);
});

test('client_msg_id comes from crypto.randomUUID by default', async () => {
  const { client } = makeClient({ generateId: undefined });
  const id = client.sendMessage('U1', 'x');
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  await flush();
});

test('five transient errors in a row mark the message failed instead of resending forever', async () => {
  const { client, socket, clock } = await connected({ heartbeatInterval: 3600 });
  const id = client.sendMessage('U1', 'a');
  for (let i = 0; i < 5; i++) {
    const frame = socket.framesOfType('message_send').at(-1);
    socket.deliver('error', { code: 'internal_error', message: 'oops' }, frame.ref);
    clock.tick(1000);
  }
  assert.equal(socket.framesOfType('message_send').length, 5);
  assert.equal(client.queue.get(id).status, 'failed');
});
