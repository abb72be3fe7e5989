// @ts-check
/**
 * The signed-in console: one `LiveChatClient`, the conversation list, the
 * open conversation, presence, notifications and the connection banner.
 *
 * @module console/workspace
 */

import { LiveChatClient } from '../static/client.js';
import { socketUrl } from './api.js';
import { byId, avatar, el } from './dom.js';
import { Banner, VisibleReconnectStrategy } from './banner.js';
import { Inbox, VIEWS, displayName } from './inbox.js';
import { Thread } from './thread.js';
import { Composer } from './composer.js';
import { TypingIndicator } from './typing.js';
import { Presence } from './presence.js';
import { Notifier } from './notify.js';
import { OperatorNames } from './names.js';
import { EXPIRED_EVENT, previewText } from './content.js';
import { shouldRefreshLinks } from './media.js';
import { ComposeMode, ConversationActions } from './workflow.js';
import { StickerPicker } from './stickers.js';

const PAGE = 30;
const NARROW = window.matchMedia('(max-width: 760px)');

export class Workspace {
  /**
   * @param {object} options
   * @param {import('./api.js').Api} options.api
   * @param {string} options.token
   * @param {{admin_id: string, name: string | null}} options.me
   * @param {() => void} options.onNeedToken
   * @param {() => void} options.onSignOut
   */
  constructor(options) {
    this.api = options.api;
    this.adminId = options.me.admin_id;
    this._onNeedToken = options.onNeedToken;
    this.openId = /** @type {string | null} */ (null);
    this.nextCursor = /** @type {string | null} */ (null);
    this.app = byId('app');
    this.names = new OperatorNames();
    const nameOf = (/** @type {string | null | undefined} */ id) => this.names.nameOf(id);
    this.strategy = new VisibleReconnectStrategy();
    this.client = new LiveChatClient({ url: socketUrl(), token: options.token, reconnectStrategy: this.strategy });
    this.banner = new Banner({
      root: byId('banner'), dot: byId('conn-dot'),
      onRetry: () => this.client.connect(), onNewToken: () => this._onNeedToken(),
    });
    this.inbox = new Inbox({
      list: byId('conversations'), empty: byId('conversations-empty'),
      onOpen: (id) => this.open(id), onUnreadChange: (n) => { document.title = `${n ? `(${n}) ` : ''}Live chat · Operator console`; },
    });
    this.thread = new Thread({
      list: byId('thread'), scroller: byId('thread-scroller'),
      onRetry: (id) => this.retry(id), onLoadOlder: () => this.loadOlder(),
    });
    this.thread.adminId = this.adminId;
    this.inbox.adminId = this.adminId;
    /** @type {Map<string, number>} the seq each conversation was last marked read up to, by this page */
    this._marked = new Map();
    this.thread.nameOf = nameOf;
    this.inbox.nameOf = nameOf;
    this.inbox.selfId = this.adminId;
    this.typing = new TypingIndicator(byId('typing'), nameOf);
    this.presence = new Presence({ list: byId('operators'), count: byId('online-count'), names: this.names });
    this.presence.self = this.adminId;
    this.names.onChange(() => this._namesChanged());
    this.notifier = new Notifier({
      root: byId('toasts'), bell: /** @type {HTMLButtonElement} */ (byId('bell')), count: byId('bell-count'),
      centre: byId('notif-centre'), list: byId('notif-list'), empty: byId('notif-empty'),
      clear: /** @type {HTMLButtonElement} */ (byId('notif-clear')), close: /** @type {HTMLButtonElement} */ (byId('notif-close')),
      desktop: /** @type {HTMLButtonElement} */ (byId('notif-desktop')), onOpen: (id) => this.open(id),
    });
    this.composer = new Composer({
      form: /** @type {HTMLFormElement} */ (byId('composer')),
      input: /** @type {HTMLTextAreaElement} */ (byId('composer-input')),
      send: /** @type {HTMLButtonElement} */ (byId('send')),
      counter: byId('counter'),
      onSend: (text) => this.send(text),
      onTyping: () => this.openId && this.mode.mode === 'reply' && this.client.startTyping(this.openId),
      onStopTyping: () => this.openId && this.client.stopTyping(this.openId),
    });
    this.stickers = new StickerPicker({
      toggle: /** @type {HTMLButtonElement} */ (byId('sticker-toggle')),
      panel: byId('sticker-panel'),
      onPick: (sticker) => this.sendSticker(sticker),
    });
    this.actions = new ConversationActions({
      client: this.client, adminId: this.adminId, openId: () => this.openId,
      teammates: () => [...this.presence.operators.keys()],
      nameOf,
    });
    this.mode = new ComposeMode({
      root: byId('compose-mode'), form: /** @type {HTMLFormElement} */ (byId('composer')),
      input: /** @type {HTMLTextAreaElement} */ (byId('composer-input')),
      onChange: () => {
        if (this.openId) this.client.stopTyping(this.openId);
        const conv = this.thread.conversation;
        if (conv) this._header(conv);
      },
    });
    this._showMe(options.me);
    this._bindClient();
    this._bindUi(options.onSignOut);
    this.client.connect();
    this.loadConversations(true);
    const wanted = new URLSearchParams(location.hash.slice(1)).get('c');
    if (wanted) this.open(wanted);
  }

