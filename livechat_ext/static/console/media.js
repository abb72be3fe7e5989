// @ts-check
/**
 * Decisions about media and stickers, without the DOM (tests/js runs them in
 * Node): which URL to show, how big a file is, what an answer of the content
 * URL means, how long to wait before asking again, which stickers the picker
 * offers. content.js draws what these decide.
 *
 * @module console/media
 */

/**
 * LINE's free stickers that any account may send (Messaging API sticker list).
 * @type {ReadonlyArray<{id: string, title: string, first: number, last: number}>}
 */
export const STICKER_PACKAGES = Object.freeze([
  Object.freeze({ id: '446', title: 'Moon', first: 1988, last: 2027 }),
  Object.freeze({ id: '789', title: 'Sally', first: 10855, last: 10894 }),
  Object.freeze({ id: '11537', title: 'Brown & Cony', first: 52002734, last: 52002773 }),
]);

/** @param {{first: number, last: number}} pack @returns {string[]} its sticker ids, in order */
export function stickerIds(pack) {
  const ids = [];
  for (let id = pack.first; id <= pack.last; id += 1) ids.push(String(id));
  return ids;
}

/** LINE's image of a sticker (its CDN; the CSP allows it for img-src). @param {string} stickerId */
export function stickerImageUrl(stickerId) {
  return `https://stickershop.line-scdn.net/stickershop/v1/sticker/${encodeURIComponent(stickerId)}/android/sticker.png`;
}

/**
 * "512 B", "1.5 KB", "23 MB": binary units, one decimal under 10.
 * @param {unknown} bytes
 * @returns {string | null} null for anything but a finite number of bytes, 0 or more
 */
export function formatFileSize(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return null;
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit > 0 && value < 10) {
    const rounded = Math.round(value * 10) / 10;
    return `${rounded >= 10 ? '10' : rounded.toFixed(1)} ${units[unit]}`;
  }
  const whole = Math.round(value);
  // 1023.6 KB rounds to 1024 KB: say 1.0 MB instead
  if (whole >= 1024 && unit < units.length - 1) return `1.0 ${units[unit + 1]}`;
  return `${whole} ${units[unit]}`;
}

/**
 * "0:07", "12:30", "1:02:03".
 * @param {unknown} ms
 * @returns {string | null} null for anything but a finite duration, 0 or more
 */
