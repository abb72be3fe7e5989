// @ts-check
/**
 * DOM and formatting helpers for the console. Every string that comes from a
 * user, an operator or the server goes through `textContent`: nothing here
 * parses HTML.
 *
 * @module console/dom
 */

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string | null} [text] set with textContent
 * @returns {HTMLElement}
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from index.html`);
  return node;
}

/**
 * An inline SVG icon from the sprite in index.html.
 * @param {string} name
 * @param {string} [className]
 * @returns {SVGSVGElement}
 */
export function icon(name, className = 'icon') {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', className);
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(ns, 'use');
  use.setAttribute('href', `#i-${name}`);
  svg.append(use);
  return svg;
}

/** @param {string} value @returns {string} up to two letters */
export function initials(value) {
  const words = value.trim().split(/[\s\-_.@]+/).filter(Boolean);
  if (words.length === 0) return '?';
  const letters = words.length > 1 ? [words[0], words[1]].map((w) => [...w][0]) : [...words[0]].slice(0, 2);
  return letters.join('').toUpperCase();
}

/** @param {string} seed @returns {number} a hue in [0, 360) stable for the seed */
export function hue(seed) {
  let h = 0;
  for (let i = 0; i < seed.length; i += 1) h = (h * 31 + seed.charCodeAt(i)) >>> 0;
  return h % 360;
}

/**
 * An avatar: the picture when it loads, else initials on a stable colour.
 * @param {{name: string, seed: string, picture?: string | null, size?: 'sm' | 'md' | 'lg'}} options
 * @returns {HTMLElement}
 */
export function avatar({ name, seed, picture = null, size = 'md' }) {
  const node = el('span', `avatar avatar-${size}`, initials(name));
  node.style.setProperty('--avatar-hue', String(hue(seed)));
  node.setAttribute('aria-hidden', 'true');
  if (picture && /^https:\/\//i.test(picture)) {
    const img = /** @type {HTMLImageElement} */ (el('img'));
    img.alt = '';
    img.loading = 'lazy';
    img.referrerPolicy = 'no-referrer';
    img.addEventListener('error', () => img.remove(), { once: true });
    img.src = picture;
    node.append(img);
  }
  return node;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** @param {string | number | Date} value @returns {Date} */
export const toDate = (value) => (value instanceof Date ? value : new Date(value));

/** @param {Date} date */
function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/**
 * Short relative time for the list: "now", "5m", "3h", "Yesterday", "Mon", "12 Mar".
 * @param {string | number | Date} value
 * @param {number} [now]
 */
export function relativeTime(value, now = Date.now()) {
  const date = toDate(value);
  const diff = now - date.getTime();
  if (Number.isNaN(diff)) return '';
  if (diff < MINUTE) return 'now';
  if (diff < HOUR) return `${Math.floor(diff / MINUTE)}m`;
  const days = Math.round((startOfDay(new Date(now)) - startOfDay(date)) / DAY);
  if (days <= 0) return `${Math.floor(diff / HOUR)}h`;
  if (days === 1) return 'Yesterday';
  if (days < 7) return date.toLocaleDateString(undefined, { weekday: 'short' });
  return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

/** @param {string | number | Date} value @returns {string} "14:05" */
export function clockTime(value) {
  return toDate(value).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/** @param {string | number | Date} value @returns {string} full date and time, for tooltips */
export function fullTime(value) {
  return toDate(value).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/**
 * "Today", "Yesterday" or a date, for day separators.
 * @param {string | number | Date} value
 * @param {number} [now]
 */
export function dayLabel(value, now = Date.now()) {
  const date = toDate(value);
  const days = Math.round((startOfDay(new Date(now)) - startOfDay(date)) / DAY);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  const sameYear = date.getFullYear() === new Date(now).getFullYear();
  return date.toLocaleDateString(undefined, {
    weekday: 'long', day: 'numeric', month: 'long', ...(sameYear ? {} : { year: 'numeric' }),
  });
}

/** @param {string | number | Date} value @returns {string} a key per calendar day */
export function dayKey(value) {
  const d = toDate(value);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** @param {number} n @param {string} one @param {string} [many] */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}
