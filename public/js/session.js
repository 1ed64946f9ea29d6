// Who is signed in: the API token (kept in this tab's sessionStorage only), the account it
// belongs to, and the API client that sends it.
import { createApi } from "./api.js";
import { $, show } from "./dom.js";
import { planLabel } from "./format.js";

const TOKEN_KEY = "nfs.token";

export const session = { token: sessionStorage.getItem(TOKEN_KEY), account: null };

export const api = createApi({
  token: () => session.token,
  onUnauthorized: () => signOut("Your session ended: the API token is unknown or was revoked."),
});

/** Reads the token's account into the bar at the top. */
export async function loadAccount() {
  const { account } = await api("/tokens");
  session.account = account;
  $("account-name").textContent = account.name;
  $("account-plan").textContent = planLabel(account.plan);
  return account;
}

/**
 * A project answer carries the account's current plan; when it differs from the bar (an upgrade
 * or downgrade since sign-in), the account is read again so the bar tells the truth.
 */
export function notePlan(plan) {
  if (session.account && session.account.plan !== plan) loadAccount().catch(() => {});
}

export function signOut(message = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  session.token = null;
  session.account = null;
  show("signin");
  $("signin-error").textContent = message;
}

/** Wires the sign-in form and the sign-out button; `onSignedIn` opens the first view. */
export function initSession({ onSignedIn }) {
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = $("signin-token").value.trim();
    $("signin-error").textContent = "";
    session.token = token;
    try {
      await loadAccount();
      sessionStorage.setItem(TOKEN_KEY, token);
      $("signin-token").value = "";
      onSignedIn();
    } catch (error) {
      session.token = null;
      $("signin-error").textContent = error.status === 401 ? "That token is not valid. Check it and try again." : error.message;
    }
  });
  $("sign-out").addEventListener("click", () => {
    signOut();
    location.hash = "";
  });
}
