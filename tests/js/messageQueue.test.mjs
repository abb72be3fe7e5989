import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageQueue, MemoryStorage, queueStorageKey } from '../../livechat_ext/static/messageQueue.js';
import { FakeStorage } from './fakes.mjs';

const KEY = queueStorageKey('wss://chat.example/ws/live-chat', 'admin-1');
const ids = (queue) => queue.entries().map((e) => e.clientMsgId);

function filled(storage = new FakeStorage()) {
  const queue = new MessageQueue({ storage, key: KEY });
  for (const n of [1, 2, 3]) queue.enqueue({ clientMsgId: `c-${n}`, lineUserId: 'U1', text: `t${n}` });
  return { queue, storage };
}

test('entries keep their order and their ids', () => {
  const { queue } = filled();
  assert.deepEqual(ids(queue), ['c-1', 'c-2', 'c-3']);
  assert.deepEqual(queue.sendable().map((e) => e.text), ['t1', 't2', 't3']);
  assert.equal(queue.queuedCount, 3);
});

test('a duplicate client_msg_id collapses into the first entry', () => {
  const { queue } = filled();
  const again = queue.enqueue({ clientMsgId: 'c-2', lineUserId: 'U1', text: 'other text' });
  assert.equal(again.text, 't2');
  assert.deepEqual(ids(queue), ['c-1', 'c-2', 'c-3']);
});

test('confirm removes; fail keeps the entry out of sendable(); retry puts it back', () => {
  const { queue } = filled();
  assert.equal(queue.confirm('c-1'), true);
  assert.equal(queue.confirm('c-1'), false);
  assert.equal(queue.fail('c-2', 'delivery_failed: 400'), true);
  assert.deepEqual(queue.sendable().map((e) => e.clientMsgId), ['c-3']);
  assert.equal(queue.get('c-2').status, 'failed');
  assert.equal(queue.get('c-2').error, 'delivery_failed: 400');
  assert.equal(queue.retry('c-3'), false, 'only a failed entry can be retried');
  assert.equal(queue.retry('c-2'), true);
  assert.deepEqual(queue.sendable().map((e) => e.clientMsgId), ['c-2', 'c-3']);
});

test('the queue survives a reload: a new queue on the same storage and key', () => {
  const { queue, storage } = filled();
  queue.fail('c-3', 'x');
  const reloaded = new MessageQueue({ storage, key: KEY });
  assert.deepEqual(reloaded.entries(), queue.entries());
  reloaded.confirm('c-1');
  assert.deepEqual(ids(new MessageQueue({ storage, key: KEY })), ['c-2', 'c-3']);
});

test('an empty queue leaves nothing in storage', () => {
  const { queue, storage } = filled();
  queue.clear();
  assert.equal(storage.getItem(KEY), null);
});

test('keys are namespaced per server URL and operator, without the query string', () => {
  const a = queueStorageKey('wss://a.example/ws/live-chat?token=secret', 'admin-1');
  assert.ok(!a.includes('secret'));
  assert.equal(a, queueStorageKey('wss://a.example/ws/live-chat', 'admin-1'));
  assert.notEqual(a, queueStorageKey('wss://b.example/ws/live-chat', 'admin-1'));
  assert.notEqual(a, queueStorageKey('wss://a.example/ws/live-chat', 'admin-2'));
  const { storage } = filled();
  const other = new MessageQueue({ storage, key: queueStorageKey('wss://chat.example/ws/live-chat', 'admin-2') });
  assert.equal(other.size, 0);
});

test('corrupt or foreign storage data is ignored, duplicates dropped on load', () => {
  const storage = new FakeStorage();
  storage.setItem(KEY, 'not json');
  assert.equal(new MessageQueue({ storage, key: KEY }).size, 0);
  const entry = { clientMsgId: 'c-1', lineUserId: 'U1', text: 'a', status: 'queued', createdAt: 'x' };
  storage.setItem(KEY, JSON.stringify([entry, { ...entry, text: 'dup' }, { bogus: true }, null]));
  const queue = new MessageQueue({ storage, key: KEY });
  assert.deepEqual(queue.entries(), [entry]);
});

test('a failing storage does not break the queue', () => {
  const storage = new FakeStorage();
  storage.failWrites = true;
  const { queue } = filled(storage);
  assert.equal(queue.size, 3);
});

test('useKey with carry moves entries of an unknown operator to the known one', () => {
  const storage = new FakeStorage();
  const anonymousKey = queueStorageKey('wss://chat.example/ws/live-chat', null);
  const stored = new MessageQueue({ storage, key: KEY });
  stored.enqueue({ clientMsgId: 'old', lineUserId: 'U1', text: 'from before the reload' });
  const queue = new MessageQueue({ storage, key: anonymousKey });
  queue.enqueue({ clientMsgId: 'new', lineUserId: 'U1', text: 'sent before auth' });
  queue.useKey(KEY, { carry: true });
  assert.deepEqual(ids(queue), ['old', 'new']);
  assert.equal(storage.getItem(anonymousKey), null);
  assert.deepEqual(ids(new MessageQueue({ storage, key: KEY })), ['old', 'new']);
});

test('useKey without carry never hands one operator the messages of another', () => {
  const storage = new FakeStorage();
  const { queue } = filled(storage);
  queue.useKey(queueStorageKey('wss://chat.example/ws/live-chat', 'admin-2'));
  assert.equal(queue.size, 0);
  assert.equal(new MessageQueue({ storage, key: KEY }).size, 3);
});

test('onChange reports copies after each change', () => {
  const queue = new MessageQueue({ storage: new MemoryStorage(), key: KEY });
  const sizes = [];
  queue.onChange((entries) => sizes.push(entries.length));
  queue.enqueue({ clientMsgId: 'a', lineUserId: 'U1', text: 'x' });
  queue.enqueue({ clientMsgId: 'a', lineUserId: 'U1', text: 'x' });
  queue.confirm('a');
  assert.deepEqual(sizes, [1, 0]);
});

test('enqueue refuses entries without the required strings', () => {
  const queue = new MessageQueue({ storage: new MemoryStorage(), key: KEY });
  assert.throws(() => queue.enqueue({ clientMsgId: '', lineUserId: 'U1', text: 'x' }), TypeError);
  assert.throws(() => queue.enqueue({ clientMsgId: 'a', lineUserId: 'U1', text: 3 }), TypeError);
});
