import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwtPayload, reauthDelay } from '../../livechat_ext/static/jwt.js';
import { makeJwt } from './fakes.mjs';

test('decodeJwtPayload reads the claims without verifying, UTF-8 included', () => {
  assert.deepEqual(decodeJwtPayload(makeJwt({ sub: 'a1', name: 'Ōno ✓', exp: 10 })), { sub: 'a1', name: 'Ōno ✓', exp: 10 });
  for (const bad of [null, 42, 'opaque', 'a.b', 'a.!!!.c', `x.${Buffer.from('[1]').toString('base64url')}.y`]) {
    assert.equal(decodeJwtPayload(bad), null, String(bad));
  }
});

test('reauthDelay: 60 s before exp, at most half the remaining lifetime, null without exp', () => {
  const now = 1_000_000_000_000;
  const at = (seconds) => makeJwt({ exp: now / 1000 + seconds });
  assert.equal(reauthDelay(at(600), now), 540_000);
  assert.equal(reauthDelay(at(60), now), 30_000);
  assert.equal(reauthDelay(at(-5), now), 0);
  assert.equal(reauthDelay(makeJwt({ sub: 'x' }), now), null);
  assert.equal(reauthDelay('opaque', now), null);
  assert.equal(reauthDelay(at(10 ** 9), now), 2 ** 31 - 1, 'clamped to what setTimeout honours');
});
