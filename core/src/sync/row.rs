//! One Notion page mapped to one Framer item: every enabled field's value shaped for its
//! [`FieldType`], the text the slug is made from, and whether the publish filter lets it go live.
//!
//! A page is read defensively: anything missing, null or odd becomes the empty value of the
//! field's type plus a warning, never a panic.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::framer::cms::{EnumCase, FieldType, FieldValue, Item};
use crate::notion::page_html::rich_text_plain;
use crate::notion::schema::Schema;
use crate::notion::values::{extract, find_property, non_empty, str_at, Choice, Extracted};
use crate::sync::mapping::{
    sanitize_id, FieldMapping, Mapping, NewEnumCase, NONE_CASE_ID, NONE_CASE_NAME,
};

/// Why a query result could not be mapped at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowError {
    /// The JSON is not a Notion page object.
    NotAPage,
    /// The page has no id, or one that is not a UUID.
    BadPageId(String),
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowError::NotAPage => f.write_str("Notion result is not a page object"),
            RowError::BadPageId(id) => write!(f, "Notion page id `{id}` is not a UUID"),
        }
    }
}

impl std::error::Error for RowError {}

/// The title of a query result (a page's title property, a data source's `title`), if any.
pub fn result_title(result: &Value) -> Option<String> {
    let top_level = result.get("title").filter(|t| t.is_array());
    let title_property = || {
        result
            .get("properties")?
            .as_object()?
            .values()
            .find(|p| str_at(p, "type") == Some("title"))?
            .get("title")
    };
    let text = rich_text_plain(top_level.or_else(title_property)?);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Decides whether a row is published (otherwise it is sent as a Framer draft).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishKind {
    /// Published when the checkbox (or boolean formula) is ticked.
    Checkbox,
    /// Published when the status/select value's name or option id is one of these
    /// (for multi-select: when any value is).
    StatusIn(Vec<String>),
}

/// A property that gates publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishFilter {
    /// Notion property id.
    pub property_id: String,
    /// How its value is read.
    pub kind: PublishKind,
}

/// Per-project options for turning pages into rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowOptions {
    /// Property the slug is made from; the title when `None`.
    pub slug_property: Option<String>,
    /// Publishing gate; every row is published when `None`.
    pub publish_filter: Option<PublishFilter>,
}

/// One page mapped to Framer field values.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MappedRow {
    /// Dashed lowercase page UUID (the Framer item id).
    pub page_id: String,
    /// The page's `last_edited_time` as Notion sent it ("" if absent).
    pub last_edited_time: String,
    /// Text to build the slug from (see [`crate::sync::slug`]).
    pub slug_source: String,
    /// Whether the publish filter lets the row through.
    pub publish: bool,
    /// Values of every enabled field, keyed by Framer field id.
    pub field_data: BTreeMap<String, FieldValue>,
    /// Things worth telling the user (missing properties, files that are not images, ...).
    pub warnings: Vec<String>,
    /// Enum cases this row uses that the fields do not list yet.
    pub new_cases: Vec<NewEnumCase>,
    /// Multi-reference fields (by Framer field id) whose relation Notion cut at 25 in the
    /// query row: the rest is read through the page-property endpoint before the row is sent.
    #[serde(default)]
    pub more_relations: Vec<String>,
}

impl MappedRow {
    /// The Framer item for this row with its assigned slug; unpublished rows become drafts.
    pub fn to_item(&self, slug: String) -> Item {
        Item {
            id: self.page_id.clone(),
            slug,
            draft: !self.publish,
            field_data: self.field_data.clone(),
        }
    }
}

