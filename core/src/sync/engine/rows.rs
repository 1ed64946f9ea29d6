//! Decisions about one row, made as it is staged and again once its body is in: URLs made
//! sendable, whether its body must be fetched, whether Framer needs it, and which property a
//! refusal is about. Pure: the step feeds it what D1 and Framer said.

use super::job::{RowState, StagedRow, StoredItem, WriteKind, RETRY_HASH_PREFIX};
use crate::framer::cms::{self, FieldValue};
use crate::sync::mapping::Mapping;
use crate::sync::plan::body_needed;
use crate::sync::row::MappedRow;

/// Framer field that holds the rendered page body when the project asks for it. No mapped
/// field can have this id: sanitised Notion ids put two hex digits after every `_`.
pub const BODY_FIELD_ID: &str = "page_body";
pub const BODY_FIELD_NAME: &str = "Page content";

/// What is known about a row besides its content.
#[derive(Debug, Clone, Copy)]
pub struct RowFacts<'a> {
    pub stored: Option<&'a StoredItem>,
    /// Whether Framer has the item, when this run read Framer's ids (full runs).
    pub in_framer: Option<bool>,
    pub page_body: bool,
    /// The body field was just added to the collection: no stored hash covers a body.
    pub body_field_new: bool,
    /// Rows the publish filter holds back become drafts instead of being removed.
    pub keep_drafts: bool,
}

/// The row as staged: to remove, to fetch the body of, to write, or already in Framer.
pub fn stage(
    seq: u64,
    row: &MappedRow,
    title: String,
    slug: String,
    facts: RowFacts<'_>,
) -> StagedRow {
    let mut staged = StagedRow {
        title,
        slug_source: row.slug_source.clone(),
        last_edited_time: row.last_edited_time.clone(),
        ..StagedRow::marker(seq, row.page_id.clone(), RowState::Remove)
    };
    if !row.publish && !facts.keep_drafts {
        return staged;
    }
    staged.item = Some(row.to_item(String::new()));
    give_slug(&mut staged, slug, facts);
    staged
}

/// Gives a staged row with an item its slug and decides what it needs next: its body, a write,
/// or nothing. Also used for a row that waited for its slug until reading was over.
pub fn give_slug(staged: &mut StagedRow, slug: String, facts: RowFacts<'_>) {
    let Some(item) = staged.item.as_mut() else {
        return;
    };
    item.slug.clone_from(&slug);
    let needs_body = facts.page_body
        && (facts.body_field_new
            || facts.in_framer == Some(false)
            || facts.stored.is_none_or(|s| {
                s.slug != slug
                    || s.content_hash.starts_with(RETRY_HASH_PREFIX)
                    || body_needed(s.last_edited_time.as_deref(), &staged.last_edited_time)
            }));
    // Notion stamps edits to the minute: an equal stamp can hide a property edit, which the
    // hash of the fields (the body aside) still shows.
    let fields_changed = facts.page_body
        && facts
            .stored
            .and_then(|s| s.fields_hash.as_deref())
            .is_some_and(|stored| stored != fields_hash(item));
    staged.slug = slug;
    if needs_body || fields_changed {
        staged.state = RowState::Body;
    } else {
        settle(staged, facts, false);
    }
}

/// Hash of an item without its page body.
pub fn fields_hash(item: &cms::Item) -> String {
    let mut fields = item.clone();
    fields.field_data.remove(BODY_FIELD_ID);
    cms::content_hash(&fields)
}

/// Decides whether a complete row must be written. A row whose body was not fetched (unchanged
/// since its last sync) keeps the stored hash: its content cannot have changed.
pub fn settle(row: &mut StagedRow, facts: RowFacts<'_>, body_fetched: bool) {
    let Some(item) = &row.item else {
        return;
    };
    let hash = match facts.stored {
        Some(stored) if facts.page_body && !body_fetched => stored.content_hash.clone(),
        _ => cms::content_hash(item),
    };
    row.write = match facts.stored {
        None => Some(WriteKind::Add),
        Some(s) if s.content_hash != hash || facts.in_framer == Some(false) => {
            Some(WriteKind::Update)
        }
        Some(_) => None,
    };
    if row.write.is_some() {
        row.state = RowState::Write;
    } else {
        row.state = RowState::Done;
        row.item = None;
    }
}

/// Makes URLs sendable: a URL typed without a scheme (`www.example.com/c.png`, which Notion
/// accepts) gets `https://`. Returns the properties changed.
pub fn normalise_urls(row: &mut MappedRow, mapping: &Mapping) -> Vec<String> {
    let mut changed = Vec::new();
    for (field_id, value) in &mut row.field_data {
        let (FieldValue::Link(Some(url))
        | FieldValue::Image { url: Some(url), .. }
        | FieldValue::File { url: Some(url) }) = value
        else {
            continue;
        };
        if let Some(fixed) = with_scheme(url) {
            *url = fixed;
            changed.push(property_name(mapping, field_id));
        }
    }
    changed
}

