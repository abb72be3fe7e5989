// Where the page gets its plugin token (this app's /api/live-chat-token) and
// the plugin's REST history (cross-origin, with the token as Bearer).
import { decodeJwtPayload } from '@livechat-ext/client/jwt';
import type { Conversation } from '@livechat-ext/client/protocol';

const REFRESH_BEFORE_EXP_MS = 60_000;

export class TokenSource {
  private latest: string | null = null;

  /** A new token from this app; a signed-out admin goes to the login page. */
  fetchNew = async (): Promise<string> => {
    const response = await fetch('/api/live-chat-token', { cache: 'no-store' });
    if (response.status === 401) {
      window.location.assign('/login');
      throw new Error('signed out');
    }
    if (!response.ok) throw new Error(`/api/live-chat-token answered ${response.status}`);
    const { token } = (await response.json()) as { token: string };
    this.latest = token;
    return token;
  };

  /** The latest token while it has a minute left, else a new one. */
  current = async (): Promise<string> => {
    const exp = this.latest ? decodeJwtPayload(this.latest)?.exp : undefined;
    if (this.latest && typeof exp === 'number' && exp * 1000 - Date.now() > REFRESH_BEFORE_EXP_MS) return this.latest;
    return this.fetchNew();
  };
}

/** The newest conversations, from the plugin's REST API. */
export async function listConversations(pluginUrl: string, token: string): Promise<Conversation[]> {
  const response = await fetch(`${pluginUrl}/live-chat/api/conversations?limit=50`, {
    headers: { Authorization: `Bearer ${token}` },
    cache: 'no-store',
  });
  if (!response.ok) throw new Error(`the plugin answered ${response.status} for the conversation list`);
  const body = (await response.json()) as { conversations: Conversation[] };
  return body.conversations;
}

/** ws(s)://host/ws/live-chat for the plugin at http(s)://host. */
export function socketUrl(pluginUrl: string): string {
  const url = new URL('/ws/live-chat', pluginUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}