/// Maps one page (an element of a data source query's `results`) to Framer field values.
pub fn map_page(
    page: &Value,
    mapping: &Mapping,
    schema: &Schema,
    opts: &RowOptions,
) -> Result<MappedRow, RowError> {
    let page_object = page.as_object().ok_or(RowError::NotAPage)?;
    if page_object
        .get("object")
        .and_then(Value::as_str)
        .is_some_and(|object| object != "page")
    {
        return Err(RowError::NotAPage);
    }
    let raw_id = page_object.get("id").and_then(Value::as_str).unwrap_or("");
    let page_id =
        crate::notion::ids::uuid(raw_id).ok_or_else(|| RowError::BadPageId(raw_id.to_string()))?;
    let empty = Map::new();
    let properties = page_object
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut row = MappedRow {
        page_id,
        last_edited_time: str_at(page, "last_edited_time").unwrap_or("").to_string(),
        slug_source: String::new(),
        publish: true,
        field_data: BTreeMap::new(),
        warnings: Vec::new(),
        new_cases: Vec::new(),
        more_relations: Vec::new(),
    };
    for field in mapping.fields.iter().filter(|field| field.enabled) {
        let value = extract_property(
            properties,
            &field.property_id,
            &field.property_name,
            &mut row.warnings,
        );
        match field.effective_kind() {
            FieldType::MultiCollectionReference if is_truncated(&value) => {
                row.more_relations.push(field.field_id.clone());
            }
            // One reference takes the first related page, which the query row always has.
            FieldType::CollectionReference => {}
            _ => warn_if_truncated(&value, field, &mut row.warnings),
        }
        let converted = convert(&value, field, schema, &mut row);
        row.field_data.insert(field.field_id.clone(), converted);
    }
    row.slug_source = slug_source(properties, schema, opts);
    if let Some(filter) = &opts.publish_filter {
        row.publish = passes_filter(properties, filter, &mut row.warnings);
    }
    Ok(row)
}

fn slug_source(properties: &Map<String, Value>, schema: &Schema, opts: &RowOptions) -> String {
    let property_id = opts
        .slug_property
        .as_deref()
        .or_else(|| schema.title_property().map(|p| p.id.as_str()));
    let Some(property_id) = property_id else {
        return String::new();
    };
    let value = find_property(properties, property_id).map_or(Extracted::Missing, extract);
    value.plain_text().trim().to_string()
}

fn passes_filter(
    properties: &Map<String, Value>,
    filter: &PublishFilter,
    warnings: &mut Vec<String>,
) -> bool {
    let Some(raw) = find_property(properties, &filter.property_id) else {
        warnings.push(format!(
            "publish property {} is missing from the page; the row counts as unpublished (a draft in draft mode, off the site in remove mode)",
            filter.property_id
        ));
        return false;
    };
    let value = extract(raw);
    match &filter.kind {
        PublishKind::Checkbox => value.boolean(),
        PublishKind::StatusIn(accepted) => {
            let matches = |choice: &Choice| {
                accepted
                    .iter()
                    .any(|a| *a == choice.name || choice.id.as_deref() == Some(a.as_str()))
            };
            match &value {
                Extracted::Choice(Some(choice)) => matches(choice),
                Extracted::Choices(choices) => choices.iter().any(matches),
                other => {
                    let text = other.plain_text();
                    !text.is_empty() && accepted.contains(&text)
                }
            }
        }
    }
}

fn extract_property(
    properties: &Map<String, Value>,
    property_id: &str,
    property_name: &str,
    warnings: &mut Vec<String>,
) -> Extracted {
    if let Some(value) = find_property(properties, property_id) {
        return extract(value);
    }
    warnings.push(format!(
        "property \"{property_name}\" is missing from the page; left empty"
    ));
    Extracted::Missing
}

/// Shapes an extracted value for the field's Framer type.
fn convert(
    value: &Extracted,
    field: &FieldMapping,
    schema: &Schema,
    row: &mut MappedRow,
) -> FieldValue {
    match field.effective_kind() {
        FieldType::String => FieldValue::String(value.plain_text()),
        FieldType::FormattedText => FieldValue::FormattedText(value.html()),
        FieldType::Number => FieldValue::Number(value.number().unwrap_or(0.0)),
        FieldType::Boolean => FieldValue::Boolean(value.boolean()),
        FieldType::Date => FieldValue::Date(value.date()),
        FieldType::Enum => FieldValue::Enum(enum_case_id(value, field, schema, row)),
        FieldType::Color => FieldValue::Color(non_empty(Some(value.plain_text().trim()))),
        FieldType::Link => FieldValue::Link(value.url()),
        FieldType::Image => FieldValue::Image {
            url: image_url(value, field, &mut row.warnings),
            alt: None,
        },
        FieldType::File => FieldValue::File { url: value.url() },
        FieldType::CollectionReference => {
            FieldValue::CollectionReference(relation_ids(value).into_iter().next())
        }
        FieldType::MultiCollectionReference => {
            FieldValue::MultiCollectionReference(relation_ids(value))
        }
    }
}

