// Protocol 1.1 in the client: catch-up by rev, message_updated, notes through
// the queue, and the team workflow's frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accept, connected, makeClient } from './harness.mjs';
import { message } from './fakes.mjs';

const joins = (socket) => socket.framesOfType('join_conversation');
const at = (lineUserId, seq, rev, extra = {}) => message(lineUserId, seq, { rev, ...extra });

function answerJoin(socket, join, messages, { hasMore = false, lastSeq, lastRev } = {}) {
  socket.deliver(
    'conversation_joined',
    {
      line_user_id: join.payload.line_user_id,
      last_seq: lastSeq ?? Math.max(0, ...messages.map((m) => m.seq)),
      last_rev: lastRev ?? Math.max(0, ...messages.map((m) => m.rev)),
      messages,
      has_more: hasMore,
      typing: [],
    },
    join.ref,
  );
}

async function reconnect(ctx) {
  ctx.socket.serverClose(1006);
  ctx.clock.tick(1000);
  ctx.socket = await accept(ctx);
  return ctx.socket;
}

test('after a reconnect the client re-joins with after_rev = the highest rev seen, updates included', async () => {
  const ctx = await connected();
  ctx.client.joinConversation('U1');
  answerJoin(ctx.socket, joins(ctx.socket)[0], [at('U1', 1, 1), at('U1', 2, 2)]);
  ctx.socket.deliver('message_received', { message: at('U1', 3, 3) });
  // a status change of message 2 takes rev 4: it counts as seen
  ctx.socket.deliver('message_updated', { message: at('U1', 2, 4, { status: 'sent' }) });
  assert.equal(ctx.client.conversations.lastRev('U1'), 4);
  assert.equal(ctx.client.conversations.lastSeq('U1'), 3);

  const socket = await reconnect(ctx);
  assert.deepEqual(joins(socket).map((f) => f.payload), [{ line_user_id: 'U1', after_rev: 4 }]);
});

test('a catch-up by rev pages on from the highest rev of each page, holding live ones apart', async () => {
  const ctx = await connected();
  ctx.client.joinConversation('U1');
  answerJoin(ctx.socket, joins(ctx.socket)[0], [at('U1', 1, 5)]);
  const socket = await reconnect(ctx);
  const first = joins(socket)[0];
  assert.deepEqual(first.payload, { line_user_id: 'U1', after_rev: 5 });
  socket.deliver('message_updated', { message: at('U1', 1, 30, { data: { read: true } }) });
  // changed and new messages, ordered by rev, each once in its latest form
  answerJoin(socket, first, [at('U1', 2, 6), at('U1', 1, 7, { data: { unsent: true } })], { hasMore: true, lastRev: 30 });

  const second = joins(socket)[1];
  assert.deepEqual(second.payload, { line_user_id: 'U1', after_rev: 7 }, 'not 30: that would skip 8..29');
  answerJoin(socket, second, [at('U1', 3, 12)], { lastRev: 30 });
  assert.equal(joins(socket).length, 2);
  assert.equal(ctx.client.conversations.lastRev('U1'), 30);
});

test('a note goes through the queue as note_send and is confirmed like a message', async () => {
  const ctx = makeClient();
  const note = ctx.client.sendNote('U1', 'VIP customer');
  const text = ctx.client.sendMessage('U1', 'hello');
  assert.equal(ctx.client.queue.get(note).kind, 'note');
  assert.equal(ctx.client.queue.get(text).kind, undefined);
  ctx.client.connect();
  const socket = await accept(ctx);
  assert.deepEqual(
    socket.frames.slice(1).map((f) => [f.type, f.payload.client_msg_id, f.payload.text]),
    [['note_send', note, 'VIP customer'], ['message_send', text, 'hello']],
  );
  const [noteFrame] = socket.framesOfType('note_send');
  const stored = message('U1', 1, { rev: 1, kind: 'note', direction: 'internal', status: 'sent', client_msg_id: note });
  socket.deliver('message_sent', { client_msg_id: note, message: stored }, noteFrame.ref);
  assert.equal(ctx.client.queue.get(note), undefined);
  assert.equal(ctx.client.queue.get(text).status, 'queued');
});

test('a note queued across a reload is sent again as a note, with its id', async () => {
  const first = makeClient();
  const id = first.client.sendNote('U1', 'kept');
  const second = makeClient({}, { storage: first.storage });
  second.client.connect();
  const socket = await accept(second);
  assert.deepEqual(socket.framesOfType('note_send').map((f) => f.payload.client_msg_id), [id]);
});

test('message_updated settles our message: sent confirms, failed fails', async () => {
  const { client, socket } = await connected();
  const ok = client.sendMessage('U1', 'a');
  const bad = client.sendMessage('U1', 'b');
  const out = { direction: 'outbound' };
  socket.deliver('message_updated', { message: message('U1', 1, { ...out, rev: 3, status: 'sent', client_msg_id: ok }) });
  socket.deliver('message_updated', { message: message('U1', 2, { ...out, rev: 4, status: 'failed', client_msg_id: bad }) });
  assert.equal(client.queue.get(ok), undefined);
  assert.equal(client.queue.get(bad).status, 'failed');
});

test('assign, resolve, reopen and markRead send their frames, only when connected', async () => {
  const offline = makeClient();
  assert.equal(offline.client.resolve('U1'), null);
  const { client, socket } = await connected();
  client.assign('U1', 'bob');
  client.assign('U1', null);
  client.resolve('U1');
  client.reopen('U1');
  client.markRead('U1', 7);
  assert.deepEqual(
    socket.frames.slice(1).map((f) => [f.type, f.payload]),
    [
      ['conversation_assign', { line_user_id: 'U1', admin_id: 'bob' }],
      ['conversation_assign', { line_user_id: 'U1', admin_id: null }],
      ['conversation_resolve', { line_user_id: 'U1' }],
      ['conversation_reopen', { line_user_id: 'U1' }],
      ['mark_read', { line_user_id: 'U1', seq: 7 }],
    ],
  );
  assert.ok(socket.frames.slice(1).every((f) => typeof f.ref === 'string'));
  assert.throws(() => client.markRead('U1', 0), RangeError);
  assert.throws(() => client.resolve(''), TypeError);
});
