// @ts-check
/** The simulator's HTTP API, relative to this module so any mount point works. */

const BASE = new URL("./api/", import.meta.url);

/**
 * @typedef {{user_id: string, display_name: string, following: boolean}} User
 * @typedef {{id: string, sender: "user" | "account", type: string, at_ms: number,
 *   text: string | null, package_id: string | null, sticker_id: string | null,
 *   file_name?: string | null, file_size?: number | null, content_type?: string | null}} PhoneMessage
 * @typedef {{kind: "image" | "video" | "audio" | "file", file_name: string | null,
 *   content_type: string, data_base64: string}} MediaUpload
 * @typedef {{webhook_status: number | null, webhook_error: string | null}} WebhookResult
 */

/**
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<any>}
 */
async function call(path, init) {
  const response = await fetch(new URL(path, BASE), {
    ...init,
    headers: { "Content-Type": "application/json", ...(init?.headers ?? {}) },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    throw new Error(detail || `HTTP ${response.status}`);
  }
  return body;
}

/** @returns {Promise<User[]>} */
export const listUsers = () => call("users");

/**
 * @param {string} displayName
 * @returns {Promise<User & WebhookResult>}
 */
export const createUser = (displayName) =>
  call("users", { method: "POST", body: JSON.stringify({ display_name: displayName }) });

/**
 * @param {string} userId
 * @returns {Promise<PhoneMessage[]>}
 */
export const conversation = (userId) => call(`users/${encodeURIComponent(userId)}/messages`);

/**
 * @param {string} userId
 * @param {{type: "text", text: string} | {type: "sticker", package_id: string, sticker_id: string}} message
 * @returns {Promise<{message: PhoneMessage} & WebhookResult>}
 */
export const sendMessage = (userId, message) =>
  call(`users/${encodeURIComponent(userId)}/messages`, {
    method: "POST",
    body: JSON.stringify(message),
  });

/**
 * The user sends a photo, video, voice message or file: the simulator keeps its
 * bytes for the fake content API and posts the message event to the webhook.
 * @param {string} userId
 * @param {MediaUpload} media
 * @returns {Promise<{message: PhoneMessage} & WebhookResult>}
 */
export const sendMedia = (userId, media) =>
  call(`users/${encodeURIComponent(userId)}/media`, {
    method: "POST",
    body: JSON.stringify(media),
  });

/**
 * @param {string} userId
 * @param {boolean} follow
 * @returns {Promise<User & WebhookResult>}
 */
export const setFollowing = (userId, follow) =>
  call(`users/${encodeURIComponent(userId)}/${follow ? "follow" : "unfollow"}`, { method: "POST" });

/**
 * The user's live stream: `ready`, `message` (PhoneMessage) and `loading` ({seconds}).
 * @param {string} userId
 * @returns {EventSource}
 */
export const events = (userId) =>
  new EventSource(new URL(`users/${encodeURIComponent(userId)}/events`, BASE));
