// @ts-check
/**
 * The body of one message by kind: text, sticker, media, location, a postback
 * (an action the user tapped, not words they wrote), unsupported.
 *
 * Media (1.1, "Media and stickers"): a photo inline (its preview) that opens
 * a larger view, a video or voice player, a file with its name, size and a
 * download link. Their URLs are the plugin's: while it has not fetched the
 * content from LINE they answer 202, and the console shows "loading" and
 * looks again a few times; 410 means the user unsent it; 403 means the signed
 * link expired (or was revoked): an `EXPIRED_EVENT` on the document asks the
 * workspace for fresh links (it joins the conversation again). A message without a
 * content URL (older ones) keeps its label card. A sticker is LINE's image,
 * or a card when the image cannot load.
 *
 * @module console/content
 */

import { el, icon } from './dom.js';
import { contentState, formatDuration, formatFileSize, mediaPlan, retryDelay, stickerImageUrl } from './media.js';
import { openLightbox } from './lightbox.js';

/** Dispatched on the document when a content link answered 403: fresh links are wanted. */
export const EXPIRED_EVENT = 'livechat:media-expired';

/** @param {'ready' | 'pending' | 'stalled' | 'gone' | 'large' | 'expired' | 'failed'} state */
function askForFreshLinks(state) {
  if (state === 'expired') document.dispatchEvent(new CustomEvent(EXPIRED_EVENT));
}

/** @param {unknown} value @returns {string | null} */
const str = (value) => (typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : null);

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

/** Sticker images that did not load (LINE's CDN out of reach): drawn as cards from then on. */
const unreachable = new Set();

