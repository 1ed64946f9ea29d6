//! Reading Notion property values out of page JSON, before they are shaped for a Framer field.
//!
//! Page JSON is read defensively: anything missing, null or odd becomes an empty value, never
//! a panic. Dates are normalised to UTC by [`crate::util::time`].

use serde_json::{Map, Value};

use crate::notion::page_html::{escape_html, rich_text_html, rich_text_plain};
use crate::util::time::normalize_iso8601;

/// A property value read out of page JSON, before it is shaped for a Framer field type.
#[derive(Debug, Clone, PartialEq)]
pub enum Extracted {
    /// Absent, or of a type this sync does not read.
    Missing,
    /// Rich text (title, rich_text, string formula) as plain text and inline HTML.
    Text { plain: String, html: String },
    /// An email or phone number with its `mailto:`/`tel:` link.
    Contact { text: String, link: String },
    /// A number (number, numeric formula or rollup).
    Number(Option<f64>),
    /// A checkbox or boolean formula.
    Bool(Option<bool>),
    /// A date's start (or a page timestamp), normalised to `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    Date(Option<String>),
    /// A select or status value.
    Choice(Option<Choice>),
    /// Multi-select values.
    Choices(Vec<Choice>),
    /// A URL.
    Url(Option<String>),
    /// Files and media, hosted or external.
    Files(Vec<FileRef>),
    /// Related page ids (dashed lowercase); `truncated` when Notion has more than it sent.
    Relation { ids: Vec<String>, truncated: bool },
    /// People's names (or ids), and the texts of a rollup array.
    Names(Vec<String>),
    /// An auto-increment id as text (`POST-12`) and as its number.
    UniqueId { text: String, number: Option<f64> },
}

/// One select, status or multi-select value.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Notion's option id, when the value carries one.
    pub id: Option<String>,
    /// Display name.
    pub name: String,
}

/// One file of a files property.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    /// The name Notion shows ("" when none).
    pub name: String,
    /// Where the file is (Notion-hosted URLs expire within the hour).
    pub url: String,
}

/// Page `properties` are keyed by name; the id is the stable key, so look inside.
pub fn find_property<'a>(
    properties: &'a Map<String, Value>,
    property_id: &str,
) -> Option<&'a Value> {
    properties
        .values()
        .find(|value| str_at(value, "id") == Some(property_id))
}

/// Reads one property value (an entry of a page's `properties`).
pub fn extract(value: &Value) -> Extracted {
    let notion_type = str_at(value, "type").unwrap_or("");
    let inner = value.get(notion_type).unwrap_or(&Value::Null);
    match notion_type {
        "title" | "rich_text" => Extracted::Text {
            plain: rich_text_plain(inner),
            html: rich_text_html(inner),
        },
        "number" => Extracted::Number(inner.as_f64()),
        "checkbox" => Extracted::Bool(inner.as_bool()),
        "date" => Extracted::Date(date_start(inner)),
        "created_time" | "last_edited_time" => {
            Extracted::Date(inner.as_str().and_then(normalize_iso8601))
        }
        "select" | "status" => Extracted::Choice(parse_choice(inner)),
        "multi_select" => Extracted::Choices(
            inner
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(parse_choice)
                .collect(),
        ),
        "url" => Extracted::Url(non_empty(inner.as_str())),
        "email" => contact(inner, "mailto:"),
        "phone_number" => contact(inner, "tel:"),
        "files" => Extracted::Files(
            inner
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(parse_file)
                .collect(),
        ),
        "relation" => Extracted::Relation {
            ids: inner
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| str_at(r, "id"))
                .map(crate::notion::ids::canonical)
                .collect(),
            truncated: value
                .get("has_more")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        },
        "people" => Extracted::Names(
            inner
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(user_name)
                .collect(),
        ),
        "created_by" | "last_edited_by" => Extracted::Names(user_name(inner).into_iter().collect()),
        "unique_id" => unique_id(inner),
        "formula" => extract_formula(inner),
        "rollup" => extract_rollup(inner),
        _ => Extracted::Missing,
    }
}

fn contact(inner: &Value, scheme: &str) -> Extracted {
    match non_empty(inner.as_str()) {
        Some(text) => Extracted::Contact {
            link: format!("{scheme}{}", text.replace(' ', "")),
            text,
        },
        None => Extracted::Missing,
    }
}

fn parse_choice(value: &Value) -> Option<Choice> {
    let name = str_at(value, "name")?;
    Some(Choice {
        id: str_at(value, "id").map(str::to_string),
        name: name.to_string(),
    })
}

/// Notion-hosted (`file`) and `external` files both give a URL.
fn parse_file(value: &Value) -> Option<FileRef> {
    let url = str_at(value, "file/url")
        .or_else(|| str_at(value, "external/url"))
        .filter(|url| !url.is_empty())?;
    let name = str_at(value, "name").unwrap_or("");
    Some(FileRef {
        name: name.to_string(),
        url: url.to_string(),
    })
}

