//! The Notion REST API as the sync uses it, without the transport: retry and pacing decisions
//! (the errors they act on are classified in [`crate::notion::error`]), query bodies
//! (incremental windows, the 10,000-row cap) and the reading of query pages.
//! `edge::notion_api` runs these decisions over `Fetch`.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{json, Value};

use crate::notion::error::NotionError;

/// Notion's documented limit: about three requests per second per integration.
pub const MIN_REQUEST_INTERVAL_MS: u64 = 334;

/// Rows per query page (Notion's maximum).
pub const PAGE_SIZE: u32 = 100;

/// `last_edited_time` is rounded down to the minute, so incremental windows overlap by two.
pub const INCREMENTAL_OVERLAP_MS: i64 = 120_000;

/// How long and how often a request may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// No retry is started once this much time has passed since the first attempt.
    pub max_total_ms: u64,
    /// First backoff for 5xx and transport errors; doubles per attempt.
    pub base_delay_ms: u64,
    /// Longest single wait (also caps Retry-After).
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            max_total_ms: 60_000,
            base_delay_ms: 500,
            max_delay_ms: 20_000,
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` after `error` on attempt `attempt` (1-based), or
    /// `None` to give up. Every request the sync makes is a read, so 5xx are retried too.
    pub fn delay_ms(&self, error: &NotionError, attempt: u32, elapsed_ms: u64) -> Option<u64> {
        if attempt >= self.max_attempts {
            return None;
        }
        let delay = match error {
            NotionError::RateLimited { retry_after_ms } => {
                retry_after_ms.unwrap_or_else(|| self.backoff(attempt).max(1000))
            }
            NotionError::Unavailable { .. } | NotionError::Transport(_) => self.backoff(attempt),
            _ => return None,
        }
        .min(self.max_delay_ms);
        (elapsed_ms.saturating_add(delay) <= self.max_total_ms).then_some(delay)
    }

    fn backoff(&self, attempt: u32) -> u64 {
        let shift = attempt.saturating_sub(1).min(16);
        self.base_delay_ms
            .saturating_mul(1u64 << shift)
            .min(self.max_delay_ms)
    }
}

/// Spaces requests so that at most one starts per `interval_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacer {
    interval_ms: u64,
    next_free_ms: u64,
}

impl Pacer {
    /// A pacer allowing one request per `interval_ms`.
    pub fn new(interval_ms: u64) -> Self {
        Self {
            interval_ms,
            next_free_ms: 0,
        }
    }

    /// Reserves the next slot: how long to wait from `now_ms` before sending.
    pub fn reserve(&mut self, now_ms: u64) -> u64 {
        let start = self.next_free_ms.max(now_ms);
        self.next_free_ms = start + self.interval_ms;
        start - now_ms
    }

    /// When the next request may start (carried from one sync step to the next).
    pub fn next_free_ms(&self) -> u64 {
        self.next_free_ms
    }

    /// Pushes the next slot back after Notion asked for a pause (429 Retry-After).
    pub fn pause_until(&mut self, until_ms: u64) {
        self.next_free_ms = self.next_free_ms.max(until_ms);
    }
}

/// Which rows one query run asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueryWindow {
    /// Only rows edited on or after this instant (RFC 3339), for incremental runs.
    pub edited_since: Option<String>,
    /// Only rows created on or after this instant: the window after a 10,000-row cap.
    pub created_from: Option<String>,
}

/// The body of `POST /v1/data_sources/{id}/query`: oldest first by creation, so a capped
/// window can resume from the last row's `created_time`.
pub fn query_body(window: &QueryWindow, cursor: Option<&str>) -> Value {
    let mut conditions = Vec::new();
    if let Some(since) = &window.edited_since {
        conditions.push(
            json!({"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": since}}),
        );
    }
    if let Some(from) = &window.created_from {
        conditions
            .push(json!({"timestamp": "created_time", "created_time": {"on_or_after": from}}));
    }
    let mut body = json!({
        "sorts": [{"timestamp": "created_time", "direction": "ascending"}],
        "page_size": PAGE_SIZE,
    });
    match conditions.len() {
        0 => {}
        1 => body["filter"] = conditions.remove(0),
        _ => body["filter"] = json!({ "and": conditions }),
    }
    if let Some(cursor) = cursor {
        body["start_cursor"] = json!(cursor);
    }
    body
}