const IMAGE_EXTENSIONS: [&str; 10] = [
    "png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "bmp", "tif", "tiff",
];

/// The first file that looks like an image, judged by its name or URL path extension.
fn image_url(
    value: &Extracted,
    field: &FieldMapping,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let Extracted::Files(files) = value else {
        return value.url();
    };
    let image = files
        .iter()
        .find(|file| looks_like_image(&file.name) || looks_like_image(url_path(&file.url)));
    if image.is_none() && !files.is_empty() {
        warnings.push(format!(
            "\"{}\" has files but none is an image; image left empty",
            field.field_name
        ));
    }
    image.map(|file| file.url.clone())
}

fn url_path(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn looks_like_image(name: &str) -> bool {
    let Some((_, extension)) = name.rsplit_once('.') else {
        return false;
    };
    IMAGE_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str())
}

fn relation_ids(value: &Extracted) -> Vec<String> {
    match value {
        Extracted::Relation { ids, .. } => ids.clone(),
        _ => Vec::new(),
    }
}

fn is_truncated(value: &Extracted) -> bool {
    matches!(
        value,
        Extracted::Relation {
            truncated: true,
            ..
        }
    )
}

/// Notion returns at most 25 related pages per query row. Multi-references are read in full
/// (see [`MappedRow::more_relations`]); a relation shown as text says so rather than list
/// silently less.
fn warn_if_truncated(value: &Extracted, field: &FieldMapping, warnings: &mut Vec<String>) {
    if let Extracted::Relation {
        ids,
        truncated: true,
    } = value
    {
        warnings.push(format!(
            "\"{}\" has more related pages than Notion returns in a query; only the first {} are synced",
            field.field_name,
            ids.len()
        ));
    }
}

