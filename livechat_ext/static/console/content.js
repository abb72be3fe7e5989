// @ts-check
/**
 * The body of one message by kind: text, sticker, media cards, location,
 * a postback (an action the user tapped, not words they wrote), unsupported. Nothing is fetched but the optional sticker image, which falls
 * back to a card when it cannot load.
 *
 * @module console/content
 */

import { el, icon } from './dom.js';

const STICKER_URL = (/** @type {string} */ id) =>
  `https://stickershop.line-scdn.net/stickershop/v1/sticker/${encodeURIComponent(id)}/android/sticker.png`;

/** @param {unknown} value @returns {string | null} */
const str = (value) => (typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : null);

/** @param {number} bytes */
function fileSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return null;
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 && unit > 0 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** @param {number} ms */
function duration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return null;
  const total = Math.round(ms / 1000);
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

/**
 * A card: an icon, a title and a few detail lines.
 * @param {string} iconName
 * @param {string} title
 * @param {Array<string | null>} details
 * @param {string} [className]
 */
function card(iconName, title, details, className = '') {
  const node = el('div', `card ${className}`.trim());
  const badge = el('span', 'card-icon');
  badge.append(icon(iconName));
  const body = el('div', 'card-body');
  body.append(el('span', 'card-title', title));
  for (const line of details) if (line) body.append(el('span', 'card-detail', line));
  node.append(badge, body);
  return node;
}

/** @param {Record<string, any>} data */
function sticker(data) {
  const packageId = str(data.package_id) ?? '?';
  const stickerId = str(data.sticker_id);
  const fallback = card('sticker', 'Sticker', [`package ${packageId} · sticker ${stickerId ?? '?'}`,
    Array.isArray(data.keywords) ? data.keywords.slice(0, 4).join(', ') : null], 'card-sticker');
  if (!stickerId || !/^\d+$/.test(stickerId)) return fallback;
  const wrap = el('div', 'sticker');
  const img = /** @type {HTMLImageElement} */ (el('img'));
  img.alt = `Sticker ${packageId}/${stickerId}`;
  img.title = `package ${packageId} · sticker ${stickerId}`;
  img.referrerPolicy = 'no-referrer';
  img.decoding = 'async';
  img.addEventListener('error', () => wrap.replaceWith(fallback), { once: true });
  img.src = STICKER_URL(stickerId);
  wrap.append(img);
  return wrap;
}

/** @param {Record<string, any>} data */
function location(data) {
  const lat = Number(data.latitude);
  const lon = Number(data.longitude);
  const hasPoint = Number.isFinite(lat) && Number.isFinite(lon);
  const node = card('pin', str(data.title) ?? 'Location', [
    str(data.address), hasPoint ? `${lat.toFixed(5)}, ${lon.toFixed(5)}` : null,
  ], 'card-location');
  if (hasPoint) {
    const link = /** @type {HTMLAnchorElement} */ (el('a', 'card-link', 'Open map'));
    link.href = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
    link.target = '_blank';
    link.rel = 'noopener noreferrer';
    node.querySelector('.card-body')?.append(link);
  }
  return node;
}

/** @param {string} kind @param {Record<string, any>} data */
function media(kind, data) {
  const provider = data.content_provider?.type === 'external' ? 'external content' : null;
  const id = str(data.message_id) ? `LINE message ${data.message_id}` : null;
  switch (kind) {
    case 'image': {
      const set = data.image_set ? `image ${data.image_set.index ?? '?'} of ${data.image_set.total ?? '?'}` : null;
      return card('image', 'Photo', [set, provider, id]);
    }
    case 'video':
      return card('video', 'Video', [duration(Number(data.duration)), provider, id]);
    case 'audio':
      return card('audio', 'Voice message', [duration(Number(data.duration)), provider, id]);
    default:
      return card('file', str(data.file_name) ?? 'File', [fileSize(Number(data.file_size)), id]);
  }
}

/**
 * A postback: the user tapped a button whose `data` the bot defined (with the
 * date or time they picked in `params`). Shown as an action, never as their words.
 * @param {Record<string, any>} data
 */
function postback(data) {
  const action = str(data.postback?.data) ?? '';
  const node = el('p', 'note', `Tapped an action: ${action}`);
  const params = data.postback?.params;
  if (params && typeof params === 'object') {
    const picked = Object.entries(params).map(([key, value]) => `${key}: ${String(value)}`).join(', ');
    if (picked) node.append(el('span', 'note-text', picked));
  }
  return node;
}

/**
 * @param {{kind: string, text: string | null, data: Record<string, any>}} message
 * @returns {{node: HTMLElement, bare: boolean}} bare: drawn without a bubble
 */
export function messageContent(message) {
  const data = message.data ?? {};
  if (data.unsent) return { node: el('p', 'note', 'The user unsent this message.'), bare: true };
  switch (message.kind) {
    case 'text':
    case 'note': // an internal note: the thread draws its own frame around it
      return { node: el('p', 'bubble-text', message.text ?? ''), bare: false };
    case 'sticker':
      return { node: sticker(data), bare: true };
    case 'image':
    case 'video':
    case 'audio':
    case 'file':
      return { node: media(message.kind, data), bare: true };
    case 'location':
      return { node: location(data), bare: true };
    default: {
      if (data.event_type === 'postback') return { node: postback(data), bare: true };
      const what = str(data.line_type) ?? message.kind;
      const note = el('p', 'note', `Unsupported message (${what}) — open LINE to see it.`);
      if (message.text) note.append(el('span', 'note-text', message.text));
      return { node: note, bare: true };
    }
  }
}

/**
 * A one-line preview for the conversation list.
 * @param {{kind: string, text: string | null, data?: Record<string, any>} | null | undefined} message
 */
export function previewText(message) {
  if (!message) return 'No messages yet';
  if (message.data?.unsent) return 'Message unsent';
  switch (message.kind) {
    case 'text': return (message.text ?? '').replace(/\s+/g, ' ').trim();
    case 'note': return `Note: ${(message.text ?? '').replace(/\s+/g, ' ').trim()}`;
    case 'sticker': return 'Sticker';
    case 'image': return 'Photo';
    case 'video': return 'Video';
    case 'audio': return 'Voice message';
    case 'file': return `File${str(message.data?.file_name) ? `: ${message.data?.file_name}` : ''}`;
    case 'location': return `Location${str(message.data?.title) ? `: ${message.data?.title}` : ''}`;
    default: return message.data?.event_type === 'postback' ? 'Tapped an action' : 'Unsupported message';
  }
}
