// Builds a LiveChatClient on fakes and drives it to the connected state.

import { LiveChatClient } from '../../livechat_ext/static/index.js';
import { makeFakeWebSocket } from './fakeWebSocket.mjs';
import { FakeClock, FakeStorage, flush, makeJwt } from './fakes.mjs';

export const URL = 'wss://chat.example/ws/live-chat';

/**
 * @param {object} [overrides] LiveChatClient options
 * @param {{clock?: FakeClock, storage?: FakeStorage, ws?: ReturnType<typeof makeFakeWebSocket>}} [shared]
 */
export function makeClient(overrides = {}, shared = {}) {
  const clock = shared.clock ?? new FakeClock();
  const storage = shared.storage ?? new FakeStorage();
  const ws = shared.ws ?? makeFakeWebSocket();
  let ids = 0;
  const client = new LiveChatClient({
    url: URL,
    token: makeJwt({ sub: 'admin-1' }),
    WebSocketImpl: ws.WebSocketImpl,
    storage,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    now: clock.now,
    reconnect: { random: () => 0 },
    generateId: () => `c-${++ids}`,
    ...overrides,
  });
  return { client, clock, storage, ws };
}

/** Let the client open its next socket, open it, and answer its auth with auth_success. */
export async function accept(ctx, authPayload = {}) {
  await flush();
  const socket = ctx.ws.last();
  socket.open();
  const auth = socket.frames.at(-1);
  socket.deliver(
    'auth_success',
    { admin_id: 'admin-1', session_id: 's-1', heartbeat_interval: 30, operators: [], ...authPayload },
    auth.ref,
  );
  return socket;
}

/** A client connected and authenticated. */
export async function connected(overrides = {}, shared = {}) {
  const ctx = makeClient(overrides, shared);
  ctx.client.connect();
  const socket = await accept(ctx);
  return { ...ctx, socket };
}
