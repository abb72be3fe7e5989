import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReconnectStrategy, getReconnectDelay } from '../../livechat_ext/static/reconnectStrategy.js';

const delays = (strategy, n) => Array.from({ length: n }, () => strategy.nextDelay());

test('backoff doubles from 1 s to a 30 s cap, no jitter at random=0', () => {
  const strategy = new ReconnectStrategy({ random: () => 0 });
  assert.deepEqual(delays(strategy, 8), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

test('jitter stays below 1 s at random=0.999', () => {
  const strategy = new ReconnectStrategy({ random: () => 0.999 });
  assert.deepEqual(delays(strategy, 7), [1999, 2999, 4999, 8999, 16999, 30999, 30999]);
});

test('jitter stays in [0, 1 s) even with a random that returns 1', () => {
  const strategy = new ReconnectStrategy({ random: () => 1 });
  const first = strategy.nextDelay();
  assert.ok(first >= 1000 && first < 2000, String(first));
});

test('maxAttempts stops handing out delays; reset() starts again at 1 s', () => {
  const strategy = new ReconnectStrategy({ random: () => 0, maxAttempts: 3 });
  assert.deepEqual(delays(strategy, 4), [1000, 2000, 4000, null]);
  assert.equal(strategy.exhausted, true);
  strategy.reset();
  assert.equal(strategy.attempts, 0);
  assert.equal(strategy.nextDelay(), 1000);
});

test('the default allows unlimited attempts', () => {
  const strategy = new ReconnectStrategy({ random: () => 0 });
  assert.equal(strategy.maxAttempts, Infinity);
  delays(strategy, 100);
  assert.equal(strategy.nextDelay(), 30000);
});

for (const code of [1001, 1006, 1012, 1013, 4002, 1009, 1011, 4000]) {
  test(`reconnects after close ${code}`, () => {
    assert.equal(new ReconnectStrategy().shouldReconnect(code), true);
  });
}

for (const code of [4001, 4008]) {
  test(`after close ${code}, no reconnect until a new token or a user action`, () => {
    const strategy = new ReconnectStrategy();
    assert.equal(strategy.shouldReconnect(code), false);
    assert.equal(strategy.blocked, true);
    assert.equal(strategy.shouldReconnect(1006), false, 'still blocked');
    strategy.tokenRefreshed();
    assert.equal(strategy.shouldReconnect(1006), true);

    strategy.shouldReconnect(code);
    strategy.userAction();
    assert.equal(strategy.blocked, false);
  });
}

test('no reconnect after a normal close the client initiated', () => {
  const strategy = new ReconnectStrategy();
  assert.equal(strategy.shouldReconnect(1000, { clientInitiated: true }), false);
  assert.equal(strategy.shouldReconnect(1000), true, 'a 1000 the server chose is not the operator leaving');
});

test('userAction() also restarts the backoff', () => {
  const strategy = new ReconnectStrategy({ random: () => 0 });
  delays(strategy, 3);
  strategy.userAction();
  assert.equal(strategy.nextDelay(), 1000);
});

test('getReconnectDelay(attempt) is the delay the strategy hands out for that attempt', () => {
  const options = { baseDelayMs: 500, maxDelayMs: 5000, jitterMs: 100, random: () => 0.5 };
  const expected = [550, 1050, 2050, 4050, 5050, 5050];
  assert.deepEqual(expected.map((_, n) => getReconnectDelay(n, options)), expected);
  assert.deepEqual(delays(new ReconnectStrategy(options), expected.length), expected);
  assert.equal(getReconnectDelay(0, { random: () => 0 }), 1000, 'defaults: 1 s, doubling to 30 s');
  assert.equal(getReconnectDelay(10, { random: () => 0 }), 30000);
});

test('getReconnectDelay refuses an attempt that is not a whole number >= 0', () => {
  for (const bad of [-1, 1.5, NaN, '2', undefined]) {
    assert.throws(() => getReconnectDelay(bad), RangeError, String(bad));
  }
});