export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return null;
  const total = Math.round(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/**
 * What an HTTP status of a content URL means for the console.
 * @param {number} status
 * @returns {'ready' | 'pending' | 'gone' | 'large' | 'expired' | 'failed'} pending: the plugin has
 *   not fetched it from LINE yet (202, or 503 for a moment); gone: the user unsent the message
 *   (410); large: over the plugin's size limit, not kept (413); expired: the signed link is no
 *   longer valid (403: past LIVECHAT_MEDIA_URL_TTL, or no longer allowed): ask for fresh links
 */
export function contentState(status) {
  if (status === 202 || status === 503) return 'pending';
  if (status === 403) return 'expired';
  if (status === 410) return 'gone';
  if (status === 413) return 'large';
  if ((status >= 200 && status < 300) || status === 304) return 'ready';
  return 'failed';
}

/** Fresh links are asked for at most this often (a revoked operator's links stay refused). */
export const REFRESH_EVERY_MS = 30_000;

/**
 * Whether to ask the server for fresh content links now (an expired link was seen).
 * @param {number | null} lastAt when links were last asked for (ms), null never
 * @param {number} now ms
 * @returns {boolean}
 */
export function shouldRefreshLinks(lastAt, now) {
  return lastAt === null || !Number.isFinite(lastAt) || now - lastAt >= REFRESH_EVERY_MS;
}

/**
 * Whether a stored message must be replaced by the same message as received again:
 * its content links changed (fresh signatures after expired ones).
 * @param {Record<string, any> | null | undefined} before its data as stored
 * @param {Record<string, any> | null | undefined} after its data as received
 * @returns {boolean}
 */
export function linksChanged(before, after) {
  return (before?.content_url ?? null) !== (after?.content_url ?? null) || (before?.preview_url ?? null) !== (after?.preview_url ?? null);
}

/** Waits before asking a 202 content URL again: a few times, then the operator retries by hand. */
export const RETRY_DELAYS_MS = Object.freeze([1000, 2000, 4000, 8000, 15000]);

/**
 * @param {number} attempt how many times it answered 202 so far (1 after the first)
 * @returns {number | null} ms to wait before the next look, or null to stop
 */
export function retryDelay(attempt) {
  return Number.isInteger(attempt) && attempt >= 1 && attempt <= RETRY_DELAYS_MS.length ? RETRY_DELAYS_MS[attempt - 1] : null;
}

/**
 * A URL that may go into src or href: http(s) of the page's own origin, or https
 * elsewhere (external content, LINE's CDN). Nothing else (javascript:, data:, blob:).
 * @param {unknown} value
 * @param {string} base the page's URL (location.href)
 * @returns {string | null} the absolute URL
 */
export function safeUrl(value, base) {
  if (typeof value !== 'string' || value === '') return null;
  let url;
  let page;
  try {
    page = new URL(base);
    url = new URL(value, page);
  } catch {
    return null;
  }
  if (url.origin === page.origin && (url.protocol === 'http:' || url.protocol === 'https:')) return url.href;
  return url.protocol === 'https:' ? url.href : null;
}

/** @param {string} url @param {string} base @returns {boolean} whether the page may fetch it (CSP connect-src 'self') */
export function isSameOrigin(url, base) {
  try {
    return new URL(url, base).origin === new URL(base).origin;
  } catch {
    return false;
  }
}

/**
 * @typedef {object} MediaPlan
 * @property {'image' | 'video' | 'audio' | 'file'} kind
 * @property {string} src the content: the full image, the video, the audio, the file
 * @property {string | null} preview image and video: what to show inline (the preview, else the content)
 * @property {boolean} probe whether its state can be asked with fetch (same origin; CSP connect-src)
 * @property {string} title "Photo", "Video", "Voice message" or the file's name
 * @property {string | null} size a file's size, human
 * @property {string | null} duration video and audio, "m:ss"
 * @property {string} fileName the name a download gets
 */

const TITLES = { image: 'Photo', video: 'Video', audio: 'Voice message', file: 'File' };

/** @param {unknown} value @returns {string | null} */
const str = (value) => (typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : null);

/**
 * How to draw an image, video, audio or file message: null when it has no
 * usable content URL (an older message), and the console keeps its label card.
 * @param {string} kind
 * @param {Record<string, any>} data the Message's data
 * @param {string} base the page's URL
 * @returns {MediaPlan | null}
 */
export function mediaPlan(kind, data, base) {
  if (kind !== 'image' && kind !== 'video' && kind !== 'audio' && kind !== 'file') return null;
  if (!data || typeof data !== 'object' || data.unsent) return null;
  const provider = data.content_provider && typeof data.content_provider === 'object' ? data.content_provider : null;
  const external = provider?.type === 'external';
  const src = safeUrl(data.content_url, base) ?? (external ? safeUrl(provider?.originalContentUrl, base) : null);
  if (!src) return null;
  let preview = null;
  if (kind === 'image' || kind === 'video') {
    preview = safeUrl(data.preview_url, base) ?? (external ? safeUrl(provider?.previewImageUrl, base) : null);
    if (kind === 'image') preview = preview ?? src;
  }
  const name = typeof data.file_name === 'string' && data.file_name.trim() !== '' ? data.file_name.trim() : null;
  return {
    kind,
    src,
    preview,
    probe: isSameOrigin(src, base),
    title: kind === 'file' ? name ?? TITLES.file : TITLES[kind],
    size: kind === 'file' ? formatFileSize(data.file_size) : null,
    duration: kind === 'video' || kind === 'audio' ? formatDuration(data.duration) : null,
    fileName: name ?? [TITLES[kind].toLowerCase().replace(' ', '-'), str(data.message_id)].filter(Boolean).join('-'),
  };
}