  /** @param {string} token a fresh token after an auth failure */
  replaceToken(token) {
    this.banner.update({ authError: null });
    this.client.setToken(token);
  }

  /** A name was learned: redraw what shows operators. */
  _namesChanged() {
    this.inbox.render();
    this.presence.render();
    this.typing.render();
    if (this.openId) this.thread.render();
    if (this.actions.conversation) this.actions.show(this.actions.conversation);
  }

  /** @param {{admin_id: string, name: string | null}} me */
  _showMe(me) {
    this.names.learn(me.admin_id, me.name);
    byId('me-avatar').replaceChildren(avatar({ name: me.name || me.admin_id, seed: me.admin_id, size: 'sm' }));
    byId('me-name').textContent = me.name || me.admin_id;
    byId('me-id').textContent = me.name ? me.admin_id : 'Signed in';
  }

  _bindClient() {
    const c = this.client;
    c.onStateChange((state) => {
      this.app.dataset.connection = state;
      this.actions.setEnabled(state === 'connected');
      this.banner.update({ connection: state, attempts: this.strategy.attempts, nextAt: this.strategy.nextAt });
    });
    c.onQueueChange((entries) => this._queueChanged(entries));
    this._queueChanged(c.queue.entries());
    c.onDisconnect((code) => {
      if (code === 4001 && !this.banner.state.authError) this.banner.update({ authError: 'The server signed you out.' });
    });
    let connectedBefore = false;
    /** @type {string | null} */
    let instance = null;
    c.on('auth_success', (p) => {
      this.presence.reset(p.operators);
      this.banner.update({ authError: null });
      const run = typeof p.server_instance === 'string' ? p.server_instance : null;
      if (instance !== null && run !== null && run !== instance) this._resync();
      // Updates were missed while offline: refresh the first page.
      else if (connectedBefore) this.loadConversations(true);
      instance = run ?? instance;
      connectedBefore = true;
      this._marked.clear(); // a mark sent on the old socket may be lost: send it again
      this._markRead();
    });
    c.on('auth_error', (p) => {
      const why = p.code === 'token_expired' ? 'Your session expired.' : p.code === 'auth_timeout' ? null : 'Your token was refused.';
      if (why) this.banner.update({ authError: why });
    });
    c.on('conversation_joined', (p) => this._joined(p));
    c.on('message_received', (p) => this._message(p.message, true));
    c.on('message_sent', (p) => this._message(p.message, false));
    c.on('message_updated', (p) => this._message(p.message, false));
    c.on('user_typing', (p) => {
      this.names.learn(p.admin_id, p.name);
      if (p.line_user_id === this.openId && p.admin_id !== this.adminId) this.typing.set(p.admin_id, p.is_typing);
    });
    c.on('conversation_updated', (p) => {
      this.inbox.live(p.conversation);
      if (p.conversation.line_user_id === this.openId) {
        this._header(this.inbox.conversations.get(this.openId) ?? p.conversation);
        this._markRead();
      }
    });
    c.onPresence((changes) => this.presence.apply(changes)); // operator_status and operators_changed
    c.on('notification', (p) => {
      if (p.kind === 'new_message' && p.line_user_id === this.openId && document.visibilityState === 'visible') return;
      this.notifier.notify(p);
    });
    c.on('error', (p) => {
      if (p.code === 'forbidden') this.notifier.toast({ kind: 'error', title: 'Not allowed', body: p.message });
      else if (p.code === 'internal_error') this.notifier.toast({ kind: 'error', title: 'Server error', body: p.message });
    });
  }

