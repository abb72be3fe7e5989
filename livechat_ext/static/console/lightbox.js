// @ts-check
/**
 * The larger view of a photo: one modal <dialog> (index.html), so the browser
 * keeps focus inside it, Esc closes it, and focus goes back to the thumbnail
 * that opened it. A click on the backdrop closes it too.
 *
 * @module console/lightbox
 */

import { byId } from './dom.js';

/** @type {HTMLElement | null} what had focus before it opened */
let opener = null;
let bound = false;

function parts() {
  return {
    dialog: /** @type {HTMLDialogElement} */ (byId('lightbox')),
    img: /** @type {HTMLImageElement} */ (byId('lightbox-img')),
    title: byId('lightbox-title'),
    status: byId('lightbox-status'),
    download: /** @type {HTMLAnchorElement} */ (byId('lightbox-download')),
    close: /** @type {HTMLButtonElement} */ (byId('lightbox-close')),
  };
}

function bind() {
  if (bound) return;
  bound = true;
  const { dialog, img, status, close } = parts();
  close.addEventListener('click', () => dialog.close());
  // the dialog's own box is the backdrop: its children cover the rest
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener('close', () => {
    img.removeAttribute('src');
    const back = opener;
    opener = null;
    if (back && back.isConnected) back.focus();
  });
  img.addEventListener('load', () => {
    status.hidden = true;
  });
  img.addEventListener('error', () => {
    // the full photo is not here (not fetched yet, or gone): keep what the thread shows
    const fallback = img.dataset.fallback;
    if (fallback && img.src !== fallback) {
      img.src = fallback;
      status.textContent = 'The full photo is not available yet; this is the preview.';
    } else {
      status.textContent = 'The photo could not be loaded.';
    }
    status.hidden = false;
  });
}

/**
 * @param {object} options
 * @param {string} options.src the full photo
 * @param {string | null} [options.fallback] shown when the full photo does not load (the preview)
 * @param {string} options.alt
 * @param {string} options.title
 * @param {string} [options.fileName] the download's name
 * @param {HTMLElement} [options.trigger] focused again on close
 */
export function openLightbox(options) {
  bind();
  const { dialog, img, title, status, download } = parts();
  opener = options.trigger ?? /** @type {HTMLElement | null} */ (document.activeElement);
  title.textContent = options.title;
  status.hidden = true;
  status.textContent = '';
  img.alt = options.alt;
  if (options.fallback) img.dataset.fallback = options.fallback;
  else delete img.dataset.fallback;
  img.src = options.src;
  download.href = options.src;
  download.download = options.fileName ?? '';
  if (!dialog.open) dialog.showModal();
}
