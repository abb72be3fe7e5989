// Presence at scale (protocol 1.1): operators_changed carries many changes in
// one frame; a client applies them, and operator_status, over auth_success.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connected } from './harness.mjs';
import { presenceChanges, ServerFrameType } from '../../livechat_ext/static/protocol.js';

const entry = (admin_id, status, extra = {}) => ({ admin_id, status, last_seen: null, name: admin_id, ...extra });

/** The view a console keeps: auth_success's list, then every change in order. */
function view(client) {
  const seen = new Map();
  client.on('auth_success', (p) => {
    seen.clear();
    for (const o of p.operators) seen.set(o.admin_id, o);
  });
  const calls = [];
  client.onPresence((changes, frame) => {
    calls.push([frame.type, changes.map((c) => c.admin_id)]);
    for (const o of changes) seen.set(o.admin_id, o);
  });
  return { seen, calls };
}

test('operators_changed and operator_status both reach onPresence, once per frame, in order', async () => {
  const ctx = await connected();
  const { seen, calls } = view(ctx.client);
  ctx.socket.deliver('operator_status', entry('alice', 'online', { name: 'Alice' }));
  ctx.socket.deliver('operators_changed', {
    operators: [entry('bob', 'online'), entry('alice', 'offline', { last_seen: '2026-12-02T06:00:00.000Z', name: 'Alice' })],
  });
  ctx.socket.deliver('pong', {});
  assert.deepEqual(calls, [
    ['operator_status', ['alice']],
    ['operators_changed', ['bob', 'alice']],
  ]);
  assert.equal(seen.get('alice').status, 'offline', 'the later frame wins');
  assert.equal(seen.get('alice').last_seen, '2026-12-02T06:00:00.000Z');
  assert.equal(seen.get('alice').name, 'Alice');
  assert.equal(seen.get('bob').status, 'online');
});

test('a coalesced storm over the auth_success list ends with everyone as they are', async () => {
  const ctx = await connected();
  const { seen } = view(ctx.client);
  // a fresh auth on this socket: the list names two operators
  ctx.socket.deliver('auth_success', {
    admin_id: 'admin-1', session_id: 's-2', heartbeat_interval: 30,
    operators: [entry('admin-1', 'online'), entry('op-0', 'online')],
  });
  const batch = [];
  for (let i = 1; i <= 200; i += 1) batch.push(entry(`op-${i}`, 'online', { name: `Operator ${i}` }));
  ctx.socket.deliver('operators_changed', { operators: batch.slice(0, 120) });
  ctx.socket.deliver('operators_changed', { operators: [...batch.slice(120), entry('op-0', 'offline')] });
  const online = [...seen.values()].filter((o) => o.status === 'online').map((o) => o.admin_id);
  assert.equal(online.length, 201); // admin-1 and op-1..op-200; op-0 left
  assert.equal(seen.get('op-0').status, 'offline');
  assert.equal(seen.get('op-7').name, 'Operator 7');
});

test('presenceChanges reads both kinds and nothing else', () => {
  assert.equal(ServerFrameType.OPERATORS_CHANGED, 'operators_changed');
  const one = entry('a', 'online');
  assert.deepEqual(presenceChanges({ type: 'operator_status', payload: one }), [one]);
  assert.deepEqual(presenceChanges({ type: 'operators_changed', payload: { operators: [one, entry('b', 'offline')] } }).map((o) => o.admin_id), ['a', 'b']);
  assert.deepEqual(presenceChanges({ type: 'operators_changed', payload: { operators: 'nope' } }), []);
  assert.deepEqual(presenceChanges({ type: 'operators_changed', payload: { operators: [null, { status: 'online' }, one] } }), [one]);
  assert.deepEqual(presenceChanges({ type: 'user_typing', payload: one }), []);
  assert.deepEqual(presenceChanges({ type: 'pong' }), []);
});