/** @param {Record<string, any>} data */
function sticker(data) {
  const packageId = str(data.package_id) ?? '?';
  const stickerId = str(data.sticker_id);
  const fallback = card('sticker', 'Sticker', [`package ${packageId} · sticker ${stickerId ?? '?'}`,
    Array.isArray(data.keywords) ? data.keywords.slice(0, 4).join(', ') : null], 'card-sticker');
  if (!stickerId || !/^\d+$/.test(stickerId)) return fallback;
  const src = stickerImageUrl(stickerId);
  if (unreachable.has(src)) return fallback; // offline: no broken image on every redraw
  const wrap = el('div', 'sticker');
  const img = /** @type {HTMLImageElement} */ (el('img'));
  img.alt = `Sticker ${packageId}/${stickerId}`;
  img.title = `package ${packageId} · sticker ${stickerId}`;
  img.referrerPolicy = 'no-referrer';
  img.decoding = 'async';
  img.addEventListener('error', () => {
    unreachable.add(src);
    wrap.replaceWith(fallback);
  }, { once: true });
  img.src = src;
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

/** @param {string} kind @param {Record<string, any>} data the label card: no content to show */
function mediaCard(kind, data) {
  const provider = data.content_provider?.type === 'external' ? 'external content' : null;
  const id = str(data.message_id) ? `LINE message ${data.message_id}` : null;
  switch (kind) {
    case 'image': {
      const set = data.image_set ? `image ${data.image_set.index ?? '?'} of ${data.image_set.total ?? '?'}` : null;
      return card('image', 'Photo', [set, provider, id]);
    }
    case 'video':
      return card('video', 'Video', [formatDuration(Number(data.duration)), provider, id]);
    case 'audio':
      return card('audio', 'Voice message', [formatDuration(Number(data.duration)), provider, id]);
    default:
      return card('file', str(data.file_name) ?? 'File', [formatFileSize(Number(data.file_size)), id]);
  }
}

/** Drawn media, by their URLs: a redraw of the thread moves the same node (a playing video plays on). */
const drawn = new Map();
const DRAWN_MAX = 150;

/** @param {string} key @param {() => HTMLElement} build */
function reuse(key, build) {
  const hit = drawn.get(key);
  if (hit) {
    drawn.delete(key);
    drawn.set(key, hit);
    return hit;
  }
  const node = build();
  drawn.set(key, node);
  if (drawn.size > DRAWN_MAX) drawn.delete(drawn.keys().next().value);
  return node;
}

/**
 * The state of a content URL of the plugin, without reading its body.
 * @param {string} url
 * @returns {Promise<'ready' | 'pending' | 'gone' | 'large' | 'failed'>}
 */
async function probe(url) {
  try {
    const response = await fetch(url, { cache: 'no-store', credentials: 'same-origin', headers: { Range: 'bytes=0-0' } });
    response.body?.cancel().catch(() => {});
    return response.status === 416 ? 'ready' : contentState(response.status); // 416: an empty file
  } catch {
    return 'failed';
  }
}

const WAITING = { image: 'Loading photo…', video: 'Loading video…', audio: 'Loading voice message…', file: 'Loading file…' };
const GONE = { image: 'photo', video: 'video', audio: 'voice message', file: 'file' };

/**
 * A media message's frame and its state (`data-state`: loading, ready, pending, stalled, gone,
 * large, failed):
 * the status line and, once the looks for a 202 are used up, a "Try again" button.
 * @param {import('./media.js').MediaPlan} plan
 */
function frame(plan) {
  const root = el('figure', `media media-${plan.kind}`);
  root.dataset.state = 'loading';
  const status = el('span', 'media-status');
  status.setAttribute('role', 'status');
  const again = /** @type {HTMLButtonElement} */ (el('button', 'ghost small media-retry', 'Try again'));
  again.type = 'button';
  again.hidden = true;
  /** @param {'loading' | 'ready' | 'pending' | 'stalled' | 'gone' | 'large' | 'expired' | 'failed'} state */
  const set = (state) => {
    root.dataset.state = state;
    askForFreshLinks(state);
    again.hidden = state !== 'stalled' && state !== 'failed' && state !== 'expired';
    status.textContent = {
      loading: WAITING[plan.kind],
      pending: `${WAITING[plan.kind]} (fetching it from LINE)`,
      stalled: `Not fetched from LINE yet.`,
      gone: `Unsent: the user took this ${GONE[plan.kind]} back.`,
      large: `This ${GONE[plan.kind]} is too large to keep here: open LINE to see it.`,
      failed: `This ${GONE[plan.kind]} could not be loaded.`,
      expired: `This link expired or is no longer allowed: asking for a fresh one…`,
      ready: '',
    }[state];
  };
  return { root, status, again, set };
}

/**
 * Looks at a content URL until it is ready (or gone, or failed), a few times for a 202.
 * @param {string} url
 * @param {(state: 'ready' | 'pending' | 'stalled' | 'gone' | 'large' | 'expired' | 'failed') => void} onState
 * @returns {() => void} start over (the "Try again" button)
 */
function watch(url, onState) {
  let attempts = 0;
  let timer = 0;
  const look = async () => {
    const state = await probe(url);
    if (state !== 'pending') {
      onState(state);
      return;
    }
    attempts += 1;
    const wait = retryDelay(attempts);
    if (wait === null) {
      onState('stalled');
      return;
    }
    onState('pending');
    timer = window.setTimeout(look, wait);
  };
  look();
  return () => {
    window.clearTimeout(timer);
    attempts = 0;
    look();
  };
}

/** @param {import('./media.js').MediaPlan} plan */
function photo(plan) {
  const f = frame(plan);
  const open = /** @type {HTMLButtonElement} */ (el('button', 'media-open'));
  open.type = 'button';
  open.setAttribute('aria-haspopup', 'dialog');
  open.setAttribute('aria-label', 'Photo: open a larger view');
  const img = /** @type {HTMLImageElement} */ (el('img'));
  img.alt = '';
  img.decoding = 'async';
  img.referrerPolicy = 'no-referrer';
  const shown = /** @type {string} */ (plan.preview ?? plan.src);
  let attempts = 0;
  let timer = 0;
  const reload = () => {
    img.removeAttribute('src');
    img.src = shown;
  };
  img.addEventListener('load', () => f.set('ready'));
  img.addEventListener('error', async () => {
    if (!plan.probe) return f.set('failed'); // another origin: fetch would break the CSP
    const state = await probe(shown);
    if (state === 'pending') {
      attempts += 1;
      const wait = retryDelay(attempts);
      if (wait === null) return f.set('stalled');
      f.set('pending');
      timer = window.setTimeout(reload, wait);
    } else if (state === 'ready' && attempts === 0) {
      attempts += 1; // fetched between the two requests: once more
      reload();
    } else {
      f.set(state === 'ready' ? 'failed' : state);
    }
  });
  f.again.addEventListener('click', () => {
    window.clearTimeout(timer);
    attempts = 0;
    f.set('loading');
    reload();
  });
  open.addEventListener('click', () => {
    if (f.root.dataset.state !== 'ready') return;
    openLightbox({ src: plan.src, fallback: plan.preview, alt: 'Photo from the conversation', title: 'Photo', fileName: plan.fileName, trigger: open });
  });
  open.append(img);
  f.root.append(open, f.status, f.again);
  f.set('loading');
  img.src = shown;
  return f.root;
}

/** A video or a voice message: the player once the content is there. @param {import('./media.js').MediaPlan} plan */
function player(plan) {
  const f = frame(plan);
  const video = plan.kind === 'video';
  const media = /** @type {HTMLMediaElement} */ (el(video ? 'video' : 'audio', 'media-player'));
  media.controls = true;
  media.preload = 'none';
  media.setAttribute('aria-label', video ? 'Video' : 'Voice message');
  if (video && plan.preview) /** @type {HTMLVideoElement} */ (media).poster = plan.preview;
  const label = el('span', 'media-caption', [video ? 'Video' : 'Voice message', plan.duration].filter(Boolean).join(' · '));
  const show = () => {
    if (!media.getAttribute('src')) media.src = plan.src;
    f.set('ready');
  };
  media.hidden = true;
  f.root.append(media, label, f.status, f.again);
  f.set('loading');
  if (!plan.probe) {
    show();
    media.hidden = false;
    media.addEventListener('error', () => f.set('failed'));
    return f.root;
  }
  const restart = watch(plan.src, (state) => {
    media.hidden = state !== 'ready';
    if (state === 'ready') show();
    else f.set(state);
  });
  f.again.addEventListener('click', () => {
    f.set('loading');
    restart();
  });
  return f.root;
}

/** A file: its name, size and a download link once the content is there. @param {import('./media.js').MediaPlan} plan */
function file(plan) {
  const f = frame(plan);
  f.root.classList.add('card', 'card-file');
  const badge = el('span', 'card-icon');
  badge.append(icon('file'));
  const body = el('div', 'card-body');
  body.append(el('span', 'card-title file-name', plan.title));
  if (plan.size) body.append(el('span', 'card-detail file-size', plan.size));
  const link = /** @type {HTMLAnchorElement} */ (el('a', 'card-link file-download', 'Download'));
  link.download = plan.fileName;
  link.rel = 'noopener noreferrer';
  link.setAttribute('aria-label', `Download ${plan.title}${plan.size ? ` (${plan.size})` : ''}`);
  link.hidden = true;
  body.append(link, f.status, f.again);
  f.root.append(badge, body);
  const show = () => {
    link.href = plan.src;
    link.hidden = false;
    f.set('ready');
  };
  f.set('loading');
  if (!plan.probe) {
    show();
    return f.root;
  }
  const restart = watch(plan.src, (state) => (state === 'ready' ? show() : f.set(state)));
  f.again.addEventListener('click', () => {
    f.set('loading');
    restart();
  });
  return f.root;
}

/** @param {string} kind @param {Record<string, any>} data */
function media(kind, data) {
  const plan = mediaPlan(kind, data, window.location.href);
  if (!plan) return mediaCard(kind, data);
  const key = `${plan.kind}|${plan.src}|${plan.preview ?? ''}`;
  if (plan.kind === 'image') return reuse(key, () => photo(plan));
  if (plan.kind === 'file') return reuse(key, () => file(plan));
  return reuse(key, () => player(plan));
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