/// `https://` + the text, when it reads as a host and path without a scheme.
fn with_scheme(url: &str) -> Option<String> {
    let trimmed = url.trim();
    if trimmed.is_empty() || has_scheme(trimmed) || trimmed.starts_with('/') {
        return None;
    }
    let host = trimmed.split(['/', '?', '#']).next().unwrap_or("");
    let plausible = host.contains('.')
        && !host.starts_with('.')
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    plausible.then(|| format!("https://{trimmed}"))
}

/// `scheme:` per RFC 3986: a letter, then letters, digits, `+`, `-` or `.`.
fn has_scheme(url: &str) -> bool {
    let Some((scheme, _)) = url.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        // `localhost:3000/x` is a host and port, not a scheme.
        && !url[scheme.len() + 1..].starts_with(|c: char| c.is_ascii_digit())
}

/// The Notion property behind a Framer field id (the body field is "Page content").
pub fn property_name(mapping: &Mapping, field_id: &str) -> String {
    mapping
        .fields
        .iter()
        .find(|f| f.field_id == field_id)
        .map_or_else(
            || {
                if field_id == BODY_FIELD_ID {
                    BODY_FIELD_NAME.to_owned()
                } else {
                    field_id.to_owned()
                }
            },
            |f| f.property_name.clone(),
        )
}

/// Which property Framer's refusal of one item is about: a field id its message names, else
/// the first value we can tell is unusable (a URL Framer cannot parse).
pub fn refused_property(message: &str, item: &cms::Item, mapping: &Mapping) -> Option<String> {
    let mut named: Vec<&String> = item
        .field_data
        .keys()
        .filter(|id| message.contains(id.as_str()))
        .collect();
    // The longest id first: `p_41` must not win over `p_41_2` when both appear.
    named.sort_by_key(|id| std::cmp::Reverse(id.len()));
    if let Some(id) = named.first() {
        return Some(property_name(mapping, id));
    }
    item.field_data
        .iter()
        .find(|(_, value)| match value {
            FieldValue::Link(Some(url))
            | FieldValue::Image { url: Some(url), .. }
            | FieldValue::File { url: Some(url) } => !is_plausible_url(url),
            _ => false,
        })
        .map(|(id, _)| property_name(mapping, id))
}

