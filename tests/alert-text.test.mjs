// The alerts card's text, from the pure module the page imports.
import assert from "node:assert/strict";
import { test } from "node:test";
import { destinationStatus, freshnessText } from "../public/js/alert-text.js";

const NOW = Date.parse("2026-12-01T10:30:00Z");

test("freshness: last checked N minutes ago, and the warning only when stale", () => {
  assert.deepEqual(freshnessText({ checked_at: "2026-12-01T10:25:00Z", stale: false, warning: null }, NOW), {
    checked: "Last checked 5 minutes ago",
    warning: "",
  });
  assert.deepEqual(freshnessText({ checked_at: "2026-12-01T10:29:50Z", stale: true, warning: "Notion edits arrive without webhook events" }, NOW), {
    checked: "Last checked just now",
    warning: "Notion edits arrive without webhook events",
  });
  assert.match(freshnessText(null, NOW).checked, /not checked yet/);
});

test("destination status: active with the last answer, or disabled with the reason", () => {
  assert.equal(destinationStatus({ enabled: true, last_status: null }), "Active · nothing sent yet");
  assert.equal(destinationStatus({ enabled: true, last_status: 200 }), "Active · last attempt answered 200");
  assert.equal(destinationStatus({ enabled: true, last_status: 0 }), "Active · last attempt got no answer");
  assert.equal(
    destinationStatus({ enabled: false, disabled_reason: "the receiver answered 410 Gone" }),
    "Disabled: the receiver answered 410 Gone",
  );
});
