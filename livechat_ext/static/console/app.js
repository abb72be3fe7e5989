// @ts-check
/**
 * The console's entry point: find a token (`#token=`, this tab's
 * sessionStorage, or the sign-in form), check it with `GET /me`, then start
 * the workspace. Also the way back in after an auth failure.
 *
 * @module console/app
 */

import { Api, ApiError } from './api.js';
import { byId } from './dom.js';
import { loadToken, saveToken, clearToken, describeToken, looksUsable } from './session.js';
import { Workspace } from './workspace.js';

/** @type {string | null} */
let token = loadToken();
/** @type {Workspace | null} */
let workspace = null;
const api = new Api(() => token);

const signin = {
  root: byId('signin'),
  form: /** @type {HTMLFormElement} */ (byId('signin-form')),
  input: /** @type {HTMLTextAreaElement} */ (byId('signin-token')),
  error: byId('signin-error'),
  submit: /** @type {HTMLButtonElement} */ (byId('signin-submit')),
};

/** @param {string} [message] */
function showSignIn(message) {
  byId('app').setAttribute('inert', '');
  signin.root.hidden = false;
  signin.error.hidden = !message;
  signin.error.textContent = message ?? '';
  signin.input.value = '';
  signin.input.focus();
}

function hideSignIn() {
  signin.root.hidden = true;
  byId('app').removeAttribute('inert');
}

/**
 * @param {string} candidate
 * @returns {Promise<{admin_id: string, name: string | null} | string>} the operator, or why not
 */
async function check(candidate) {
  if (!looksUsable(candidate)) return 'That does not look like a valid, unexpired token.';
  try {
    return await api.me(candidate);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      return error.status === 401 ? 'The server refused this token: it is invalid or has expired.' : 'This operator is not allowed to use the console.';
    }
    // Unreachable server: trust the token for now, the socket will tell.
    const claims = describeToken(candidate);
    return { admin_id: claims.adminId ?? 'operator', name: claims.name };
  }
}

signin.form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const candidate = signin.input.value.trim();
  if (!candidate) return;
  signin.submit.disabled = true;
  signin.submit.textContent = 'Checking…';
  const result = await check(candidate);
  signin.submit.disabled = false;
  signin.submit.textContent = 'Sign in';
  if (typeof result === 'string') {
    signin.error.hidden = false;
    signin.error.textContent = result;
    return;
  }
  const sameOperator = workspace && workspace.adminId === result.admin_id;
  token = candidate;
  saveToken(candidate);
  if (workspace && !sameOperator) {
    // Another operator: start from a clean page so nobody sends the other's queue.
    location.reload();
    return;
  }
  hideSignIn();
  if (workspace) workspace.replaceToken(candidate);
  else start(result);
});

/** @param {{admin_id: string, name: string | null}} me */
function start(me) {
  if (!token) return;
  hideSignIn();
  byId('app').hidden = false;
  workspace = new Workspace({
    api,
    token,
    me,
    onNeedToken: () => showSignIn('Your session ended. Paste a new token to continue; queued messages are kept.'),
    onSignOut: () => {
      clearToken();
      token = null;
      location.reload();
    },
  });
}

async function main() {
  if (!token) {
    showSignIn();
    return;
  }
  const result = await check(token);
  if (typeof result === 'string') {
    clearToken();
    token = null;
    showSignIn(result);
    return;
  }
  start(result);
}

main().catch((error) => showSignIn(String(error?.message ?? error)));
