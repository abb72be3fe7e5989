/**
 * The outbox: operator messages not yet confirmed by the server.
 *
 * Every message goes through it, connected or not. An entry keeps the
 * `client_msg_id` it got when the operator sent it; it leaves the queue when
 * the server confirms it (`message_sent`, or a `message_received` with that
 * id), and is marked failed on `error` `delivery_failed`. The entries are
 * saved to a Storage (default `sessionStorage`) under a key per server URL
 * and operator, so they survive a page reload.
 *
 * @module messageQueue
 */

import { Emitter } from './emitter.js';

/**
 * @typedef {'queued' | 'failed'} QueueEntryStatus
 *
 * @typedef {{package_id: string, sticker_id: string}} StickerRef
 *
 * @typedef {object} TextQueueEntry a text to the user, or an internal note
 * @property {string} clientMsgId
 * @property {string} lineUserId
 * @property {string} text
 * @property {QueueEntryStatus} status `queued` until confirmed; `failed` after `delivery_failed`
 * @property {string} createdAt ISO-8601
 * @property {string} [error] why it failed
 * @property {'note'} [kind] an internal note (`note_send`); absent for a message to the user
 * @property {undefined} [sticker]
 *
 * @typedef {object} StickerQueueEntry a sticker to the user: `message_send` with `sticker` (1.1)
 * @property {string} clientMsgId
 * @property {string} lineUserId
 * @property {StickerRef} sticker
 * @property {QueueEntryStatus} status
 * @property {string} createdAt ISO-8601
 * @property {string} [error]
 * @property {'sticker'} kind
 * @property {undefined} [text]
 *
 * @typedef {TextQueueEntry | StickerQueueEntry} QueueEntry
 *
 * @typedef {Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>} StorageLike
 */

const KEY_PREFIX = 'livechat_ext:queue:v1:';

/**
 * The storage key of a queue: one per server URL (query and fragment
 * dropped) and operator.
 *
 * @param {string} url the WebSocket URL
 * @param {string | null} [adminId] null or undefined while the operator is unknown
 * @returns {string}
 */