  /** @param {() => void} onSignOut */
  _bindUi(onSignOut) {
    const filter = /** @type {HTMLInputElement} */ (byId('filter'));
    filter.addEventListener('input', () => this.inbox.setFilter(filter.value));
    filter.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowDown') {
        e.preventDefault();
        /** @type {HTMLElement | null} */ (byId('conversations').querySelector('button.conv'))?.focus();
      } else if (e.key === 'Escape') {
        filter.value = '';
        this.inbox.setFilter('');
      }
    });
    byId('load-more').addEventListener('click', () => this.loadConversations(false));
    byId('back').addEventListener('click', () => this.showList());
    byId('sign-out').addEventListener('click', () => {
      const n = this.client.queue.size;
      if (n && !window.confirm(`${n} unsent message(s) will be discarded. Sign out anyway?`)) return;
      this.client.queue.clear();
      this.client.disconnect();
      onSignOut();
    });
    const scroller = byId('thread-scroller');
    scroller.addEventListener('scroll', () => {
      if (scroller.scrollTop < 80 && this.thread.hasMore && !this.thread.loadingOlder) this.loadOlder();
    }, { passive: true });
    document.addEventListener('keydown', (e) => this._shortcut(e));
    document.addEventListener('visibilitychange', () => this._markRead());
    /** @type {number | null} */
    let linksAskedAt = null;
    document.addEventListener(EXPIRED_EVENT, () => {
      // a content link answered 403 (past LIVECHAT_MEDIA_URL_TTL): joining again
      // brings the conversation's messages with freshly signed links
      if (!this.openId || !shouldRefreshLinks(linksAskedAt, Date.now())) return;
      linksAskedAt = Date.now();
      this.client.joinConversation(this.openId);
    });
    for (const tab of /** @type {HTMLButtonElement[]} */ ([...byId('views').querySelectorAll('button[data-view]')])) {
      tab.addEventListener('click', () => this.setView(/** @type {any} */ (tab.dataset.view)));
    }
    window.setInterval(() => this.inbox.refreshTimes(), 30_000);
  }

  /** @param {KeyboardEvent} e */
  _shortcut(e) {
    const target = /** @type {HTMLElement} */ (e.target);
    const typing = target.closest('input, textarea, [contenteditable]');
    if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      byId('filter').focus();
    } else if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
      e.preventDefault();
      const ids = this.inbox.visible().map((c) => c.line_user_id);
      const at = this.openId ? ids.indexOf(this.openId) : -1;
      const next = ids[Math.max(0, Math.min(ids.length - 1, at + (e.key === 'ArrowDown' ? 1 : -1)))];
      if (next) this.open(next);
    } else if (e.key === 'Escape' && !typing && !target.closest('dialog, #sticker-panel') && NARROW.matches && this.app.dataset.view === 'conversation') {
      this.showList();
    }
  }

  /** The server restarted (maybe on another store): show only what it has, fetched anew. */
  _resync() {
    this.inbox.reset();
    this.nextCursor = null;
    this.loadConversations(true);
    if (!this.openId) return;
    // the client joins the open conversation again for its latest history
    this.thread.reset(this.thread.conversation);
    this.thread.setQueue(this.client.queue.entries());
    this.thread.render('bottom');
    this.typing.reset();
  }

  /** @param {boolean} first */
  async loadConversations(first) {
    const button = /** @type {HTMLButtonElement} */ (byId('load-more'));
    button.disabled = true;
    try {
      const page = await this.api.conversations(first ? null : this.nextCursor, PAGE, VIEWS[this.inbox.view].filters);
      for (const conv of page.conversations) this.inbox.upsert(conv);
      if (first && this.nextCursor === null) this.nextCursor = page.next_cursor;
      else if (!first) this.nextCursor = page.next_cursor;
      this.inbox.render();
      const open = this.openId && this.inbox.conversations.get(this.openId);
      if (open) this._header(open);
    } catch (error) {
      if (!first) this.notifier.toast({ kind: 'error', title: 'Could not load conversations', body: String(/** @type {any} */ (error)?.message ?? error) });
    } finally {
      button.disabled = false;
      button.hidden = !this.nextCursor;
    }
  }

  /** Mine, Unassigned, All open or Resolved. @param {import('./inbox.js').View} view */
  setView(view) {
    if (!(view in VIEWS) || view === this.inbox.view) return;
    for (const tab of byId('views').querySelectorAll('button[data-view]')) {
      tab.setAttribute('aria-selected', String(/** @type {HTMLElement} */ (tab).dataset.view === view));
    }
    this.inbox.setView(view);
    this.nextCursor = null;
    this.loadConversations(true);
  }

  /**
   * The open conversation is on screen: mark what the user wrote read, for
   * the team (the server keeps it) and in LINE. Once per new message.
   */
  _markRead() {
    const id = this.openId;
    if (!id || document.visibilityState !== 'visible' || !this.client.isConnected || !this.thread.loaded) return;
    const seq = this.thread.lastInboundSeq;
    const conv = this.inbox.conversations.get(id) ?? this.thread.conversation;
    if (seq <= (conv?.read_seq ?? 0) || seq <= (this._marked.get(id) ?? 0)) return;
    this._marked.set(id, seq);
    this.client.markRead(id, seq);
  }

  /** @param {string} id */
  open(id) {
    this.app.dataset.view = 'conversation';
    if (this.openId !== id) {
      if (this.openId) this.client.leaveConversation(this.openId);
      this.openId = id;
      let conv = this.inbox.conversations.get(id);
      if (!conv) {
        conv = { line_user_id: id, display_name: null, picture_url: null, followed: true };
        this.api.conversation(id).then((found) => {
          this.inbox.upsert(found);
          this.inbox.render();
          if (this.openId === id) {
            this.thread.conversation = found;
            this._header(found);
          }
        }).catch(() => {});
      }
      this.thread.reset(conv);
      this.thread.setQueue(this.client.queue.entries());
      this.thread.render('bottom');
      this.typing.reset();
      this.composer.useDraft(`livechat_ext:console:draft:${this.adminId}:${id}`);
      this._header(conv);
      history.replaceState(history.state, '', `#c=${encodeURIComponent(id)}`);
      this.client.joinConversation(id);
    }
    this.inbox.setOpen(id);
    this.notifier.dismissFor(id);
    byId('placeholder').hidden = true;
    byId('conversation').hidden = false;
    if (!NARROW.matches || document.activeElement?.closest('#conversations')) byId('composer-input').focus({ preventScroll: true });
  }

  showList() {
    this.app.dataset.view = 'list';
    const row = this.openId && byId('conversations').querySelector(`[data-id="${CSS.escape(this.openId)}"]`);
    if (row instanceof HTMLElement) row.focus();
  }

  /** @param {any} conv */
  _header(conv) {
    this.thread.conversation = conv;
    byId('conv-avatar').replaceChildren(avatar({ name: conv.display_name || 'LINE user', seed: conv.line_user_id, picture: conv.picture_url }));
    byId('conv-name').textContent = displayName(conv);
    const sub = byId('conv-sub');
    sub.replaceChildren(el('span', 'mono', conv.line_user_id));
    if (conv.followed === false) sub.append(el('span', 'tag tag-blocked', 'Blocked'));
    if (conv.status === 'resolved') sub.append(el('span', 'tag tag-resolved', 'Resolved'));
    const blocked = conv.followed === false;
    const note = byId('blocked-note');
    note.hidden = !blocked;
    note.textContent = blocked ? `${displayName(conv)} has blocked the account. Replies cannot be delivered until they unblock it.` : '';
    const noting = this.mode.mode === 'note'; // a note stays with the team: a block does not stop it
    this.composer.setEnabled(!blocked || noting, blocked && !noting ? 'Replies are off while blocked' : undefined);
    // a sticker goes to the user: not as a note, not while blocked
    this.stickers.setEnabled(!blocked && !noting, noting ? 'Notes are text only' : 'Replies are off while blocked');
    this.actions.show(conv);
  }

  /** @param {any} p conversation_joined */
  _joined(p) {
    if (p.line_user_id !== this.openId) return;
    const first = !this.thread.loaded;
    const fresh = this.thread.merge(p.messages ?? []);
    if (first) {
      this.thread.hasMore = Boolean(p.has_more);
      this.thread.loaded = true;
      this.typing.reset((p.typing ?? []).filter((/** @type {string} */ a) => a !== this.adminId));
    } else {
      this._announce(fresh);
    }
    this.thread.render(first ? 'bottom' : 'auto');
    this._markRead();
  }

  /** @param {any} message @param {boolean} announce */
  _message(message, announce) {
    if (!message || message.line_user_id !== this.openId) return;
    const fresh = this.thread.merge([message]);
    if (message.direction === 'outbound' && message.sender?.id) this.typing.set(message.sender.id, false, false);
    this.thread.render(message.direction !== 'inbound' && message.sender?.id === this.adminId ? 'bottom' : 'auto');
    this.typing.render();
    if (announce) this._announce(fresh);
    if (message.direction === 'inbound') this._markRead();
  }

  /** @param {any[]} messages */
  _announce(messages) {
    const last = messages.filter((m) => m.direction === 'inbound').at(-1);
    if (!last) return;
    const who = displayName(this.thread.conversation);
    byId('announcer').textContent = `New message from ${who}: ${previewText(last)}`;
  }

  /** @param {any[]} entries */
  _queueChanged(entries) {
    this.banner.update({
      queued: entries.filter((e) => e.status === 'queued').length,
      failed: entries.filter((e) => e.status === 'failed').length,
    });
    if (!this.openId) return;
    this.thread.setQueue(entries);
    this.thread.render();
  }

  /** @param {string} text @returns {boolean} */
  send(text) {
    if (!this.openId) return false;
    try {
      if (this.mode.mode === 'note') this.client.sendNote(this.openId, text);
      else this.client.sendMessage(this.openId, text);
    } catch (error) {
      this.notifier.toast({ kind: 'error', title: 'Not sent', body: String(/** @type {any} */ (error)?.message ?? error) });
      return false;
    }
    this.thread.render('bottom');
    return true;
  }

  /** Send a LINE sticker to the open conversation, queued like a text. @param {{package_id: string, sticker_id: string}} sticker @returns {boolean} */
  sendSticker(sticker) {
    if (!this.openId || this.mode.mode === 'note') return false;
    try {
      this.client.sendSticker(this.openId, sticker);
    } catch (error) {
      this.notifier.toast({ kind: 'error', title: 'Not sent', body: String(/** @type {any} */ (error)?.message ?? error) });
      return false;
    }
    this.thread.render('bottom');
    return true;
  }

  /** Resend a failed message with its client_msg_id (the server never sends it twice). @param {string} clientMsgId */
  retry(clientMsgId) {
    const q = this.client.queue;
    if (!q.get(clientMsgId)) {
      // Failed before this page loaded: put it back in the queue under the same id.
      const item = this.thread.items().find((i) => i.clientMsgId === clientMsgId);
      if (!item || !this.openId) return;
      const { package_id: packageId, sticker_id: stickerId } = item.data;
      if (item.kind === 'sticker' && typeof packageId === 'string' && typeof stickerId === 'string') {
        q.enqueue({ clientMsgId, lineUserId: this.openId, kind: 'sticker', sticker: { package_id: packageId, sticker_id: stickerId }, createdAt: item.createdAt });
      } else if (item.text != null) {
        q.enqueue({ clientMsgId, lineUserId: this.openId, text: item.text, createdAt: item.createdAt });
      } else return;
      q.fail(clientMsgId);
    }
    this.client.retryMessage(clientMsgId);
  }

  async loadOlder() {
    const id = this.openId;
    const before = this.thread.oldestSeq;
    if (!id || before === null || this.thread.loadingOlder) return;
    this.thread.loadingOlder = true;
    this.thread.render('prepend');
    try {
      const page = await this.api.olderMessages(id, before);
      if (this.openId !== id) return;
      this.thread.merge(page.messages);
      this.thread.hasMore = Boolean(page.has_more);
    } catch (error) {
      this.notifier.toast({ kind: 'error', title: 'Could not load earlier messages', body: String(/** @type {any} */ (error)?.message ?? error) });
    } finally {
      if (this.openId === id) {
        this.thread.loadingOlder = false;
        this.thread.render('prepend');
      }
    }
  }
}
