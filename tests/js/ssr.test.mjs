// The hook as a server renders it (Next.js renders client components on the
// server too): real React, no `window`, no `WebSocket`, no `sessionStorage`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StrictMode, createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { useWebSocket } from '@livechat-ext/client/useWebSocket';
import { MemoryStorage, MessageQueue, queueStorageKey } from '@livechat-ext/client/messageQueue';
import { makeJwt } from './fakes.mjs';

const URL = 'wss://chat.example/ws/live-chat';

function Status(props) {
  const { connectionState, isConnected, queuedCount, lastMessage } = useWebSocket(props);
  return createElement('p', null, `${connectionState} ${isConnected} ${queuedCount} ${lastMessage === null}`);
}

function renderOnServer(props) {
  const errors = [];
  const original = console.error;
  console.error = (...args) => errors.push(args.join(' '));
  try {
    return { html: renderToString(createElement(StrictMode, null, createElement(Status, props))), errors };
  } finally {
    console.error = original;
  }
}

test('the server renders the hook without window or WebSocket, and opens nothing', () => {
  const saved = globalThis.WebSocket;
  delete globalThis.WebSocket;
  try {
    assert.equal(typeof globalThis.window, 'undefined');
    const { html, errors } = renderOnServer({ url: URL, token: makeJwt({ sub: 'admin-1' }) });
    assert.equal(html, '<p>idle false 0 true</p>');
    assert.deepEqual(errors, []);
  } finally {
    if (saved !== undefined) globalThis.WebSocket = saved;
  }
});

test('no socket is made while rendering, with a token or with getToken', () => {
  let made = 0;
  class CountingWebSocket {
    constructor() {
      made += 1;
    }
  }
  renderOnServer({ url: URL, token: makeJwt({ sub: 'a' }), WebSocketImpl: CountingWebSocket });
  renderOnServer({ url: URL, getToken: () => makeJwt({ sub: 'a' }), WebSocketImpl: CountingWebSocket });
  renderOnServer({ url: URL, token: null, WebSocketImpl: CountingWebSocket });
  assert.equal(made, 0);
});

test('what is rendered first does not depend on a saved queue, so hydration matches', () => {
  const storage = new MemoryStorage();
  const entry = { clientMsgId: 'c-1', lineUserId: 'U1', text: 'saved', status: 'queued', createdAt: new Date(0).toISOString() };
  storage.setItem(queueStorageKey(URL, 'admin-1'), JSON.stringify([entry]));
  assert.equal(new MessageQueue({ storage, key: queueStorageKey(URL, 'admin-1') }).queuedCount, 1);
  const token = makeJwt({ sub: 'admin-1' });
  const withQueue = renderOnServer({ url: URL, token, storage });
  const without = renderOnServer({ url: URL, token, storage: new MemoryStorage() });
  assert.equal(withQueue.html, without.html);
});