/// The case id for a select/status value (the first one of a multi-select), recording a new
/// case when the field does not list it yet.
fn enum_case_id(
    value: &Extracted,
    field: &FieldMapping,
    schema: &Schema,
    row: &mut MappedRow,
) -> String {
    let choice = match value {
        Extracted::Choice(choice) => choice.clone(),
        Extracted::Choices(choices) => choices.first().cloned(),
        _ => None,
    };
    let known = field.cases(schema.property(&field.property_id));
    let case = match choice {
        Some(Choice { id: Some(id), name }) => EnumCase {
            id: sanitize_id(&id),
            name,
        },
        Some(Choice { id: None, name }) => known
            .iter()
            .find(|case| case.name == name)
            .cloned()
            .unwrap_or_else(|| EnumCase {
                id: sanitize_id(&format!("name:{name}")),
                name,
            }),
        None => EnumCase {
            id: NONE_CASE_ID.to_string(),
            name: NONE_CASE_NAME.to_string(),
        },
    };
    let already_recorded = row
        .new_cases
        .iter()
        .any(|n| n.field_id == field.field_id && n.case.id == case.id);
    if !known.iter().any(|k| k.id == case.id) && !already_recorded {
        row.new_cases.push(NewEnumCase {
            field_id: field.field_id.clone(),
            case: case.clone(),
        });
    }
    case.id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notion::fixtures::{page, schema, set_property, PAGE_ID, SIGNED_COVER};
    use crate::sync::fixtures::mapping;
    use crate::sync::mapping::field_defs;
    use proptest::prelude::*;
    use serde_json::json;

    fn value_of(row: &MappedRow, property_id: &str) -> FieldValue {
        row.field_data[&sanitize_id(property_id)].clone()
    }

    fn map_default(page: &Value) -> MappedRow {
        map_page(page, &mapping(), &schema(), &RowOptions::default()).unwrap()
    }

    #[test]
    fn maps_a_full_page() {
        let row = map_default(&page());
        assert_eq!(row.page_id, PAGE_ID);
        assert_eq!(row.last_edited_time, "2024-12-06T08:15:00.000Z");
        assert_eq!(row.slug_source, "Hello world");
        assert!(row.publish);
        assert_eq!(
            value_of(&row, "title"),
            FieldValue::String("Hello world".into())
        );
        assert_eq!(
            value_of(&row, "%3AUPp"),
            FieldValue::FormattedText("<p>Hi <strong>there</strong></p>".into())
        );
        assert_eq!(value_of(&row, "b%5Dx%3F"), FieldValue::Number(12.0));
        assert_eq!(value_of(&row, "Wq%7Bn"), FieldValue::Boolean(true));
        assert_eq!(
            value_of(&row, "a%3Bxz"),
            FieldValue::Date(Some("2024-12-05T00:00:00.000Z".into()))
        );
        assert_eq!(
            value_of(&row, "K%3DqV"),
            FieldValue::Enum(sanitize_id("8b2d4e6f-1a3c-4e5f-8a9b-0c1d2e3f4a5b"))
        );
        assert_eq!(
            value_of(&row, "S%60nF"),
            FieldValue::Enum("c7d8e9f0".into())
        );
        assert_eq!(
            value_of(&row, "tg%40A"),
            FieldValue::String("Rust, Wasm".into())
        );
        assert_eq!(
            value_of(&row, "U%5Ei%3D"),
            FieldValue::Link(Some("https://example.com".into()))
        );
        assert_eq!(
            value_of(&row, "eM%3Ai"),
            FieldValue::String("editor@example.com".into())
        );
        assert_eq!(
            value_of(&row, "pH%3Dn"),
            FieldValue::String("+1 555 0100".into())
        );
        assert_eq!(
            value_of(&row, "cV%7Br"),
            FieldValue::Image {
                url: Some(SIGNED_COVER.into()),
                alt: None
            }
        );
        assert_eq!(
            value_of(&row, "aT%7Bc"),
            FieldValue::Image {
                url: None,
                alt: None
            }
        );
        assert_eq!(
            value_of(&row, "au%3Ch"),
            FieldValue::MultiCollectionReference(vec![
                "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f".into(),
                "6d7e8f9a-0b1c-4d2e-8f3a-4b5c6d7e8f90".into(),
            ])
        );
        assert_eq!(
            value_of(&row, "rL%3At"),
            FieldValue::String("7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b".into())
        );
        assert_eq!(
            value_of(&row, "iD%3F%3F"),
            FieldValue::String("POST-12".into())
        );
        assert_eq!(value_of(&row, "sC%3Fr"), FieldValue::String("24".into()));
        assert_eq!(value_of(&row, "tW%3Cw"), FieldValue::Number(1830.5));
        assert_eq!(
            value_of(&row, "aN%3Am"),
            FieldValue::String("Ada Lovelace, Alan Turing".into())
        );
        assert_eq!(
            value_of(&row, "cR%3At"),
            FieldValue::Date(Some("2024-12-05T10:30:00.000Z".into()))
        );
        assert_eq!(
            value_of(&row, "oW%3Ar"),
            FieldValue::String("Grace Hopper, 0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e".into())
        );
        assert_eq!(
            value_of(&row, "cB%3Ay"),
            FieldValue::String("Grace Hopper".into())
        );
        assert_eq!(row.field_data.len(), 23);
        assert!(row.new_cases.is_empty());
        assert_eq!(
            row.warnings,
            vec![
                "\"Attachment\" has files but none is an image; image left empty".to_string(),
                "\"Related\" has more related pages than Notion returns in a query; only the first 1 are synced".to_string(),
            ]
        );
    }

    #[test]
    fn row_becomes_an_item() {
        let row = map_default(&page());
        let item = row.to_item("hello-world".into());
        assert_eq!(item.id, PAGE_ID);
        assert_eq!(item.slug, "hello-world");
        assert!(!item.draft);
        assert_eq!(
            item.to_wire()["fieldData"]["title"],
            json!({"type": "string", "value": "Hello world"})
        );
        assert_eq!(
            item.to_wire()["fieldData"]["b_255Dx_253F"],
            json!({"type": "number", "value": 12})
        );
    }

    #[test]
    fn chosen_alternative_types_convert() {
        let mut mapping = mapping();
        let mut set = |property_id: &str, kind: FieldType| {
            mapping
                .fields
                .iter_mut()
                .find(|f| f.property_id == property_id)
                .unwrap()
                .kind = kind;
        };
        set("%3AUPp", FieldType::String);
        set("tg%40A", FieldType::Enum);
        set("aT%7Bc", FieldType::File);
        set("eM%3Ai", FieldType::Link);
        set("pH%3Dn", FieldType::Link);
        set("iD%3F%3F", FieldType::Number);
        set("au%3Ch", FieldType::CollectionReference);
        set("b%5Dx%3F", FieldType::String);
        set("Wq%7Bn", FieldType::String);
        let row = map_page(&page(), &mapping, &schema(), &RowOptions::default()).unwrap();
        assert_eq!(
            value_of(&row, "%3AUPp"),
            FieldValue::String("Hi there".into())
        );
        assert_eq!(
            value_of(&row, "tg%40A"),
            FieldValue::Enum("t_2drust".into())
        );
        assert_eq!(
            value_of(&row, "aT%7Bc"),
            FieldValue::File {
                url: Some("https://example.com/brief.pdf".into())
            }
        );
        assert_eq!(
            value_of(&row, "eM%3Ai"),
            FieldValue::Link(Some("mailto:editor@example.com".into()))
        );
        assert_eq!(
            value_of(&row, "pH%3Dn"),
            FieldValue::Link(Some("tel:+15550100".into()))
        );
        assert_eq!(value_of(&row, "iD%3F%3F"), FieldValue::Number(12.0));
        assert_eq!(
            value_of(&row, "au%3Ch"),
            FieldValue::CollectionReference(Some("5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f".into()))
        );
        assert_eq!(value_of(&row, "b%5Dx%3F"), FieldValue::String("12".into()));
        assert_eq!(value_of(&row, "Wq%7Bn"), FieldValue::String("true".into()));
    }

    #[test]
    fn empty_and_null_values_become_empty_field_values() {
        let mut page = page();
        set_property(
            &mut page,
            "Name",
            json!({"id": "title", "type": "title", "title": []}),
        );
        set_property(
            &mut page,
            "Body",
            json!({"id": "%3AUPp", "type": "rich_text", "rich_text": []}),
        );
        set_property(
            &mut page,
            "Views",
            json!({"id": "b%5Dx%3F", "type": "number", "number": null}),
        );
        set_property(
            &mut page,
            "Published on",
            json!({"id": "a%3Bxz", "type": "date", "date": null}),
        );
        set_property(
            &mut page,
            "Category",
            json!({"id": "K%3DqV", "type": "select", "select": null}),
        );
        set_property(
            &mut page,
            "Website",
            json!({"id": "U%5Ei%3D", "type": "url", "url": null}),
        );
        set_property(
            &mut page,
            "Cover",
            json!({"id": "cV%7Br", "type": "files", "files": []}),
        );
        set_property(
            &mut page,
            "Authors",
            json!({"id": "au%3Ch", "type": "relation", "relation": [], "has_more": false}),
        );
        set_property(
            &mut page,
            "Score",
            json!({"id": "sC%3Fr", "type": "formula", "formula": {"type": "string", "string": null}}),
        );
        page["properties"]
            .as_object_mut()
            .unwrap()
            .remove("Featured");
        let row = map_default(&page);
        assert_eq!(value_of(&row, "title"), FieldValue::String(String::new()));
        assert_eq!(
            value_of(&row, "%3AUPp"),
            FieldValue::FormattedText(String::new())
        );
        assert_eq!(value_of(&row, "b%5Dx%3F"), FieldValue::Number(0.0));
        assert_eq!(value_of(&row, "Wq%7Bn"), FieldValue::Boolean(false));
        assert_eq!(value_of(&row, "a%3Bxz"), FieldValue::Date(None));
        assert_eq!(
            value_of(&row, "K%3DqV"),
            FieldValue::Enum(NONE_CASE_ID.into())
        );
        assert_eq!(value_of(&row, "U%5Ei%3D"), FieldValue::Link(None));
        assert_eq!(
            value_of(&row, "cV%7Br"),
            FieldValue::Image {
                url: None,
                alt: None
            }
        );
        assert_eq!(
            value_of(&row, "au%3Ch"),
            FieldValue::MultiCollectionReference(Vec::new())
        );
        assert_eq!(value_of(&row, "sC%3Fr"), FieldValue::String(String::new()));
        assert_eq!(row.slug_source, "");
        assert!(row
            .warnings
            .contains(&"property \"Featured\" is missing from the page; left empty".to_string()));
        assert_eq!(
            row.new_cases,
            vec![NewEnumCase {
                field_id: sanitize_id("K%3DqV"),
                case: EnumCase {
                    id: NONE_CASE_ID.into(),
                    name: "None".into()
                },
            }]
        );
    }

    #[test]
    fn files_first_item_external_or_hosted() {
        let mut page = page();
        set_property(
            &mut page,
            "Cover",
            json!({"id": "cV%7Br", "type": "files", "files": [
                {"name": "https://cdn.example.com/photo", "type": "external", "external": {"url": "https://cdn.example.com/photo.JPG?w=800"}}
            ]}),
        );
        let row = map_default(&page);
        assert_eq!(
            value_of(&row, "cV%7Br"),
            FieldValue::Image {
                url: Some("https://cdn.example.com/photo.JPG?w=800".into()),
                alt: None
            }
        );
    }

    #[test]
    fn date_ranges_keep_their_start_in_utc() {
        let mut page = page();
        set_property(
            &mut page,
            "Published on",
            json!({"id": "a%3Bxz", "type": "date", "date": {
                "start": "2024-12-05T10:30:00.000+02:00", "end": "2024-12-07T10:30:00.000+02:00", "time_zone": null
            }}),
        );
        assert_eq!(
            value_of(&map_default(&page), "a%3Bxz"),
            FieldValue::Date(Some("2024-12-05T08:30:00.000Z".into()))
        );
    }

    #[test]
    fn unknown_options_become_new_cases_once_learned() {
        let mut page = page();
        set_property(
            &mut page,
            "Category",
            json!({"id": "K%3DqV", "type": "select", "select": {"id": "new-opt", "name": "Opinion", "color": "red"}}),
        );
        let mut mapping = mapping();
        let schema = schema();
        let row = map_page(&page, &mapping, &schema, &RowOptions::default()).unwrap();
        assert_eq!(
            value_of(&row, "K%3DqV"),
            FieldValue::Enum("new_2dopt".into())
        );
        let expected_case = EnumCase {
            id: "new_2dopt".into(),
            name: "Opinion".into(),
        };
        assert_eq!(
            row.new_cases,
            vec![NewEnumCase {
                field_id: "K_253DqV".into(),
                case: expected_case.clone()
            }]
        );
        assert_eq!(
            mapping.learn_cases([row.clone(), row].iter().flat_map(|r| &r.new_cases)),
            1
        );
        let defs = field_defs(&mapping, &schema);
        let category = defs.iter().find(|d| d.id == "K_253DqV").unwrap();
        assert_eq!(category.cases.len(), 3);
        assert_eq!(category.cases[2], expected_case);
        let again = map_page(&page, &mapping, &schema, &RowOptions::default()).unwrap();
        assert!(again.new_cases.is_empty());
    }

    #[test]
    fn slug_source_from_chosen_property() {
        let opts = RowOptions {
            slug_property: Some("iD%3F%3F".into()),
            publish_filter: None,
        };
        let row = map_page(&page(), &mapping(), &schema(), &opts).unwrap();
        assert_eq!(row.slug_source, "POST-12");
    }

    #[test]
    fn publish_filters() {
        let checkbox = RowOptions {
            slug_property: None,
            publish_filter: Some(PublishFilter {
                property_id: "Wq%7Bn".into(),
                kind: PublishKind::Checkbox,
            }),
        };
        assert!(
            map_page(&page(), &mapping(), &schema(), &checkbox)
                .unwrap()
                .publish
        );
        let mut unticked = page();
        set_property(
            &mut unticked,
            "Featured",
            json!({"id": "Wq%7Bn", "type": "checkbox", "checkbox": false}),
        );
        let row = map_page(&unticked, &mapping(), &schema(), &checkbox).unwrap();
        assert!(!row.publish);
        assert!(row.to_item("s".into()).draft);

        let status = |names: &[&str]| RowOptions {
            slug_property: None,
            publish_filter: Some(PublishFilter {
                property_id: "S%60nF".into(),
                kind: PublishKind::StatusIn(names.iter().map(|n| (*n).to_string()).collect()),
            }),
        };
        assert!(
            map_page(&page(), &mapping(), &schema(), &status(&["Live", "Done"]))
                .unwrap()
                .publish
        );
        assert!(
            map_page(&page(), &mapping(), &schema(), &status(&["c7d8e9f0"]))
                .unwrap()
                .publish
        );
        assert!(
            !map_page(&page(), &mapping(), &schema(), &status(&["Done"]))
                .unwrap()
                .publish
        );

        let mut missing = page();
        missing["properties"]
            .as_object_mut()
            .unwrap()
            .remove("Status");
        let row = map_page(&missing, &mapping(), &schema(), &status(&["Live"])).unwrap();
        assert!(!row.publish);
        assert!(row
            .warnings
            .iter()
            .any(|w| w.starts_with("publish property S%60nF is missing")));
    }

    #[test]
    fn rejects_what_is_not_a_page() {
        let opts = RowOptions::default();
        assert_eq!(
            map_page(&json!("page"), &mapping(), &schema(), &opts),
            Err(RowError::NotAPage)
        );
        assert_eq!(
            map_page(
                &json!({"object": "data_source", "id": PAGE_ID}),
                &mapping(),
                &schema(),
                &opts
            ),
            Err(RowError::NotAPage)
        );
        assert_eq!(
            map_page(
                &json!({"object": "page", "id": "nope"}),
                &mapping(),
                &schema(),
                &opts
            ),
            Err(RowError::BadPageId("nope".into()))
        );
        let undashed = map_page(
            &json!({"object": "page", "id": "153104CD477E809D8DC4FF2D96AE3090"}),
            &mapping(),
            &schema(),
            &opts,
        )
        .unwrap();
        assert_eq!(undashed.page_id, PAGE_ID);
        assert_eq!(undashed.field_data.len(), 23);
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|n| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)),
            "[a-z_:+\\-.T0-9]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics_on_odd_property_values(values in proptest::collection::vec(arbitrary_json(), 25)) {
            let mut page = page();
            let names: Vec<String> = page["properties"].as_object().unwrap().keys().cloned().collect();
            for (name, junk) in names.iter().zip(values) {
                let id = page["properties"][name]["id"].clone();
                let notion_type = page["properties"][name]["type"].clone();
                let kind = notion_type.as_str().unwrap_or("").to_string();
                page["properties"][name] = json!({"id": id, "type": notion_type, kind: junk});
            }
            let row = map_page(&page, &mapping(), &schema(), &RowOptions::default()).unwrap();
            prop_assert_eq!(row.field_data.len(), 23);
        }

        #[test]
        fn never_panics_on_any_page(junk in arbitrary_json()) {
            // Junk ids are at most 12 characters: never a UUID, so never a row.
            prop_assert!(matches!(
                map_page(&junk, &mapping(), &schema(), &RowOptions::default()),
                Err(RowError::NotAPage | RowError::BadPageId(_))
            ));
            let mut page = json!({"object": "page", "id": PAGE_ID});
            page["properties"] = junk;
            prop_assert!(map_page(&page, &mapping(), &schema(), &RowOptions::default()).is_ok());
        }

    }
}