/// An absolute URL with a scheme, a host and no whitespace or characters URLs cannot hold.
fn is_plausible_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.starts_with("mailto:") || url.starts_with("tel:");
    };
    has_scheme(&format!("{scheme}:"))
        && !rest.is_empty()
        && !rest.starts_with('/')
        && !url.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '<' | '>' | '"' | '{' | '}' | '|' | '\\' | '^' | '`')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framer::cms::Item;
    use std::collections::BTreeMap;

    fn row(fields: &[(&str, FieldValue)]) -> MappedRow {
        MappedRow {
            page_id: "11111111-1111-1111-1111-111111111111".into(),
            last_edited_time: "2026-11-30T10:00:00.000Z".into(),
            slug_source: "Hello".into(),
            publish: true,
            field_data: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            warnings: Vec::new(),
            new_cases: Vec::new(),
            more_relations: Vec::new(),
        }
    }

    fn facts(stored: Option<&StoredItem>) -> RowFacts<'_> {
        RowFacts {
            stored,
            in_framer: None,
            page_body: false,
            body_field_new: false,
            keep_drafts: false,
        }
    }

    #[test]
    fn scheme_less_urls_get_https_and_others_stay() {
        let mut r = row(&[
            (
                "a",
                FieldValue::Image {
                    url: Some("www.example.com/c.png".into()),
                    alt: None,
                },
            ),
            ("b", FieldValue::Link(Some("https://x.org".into()))),
            ("c", FieldValue::Link(Some("mailto:a@b.c".into()))),
            ("d", FieldValue::Link(Some("localhost:3000/x".into()))),
            ("e", FieldValue::Link(Some("not a url".into()))),
            (
                "f",
                FieldValue::File {
                    url: Some("example.org".into()),
                },
            ),
        ]);
        let changed = normalise_urls(&mut r, &Mapping::default());
        assert_eq!(changed, vec!["a".to_owned(), "f".to_owned()]);
        assert_eq!(
            r.field_data["a"],
            FieldValue::Image {
                url: Some("https://www.example.com/c.png".into()),
                alt: None
            }
        );
        assert_eq!(
            r.field_data["c"],
            FieldValue::Link(Some("mailto:a@b.c".into()))
        );
        assert_eq!(
            r.field_data["e"],
            FieldValue::Link(Some("not a url".into()))
        );
        assert_eq!(
            r.field_data["f"],
            FieldValue::File {
                url: Some("https://example.org".into())
            }
        );
    }

    #[test]
    fn new_rows_are_added_unchanged_rows_left_and_changed_rows_updated() {
        let staged = stage(
            0,
            &row(&[("a", FieldValue::String("x".into()))]),
            "Hello".into(),
            "hello".into(),
            facts(None),
        );
        assert_eq!(
            (staged.state, staged.write),
            (RowState::Write, Some(WriteKind::Add))
        );
        let item = staged.item.clone().unwrap();
        let stored = StoredItem {
            page_id: item.id.clone(),
            slug: "hello".into(),
            slug_source: "Hello".into(),
            content_hash: cms::content_hash(&item),
            last_edited_time: Some("2026-11-30T10:00:00.000Z".into()),
            fields_hash: None,
        };
        let same = stage(
            1,
            &row(&[("a", FieldValue::String("x".into()))]),
            "Hello".into(),
            "hello".into(),
            facts(Some(&stored)),
        );
        assert_eq!((same.state, same.item.is_none()), (RowState::Done, true));
        let missing = stage(
            1,
            &row(&[("a", FieldValue::String("x".into()))]),
            "Hello".into(),
            "hello".into(),
            RowFacts {
                in_framer: Some(false),
                ..facts(Some(&stored))
            },
        );
        assert_eq!(
            missing.write,
            Some(WriteKind::Update),
            "Framer lost it: re-sent"
        );
        let changed = stage(
            2,
            &row(&[("a", FieldValue::String("y".into()))]),
            "Hello".into(),
            "hello".into(),
            facts(Some(&stored)),
        );
        assert_eq!(changed.write, Some(WriteKind::Update));
        let mut held_back = row(&[]);
        held_back.publish = false;
        assert_eq!(
            stage(3, &held_back, String::new(), "h".into(), facts(None)).state,
            RowState::Remove
        );
        let draft = stage(
            3,
            &held_back,
            String::new(),
            "h".into(),
            RowFacts {
                keep_drafts: true,
                ..facts(None)
            },
        );
        assert!(draft.item.unwrap().draft);
    }

    #[test]
    fn bodies_are_fetched_only_for_rows_edited_since_or_new_to_framer() {
        let body = |stored, in_framer, body_field_new| RowFacts {
            page_body: true,
            in_framer,
            body_field_new,
            ..facts(stored)
        };
        let state_for = |facts| stage(0, &row(&[]), String::new(), "hello".into(), facts).state;
        let first = stage(
            0,
            &row(&[]),
            String::new(),
            "hello".into(),
            body(None, None, false),
        );
        assert_eq!(first.state, RowState::Body);
        let stored = StoredItem {
            page_id: first.page_id.clone(),
            slug: "hello".into(),
            slug_source: "Hello".into(),
            content_hash: "h".into(),
            last_edited_time: Some("2026-11-30T10:00:00.000Z".into()),
            fields_hash: None,
        };
        assert_eq!(state_for(body(Some(&stored), None, false)), RowState::Done);
        assert_eq!(
            state_for(body(Some(&stored), Some(false), false)),
            RowState::Body
        );
        assert_eq!(state_for(body(Some(&stored), None, true)), RowState::Body);
        assert_eq!(
            stage(
                0,
                &row(&[]),
                String::new(),
                "renamed".into(),
                body(Some(&stored), None, false)
            )
            .state,
            RowState::Body
        );
    }

    #[test]
    fn a_refusal_names_the_property_from_the_message_or_the_unusable_value() {
        let mut mapping = Mapping::default();
        mapping.fields = crate::sync::fixtures::mapping().fields;
        let field = mapping.fields[0].clone();
        let item = Item {
            id: "x".into(),
            slug: "x".into(),
            draft: false,
            field_data: BTreeMap::from([
                (field.field_id.clone(), FieldValue::String("ok".into())),
                (
                    "zz".into(),
                    FieldValue::Link(Some("https://exa mple.com".into())),
                ),
            ]),
        };
        let message = format!(
            "Invalid item 0 ('x'): fieldData.{}: expected a string",
            field.field_id
        );
        assert_eq!(
            refused_property(&message, &item, &mapping),
            Some(field.property_name.clone())
        );
        assert_eq!(
            refused_property("Invalid value", &item, &mapping),
            Some("zz".into())
        );
    }
}
