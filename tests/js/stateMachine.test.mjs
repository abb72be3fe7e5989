import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConnectionState as S,
  ConnectionStateMachine,
  IllegalTransitionError,
  TRANSITIONS,
} from '../../livechat_ext/static/stateMachine.js';

test('connect -> auth_success -> drop -> reconnecting -> connected', () => {
  const machine = new ConnectionStateMachine();
  const seen = [];
  machine.onChange((state, previous) => seen.push(`${previous}>${state}`));
  for (const to of [S.CONNECTING, S.CONNECTED, S.RECONNECTING, S.CONNECTING, S.CONNECTED, S.DISCONNECTED, S.CONNECTING]) {
    assert.equal(machine.transition(to), true);
  }
  assert.deepEqual(seen, [
    'idle>connecting',
    'connecting>connected',
    'connected>reconnecting',
    'reconnecting>connecting',
    'connecting>connected',
    'connected>disconnected',
    'disconnected>connecting',
  ]);
});

const illegal = [
  [S.IDLE, S.CONNECTED],
  [S.IDLE, S.RECONNECTING],
  [S.IDLE, S.DISCONNECTED],
  [S.CONNECTED, S.CONNECTING],
  [S.CONNECTED, S.IDLE],
  [S.DISCONNECTED, S.CONNECTED],
  [S.DISCONNECTED, S.RECONNECTING],
  [S.RECONNECTING, S.CONNECTED],
];

for (const [from, to] of illegal) {
  test(`${from} -> ${to} throws and leaves the state alone`, () => {
    const machine = new ConnectionStateMachine(from);
    const listener = [];
    machine.onChange((state) => listener.push(state));
    assert.equal(machine.canTransition(to), false);
    assert.throws(() => machine.transition(to), (error) => {
      assert.ok(error instanceof IllegalTransitionError);
      assert.equal(error.from, from);
      assert.equal(error.to, to);
      return true;
    });
    assert.equal(machine.state, from);
    assert.deepEqual(listener, []);
  });
}

test('a transition to the current state is a silent no-op', () => {
  const machine = new ConnectionStateMachine(S.RECONNECTING);
  let calls = 0;
  machine.onChange(() => calls++);
  assert.equal(machine.transition(S.RECONNECTING), false);
  assert.equal(calls, 0);
});

test('listeners can unsubscribe', () => {
  const machine = new ConnectionStateMachine();
  let calls = 0;
  const off = machine.onChange(() => calls++);
  machine.transition(S.CONNECTING);
  off();
  machine.transition(S.CONNECTED);
  assert.equal(calls, 1);
});

test('the table covers every state and is frozen', () => {
  assert.deepEqual(Object.keys(TRANSITIONS).sort(), Object.values(S).sort());
  assert.ok(Object.isFrozen(TRANSITIONS));
  assert.ok(Object.values(TRANSITIONS).every(Object.isFrozen));
  assert.throws(() => new ConnectionStateMachine('bogus'), TypeError);
});
