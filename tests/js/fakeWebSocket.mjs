// A tiny, real implementation of the browser WebSocket interface for tests:
// it records what the client sends and lets the test open, close and deliver.

/**
 * A fresh FakeWebSocket class with its own list of instances, so tests never
 * share sockets.
 * @returns {{WebSocketImpl: typeof FakeWebSocket, sockets: FakeWebSocket[], last: () => FakeWebSocket}}
 */
export function makeFakeWebSocket() {
  const sockets = [];
  class Impl extends FakeWebSocket {
    constructor(url) {
      super(url);
      sockets.push(this);
    }
  }
  return { WebSocketImpl: Impl, sockets, last: () => sockets.at(-1) };
}

export class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;

  constructor(url) {
    this.url = url;
    this.readyState = FakeWebSocket.CONNECTING;
    this.sent = [];
    this.closedWith = null;
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
  }

  send(data) {
    if (this.readyState !== FakeWebSocket.OPEN) throw new Error('InvalidStateError: not open');
    this.sent.push(data);
  }

  /** Called by the client. */
  close(code = 1000, reason = '') {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.closedWith = { code, reason };
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.({ code, reason, wasClean: true });
  }

  // ---- test controls -------------------------------------------------------

  /** Every frame the client sent, parsed. */
  get frames() {
    return this.sent.map((text) => JSON.parse(text));
  }

  /** @param {string} type */
  framesOfType(type) {
    return this.frames.filter((frame) => frame.type === type);
  }

  /** The handshake succeeded. */
  open() {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.({});
  }

  /** The server sends a frame. */
  deliver(type, payload = {}, ref = undefined) {
    const frame = { type, payload, timestamp: new Date(0).toISOString() };
    if (ref !== undefined) frame.ref = ref;
    this.deliverRaw(JSON.stringify(frame));
  }

  deliverRaw(data) {
    this.onmessage?.({ data });
  }

  /** The server (or the network) closes the socket. */
  serverClose(code, reason = '') {
    this.readyState = FakeWebSocket.CLOSED;
    this.onerror?.({});
    this.onclose?.({ code, reason, wasClean: code !== 1006 });
  }
}
