// @ts-check
/**
 * The plugin's REST API, with the operator's Bearer token. Paths are derived
 * from where the console is served: `<prefix>/console/` -> `<prefix>/api`.
 *
 * @module console/api
 */

/** The plugin's path prefix, e.g. `/live-chat`, from the console's own URL. */
export function pluginPrefix(pathname = location.pathname) {
  const at = pathname.lastIndexOf('/console');
  return at >= 0 ? pathname.slice(0, at) : '/live-chat';
}

/**
 * The WebSocket URL. The socket is mounted beside the plugin's prefix
 * (`/ws/live-chat` next to `/live-chat`), so a host that includes the router
 * under `/admin` gets `/admin/ws/live-chat`. `<html data-ws-path>` overrides it.
 */
export function socketUrl() {
  const override = document.documentElement.dataset.wsPath;
  const prefix = pluginPrefix();
  const parent = prefix.slice(0, prefix.lastIndexOf('/'));
  const path = override || `${parent}/ws/live-chat`;
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
}

export class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

export class Api {
  /** @param {() => string | null} getToken */
  constructor(getToken) {
    this._getToken = getToken;
    this.base = `${pluginPrefix()}/api`;
  }

  /**
   * @param {string} path
   * @param {Record<string, string | number | null | undefined>} [query]
   * @param {string | null} [token] overrides the current token (sign-in check)
   * @returns {Promise<any>}
   * @throws {ApiError} for an HTTP error; TypeError when the server is unreachable
   */
  async get(path, query = {}, token = null) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== null && value !== undefined && value !== '') params.set(key, String(value));
    }
    const qs = params.toString();
    const response = await fetch(`${this.base}${path}${qs ? `?${qs}` : ''}`, {
      headers: { Authorization: `Bearer ${token ?? this._getToken() ?? ''}`, Accept: 'application/json' },
      cache: 'no-store',
    });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = (await response.json()).detail ?? detail;
      } catch {
        // not JSON
      }
      throw new ApiError(response.status, String(detail));
    }
    return response.json();
  }

  /** @param {string | null} [token] @returns {Promise<{admin_id: string, name: string | null}>} */
  me(token = null) {
    return this.get('/me', {}, token);
  }

  /**
   * @param {string | null} cursor
   * @param {number} [limit]
   * @param {{status?: string, assignee?: string}} [filters] `assignee`: an admin id, `mine` or `unassigned`
   */
  conversations(cursor = null, limit = 30, filters = {}) {
    return this.get('/conversations', { limit, cursor, ...filters });
  }

  /** @param {string} lineUserId @param {number} beforeSeq @param {number} [limit] */
  olderMessages(lineUserId, beforeSeq, limit = 50) {
    return this.get(`/conversations/${encodeURIComponent(lineUserId)}/messages`, { limit, before_seq: beforeSeq });
  }

  /** @param {string} lineUserId */
  conversation(lineUserId) {
    return this.get(`/conversations/${encodeURIComponent(lineUserId)}`);
  }
}