fn user_name(value: &Value) -> Option<String> {
    non_empty(str_at(value, "name")).or_else(|| non_empty(str_at(value, "id")))
}

fn unique_id(inner: &Value) -> Extracted {
    let Some(number) = inner.get("number").and_then(Value::as_f64) else {
        return Extracted::Missing;
    };
    let digits = format_number(number);
    let text = match non_empty(str_at(inner, "prefix")) {
        Some(prefix) => format!("{prefix}-{digits}"),
        None => digits,
    };
    Extracted::UniqueId {
        text,
        number: Some(number),
    }
}

fn extract_formula(inner: &Value) -> Extracted {
    let result_type = str_at(inner, "type").unwrap_or("");
    let result = inner.get(result_type).unwrap_or(&Value::Null);
    match result_type {
        "string" => {
            let plain = result.as_str().unwrap_or("").to_string();
            Extracted::Text {
                html: escape_html(&plain),
                plain,
            }
        }
        "number" => Extracted::Number(result.as_f64()),
        "boolean" => Extracted::Bool(result.as_bool()),
        "date" => Extracted::Date(date_start(result)),
        _ => Extracted::Missing,
    }
}

fn extract_rollup(inner: &Value) -> Extracted {
    let result_type = str_at(inner, "type").unwrap_or("");
    let result = inner.get(result_type).unwrap_or(&Value::Null);
    match result_type {
        "number" => Extracted::Number(result.as_f64()),
        "date" => Extracted::Date(date_start(result)),
        "array" => {
            let items = result.as_array().into_iter().flatten().map(extract);
            Extracted::Names(
                items
                    .map(|item| item.plain_text())
                    .filter(|text| !text.is_empty())
                    .collect(),
            )
        }
        _ => Extracted::Missing,
    }
}

impl Extracted {
    /// Plain-text rendering, used for string fields and slugs.
    pub fn plain_text(&self) -> String {
        match self {
            Extracted::Missing | Extracted::Bool(None) => String::new(),
            Extracted::Text { plain, .. } => plain.clone(),
            Extracted::Contact { text, .. } | Extracted::UniqueId { text, .. } => text.clone(),
            Extracted::Number(number) => number.map(format_number).unwrap_or_default(),
            Extracted::Bool(Some(flag)) => flag.to_string(),
            Extracted::Date(date) | Extracted::Url(date) => date.clone().unwrap_or_default(),
            Extracted::Choice(choice) => {
                choice.as_ref().map(|c| c.name.clone()).unwrap_or_default()
            }
            Extracted::Choices(choices) => join(choices.iter().map(|c| c.name.as_str())),
            // Notion file URLs expire within the hour: names are the useful text.
            Extracted::Files(files) => join(files.iter().map(|f| {
                if f.name.is_empty() {
                    f.url.as_str()
                } else {
                    f.name.as_str()
                }
            })),
            Extracted::Relation { ids, .. } => join(ids.iter().map(String::as_str)),
            Extracted::Names(names) => join(names.iter().map(String::as_str)),
        }
    }

    /// A paragraph of HTML, used for formatted text fields ("" when empty).
    pub fn html(&self) -> String {
        let inline = match self {
            Extracted::Text { html, .. } => html.clone(),
            other => escape_html(&other.plain_text()),
        };
        if inline.is_empty() {
            inline
        } else {
            format!("<p>{inline}</p>")
        }
    }

    /// The value as a number, when it reads as one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Extracted::Number(number) | Extracted::UniqueId { number, .. } => *number,
            Extracted::Bool(flag) => flag.map(|f| if f { 1.0 } else { 0.0 }),
            Extracted::Text { plain, .. } => {
                plain.trim().parse::<f64>().ok().filter(|n| n.is_finite())
            }
            _ => None,
        }
    }

    /// The value as a flag: ticked, non-zero, or the text `true`/`yes`.
    pub fn boolean(&self) -> bool {
        match self {
            Extracted::Bool(flag) => flag.unwrap_or(false),
            Extracted::Number(number) => number.is_some_and(|n| n != 0.0),
            Extracted::Text { plain, .. } => {
                matches!(plain.trim().to_ascii_lowercase().as_str(), "true" | "yes")
            }
            _ => false,
        }
    }

    /// The value as a normalised date, when it reads as one.
    pub fn date(&self) -> Option<String> {
        match self {
            Extracted::Date(date) => date.clone(),
            Extracted::Text { plain, .. } => normalize_iso8601(plain.trim()),
            _ => None,
        }
    }

    /// The value as a link: a URL, a contact link, a text, or the first file.
    pub fn url(&self) -> Option<String> {
        match self {
            Extracted::Url(url) => url.clone(),
            Extracted::Contact { link, .. } => Some(link.clone()),
            Extracted::Text { plain, .. } => non_empty(Some(plain.trim())),
            Extracted::Files(files) => files.first().map(|f| f.url.clone()),
            _ => None,
        }
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    parts
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A string at a `/`-separated path of object keys.
pub fn str_at<'a>(value: &'a Value, path: &str) -> Option<&'a str> {
    path.split('/')
        .try_fold(value, |node, key| node.get(key))?
        .as_str()
}

