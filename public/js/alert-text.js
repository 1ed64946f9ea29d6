// Text of the alerts card, computed from API answers. Pure: no DOM, no globals, so
// `node --test` imports it (tests/alert-text.test.mjs).
import { relativeTime } from "./format.js";

/** "Last checked 5 minutes ago" (or why there is no check yet) and the warning, if any. */
export function freshnessText(freshness, now = Date.now()) {
  if (!freshness) return { checked: "Freshness not checked yet (needs auto-sync, an active webhook and one sync)", warning: "" };
  const ago = relativeTime(freshness.checked_at, now);
  return {
    checked: `Last checked ${ago === "Just now" ? "just now" : ago}`,
    warning: freshness.stale ? freshness.warning ?? "Notion has edits no webhook event announced" : "",
  };
}

/** "Active · last attempt answered 200" or "Disabled: <reason>". */
export function destinationStatus(d) {
  if (!d.enabled) return `Disabled: ${d.disabled_reason ?? "no reason recorded"}`;
  if (d.last_status === null || d.last_status === undefined) return "Active · nothing sent yet";
  return `Active · last attempt ${d.last_status === 0 ? "got no answer" : `answered ${d.last_status}`}`;
}
