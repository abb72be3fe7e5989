// Fakes shared by the client tests: a clock, a storage, JWTs, a flush helper.

/** A clock driven by hand: `tick(ms)` runs every timer due, in order. */
export class FakeClock {
  constructor(start = Date.UTC(2026, 10, 28, 12, 0, 0)) {
    this._now = start;
    this._timers = new Map();
    this._nextId = 1;
    this.setTimeout = (fn, ms) => {
      const id = this._nextId++;
      this._timers.set(id, { fn, at: this._now + Math.max(0, ms ?? 0), id });
      return id;
    };
    this.clearTimeout = (id) => {
      this._timers.delete(id);
    };
    this.now = () => this._now;
  }

  /** Pending timers, as delays from now. */
  get pending() {
    return [...this._timers.values()].map((t) => t.at - this._now).sort((a, b) => a - b);
  }

  tick(ms) {
    const end = this._now + ms;
    for (;;) {
      const due = [...this._timers.values()]
        .filter((t) => t.at <= end)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this._timers.delete(due.id);
      this._now = due.at;
      due.fn();
    }
    this._now = end;
  }
}

/** A Storage that a test can inspect, and make fail. */
export class FakeStorage {
  constructor() {
    this.items = new Map();
    this.failWrites = false;
  }

  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }

  setItem(key, value) {
    if (this.failWrites) throw new Error('QuotaExceededError');
    this.items.set(key, String(value));
  }

  removeItem(key) {
    this.items.delete(key);
  }
}

/** Let pending promise callbacks (an async getToken, say) run. */
export function flush() {
  return new Promise((resolve) => setImmediate(resolve));
}

function base64url(text) {
  return Buffer.from(text).toString('base64url');
}

/** An unsigned JWT with these claims (the client never verifies). */
export function makeJwt(claims) {
  return `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}.c2ln`;
}

/** A Message as the server sends it. */
export function message(lineUserId, seq, extra = {}) {
  return {
    id: `m-${lineUserId}-${seq}`,
    line_user_id: lineUserId,
    seq,
    direction: 'inbound',
    sender: { type: 'user', id: lineUserId },
    kind: 'text',
    text: `hello ${seq}`,
    data: {},
    status: 'received',
    client_msg_id: null,
    created_at: '2026-11-28T12:00:00.000Z',
    ...extra,
  };
}
