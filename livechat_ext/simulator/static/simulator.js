// @ts-check
/** The simulator page: pick a LINE user, then chat with the Official Account as them. */

import * as api from "./api.js";
import { STICKERS, el, loadingRow, markDelivery, messageRow, userRow } from "./render.js";
import { drawnPhoto, generatedPdf, pickedFile } from "./media.js";

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const ui = {
  back: $("back"),
  title: $("title"),
  subtitle: $("subtitle"),
  live: $("live"),
  block: /** @type {HTMLButtonElement} */ ($("block")),
  usersView: $("users-view"),
  newUser: /** @type {HTMLFormElement} */ ($("new-user")),
  newName: /** @type {HTMLInputElement} */ ($("new-name")),
  userList: $("user-list"),
  noUsers: $("no-users"),
  chatView: $("chat-view"),
  messages: $("messages"),
  banner: $("blocked-banner"),
  unblock: $("unblock"),
  stickers: $("stickers"),
  stickerToggle: $("sticker-toggle"),
  attach: $("attach"),
  attachToggle: /** @type {HTMLButtonElement} */ ($("attach-toggle")),
  attachPhoto: $("attach-photo"),
  attachPdf: $("attach-pdf"),
  attachPick: $("attach-pick"),
  attachFile: /** @type {HTMLInputElement} */ ($("attach-file")),
  composer: /** @type {HTMLFormElement} */ ($("composer")),
  text: /** @type {HTMLTextAreaElement} */ ($("text")),
  send: /** @type {HTMLButtonElement} */ ($("send")),
  notice: $("notice"),
};

/** @type {{user: import("./api.js").User | null, source: EventSource | null,
 *   loading: HTMLElement | null, loadingTimer: number | undefined}} */
const state = { user: null, source: null, loading: null, loadingTimer: undefined };

/** Photos this page sent, by message id (data: URLs), to show them on the phone. */
const previews = new Map();

/** @param {string} text */
function notify(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = !text;
}

function scrollToEnd() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function stopLoading() {
  window.clearTimeout(state.loadingTimer);
  state.loading?.remove();
  state.loading = null;
}

/** @param {number} seconds */
function startLoading(seconds) {
  stopLoading();
  state.loading = loadingRow();
  ui.messages.append(state.loading);
  state.loadingTimer = window.setTimeout(stopLoading, seconds * 1000);
  scrollToEnd();
}

/**
 * Appends a message unless it is already shown (the stream and the API can both carry it).
 * @param {import("./api.js").PhoneMessage} message
 * @returns {HTMLElement}
 */
function show(message) {
  const existing = ui.messages.querySelector(`[data-id="${CSS.escape(message.id)}"]`);
  if (existing instanceof HTMLElement) return existing;
  if (message.sender === "account") stopLoading();
  const row = messageRow(message, previews.get(message.id));
  if (state.loading) ui.messages.insertBefore(row, state.loading);
  else ui.messages.append(row);
  scrollToEnd();
  return row;
}

/** @param {import("./api.js").User} user */
function showFollowing(user) {
  state.user = user;
  if (!user.following) stopLoading(); // LINE shows a blocked account nothing
  ui.block.textContent = user.following ? "Block" : "Unblock";
  ui.banner.hidden = user.following;
  ui.text.disabled = !user.following;
  ui.send.disabled = !user.following;
  ui.stickerToggle.toggleAttribute("disabled", !user.following);
  ui.attachToggle.disabled = !user.following;
  if (!user.following) closeAttach();
}

async function reloadConversation() {
  const user = state.user;
  if (!user) return;
  const messages = await api.conversation(user.user_id);
  if (state.user !== user) return;
  ui.messages.replaceChildren();
  if (state.loading) ui.messages.append(state.loading);
  messages.forEach(show);
}

/** @param {import("./api.js").User} user */
function connect(user) {
  state.source?.close();
  const source = api.events(user.user_id);
  state.source = source;
  ui.live.dataset.state = "connecting";
  source.addEventListener("ready", () => {
    ui.live.dataset.state = "on";
    reloadConversation().catch((error) => notify(String(error.message ?? error)));
  });
  source.addEventListener("message", (event) => show(JSON.parse(event.data)));
  source.addEventListener("loading", (event) => startLoading(JSON.parse(event.data).seconds));
  source.addEventListener("error", () => {
    ui.live.dataset.state = "connecting";
    // The browser retries a dropped stream by itself, but gives up on an error
    // answer: then try again a little later, as long as the user still exists.
    if (source.readyState === EventSource.CLOSED) window.setTimeout(() => reconnect(user, source), 2000);
  });
}

/**
 * @param {import("./api.js").User} user
 * @param {EventSource} source the stream that gave up
 */
async function reconnect(user, source) {
  if (state.source !== source) return; // the user moved on
  try {
    const users = await api.listUsers();
    const found = users.find((u) => u.user_id === user.user_id);
    if (state.source !== source) return;
    if (found) {
      showFollowing(found);
      connect(found);
    } else {
      await showUsers();
      notify(`${user.display_name} is not in the simulator any more (it started afresh).`);
    }
  } catch {
    window.setTimeout(() => reconnect(user, source), 2000); // the server is still away
  }
}

