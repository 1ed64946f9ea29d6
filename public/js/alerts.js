// The alerts card of the project page: the account's alert destinations (list, add, delete,
// re-enable, "Send test alert") and the freshness line ("Last checked N min ago" and the
// warning when Notion has edits no webhook announced). Destinations belong to the account, so
// every project page shows the same list.
import { $, el } from "./dom.js";
import { destinationStatus, freshnessText } from "./alert-text.js";
import { errorText } from "./format.js";
import { api } from "./session.js";

export function initAlerts() {
  $("alert-form").addEventListener("submit", addDestination);
}

export function renderFreshness(freshness) {
  const { checked, warning } = freshnessText(freshness);
  $("freshness-checked").textContent = checked;
  $("freshness-warning").textContent = warning;
  $("freshness-warning").hidden = !warning;
}

export async function loadDestinations() {
  try {
    const { destinations } = await api("/alerts");
    $("alert-list").replaceChildren(...destinations.map(destinationRow));
    $("alert-empty").hidden = destinations.length > 0;
  } catch (error) {
    $("alert-message").textContent = errorText(error);
  }
}

function destinationRow(d) {
  const test = el("button", { type: "button", text: "Send test alert" });
  test.addEventListener("click", () => sendTest(d));
  const remove = el("button", { type: "button", text: "Delete" });
  remove.addEventListener("click", () => deleteDestination(d));
  const actions = [test, remove];
  if (!d.enabled) {
    const enable = el("button", { type: "button", text: "Re-enable" });
    enable.addEventListener("click", () => reEnable(d));
    actions.unshift(enable);
  }
  return el("li", { class: `destination${d.enabled ? "" : " disabled"}` },
    el("span", { class: "run-main" },
      el("b", { text: d.name }),
      el("span", { class: "pill", text: d.format }),
      el("span", { class: "muted small", title: "The URL is stored encrypted; only its host and last characters are shown", text: d.url_hint })),
    el("p", { class: d.enabled ? "muted small" : "run-error", text: destinationStatus(d) }),
    el("div", { class: "row" }, ...actions));
}

async function addDestination(event) {
  event.preventDefault();
  const form = event.target;
  $("alert-message").textContent = "";
  $("alert-secret").hidden = true;
  const body = { url: form.elements.url.value.trim(), format: form.elements.format.value };
  if (form.elements.name.value.trim()) body.name = form.elements.name.value.trim();
  try {
    const answer = await api("/alerts", { method: "POST", body });
    form.reset();
    if (answer.secret) {
      $("alert-secret-value").textContent = answer.secret;
      $("alert-secret").hidden = false;
    }
    $("alert-message").textContent = `Added “${answer.destination.name}”. Send a test alert to check it.`;
  } catch (error) {
    $("alert-message").textContent = errorText(error);
  }
  await loadDestinations();
}

async function sendTest(d) {
  $("alert-message").textContent = `Sending a test alert to “${d.name}”…`;
  try {
    const r = await api(`/alerts/${d.id}/test`, { method: "POST", body: {} });
    $("alert-message").textContent = r.delivered
      ? `Delivered to “${d.name}” (HTTP ${r.status}, ${r.latency_ms} ms).`
      : `Not delivered to “${d.name}”: ${r.status ? `the receiver answered ${r.status}` : r.error}.`;
  } catch (error) {
    $("alert-message").textContent = errorText(error);
  }
  await loadDestinations();
}

async function deleteDestination(d) {
  try {
    await api(`/alerts/${d.id}`, { method: "DELETE" });
    $("alert-message").textContent = `Deleted “${d.name}”.`;
  } catch (error) {
    $("alert-message").textContent = errorText(error);
  }
  await loadDestinations();
}

async function reEnable(d) {
  try {
    await api(`/alerts/${d.id}`, { method: "PATCH", body: { enabled: true } });
  } catch (error) {
    $("alert-message").textContent = errorText(error);
  }
  await loadDestinations();
}
