//! Notion webhook payloads: telling a verification request from an event, and deciding what an
//! event means for a synced database. Payload content is never trusted beyond routing: the sync
//! always re-reads Notion.

use crate::notion::ids::canonical;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a webhook POST carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// The one-time subscription verification: `{"verification_token": "secret_..."}`.
    Verification {
        token: String,
    },
    Event(Event),
}

/// The parts of an event envelope routing needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub attempt_number: Option<u32>,
    #[serde(default)]
    pub entity: Option<Entity>,
    #[serde(default)]
    pub data: Option<EventData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Entity {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct EventData {
    #[serde(default)]
    pub parent: Option<Parent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Parent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data_source_id: Option<String>,
}

/// Why a body is not a webhook payload we understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NotJson(String),
    NotAnObject,
    MissingField(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJson(why) => write!(f, "the body is not valid JSON: {why}"),
            Self::NotAnObject => f.write_str("the body must be a JSON object"),
            Self::MissingField(name) => write!(f, "the event has no valid `{name}` field"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses a webhook body. A body with `verification_token` and no `type` is the verification
/// request; anything else must be an event envelope with an `id` and a `type`.
pub fn parse(body: &[u8]) -> Result<Incoming, ParseError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let object = value.as_object().ok_or(ParseError::NotAnObject)?;
    if !object.contains_key("type") {
        if let Some(token) = object.get("verification_token").and_then(|t| t.as_str()) {
            if token.is_empty() {
                return Err(ParseError::MissingField("verification_token"));
            }
            return Ok(Incoming::Verification {
                token: token.to_owned(),
            });
        }
    }
    match object.get("id") {
        Some(serde_json::Value::String(id)) if !id.is_empty() => {}
        _ => return Err(ParseError::MissingField("id")),
    }
    if !object.get("type").is_some_and(serde_json::Value::is_string) {
        return Err(ParseError::MissingField("type"));
    }
    serde_json::from_value(value)
        .map(Incoming::Event)
        .map_err(|e| ParseError::NotJson(e.to_string()))
}

/// The ids of the databases and data sources an event may concern, canonicalised.
/// Routing looks these up among connected projects.
pub fn database_refs(event: &Event) -> Vec<String> {
    let mut refs = Vec::new();
    if let Some(parent) = event.data.as_ref().and_then(|d| d.parent.as_ref()) {
        if matches!(parent.kind.as_str(), "database" | "data_source") {
            refs.push(canonical(&parent.id));
        }
        if let Some(ds) = &parent.data_source_id {
            refs.push(canonical(ds));
        }
    }
    if let Some(entity) = &event.entity {
        if matches!(entity.kind.as_str(), "database" | "data_source") {
            refs.push(canonical(&entity.id));
        }
    }
    refs.dedup();
    refs
}

/// What an event asks of the sync, once it is known to concern a connected database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// A row may have changed: the incremental sync picks it up by its edit time.
    PageChanged { page_id: String },
    /// A row may be gone (deleted, or moved out of the database): the sync re-checks it.
    PageGone { page_id: String },
    /// Something database-wide changed (schema, bulk content, the database itself): reconcile all.
    Everything,
}

/// The event types a sync acts on. Everything else is acknowledged and counted only.
pub fn effect(event: &Event) -> Option<Effect> {
    let entity_id = || {
        event
            .entity
            .as_ref()
            .map(|e| canonical(&e.id))
            .unwrap_or_default()
    };
    match event.kind.as_str() {
        "page.created" | "page.properties_updated" | "page.content_updated" | "page.undeleted" => {
            Some(Effect::PageChanged {
                page_id: entity_id(),
            })
        }
        "page.deleted" | "page.moved" => Some(Effect::PageGone {
            page_id: entity_id(),
        }),
        "data_source.content_updated"
        | "data_source.schema_updated"
        | "data_source.deleted"
        | "data_source.undeleted"
        | "database.content_updated"
        | "database.schema_updated"
        | "database.deleted"
        | "database.undeleted" => Some(Effect::Everything),
        _ => None,
    }
}

/// Decides whether `event` is work for a project connected to `database_id` and its data sources.
pub fn effect_for(event: &Event, database_id: &str, data_source_ids: &[String]) -> Option<Effect> {
    let ours = canonical(database_id);
    let concerns_us = database_refs(event)
        .iter()
        .any(|r| *r == ours || data_source_ids.iter().any(|ds| canonical(ds) == *r));
    if concerns_us {
        effect(event)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "36cc9195-760f-4fff-a67e-3a46c559b176";
    const DS: &str = "98024f3c-b1d3-4aec-a301-f01e0dacf023";
    const PAGE: &str = "153104cd-477e-809d-8dc4-ff2d96ae3090";

    fn event_json(kind: &str, entity_type: &str, entity_id: &str, parent: &str) -> String {
        format!(
            r#"{{"id":"1782edd6-a853-4d4a-b02c-9c8c16f28e53","timestamp":"2024-12-05T23:57:05.379Z","type":"{kind}","attempt_number":2,"entity":{{"id":"{entity_id}","type":"{entity_type}"}},"data":{{"parent":{parent}}}}}"#
        )
    }

    fn row_parent() -> String {
        format!(r#"{{"id":"{DB}","type":"database","data_source_id":"{DS}"}}"#)
    }

    fn parse_event(text: &str) -> Event {
        match parse(text.as_bytes()).unwrap() {
            Incoming::Event(e) => e,
            Incoming::Verification { .. } => panic!("not an event"),
        }
    }

    #[test]
    fn tells_verification_from_events() {
        let v = parse(br#"{"verification_token":"secret_abc"}"#).unwrap();
        assert_eq!(
            v,
            Incoming::Verification {
                token: "secret_abc".into()
            }
        );
        let sdk_vector = include_str!("../../vectors/notion-signatures.json");
        let cases: serde_json::Value = serde_json::from_str(sdk_vector).unwrap();
        let event = parse_event(cases["cases"][1]["body"].as_str().unwrap());
        assert_eq!(event.kind, "page.properties_updated");
        assert_eq!(event.attempt_number, Some(1));
        assert_eq!(database_refs(&event), vec![DB.to_string(), DS.to_string()]);
    }

    #[test]
    fn rejects_what_is_not_a_payload() {
        assert!(matches!(parse(b"not json"), Err(ParseError::NotJson(_))));
        assert_eq!(parse(b"[1,2]"), Err(ParseError::NotAnObject));
        assert_eq!(parse(b"{}"), Err(ParseError::MissingField("id")));
        assert_eq!(
            parse(br#"{"id":"x"}"#),
            Err(ParseError::MissingField("type"))
        );
        assert_eq!(
            parse(br#"{"id":"x","type":7}"#),
            Err(ParseError::MissingField("type"))
        );
        assert_eq!(
            parse(br#"{"verification_token":""}"#),
            Err(ParseError::MissingField("verification_token"))
        );
        assert!(matches!(
            parse(br#"{"id":"x","type":"page.created","entity":"oops"}"#),
            Err(ParseError::NotJson(_))
        ));
    }

    #[test]
    fn routes_row_events_by_database_or_data_source() {
        let e = parse_event(&event_json(
            "page.properties_updated",
            "page",
            PAGE,
            &row_parent(),
        ));
        assert_eq!(
            effect_for(&e, DB, &[]),
            Some(Effect::PageChanged {
                page_id: PAGE.into()
            })
        );
        assert_eq!(
            effect_for(&e, "aaaaaaaa-760f-4fff-a67e-3a46c559b176", &[DS.into()]),
            Some(Effect::PageChanged {
                page_id: PAGE.into()
            })
        );
        assert_eq!(
            effect_for(&e, "aaaaaaaa-760f-4fff-a67e-3a46c559b176", &[]),
            None
        );
        let gone = parse_event(&event_json("page.deleted", "page", PAGE, &row_parent()));
        assert_eq!(
            effect_for(&gone, DB, &[]),
            Some(Effect::PageGone {
                page_id: PAGE.into()
            })
        );
    }

    #[test]
    fn database_wide_events_reconcile_everything() {
        let e = parse_event(&event_json(
            "data_source.schema_updated",
            "data_source",
            DS,
            &format!(r#"{{"id":"{DB}","type":"database"}}"#),
        ));
        assert_eq!(effect_for(&e, DB, &[DS.into()]), Some(Effect::Everything));
        let legacy = parse_event(&event_json(
            "database.content_updated",
            "database",
            &DB.replace('-', ""),
            r#"{"id":"w","type":"workspace"}"#,
        ));
        assert_eq!(effect_for(&legacy, DB, &[]), Some(Effect::Everything));
    }

    #[test]
    fn ignores_other_types_and_other_parents() {
        let comment = parse_event(&event_json(
            "comment.created",
            "comment",
            PAGE,
            &row_parent(),
        ));
        assert_eq!(effect_for(&comment, DB, &[]), None);
        let unknown = parse_event(&event_json(
            "view.shiny_new_thing",
            "view",
            PAGE,
            &row_parent(),
        ));
        assert_eq!(effect_for(&unknown, DB, &[]), None);
        let loose_page = parse_event(&event_json(
            "page.created",
            "page",
            PAGE,
            r#"{"id":"p","type":"page"}"#,
        ));
        assert!(database_refs(&loose_page).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Ok(Incoming::Event(e)) = parse(&body) {
                let _ = effect_for(&e, DB, &[DS.into()]);
            }
        }

        #[test]
        fn never_panics_on_json_shaped_input(kind in "[a-z_.]{0,30}", id in ".{0,40}", parent_kind in "[a-z_]{0,12}") {
            let text = format!(r#"{{"id":{},"type":{},"entity":{{"id":{},"type":"page"}},"data":{{"parent":{{"id":{},"type":{}}}}}}}"#,
                serde_json::json!(id), serde_json::json!(kind), serde_json::json!(id), serde_json::json!(id), serde_json::json!(parent_kind));
            if let Ok(Incoming::Event(e)) = parse(text.as_bytes()) {
                let _ = effect_for(&e, &id, std::slice::from_ref(&id));
            }
        }
    }
}
