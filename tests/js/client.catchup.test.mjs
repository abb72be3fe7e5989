import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accept, connected } from './harness.mjs';
import { message } from './fakes.mjs';

const joins = (socket) => socket.framesOfType('join_conversation');

function answerJoin(socket, join, messages, hasMore = false, lastSeq = undefined) {
  socket.deliver(
    'conversation_joined',
    {
      line_user_id: join.payload.line_user_id,
      last_seq: lastSeq ?? messages.at(-1)?.seq ?? 0,
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

test('after a reconnect the client re-joins with after_seq = the last seq seen', async () => {
  const ctx = await connected();
  ctx.client.joinConversation('U1');
  const [join] = joins(ctx.socket);
  assert.deepEqual(join.payload, { line_user_id: 'U1' });
  answerJoin(ctx.socket, join, [message('U1', 1), message('U1', 2), message('U1', 3)]);
  ctx.socket.deliver('message_received', { message: message('U1', 4) });
  assert.equal(ctx.client.conversations.lastSeq('U1'), 4);

  const socket = await reconnect(ctx);
  assert.deepEqual(joins(socket).map((f) => f.payload), [{ line_user_id: 'U1', after_seq: 4 }]);
});

test('catch-up re-joins before flushing the queue', async () => {
  const ctx = await connected();
  ctx.client.joinConversation('U1');
  answerJoin(ctx.socket, joins(ctx.socket)[0], [message('U1', 1)]);
  ctx.socket.serverClose(1006);
  ctx.client.sendMessage('U1', 'queued');
  ctx.clock.tick(1000);
  const socket = await accept(ctx);
  assert.deepEqual(socket.frames.map((f) => f.type), ['auth', 'join_conversation', 'message_send']);
});

test('has_more pages on from the last seq of each page', async () => {
  const ctx = await connected();
  ctx.client.joinConversation('U1');
  answerJoin(ctx.socket, joins(ctx.socket)[0], [message('U1', 10)]);
  const socket = await reconnect(ctx);

  const first = joins(socket)[0];
  assert.equal(first.payload.after_seq, 10);
  // a live message arrives while the catch-up is paging
  socket.deliver('message_received', { message: message('U1', 40) });
  answerJoin(socket, first, [message('U1', 11), message('U1', 12)], true, 40);

  const second = joins(socket)[1];
  assert.deepEqual(second.payload, { line_user_id: 'U1', after_seq: 12 }, 'not 40: that would skip 13..39');
  answerJoin(socket, second, [message('U1', 13), message('U1', 39)], false, 40);
  assert.equal(joins(socket).length, 2);
  assert.equal(ctx.client.conversations.lastSeq('U1'), 40);
});

test('an empty conversation is caught up from after_seq 0', async () => {
  const ctx = await connected();
  ctx.client.joinConversation('U2');
  answerJoin(ctx.socket, joins(ctx.socket)[0], [], false, 0);
  const socket = await reconnect(ctx);
  assert.deepEqual(joins(socket)[0].payload, { line_user_id: 'U2', after_seq: 0 });
});

test('a conversation joined while offline is joined plainly on connect; a left one is not re-joined', async () => {
  const ctx = await connected();
  ctx.client.joinConversation('U1');
  answerJoin(ctx.socket, joins(ctx.socket)[0], [message('U1', 3)]);
  ctx.client.leaveConversation('U1');
  assert.deepEqual(ctx.socket.framesOfType('leave_conversation')[0].payload, { line_user_id: 'U1' });
  ctx.socket.serverClose(1006);
  ctx.client.joinConversation('U9');
  ctx.clock.tick(1000);
  const socket = await accept(ctx);
  assert.deepEqual(joins(socket).map((f) => f.payload), [{ line_user_id: 'U9' }]);
});

test('message_sent and seqs of our own messages count as seen', async () => {
  const ctx = await connected();
  ctx.client.joinConversation('U1');
  answerJoin(ctx.socket, joins(ctx.socket)[0], [message('U1', 1)]);
  const id = ctx.client.sendMessage('U1', 'hi');
  ctx.socket.deliver('message_sent', { client_msg_id: id, message: message('U1', 2, { client_msg_id: id, status: 'sent' }) });
  const socket = await reconnect(ctx);
  assert.equal(joins(socket)[0].payload.after_seq, 2);
});

test('a restarted server (another server_instance) is joined for the latest history, not by after_seq', async () => {
  const ctx = await connected();
  ctx.client.joinConversation('U1');
  answerJoin(ctx.socket, joins(ctx.socket)[0], [message('U1', 1), message('U1', 7)]);
  ctx.socket.serverClose(1006);
  ctx.clock.tick(1000);
  let socket = await accept(ctx, { server_instance: 'run-1' });
  assert.deepEqual(joins(socket)[0].payload, { line_user_id: 'U1', after_seq: 7 }, 'the first instance seen');
  answerJoin(socket, joins(socket)[0], []);

  socket.serverClose(1012);
  ctx.clock.tick(1000);
  socket = await accept(ctx, { server_instance: 'run-1' });
  assert.deepEqual(joins(socket)[0].payload, { line_user_id: 'U1', after_seq: 7 }, 'the same run: catch up');
  answerJoin(socket, joins(socket)[0], []);

  socket.serverClose(1012);
  ctx.clock.tick(1000);
  socket = await accept(ctx, { server_instance: 'run-2' });
  // its seqs may belong to another store: seq 7 there is not our seq 7
  assert.deepEqual(joins(socket)[0].payload, { line_user_id: 'U1' });
  answerJoin(socket, joins(socket)[0], [message('U1', 1)], false, 1);
  assert.equal(ctx.client.conversations.lastSeq('U1'), 1);
});