/// The text, when there is some.
pub fn non_empty(text: Option<&str>) -> Option<String> {
    text.filter(|text| !text.is_empty()).map(str::to_string)
}

/// Numbers as a person writes them: `12`, `2.5`, `-0.125` (no trailing `.0`).
fn format_number(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        format!("{number:.0}")
    } else {
        number.to_string()
    }
}

/// The start of a Notion date value as an ISO string (`None` for null or unreadable dates).
fn date_start(date: &Value) -> Option<String> {
    str_at(date, "start").and_then(normalize_iso8601)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::time::iso_from_ms;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn reads_each_type_notion_sends() {
        let cases = [
            (
                json!({"type": "number", "number": 2.5}),
                Extracted::Number(Some(2.5)),
            ),
            (
                json!({"type": "checkbox", "checkbox": false}),
                Extracted::Bool(Some(false)),
            ),
            (
                json!({"type": "date", "date": {"start": "2024-12-05T10:30:00.000+02:00", "end": null}}),
                Extracted::Date(Some("2024-12-05T08:30:00.000Z".into())),
            ),
            (
                json!({"type": "select", "select": {"id": "o1", "name": "News", "color": "blue"}}),
                Extracted::Choice(Some(Choice {
                    id: Some("o1".into()),
                    name: "News".into(),
                })),
            ),
            (
                json!({"type": "email", "email": "a@example.com"}),
                Extracted::Contact {
                    text: "a@example.com".into(),
                    link: "mailto:a@example.com".into(),
                },
            ),
            (
                json!({"type": "phone_number", "phone_number": "+1 555 0100"}),
                Extracted::Contact {
                    text: "+1 555 0100".into(),
                    link: "tel:+15550100".into(),
                },
            ),
            (
                json!({"type": "unique_id", "unique_id": {"prefix": null, "number": 7}}),
                Extracted::UniqueId {
                    text: "7".into(),
                    number: Some(7.0),
                },
            ),
            (
                json!({"type": "formula", "formula": {"type": "string", "string": "a < b"}}),
                Extracted::Text {
                    plain: "a < b".into(),
                    html: "a &lt; b".into(),
                },
            ),
            (
                json!({"type": "relation", "relation": [{"id": "5C6D7E8F9A0B4C1D8E2F3A4B5C6D7E8F"}], "has_more": true}),
                Extracted::Relation {
                    ids: vec!["5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f".into()],
                    truncated: true,
                },
            ),
            (
                json!({"type": "people", "people": [{"id": "u1"}, {}]}),
                Extracted::Names(vec!["u1".into()]),
            ),
            (json!({"type": "button", "button": {}}), Extracted::Missing),
        ];
        for (value, expected) in cases {
            assert_eq!(extract(&value), expected, "{value}");
        }
    }

    #[test]
    fn values_read_as_other_types() {
        let text = |plain: &str| Extracted::Text {
            plain: plain.into(),
            html: String::new(),
        };
        assert_eq!(text(" 12.5 ").number(), Some(12.5));
        assert_eq!(text("inf").number(), None);
        assert!(text("Yes").boolean());
        assert!(Extracted::Number(Some(-1.0)).boolean());
        assert_eq!(
            text("2024-12-05").date().as_deref(),
            Some("2024-12-05T00:00:00.000Z")
        );
        assert_eq!(Extracted::Number(Some(3.0)).plain_text(), "3");
        assert_eq!(Extracted::Number(Some(0.125)).plain_text(), "0.125");
        assert_eq!(Extracted::Missing.html(), "");
        let bold = Extracted::Text {
            plain: "x".into(),
            html: "<b>x</b>".into(),
        };
        assert_eq!(bold.html(), "<p><b>x</b></p>");
        assert_eq!(Extracted::Number(Some(2.0)).html(), "<p>2</p>");
    }

    proptest! {
        #[test]
        fn dates_read_as_the_instant_util_time_writes(
            ms in -62_135_596_800_000i64..253_402_214_400_000,
            bare in any::<bool>(),
        ) {
            // A date property's start, as Notion writes it: a bare date or an ISO date-time.
            let written = iso_from_ms(ms);
            let (start, instant) = if bare {
                (written[..10].to_owned(), ms - ms.rem_euclid(86_400_000))
            } else {
                (written.clone(), ms)
            };
            let value = json!({"type": "date", "date": {"start": start, "end": null}});
            prop_assert_eq!(extract(&value), Extracted::Date(Some(iso_from_ms(instant))));
            let created = json!({"type": "created_time", "created_time": written});
            prop_assert_eq!(extract(&created).date(), Some(iso_from_ms(ms)));
        }
    }
}
