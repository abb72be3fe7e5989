import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  PROTOCOL_VERSION,
  ClientFrameType,
  ServerFrameType,
  FrameType,
  CloseCode,
  ErrorCode,
  AuthErrorCode,
  makeFrame,
  parseFrame,
} from '../../livechat_ext/static/protocol.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

// The frame types, codes and close codes of PROTOCOL.md, version 1.1.
const CLIENT_TYPES = [
  'auth', 'join_conversation', 'leave_conversation', 'typing_start', 'typing_stop', 'message_send', 'ping',
  'conversation_assign', 'conversation_resolve', 'conversation_reopen', 'mark_read', 'note_send',
];
const SERVER_TYPES = [
  'auth_success', 'auth_error', 'conversation_joined', 'conversation_left', 'message_received', 'message_sent',
  'user_typing', 'conversation_updated', 'operator_status', 'notification', 'pong', 'error', 'message_updated',
  'operators_changed',
];
const ERROR_CODES = [
  'bad_frame', 'invalid_json', 'invalid_message', 'unknown_type', 'not_authenticated', 'forbidden',
  'rate_limited', 'delivery_failed', 'internal_error',
];
const CLOSE_CODES = [1001, 1009, 1012, 1013, 4001, 4002, 4008];

test("PROTOCOL_VERSION is '1.1', on the exact line the Python test reads", () => {
  assert.equal(PROTOCOL_VERSION, '1.1');
  const source = readFileSync(`${repo}livechat_ext/static/protocol.js`, 'utf8');
  assert.ok(source.split('\n').includes("export const PROTOCOL_VERSION = '1.1';"));
});

test('every frame type of PROTOCOL.md is in protocol.js, and nothing else', () => {
  assert.deepEqual(Object.values(ClientFrameType).sort(), [...CLIENT_TYPES].sort());
  assert.deepEqual(Object.values(ServerFrameType).sort(), [...SERVER_TYPES].sort());
  assert.deepEqual(Object.values(FrameType).sort(), [...CLIENT_TYPES, ...SERVER_TYPES].sort());
});

test('error codes, auth error codes and close codes match PROTOCOL.md', () => {
  assert.deepEqual(Object.values(ErrorCode).sort(), [...ERROR_CODES].sort());
  assert.deepEqual(Object.values(AuthErrorCode).sort(), ['auth_timeout', 'invalid_token', 'token_expired']);
  for (const code of CLOSE_CODES) assert.ok(Object.values(CloseCode).includes(code), `close code ${code}`);
});

test('the frame types in the PROTOCOL.md tables are all in protocol.js', (t) => {
  const candidates = [process.env.LIVECHAT_PROTOCOL_MD, `${repo}docs/PROTOCOL.md`, `${repo}../shared/docs/PROTOCOL.md`];
  const doc = candidates.find((p) => p && existsSync(p));
  if (!doc) {
    t.skip('no PROTOCOL.md in the repository (or LIVECHAT_PROTOCOL_MD); the lists above are copied from it');
    return;
  }
  const text = readFileSync(doc, 'utf8');
  const section = (title) => text.split(`## ${title}`)[1].split('\n## ')[0];
  const tableTypes = (body) => [...body.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
  const has = (types, names) => names.every((name) => Object.values(types).includes(name));
  assert.ok(has(ClientFrameType, tableTypes(section('Client to server'))));
  assert.ok(has(ServerFrameType, tableTypes(section('Server to client'))));
  // 1.1: the workflow's table (client to server) and message_updated (server to client)
  const added = section('Version 1.1 additions');
  const workflow = tableTypes(added.split('### Team workflow')[1].split('\n### ')[0]);
  assert.ok(workflow.length === 5 && has(ClientFrameType, workflow), workflow.join());
  assert.ok(added.includes('`message_updated` (server to client)') && has(ServerFrameType, ['message_updated']));
});

test('the constant objects are frozen', () => {
  for (const value of [ClientFrameType, ServerFrameType, FrameType, CloseCode, ErrorCode, AuthErrorCode]) {
    assert.ok(Object.isFrozen(value));
  }
});

test('makeFrame builds the envelope, with a string ref', () => {
  assert.deepEqual(makeFrame('ping'), { type: 'ping', payload: {} });
  assert.deepEqual(makeFrame('join_conversation', { line_user_id: 'U1' }, 7), {
    type: 'join_conversation',
    payload: { line_user_id: 'U1' },
    ref: '7',
  });
  assert.throws(() => makeFrame(''), TypeError);
  assert.throws(() => makeFrame('ping', {}, 'x'.repeat(65)), TypeError);
});

test('parseFrame reads text frames and refuses the rest', () => {
  assert.deepEqual(parseFrame('{"type":"pong","payload":{},"ref":"3"}'), { type: 'pong', payload: {}, ref: '3' });
  assert.deepEqual(parseFrame('{"type":"pong"}'), { type: 'pong', payload: {} });
  assert.equal(parseFrame('not json'), null);
  assert.equal(parseFrame('[1]'), null);
  assert.equal(parseFrame(new ArrayBuffer(2)), null);
});
