// The dashboard API client. Only `fetch` and the token come from outside, so `node --test`
// drives it with a fake fetch (tests/page.test.mjs).

export const API_BASE = "/api/v1";

/** A failed request: the HTTP status, and the API's machine-readable code and message. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `Request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.code = body?.error?.code ?? null;
  }
}

/**
 * `api(path, { method, body })` answers the parsed JSON or throws an ApiError. `token()` gives the
 * bearer token at call time; `onUnauthorized(error)` runs first when the API answers 401 (the
 * token is unknown or was revoked), so the page can sign out.
 */
export function createApi({ token, onUnauthorized = () => {}, fetch = globalThis.fetch }) {
  return async function api(path, { method = "GET", body } = {}) {
    const headers = { authorization: `Bearer ${token()}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${API_BASE}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = await res.json().catch(() => null);
    if (res.ok) return json;
    const error = new ApiError(res.status, json);
    if (res.status === 401) onUnauthorized(error);
    throw error;
  };
}
