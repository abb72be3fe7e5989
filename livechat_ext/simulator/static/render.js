// @ts-check
/** DOM building for the simulator. Every user-supplied string goes through textContent. */

/** A few stickers from LINE's free packages, drawn as emoji so the page works offline. */
export const STICKERS = [
  { package_id: "446", sticker_id: "1988", emoji: "😊", label: "Happy" },
  { package_id: "446", sticker_id: "1989", emoji: "😂", label: "Laughing" },
  { package_id: "446", sticker_id: "1990", emoji: "😢", label: "Crying" },
  { package_id: "446", sticker_id: "1991", emoji: "👍", label: "Thumbs up" },
  { package_id: "446", sticker_id: "1992", emoji: "🙏", label: "Thank you" },
  { package_id: "446", sticker_id: "1993", emoji: "❤️", label: "Love" },
];

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElement}
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** @param {number} ms */
const clock = (ms) =>
  new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

/**
 * @param {string | null} packageId
 * @param {string | null} stickerId
 */
function stickerEmoji(packageId, stickerId) {
  const known = STICKERS.find((s) => s.package_id === packageId && s.sticker_id === stickerId);
  return known ? known.emoji : "🧸";
}

/** LINE's image of a sticker, on its CDN (the simulator's CSP allows https images). @param {string} id */
const stickerUrl = (id) =>
  `https://stickershop.line-scdn.net/stickershop/v1/sticker/${encodeURIComponent(id)}/android/sticker.png`;

/** Sticker images that did not load (offline): shown as their emoji from then on. */
const unreachable = new Set();

/**
 * A sticker: LINE's image, or an emoji and its ids when the image cannot load.
 * @param {import("./api.js").PhoneMessage} message
 */
function sticker(message) {
  const label = `Sticker ${message.package_id}/${message.sticker_id}`;
  const fallback = el("span", "sticker", stickerEmoji(message.package_id, message.sticker_id));
  fallback.setAttribute("role", "img");
  fallback.setAttribute("aria-label", label);
  fallback.title = label;
  const id = message.sticker_id ?? "";
  if (!/^\d+$/.test(id) || unreachable.has(id)) return fallback;
  const img = /** @type {HTMLImageElement} */ (el("img", "sticker sticker-img"));
  img.alt = label;
  img.referrerPolicy = "no-referrer";
  img.addEventListener("error", () => {
    unreachable.add(id);
    img.replaceWith(fallback);
  }, { once: true });
  img.src = stickerUrl(id);
  return img;
}

/** @param {unknown} bytes */
function size(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return null;
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const MEDIA_LABELS = { image: "Photo", video: "Video", audio: "Voice message", file: "File" };
const MEDIA_ICONS = { image: "🖼️", video: "🎬", audio: "🎤", file: "📄" };

/**
 * A photo, video, voice message or file: the photo itself when this page sent
 * it (`preview`, a data: URL), else a labelled bubble.
 * @param {import("./api.js").PhoneMessage} message
 * @param {string | undefined} preview
 */
function media(message, preview) {
  const kind = /** @type {keyof typeof MEDIA_LABELS} */ (message.type);
  if (kind === "image" && preview) {
    const img = /** @type {HTMLImageElement} */ (el("img", "photo"));
    img.src = preview;
    img.alt = message.file_name ? `Photo ${message.file_name}` : "Photo";
    return img;
  }
  const name = message.file_name ?? null;
  const bubble = el("p", "bubble attachment");
  bubble.append(el("span", "attachment-icon", MEDIA_ICONS[kind]));
  const text = el("span", "attachment-text");
  text.append(el("span", "attachment-name", kind === "file" && name ? name : MEDIA_LABELS[kind]));
  const detail = [kind !== "file" ? name : null, size(message.file_size)].filter(Boolean).join(" · ");
  if (detail) text.append(el("span", "attachment-detail", detail));
  bubble.append(text);
  return bubble;
}

/**
 * @param {import("./api.js").PhoneMessage} message
 * @param {string} [preview] a photo this page sent, as a data: URL
 * @returns {HTMLElement}
 */
function content(message, preview) {
  if (message.type === "sticker") return sticker(message);
  if (message.type === "text") return el("p", "bubble", message.text ?? "");
  if (message.type in MEDIA_LABELS) return media(message, preview);
  return el("p", "bubble other", message.text ?? `[${message.type}]`);
}

/**
 * One chat row: the user's messages on the right, the account's on the left.
 * @param {import("./api.js").PhoneMessage} message
 * @param {string} [preview] a photo this page sent, as a data: URL
 * @returns {HTMLElement}
 */
export function messageRow(message, preview) {
  const row = el("li", `msg msg-${message.sender} msg-type-${message.type.replace(/[^a-z]/g, "")}`);
  row.dataset.id = message.id;
  if (message.sender === "account") row.append(el("span", "avatar", "OA"));
  const body = el("div", "msg-body");
  body.append(content(message, preview));
  const meta = el("span", "meta", clock(message.at_ms));
  row.append(body, meta);
  return row;
}

/**
 * Marks a row whose webhook was not accepted, with the reason as a tooltip.
 * @param {HTMLElement} row
 * @param {import("./api.js").WebhookResult} result
 */
export function markDelivery(row, result) {
  const ok = result.webhook_status !== null && result.webhook_status < 300;
  row.classList.toggle("failed", !ok);
  const meta = row.querySelector(".meta");
  if (!ok && meta) {
    meta.textContent = "!";
    meta.setAttribute(
      "title",
      result.webhook_error ?? `The webhook answered ${result.webhook_status}`,
    );
  }
}

/** @returns {HTMLElement} the "..." bubble shown while the loading animation runs */
export function loadingRow() {
  const row = el("li", "msg msg-account loading");
  row.setAttribute("aria-label", "The account is typing");
  row.append(el("span", "avatar", "OA"));
  const dots = el("div", "bubble dots");
  for (let i = 0; i < 3; i += 1) dots.append(el("span", "dot"));
  row.append(dots);
  return row;
}

/**
 * @param {import("./api.js").User} user
 * @param {(user: import("./api.js").User) => void} open
 * @returns {HTMLElement}
 */
export function userRow(user, open) {
  const item = el("li");
  const button = el("button", "user");
  button.setAttribute("type", "button");
  button.append(el("span", "avatar user-avatar", user.display_name.slice(0, 1).toUpperCase()));
  const text = el("span", "user-text");
  text.append(el("span", "user-name", user.display_name), el("span", "user-id", user.user_id));
  button.append(text);
  if (!user.following) button.append(el("span", "tag", "blocked"));
  button.addEventListener("click", () => open(user));
  item.append(button);
  return item;
}