/** @param {import("./api.js").User} user */
function openChat(user) {
  stopLoading();
  ui.messages.replaceChildren();
  ui.title.textContent = "Official Account";
  ui.subtitle.textContent = `as ${user.display_name}`;
  ui.usersView.hidden = true;
  ui.chatView.hidden = false;
  ui.back.hidden = false;
  ui.block.hidden = false;
  notify("");
  showFollowing(user);
  history.replaceState(null, "", `#${user.user_id}`);
  connect(user);
  ui.text.focus();
}

async function showUsers() {
  state.source?.close();
  state.source = null;
  state.user = null;
  stopLoading();
  ui.live.dataset.state = "off";
  ui.title.textContent = "LINE simulator";
  ui.subtitle.textContent = "Pick or add a LINE user";
  ui.chatView.hidden = true;
  ui.usersView.hidden = false;
  ui.back.hidden = true;
  ui.block.hidden = true;
  history.replaceState(null, "", location.pathname + location.search);
  const users = await api.listUsers();
  ui.userList.replaceChildren(...users.map((user) => userRow(user, openChat)));
  ui.noUsers.hidden = users.length > 0;
  return users;
}

/** @param {Parameters<typeof api.sendMessage>[1]} message */
async function send(message) {
  const user = state.user;
  if (!user) return;
  try {
    const result = await api.sendMessage(user.user_id, message);
    markDelivery(show(result.message), result);
    notify(result.webhook_status === 200 ? "" : "The webhook did not accept the message.");
  } catch (error) {
    notify(`Not sent: ${error instanceof Error ? error.message : error}`);
  }
}

/**
 * The user sends a photo or a file through the simulator's media endpoint.
 * @param {Promise<{upload: import("./api.js").MediaUpload, dataUrl?: string | null}>} made
 */
async function sendMedia(made) {
  const user = state.user;
  if (!user) return;
  try {
    const { upload, dataUrl } = await made;
    const result = await api.sendMedia(user.user_id, upload);
    if (dataUrl) previews.set(result.message.id, dataUrl);
    markDelivery(show(result.message), result);
    notify(result.webhook_status === 200 ? "" : "The webhook did not accept the message.");
  } catch (error) {
    notify(`Not sent: ${error instanceof Error ? error.message : error}`);
  }
}

function closeAttach() {
  ui.attach.hidden = true;
  ui.attachToggle.setAttribute("aria-expanded", "false");
}

function bindAttach() {
  ui.attachToggle.addEventListener("click", () => {
    ui.attach.hidden = !ui.attach.hidden;
    ui.attachToggle.setAttribute("aria-expanded", String(!ui.attach.hidden));
    if (!ui.attach.hidden) ui.attachPhoto.focus();
  });
  ui.attach.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      closeAttach();
      ui.attachToggle.focus();
    }
  });
  const caption = () => `Hello from ${state.user?.display_name ?? "LINE"}`;
  ui.attachPhoto.addEventListener("click", () => {
    closeAttach();
    sendMedia(drawnPhoto(caption()));
  });
  ui.attachPdf.addEventListener("click", () => {
    closeAttach();
    sendMedia(Promise.resolve(generatedPdf(state.user?.display_name ?? "LINE user")));
  });
  ui.attachPick.addEventListener("click", () => ui.attachFile.click());
  ui.attachFile.addEventListener("change", () => {
    const file = ui.attachFile.files?.[0];
    ui.attachFile.value = "";
    closeAttach();
    if (file) sendMedia(pickedFile(file));
  });
}

function buildStickers() {
  for (const sticker of STICKERS) {
    const button = el("button", "sticker-choice", sticker.emoji);
    button.setAttribute("type", "button");
    button.setAttribute("aria-label", sticker.label);
    button.addEventListener("click", () => {
      ui.stickers.hidden = true;
      ui.stickerToggle.setAttribute("aria-expanded", "false");
      send({ type: "sticker", package_id: sticker.package_id, sticker_id: sticker.sticker_id });
    });
    ui.stickers.append(button);
  }
}

function bind() {
  ui.back.addEventListener("click", () => showUsers().catch((e) => notify(String(e))));
  ui.newUser.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = ui.newName.value.trim();
    if (!name) return;
    try {
      const user = await api.createUser(name);
      ui.newName.value = "";
      openChat(user);
    } catch (error) {
      notify(`Could not add the user: ${error instanceof Error ? error.message : error}`);
    }
  });
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.text.value;
    if (!text.trim()) return;
    ui.text.value = "";
    send({ type: "text", text });
  });
  ui.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.composer.requestSubmit();
    }
  });
  ui.stickerToggle.addEventListener("click", () => {
    ui.stickers.hidden = !ui.stickers.hidden;
    ui.stickerToggle.setAttribute("aria-expanded", String(!ui.stickers.hidden));
  });
  const toggleFollow = async () => {
    if (!state.user) return;
    try {
      const result = await api.setFollowing(state.user.user_id, !state.user.following);
      showFollowing(result);
      notify(result.webhook_status === 200 ? "" : "The webhook did not accept the event.");
    } catch (error) {
      notify(String(error instanceof Error ? error.message : error));
    }
  };
  ui.block.addEventListener("click", toggleFollow);
  ui.unblock.addEventListener("click", toggleFollow);
}

async function main() {
  buildStickers();
  bind();
  bindAttach();
  const wanted = location.hash.slice(1); // read before showUsers() clears the hash
  const users = await showUsers();
  const user = users.find((u) => u.user_id === wanted);
  if (user) openChat(user);
}

main().catch((error) => notify(String(error)));