export function queueStorageKey(url, adminId = null) {
  let base = String(url);
  try {
    const parsed = new URL(base);
    base = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    base = base.split(/[?#]/, 1)[0];
  }
  return `${KEY_PREFIX}${base}|${adminId ?? ''}`;
}

/** A Storage kept in memory, for runtimes without `sessionStorage`. */
export class MemoryStorage {
  constructor() {
    /** @type {Map<string, string>} */
    this._items = new Map();
  }

  /** @param {string} key */
  getItem(key) {
    return this._items.has(key) ? /** @type {string} */ (this._items.get(key)) : null;
  }

  /** @param {string} key @param {string} value */
  setItem(key, value) {
    this._items.set(key, String(value));
  }

  /** @param {string} key */
  removeItem(key) {
    this._items.delete(key);
  }
}

/** @returns {StorageLike} */
function defaultStorage() {
  try {
    // Reading sessionStorage throws in some sandboxed frames.
    if (globalThis.sessionStorage) return globalThis.sessionStorage;
  } catch {
    // fall through to memory
  }
  return new MemoryStorage();
}

/**
 * @param {unknown} value
 * @returns {value is QueueEntry}
 */
function isEntry(value) {
  if (value === null || typeof value !== 'object') return false;
  const e = /** @type {Record<string, unknown>} */ (value);
  const common =
    typeof e.clientMsgId === 'string' &&
    e.clientMsgId !== '' &&
    typeof e.lineUserId === 'string' &&
    (e.status === 'queued' || e.status === 'failed');
  if (!common) return false;
  if (e.kind === 'sticker') return e.text === undefined && isStickerRef(e.sticker);
  return typeof e.text === 'string' && e.sticker === undefined && (e.kind === undefined || e.kind === 'message' || e.kind === 'note');
}

/** @param {QueueEntry} entry @returns {QueueEntry} a copy that shares nothing with it */
function copy(entry) {
  return entry.sticker ? { ...entry, sticker: { ...entry.sticker } } : { ...entry };
}

/**
 * @param {unknown} value
 * @returns {value is StickerRef}
 */
function isStickerRef(value) {
  if (value === null || typeof value !== 'object') return false;
  const s = /** @type {Record<string, unknown>} */ (value);
  return typeof s.package_id === 'string' && s.package_id !== '' && typeof s.sticker_id === 'string' && s.sticker_id !== '';
}

export class MessageQueue {
  /**
   * @param {object} [options]
   * @param {StorageLike} [options.storage] default `sessionStorage`, else memory
   * @param {string} [options.key] storage key, see `queueStorageKey`
   */
  constructor(options = {}) {
    this._storage = options.storage ?? defaultStorage();
    this._key = options.key ?? queueStorageKey('default');
    this._emitter = new Emitter();
    /** @type {QueueEntry[]} */
    this._entries = this._load(this._key);
  }

  /** The storage key in use. */
  get key() {
    return this._key;
  }

  /** Number of entries, queued or failed. */
  get size() {
    return this._entries.length;
  }

  /** Number of entries waiting for the server's confirmation. */
  get queuedCount() {
    return this._entries.filter((e) => e.status === 'queued').length;
  }

  /** @returns {QueueEntry[]} copies of every entry, oldest first */
  entries() {
    return this._entries.map(copy);
  }

  /** @returns {QueueEntry[]} copies of the entries to (re)send, oldest first */
  sendable() {
    return this._entries.filter((e) => e.status === 'queued').map(copy);
  }

  /**
   * @param {string} clientMsgId
   * @returns {QueueEntry | undefined} a copy
   */
  get(clientMsgId) {
    const entry = this._find(clientMsgId);
    return entry && copy(entry);
  }

  /**
   * Append a message. An entry with the same `clientMsgId` is kept as it is
   * (duplicates collapse), and returned.
   *
   * A sticker is `{kind: 'sticker', sticker: {package_id, sticker_id}}` and no text.
   *
   * @param {{clientMsgId: string, lineUserId: string, text: string, createdAt?: string, kind?: 'message' | 'note'}
   *   | {clientMsgId: string, lineUserId: string, sticker: StickerRef, createdAt?: string, kind: 'sticker'}} message
   * @returns {QueueEntry} a copy of the stored entry
   */
  enqueue(message) {
    const existing = this._find(message.clientMsgId);
    if (existing) return copy(existing);
    const common = {
      clientMsgId: message.clientMsgId,
      lineUserId: message.lineUserId,
      status: /** @type {QueueEntryStatus} */ ('queued'),
      createdAt: message.createdAt ?? new Date().toISOString(),
    };
    /** @type {QueueEntry} */
    let entry;
    if (message.kind === 'sticker') {
      const s = /** @type {any} */ (message.sticker);
      entry = { ...common, kind: 'sticker', sticker: s && typeof s === 'object' ? { package_id: s.package_id, sticker_id: s.sticker_id } : s };
      if (!isEntry(entry)) throw new TypeError('clientMsgId and lineUserId must be strings, sticker {package_id, sticker_id} non-empty strings');
    } else {
      entry = { ...common, text: message.text };
      if (message.kind === 'note') entry.kind = 'note'; // an internal note (1.1); a message has none
      if (!isEntry(entry)) throw new TypeError('clientMsgId, lineUserId and text must be strings');
    }
    this._entries.push(entry);
    this._changed();
    return copy(entry);
  }

  /**
   * The server confirmed the message: drop it for good.
   * @param {string} clientMsgId
   * @returns {boolean} whether an entry was removed
   */
  confirm(clientMsgId) {
    return this.remove(clientMsgId);
  }

  /**
   * The server gave up on the message: keep it, marked failed, out of the flushes.
   * @param {string} clientMsgId
   * @param {string} [reason]
   * @returns {boolean} whether an entry was marked
   */
  fail(clientMsgId, reason) {
    const entry = this._find(clientMsgId);
    if (!entry) return false;
    entry.status = 'failed';
    if (reason) entry.error = reason;
    this._changed();
    return true;
  }

  /**
   * Put a failed entry back in line, with the same `clientMsgId`.
   * @param {string} clientMsgId
   * @returns {boolean} whether an entry was re-queued
   */
  retry(clientMsgId) {
    const entry = this._find(clientMsgId);
    if (!entry || entry.status !== 'failed') return false;
    entry.status = 'queued';
    delete entry.error;
    this._changed();
    return true;
  }

  /**
   * @param {string} clientMsgId
   * @returns {boolean} whether an entry was removed
   */
  remove(clientMsgId) {
    const index = this._entries.findIndex((e) => e.clientMsgId === clientMsgId);
    if (index < 0) return false;
    this._entries.splice(index, 1);
    this._changed();
    return true;
  }

  /** Drop every entry. */
  clear() {
    if (this._entries.length === 0) return;
    this._entries = [];
    this._changed();
  }

  /**
   * Switch to another storage key (the operator became known). With `carry`,
   * the current entries move to the new key, after the ones stored there;
   * use it only from the key of an unknown operator, never between two
   * operators, so nobody sends another's messages.
   *
   * @param {string} key
   * @param {{carry?: boolean}} [options]
   */
  useKey(key, options = {}) {
    if (key === this._key) return;
    const carried = options.carry ? this._entries : [];
    if (options.carry) this._write(this._key, []);
    this._key = key;
    this._entries = this._load(key);
    for (const entry of carried) {
      if (!this._find(entry.clientMsgId)) this._entries.push(entry);
    }
    this._changed();
  }

  /**
   * @param {(entries: QueueEntry[]) => void} listener called with copies after every change
   * @returns {() => void} removes the listener
   */
  onChange(listener) {
    return this._emitter.on('change', listener);
  }

  /** @param {string} clientMsgId */
  _find(clientMsgId) {
    return this._entries.find((e) => e.clientMsgId === clientMsgId);
  }

  _changed() {
    this._write(this._key, this._entries);
    this._emitter.emit('change', this.entries());
  }

  /**
   * @param {string} key
   * @returns {QueueEntry[]} valid entries, duplicates dropped; [] for missing or corrupt data
   */
  _load(key) {
    let parsed;
    try {
      parsed = JSON.parse(this._storage.getItem(key) ?? '[]');
    } catch {
      return [];
    }
    if (!Array.isArray(parsed)) return [];
    /** @type {Map<string, QueueEntry>} */
    const byId = new Map();
    for (const value of parsed) {
      if (isEntry(value) && !byId.has(value.clientMsgId)) byId.set(value.clientMsgId, copy(value));
    }
    return [...byId.values()];
  }

  /**
   * @param {string} key
   * @param {QueueEntry[]} entries
   */
  _write(key, entries) {
    try {
      if (entries.length === 0) this._storage.removeItem(key);
      else this._storage.setItem(key, JSON.stringify(entries));
    } catch {
      // Quota exceeded or storage disabled: the queue still works in memory.
    }
  }
}