/// The start of an incremental window: the last successful run's start minus the overlap.
pub fn incremental_since(last_success_started_ms: i64) -> String {
    crate::util::time::iso_from_ms(last_success_started_ms - INCREMENTAL_OVERLAP_MS)
}

/// One page of query results, reduced to what the sync needs.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage {
    /// Page objects only (data sources, which a wiki's query can list, are not rows).
    pub pages: Vec<Value>,
    /// Cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
    /// True when Notion stopped at its result cap: query again from the last `created_time`.
    pub capped: bool,
}

/// A query result that is neither a page with its properties nor a data source: the answer is
/// not one the sync can trust to say which rows exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnexpectedResult {
    /// The result's id, as Notion sent it ("" without one).
    pub id: String,
}

/// Reads a query response. A result that is not a complete page fails the read instead of
/// being dropped: a dropped row would be taken out of Framer.
pub fn parse_query_page(response: &Value) -> Result<QueryPage, UnexpectedResult> {
    let mut pages = Vec::new();
    for result in response
        .get("results")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let object = result.get("object").and_then(Value::as_str);
        if object == Some("data_source") {
            continue;
        }
        if object != Some("page") || !result.get("properties").is_some_and(Value::is_object) {
            return Err(UnexpectedResult {
                id: result
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        pages.push(result.clone());
    }
    let next_cursor = next_cursor(response);
    let capped = response
        .pointer("/request_status/incomplete_reason")
        .and_then(Value::as_str)
        == Some("query_result_limit_reached");
    Ok(QueryPage {
        pages,
        next_cursor,
        capped,
    })
}

/// Whether a page still belongs to the data source (`parent.data_source_id`, API 2025-09-03):
/// a page moved to another database is gone from this one. A parent Notion does not name (an
/// older API version) is taken as still here.
pub fn page_in_data_source(page: &Value, data_source_id: Option<&str>) -> bool {
    let Some(expected) = data_source_id else {
        return true;
    };
    let parent = page.get("parent");
    match parent.and_then(|p| p.get("type")).and_then(Value::as_str) {
        Some("data_source_id") => parent
            .and_then(|p| p.get("data_source_id"))
            .and_then(Value::as_str)
            .and_then(|id| crate::notion::ids::normalize(id).ok())
            .is_some_and(|id| crate::notion::ids::normalize(expected).is_ok_and(|e| e == id)),
        Some("database_id") | None => true,
        // Moved under a page, a block or the workspace.
        Some(_) => false,
    }
}

/// Where the next window starts after a capped one: the newest `created_time` seen. Rows
/// sharing that instant come back again; the caller drops them by id.
pub fn next_window_start(pages: &[Value]) -> Option<String> {
    pages
        .iter()
        .filter_map(|p| p.get("created_time").and_then(Value::as_str))
        .max_by_key(|t| crate::util::time::ms_from_iso(t).unwrap_or(i64::MIN))
        .map(str::to_owned)
}

/// Whether a page fetched by id (`GET /v1/pages/{id}`) is gone from the database's view.
pub fn page_is_gone(page: &Value) -> bool {
    let flag = |name: &str| page.get(name).and_then(Value::as_bool).unwrap_or(false);
    flag("in_trash") || flag("archived") || flag("is_archived")
}

/// The data source ids of a database (`GET /v1/databases/{id}`).
pub fn data_source_ids(database: &Value) -> Vec<String> {
    database
        .get("data_sources")
        .and_then(Value::as_array)
        .map(|sources| {
            sources
                .iter()
                .filter_map(|s| s.get("id").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Where the next page of a paginated answer starts: its `next_cursor`, when `has_more` says
/// there is one (a cursor beside `has_more: false` is stale).
fn next_cursor(response: &Value) -> Option<String> {
    let has_more = response
        .get("has_more")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    response
        .get("next_cursor")
        .and_then(Value::as_str)
        .filter(|_| has_more)
        .map(str::to_owned)
}

/// A block list page (`GET /v1/blocks/{id}/children`): the blocks and the next cursor.
pub fn parse_block_page(response: &Value) -> (Vec<Value>, Option<String>) {
    let blocks = response
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let cursor = next_cursor(response);
    (blocks, cursor)
}

/// Items per page of a page-property list (`GET /v1/pages/{id}/properties/{property}`): Notion's
/// maximum, so a relation of n pages costs ceil(n / 100) calls.
pub const PROPERTY_PAGE_SIZE: u32 = 100;

/// Bytes a path segment or query value may not carry as is. `%` stays: Notion's property ids
/// come percent-encoded already (`au%3Ch`), and encoding them again would name another property.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'&')
    .add(b'=')
    .add(b'+')
    .add(b'[')
    .add(b']')
    .add(b'^')
    .add(b'|')
    .add(b'\\');

/// The path of one page of a page's property items ("Retrieve a page property item"): the
/// full list of a relation, which query rows cut at 25.
pub fn property_items_path(page_id: &str, property_id: &str, cursor: Option<&str>) -> String {
    let property = utf8_percent_encode(property_id, PATH_SEGMENT);
    let mut path =
        format!("/v1/pages/{page_id}/properties/{property}?page_size={PROPERTY_PAGE_SIZE}");
    if let Some(cursor) = cursor {
        path.push_str("&start_cursor=");
        path.extend(utf8_percent_encode(cursor, PATH_SEGMENT));
    }
    path
}

/// One page of a relation's property items: the related page ids (dashed lowercase) and the
/// next cursor. An answer that is not a list of relation items reads as no ids and no cursor.
pub fn parse_relation_items(response: &Value) -> (Vec<String>, Option<String>) {
    let ids = response
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.pointer("/relation/id").and_then(Value::as_str))
        .map(crate::notion::ids::canonical)
        .collect();
    let cursor = next_cursor(response);
    (ids, cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_item_paths_keep_encoded_ids_and_encode_cursors() {
        assert_eq!(
            property_items_path("p1", "au%3Ch", None),
            "/v1/pages/p1/properties/au%3Ch?page_size=100"
        );
        assert_eq!(
            property_items_path("p1", "a?b", Some("c/d=e+f")),
            "/v1/pages/p1/properties/a%3Fb?page_size=100&start_cursor=c%2Fd%3De%2Bf"
        );
    }

    #[test]
    fn relation_items_read_ids_and_the_cursor_only_while_more_remain() {
        let page = json!({"object": "list", "results": [
            {"object": "property_item", "id": "r", "type": "relation", "relation": {"id": "7E8F9A0B1C2D4E3F8A4B5C6D7E8F9A0B"}},
            {"object": "property_item", "id": "r", "type": "relation", "relation": {"id": "11111111-2222-4333-8444-555555555555"}},
        ], "next_cursor": "abc", "has_more": true});
        assert_eq!(
            parse_relation_items(&page),
            (
                vec![
                    "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b".to_owned(),
                    "11111111-2222-4333-8444-555555555555".to_owned()
                ],
                Some("abc".to_owned())
            )
        );
        let last = json!({"results": [], "next_cursor": "stale", "has_more": false});
        assert_eq!(parse_relation_items(&last), (vec![], None));
        assert_eq!(
            parse_relation_items(&json!({"object": "error"})),
            (vec![], None)
        );
    }

    #[test]
    fn retry_policy_honours_retry_after_backs_off_and_gives_up() {
        let policy = RetryPolicy {
            max_attempts: 4,
            max_total_ms: 10_000,
            base_delay_ms: 500,
            max_delay_ms: 5_000,
        };
        let limited = NotionError::RateLimited {
            retry_after_ms: Some(3000),
        };
        assert_eq!(policy.delay_ms(&limited, 1, 0), Some(3000));
        assert_eq!(
            policy.delay_ms(
                &NotionError::RateLimited {
                    retry_after_ms: None
                },
                1,
                0
            ),
            Some(1000)
        );
        let down = NotionError::Unavailable {
            status: 503,
            code: "service_unavailable".into(),
        };
        assert_eq!(policy.delay_ms(&down, 1, 0), Some(500));
        assert_eq!(policy.delay_ms(&down, 2, 0), Some(1000));
        assert_eq!(policy.delay_ms(&down, 3, 0), Some(2000));
        assert_eq!(policy.delay_ms(&down, 4, 0), None, "attempt budget");
        assert_eq!(policy.delay_ms(&limited, 1, 8_000), None, "time budget");
        assert_eq!(policy.delay_ms(&NotionError::Unauthorized, 1, 0), None);
        let huge = NotionError::RateLimited {
            retry_after_ms: Some(60_000),
        };
        assert_eq!(policy.delay_ms(&huge, 1, 0), Some(5_000), "capped");
    }

    #[test]
    fn pacer_spaces_requests() {
        let mut pacer = Pacer::new(MIN_REQUEST_INTERVAL_MS);
        assert_eq!(pacer.reserve(1000), 0);
        assert_eq!(pacer.reserve(1000), 334);
        assert_eq!(pacer.reserve(1100), 568);
        assert_eq!(pacer.reserve(5000), 0, "idle time is not banked");
        pacer.pause_until(7000);
        assert_eq!(pacer.reserve(5100), 1900);
    }

    #[test]
    fn query_bodies() {
        assert_eq!(
            query_body(&QueryWindow::default(), None),
            json!({"sorts": [{"timestamp": "created_time", "direction": "ascending"}], "page_size": 100})
        );
        let incremental = QueryWindow {
            edited_since: Some("2024-12-05T23:55:05.379Z".into()),
            created_from: None,
        };
        assert_eq!(
            query_body(&incremental, Some("c1"))["filter"],
            json!({"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": "2024-12-05T23:55:05.379Z"}})
        );
        assert_eq!(
            query_body(&incremental, Some("c1"))["start_cursor"],
            json!("c1")
        );
        let both = QueryWindow {
            edited_since: Some("A".into()),
            created_from: Some("B".into()),
        };
        assert_eq!(
            query_body(&both, None)["filter"],
            json!({"and": [
                {"timestamp": "last_edited_time", "last_edited_time": {"on_or_after": "A"}},
                {"timestamp": "created_time", "created_time": {"on_or_after": "B"}}
            ]})
        );
    }

    #[test]
    fn incremental_window_overlaps_two_minutes() {
        assert_eq!(
            incremental_since(1_733_443_025_379),
            "2024-12-05T23:55:05.379Z"
        );
    }

    #[test]
    fn reads_query_pages() {
        let response = json!({
            "object": "list",
            "results": [
                {"object": "page", "id": "p1", "created_time": "2024-01-01T00:00:00.000Z", "properties": {}},
                {"object": "data_source", "id": "d1"},
                {"object": "page", "id": "p2", "created_time": "2024-01-02T00:00:00.000Z", "properties": {}}
            ],
            "has_more": true, "next_cursor": "cur",
            "request_status": {"type": "complete"}
        });
        let page = parse_query_page(&response).unwrap();
        assert_eq!(page.pages.len(), 2);
        assert_eq!(page.next_cursor.as_deref(), Some("cur"));
        assert!(!page.capped);
        assert_eq!(
            next_window_start(&page.pages).as_deref(),
            Some("2024-01-02T00:00:00.000Z")
        );
        let capped = parse_query_page(&json!({
            "results": [], "has_more": false, "next_cursor": "ignored",
            "request_status": {"type": "incomplete", "incomplete_reason": "query_result_limit_reached"}
        }))
        .unwrap();
        assert_eq!((capped.next_cursor, capped.capped), (None, true));
        // A partial page is no row to drop: the read fails, naming it.
        assert_eq!(
            parse_query_page(
                &json!({"results": [{"object": "page", "id": "p1"}], "has_more": false})
            ),
            Err(UnexpectedResult { id: "p1".into() })
        );
        assert_eq!(
            parse_query_page(
                &json!({"results": [{"object": "block", "id": "b1", "properties": {}}]})
            ),
            Err(UnexpectedResult { id: "b1".into() })
        );
        let wiki =
            parse_query_page(&json!({"results": [{"object": "data_source", "id": "d1"}]})).unwrap();
        assert!(wiki.pages.is_empty());
    }

    #[test]
    fn reads_databases_pages_and_blocks() {
        assert_eq!(
            data_source_ids(&json!({"data_sources": [{"id": "a", "name": "x"}, {"id": "b"}]})),
            vec!["a", "b"]
        );
        assert!(page_is_gone(&json!({"in_trash": true})));
        assert!(page_is_gone(&json!({"archived": true})));
        assert!(!page_is_gone(&json!({"in_trash": false, "properties": {}})));
        let (blocks, cursor) = parse_block_page(
            &json!({"results": [{"id": "b1"}], "has_more": true, "next_cursor": "n"}),
        );
        assert_eq!((blocks.len(), cursor.as_deref()), (1, Some("n")));
    }
}
