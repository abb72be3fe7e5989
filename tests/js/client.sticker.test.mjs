// Stickers (protocol 1.1, "Media and stickers"): `message_send` with `sticker`
// instead of `text`, through the same queue and outbox as a text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeClient, accept, connected } from './harness.mjs';
import { message } from './fakes.mjs';
import { MessageQueue } from '../../livechat_ext/static/index.js';

const sends = (socket) => socket.framesOfType('message_send').map((f) => f.payload);
const MOON = { package_id: '446', sticker_id: '1988' };
const sentSticker = (p, seq) =>
  message(p.line_user_id, seq, {
    direction: 'outbound', status: 'sent', client_msg_id: p.client_msg_id, kind: 'sticker', text: null,
    data: { package_id: p.sticker.package_id, sticker_id: p.sticker.sticker_id },
  });

test('a sticker goes out as message_send with sticker and no text, and leaves the queue on message_sent', async () => {
  const { client, socket } = await connected();
  const id = client.sendSticker('U1', MOON);
  const [frame] = socket.framesOfType('message_send');
  assert.deepEqual(frame.payload, { line_user_id: 'U1', sticker: { package_id: '446', sticker_id: '1988' }, client_msg_id: id });
  assert.equal('text' in frame.payload, false, 'exactly one of text and sticker');
  assert.equal(client.queue.get(id).kind, 'sticker');
  socket.deliver('message_sent', { client_msg_id: id, message: sentSticker(frame.payload, 1) }, frame.ref);
  assert.equal(client.queue.size, 0);
});

test('stickers and texts queued offline go out in the order they were sent, after connecting', async () => {
  const ctx = makeClient();
  const a = ctx.client.sendMessage('U1', 'look');
  const b = ctx.client.sendSticker('U1', { package_id: 789, sticker_id: 10855 }); // integers are taken as ids
  const c = ctx.client.sendMessage('U1', 'cute, right?');
  ctx.client.connect();
  const socket = await accept(ctx);
  assert.deepEqual(sends(socket), [
    { line_user_id: 'U1', text: 'look', client_msg_id: a },
    { line_user_id: 'U1', sticker: { package_id: '789', sticker_id: '10855' }, client_msg_id: b },
    { line_user_id: 'U1', text: 'cute, right?', client_msg_id: c },
  ]);
});

test('a queued sticker survives a reload: the next page sends it with the same id', async () => {
  const first = makeClient();
  const id = first.client.sendSticker('U1', MOON);
  // a new page on the same storage (sessionStorage survives a reload)
  const second = makeClient({}, { storage: first.storage });
  assert.deepEqual(second.client.queue.entries().map((e) => [e.clientMsgId, e.kind, e.sticker]), [[id, 'sticker', MOON]]);
  second.client.connect();
  const socket = await accept(second);
  assert.deepEqual(sends(socket), [{ line_user_id: 'U1', sticker: MOON, client_msg_id: id }]);
});

test('a sticker the server cannot deliver is marked failed; retryMessage sends the same sticker with the same id', async () => {
  const { client, socket } = await connected();
  const id = client.sendSticker('U1', MOON);
  socket.deliver('error', { code: 'delivery_failed', message: 'LINE said 400', client_msg_id: id });
  assert.equal(client.queue.get(id).status, 'failed');
  assert.equal(client.retryMessage(id), true);
  const [first, again] = sends(socket);
  assert.deepEqual(again, first);
  assert.deepEqual(again.sticker, MOON);
});

test('bad sticker ids are refused before anything is queued', async () => {
  const { client, socket } = await connected();
  for (const bad of [undefined, null, {}, { package_id: '446' }, { package_id: '446', sticker_id: '' },
    { package_id: 'abc', sticker_id: '1' }, { package_id: '1', sticker_id: '1.5' }, { package_id: -1, sticker_id: 2 }]) {
    assert.throws(() => client.sendSticker('U1', bad), TypeError, JSON.stringify(bad));
  }
  assert.throws(() => client.sendSticker('', MOON), TypeError);
  assert.equal(client.queue.size, 0);
  assert.deepEqual(sends(socket), []);
});

test('the queue keeps a sticker entry apart from its caller, and drops a corrupt one on load', () => {
  const storage = new Map();
  const store = { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => storage.set(k, v), removeItem: (k) => storage.delete(k) };
  const queue = new MessageQueue({ storage: store, key: 'k' });
  const sticker = { package_id: '446', sticker_id: '1990' };
  const entry = queue.enqueue({ clientMsgId: 'c-1', lineUserId: 'U1', sticker, kind: 'sticker' });
  sticker.sticker_id = '9999';
  entry.sticker.sticker_id = '8888';
  assert.deepEqual(queue.get('c-1').sticker, { package_id: '446', sticker_id: '1990' });
  assert.throws(() => queue.enqueue({ clientMsgId: 'c-2', lineUserId: 'U1', sticker: { package_id: '446' }, kind: 'sticker' }), TypeError);
  const saved = JSON.parse(storage.get('k'));
  saved.push({ clientMsgId: 'c-3', lineUserId: 'U1', status: 'queued', kind: 'sticker', createdAt: 'x' }); // no ids
  saved.push({ clientMsgId: 'c-4', lineUserId: 'U1', status: 'queued', kind: 'sticker', text: 'hi', sticker }); // both
  storage.set('k', JSON.stringify(saved));
  assert.deepEqual(new MessageQueue({ storage: store, key: 'k' }).entries().map((e) => e.clientMsgId), ['c-1']);
});
