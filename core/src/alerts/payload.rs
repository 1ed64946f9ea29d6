//! The bytes sent to a destination. `slack`: `{"text": ...}`. `json`: a structured event,
//! signed so the receiver can tell it came from us:
//!
//! ```text
//! X-Alert-Timestamp: <unix seconds>
//! X-Alert-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
//! ```
//!
//! A receiver recomputes the HMAC over the raw body it received, compares in constant time,
//! and rejects timestamps older than a few minutes (replays).

use super::destination::Format;
use super::notice::Notice;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "X-Alert-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Alert-Signature";
pub const EVENT_ID_HEADER: &str = "X-Alert-Event-Id";

/// Slack's message format reads `&`, `<` and `>` as control characters (`<!channel>` pings a
/// whole channel, `<url|text>` makes a link): every one in the text is escaped, so a project
/// name, a row title or an error message from Notion or the owner shows as typed. Nothing we
/// write ourselves uses Slack's markup.
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The body for `format`; `event_id` and `created_at` identify the alert across retries.
pub fn body(format: Format, notice: &Notice, event_id: &str, created_at: &str) -> String {
    let value = match format {
        Format::Slack => json!({ "text": slack_escape(&notice.text()) }),
        Format::Json => json!({
            "id": event_id,
            "type": notice.event.as_str(),
            "created_at": created_at,
            "kind": notice.kind.map(super::incident::Kind::as_str),
            "project": notice.project.as_ref().map(|p| json!({ "id": p.id, "name": p.name })),
            "title": notice.title,
            "cause": notice.cause,
            "action": notice.action,
            "text": notice.text(),
            "details": notice.details,
        }),
    };
    value.to_string()
}

/// `v1=<hex>` of HMAC-SHA256 over `"<timestamp>.<body>"` under the destination's secret.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The headers of one attempt (besides the content type): the json format's signature.
pub fn headers(
    format: Format,
    secret: Option<&str>,
    event_id: &str,
    timestamp: i64,
    body: &str,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![(EVENT_ID_HEADER, event_id.to_owned())];
    if let (Format::Json, Some(secret)) = (format, secret) {
        headers.push((TIMESTAMP_HEADER, timestamp.to_string()));
        headers.push((SIGNATURE_HEADER, signature(secret, timestamp, body)));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::notice;
    use serde_json::Value;

    #[test]
    fn slack_body_is_just_text() {
        let n = notice::test("Ops");
        let body: Value = serde_json::from_str(&body(Format::Slack, &n, "e1", "t")).unwrap();
        assert_eq!(body, json!({ "text": n.text() }));
    }

    #[test]
    fn slack_text_escapes_control_characters_from_any_source() {
        assert_eq!(
            slack_escape("<!channel> & <b>bold</b> a&amp;b"),
            "&lt;!channel&gt; &amp; &lt;b&gt;bold&lt;/b&gt; a&amp;amp;b"
        );
        let project = notice::ProjectRef {
            id: "p1".into(),
            name: "<!here> & co".into(),
        };
        let reasons = vec!["<!channel> & <b>: Notion page id is not a UUID".to_owned()];
        let n = notice::rows_skipped(&project, 1, &reasons);
        let slack: Value = serde_json::from_str(&body(Format::Slack, &n, "e1", "t")).unwrap();
        let text = slack["text"].as_str().unwrap();
        assert!(text.contains("&lt;!here&gt; &amp; co"), "{text}");
        assert!(text.contains("&lt;!channel&gt; &amp; &lt;b&gt;"), "{text}");
        assert!(!text.contains('<') && !text.contains('>'), "{text}");
        // Programs get the values as they are.
        let json: Value = serde_json::from_str(&body(Format::Json, &n, "e1", "t")).unwrap();
        assert_eq!(json["project"]["name"], "<!here> & co");
        assert!(json["text"].as_str().unwrap().contains("<!channel> & <b>"));
    }

    #[test]
    fn json_body_carries_the_fields() {
        let project = notice::ProjectRef {
            id: "p1".into(),
            name: "Blog".into(),
        };
        let n = notice::sync_failing(&project, "notion_unauthorized", "m", false, 0);
        let body: Value =
            serde_json::from_str(&body(Format::Json, &n, "e1", "2026-12-01T00:00:00.000Z"))
                .unwrap();
        assert_eq!(body["type"], "alert.raised");
        assert_eq!(body["kind"], "sync_failing");
        assert_eq!(body["project"], json!({ "id": "p1", "name": "Blog" }));
        assert_eq!(body["cause"], "the Notion token was revoked or is wrong");
        assert_eq!(body["details"]["error_code"], "notion_unauthorized");
    }

    #[test]
    fn signature_matches_the_documented_recipe() {
        // Same as: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature("secret", 1_700_000_000, "{\"a\":1}"),
            "v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }

    #[test]
    fn only_the_json_format_is_signed() {
        let h = headers(Format::Json, Some("s"), "e1", 5, "{}");
        let names: Vec<&str> = h.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            vec![EVENT_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER]
        );
        assert_eq!(h[2].1, signature("s", 5, "{}"));
        assert_eq!(headers(Format::Slack, None, "e1", 5, "{}").len(), 1);
    }
}
