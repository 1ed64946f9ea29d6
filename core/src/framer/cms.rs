//! Framer's managed-collection model: field definitions, field values and items, with the exact
//! JSON shapes the official `framer-api` client sends (`setManagedCollectionFields`,
//! `addManagedCollectionItems2`) and receives (`getManagedCollectionFields3`).
//!
//! The wire values here are plain JSON; turning them into devalue frames is `devalue`'s job.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The kinds of CMS field a managed collection can have (the ones this sync writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FieldType {
    /// Plain text.
    String,
    /// Rich text, sent as HTML.
    FormattedText,
    /// An image, sent as a URL that Framer downloads.
    Image,
    /// A file, sent as a URL that Framer downloads.
    File,
    /// A JavaScript number.
    Number,
    /// True or false.
    Boolean,
    /// An ISO 8601 date-time.
    Date,
    /// One of a fixed list of cases, sent as the case id.
    Enum,
    /// A CSS color string.
    Color,
    /// A URL.
    Link,
    /// One item of another collection, sent as that item's id.
    CollectionReference,
    /// Several items of another collection, sent as their ids.
    MultiCollectionReference,
}

impl FieldType {
    /// Every field type, in declaration order.
    pub const ALL: [FieldType; 12] = [
        FieldType::String,
        FieldType::FormattedText,
        FieldType::Image,
        FieldType::File,
        FieldType::Number,
        FieldType::Boolean,
        FieldType::Date,
        FieldType::Enum,
        FieldType::Color,
        FieldType::Link,
        FieldType::CollectionReference,
        FieldType::MultiCollectionReference,
    ];

    /// The `type` string Framer uses for this field type.
    pub fn wire_name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::FormattedText => "formattedText",
            FieldType::Image => "image",
            FieldType::File => "file",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::Enum => "enum",
            FieldType::Color => "color",
            FieldType::Link => "link",
            FieldType::CollectionReference => "collectionReference",
            FieldType::MultiCollectionReference => "multiCollectionReference",
        }
    }

    /// The field type with this wire name; `None` for types this sync does not model
    /// (`array`, `divider`, `unsupported`, anything newer).
    pub fn from_wire_name(name: &str) -> Option<FieldType> {
        FieldType::ALL
            .into_iter()
            .find(|kind| kind.wire_name() == name)
    }

    /// Whether a field of this type must name the collection it points into.
    pub fn is_reference(self) -> bool {
        matches!(
            self,
            FieldType::CollectionReference | FieldType::MultiCollectionReference
        )
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// Why a Framer reply could not be read as field definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmsError {
    /// Expected a JSON object (or array) at this place.
    NotAnObject(&'static str),
    /// A required key is missing or has the wrong JSON type.
    MissingKey(&'static str),
    /// A reference field without the collection it points into.
    MissingCollectionId(String),
}

impl fmt::Display for CmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmsError::NotAnObject(what) => write!(f, "Framer field data: expected {what}"),
            CmsError::MissingKey(key) => write!(f, "Framer field data: missing or invalid `{key}`"),
            CmsError::MissingCollectionId(field) => {
                write!(f, "Framer reference field `{field}` has no collectionId")
            }
        }
    }
}

impl std::error::Error for CmsError {}

/// One case of an enum field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumCase {
    /// Stable id; field values refer to the case by this id.
    pub id: String,
    /// Name shown in Framer.
    pub name: String,
}

/// Allow-all value for a file field's `allowedFileTypes` (documented by the Framer client).
pub const ANY_FILE_TYPE: &str = "*";

/// A field of a managed collection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldDef {
    /// Stable id chosen by the integration; item field data is keyed by it.
    pub id: String,
    /// Name shown in Framer.
    pub name: String,
    /// The field type.
    pub kind: FieldType,
    /// Enum cases, in display order (enum fields only).
    pub cases: Vec<EnumCase>,
    /// The collection a reference field points into (reference fields only).
    pub collection_id: Option<String>,
    /// Accepted file types (file fields only); empty means [`ANY_FILE_TYPE`] on the wire.
    pub allowed_file_types: Vec<String>,
}

impl FieldDef {
    /// A field of a type that needs no extra attributes.
    pub fn new(id: impl Into<String>, name: impl Into<String>, kind: FieldType) -> FieldDef {
        FieldDef {
            id: id.into(),
            name: name.into(),
            kind,
            cases: Vec::new(),
            collection_id: None,
            allowed_file_types: Vec::new(),
        }
    }

    /// This field as one element of `setManagedCollectionFields`' second argument.
    ///
    /// The official client also sends `nameByLocale: undefined` on enum cases; JSON has no
    /// `undefined`, and leaving the key out is what the server sees after decoding either way.
    pub fn to_wire(&self) -> Value {
        let mut wire = Map::new();
        wire.insert("id".into(), json!(self.id));
        wire.insert("name".into(), json!(self.name));
        wire.insert("type".into(), json!(self.kind.wire_name()));
        match self.kind {
            FieldType::Enum => {
                let cases = self
                    .cases
                    .iter()
                    .map(|c| json!({"id": c.id, "name": c.name}));
                wire.insert("cases".into(), Value::Array(cases.collect()));
            }
            FieldType::File => {
                wire.insert("allowedFileTypes".into(), json!(self.wire_file_types()));
            }
            kind if kind.is_reference() => {
                if let Some(collection_id) = &self.collection_id {
                    wire.insert("collectionId".into(), json!(collection_id));
                }
            }
            _ => {}
        }
        Value::Object(wire)
    }

    fn wire_file_types(&self) -> Vec<String> {
        if self.allowed_file_types.is_empty() {
            vec![ANY_FILE_TYPE.to_string()]
        } else {
            self.allowed_file_types.clone()
        }
    }

    /// Reads one element of a `getManagedCollectionFields3` result.
    ///
    /// Returns `Ok(None)` for field types this sync does not model (`array`, `divider`,
    /// `unsupported`, ...), so that a newer Framer cannot break reading the rest.
    pub fn from_wire(wire: &Value) -> Result<Option<FieldDef>, CmsError> {
        let object = wire
            .as_object()
            .ok_or(CmsError::NotAnObject("a field object"))?;
        let text = |key: &'static str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or(CmsError::MissingKey(key))
        };
        let type_name = text("type")?;
        let Some(kind) = FieldType::from_wire_name(&type_name) else {
            return Ok(None);
        };
        let mut def = FieldDef::new(text("id")?, text("name")?, kind);
        def.cases = match object.get("cases") {
            Some(cases) => read_cases(cases)?,
            None => Vec::new(),
        };
        def.collection_id = object
            .get("collectionId")
            .and_then(Value::as_str)
            .map(str::to_string);
        if kind.is_reference() && def.collection_id.is_none() {
            return Err(CmsError::MissingCollectionId(def.id));
        }
        def.allowed_file_types = read_strings(object.get("allowedFileTypes"));
        Ok(Some(def))
    }
}

fn read_cases(cases: &Value) -> Result<Vec<EnumCase>, CmsError> {
    let list = cases.as_array().ok_or(CmsError::MissingKey("cases"))?;
    list.iter()
        .map(|case| {
            let id = case
                .get("id")
                .and_then(Value::as_str)
                .ok_or(CmsError::MissingKey("cases[].id"))?;
            let name = case.get("name").and_then(Value::as_str).unwrap_or(id);
            Ok(EnumCase {
                id: id.to_string(),
                name: name.to_string(),
            })
        })
        .collect()
}

fn read_strings(value: Option<&Value>) -> Vec<String> {
    let items = value
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    items
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Reads a whole `getManagedCollectionFields3` result, skipping fields of unmodelled types.
pub fn fields_from_wire(wire: &Value) -> Result<Vec<FieldDef>, CmsError> {
    let list = wire
        .as_array()
        .ok_or(CmsError::NotAnObject("an array of fields"))?;
    let mut fields = Vec::with_capacity(list.len());
    for field in list {
        if let Some(def) = FieldDef::from_wire(field)? {
            fields.push(def);
        }
    }
    Ok(fields)
}

/// The value of one field of one item.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum FieldValue {
    /// Plain text.
    String(String),
    /// HTML (sent with `contentType: "html"`).
    FormattedText(String),
    /// Image URL (`None` clears the field) and alt text.
    Image {
        /// Where Framer downloads the image from.
        url: Option<String>,
        /// Alternative text; left out of the wire value when `None` or empty.
        alt: Option<String>,
    },
    /// File URL (`None` clears the field).
    File {
        /// Where Framer downloads the file from.
        url: Option<String>,
    },
    /// A number; non-finite values are sent as 0 because JSON cannot carry them.
    Number(f64),
    /// True or false.
    Boolean(bool),
    /// ISO 8601 date-time (`None` clears the field).
    Date(Option<String>),
    /// The id of one of the field's cases.
    Enum(String),
    /// CSS color (`None` clears the field).
    Color(Option<String>),
    /// URL (`None` clears the field).
    Link(Option<String>),
    /// Id of an item in the referenced collection (`None` clears the field).
    CollectionReference(Option<String>),
    /// Ids of items in the referenced collection.
    MultiCollectionReference(Vec<String>),
}

impl FieldValue {
    /// The field type this value belongs to.
    pub fn kind(&self) -> FieldType {
        match self {
            FieldValue::String(_) => FieldType::String,
            FieldValue::FormattedText(_) => FieldType::FormattedText,
            FieldValue::Image { .. } => FieldType::Image,
            FieldValue::File { .. } => FieldType::File,
            FieldValue::Number(_) => FieldType::Number,
            FieldValue::Boolean(_) => FieldType::Boolean,
            FieldValue::Date(_) => FieldType::Date,
            FieldValue::Enum(_) => FieldType::Enum,
            FieldValue::Color(_) => FieldType::Color,
            FieldValue::Link(_) => FieldType::Link,
            FieldValue::CollectionReference(_) => FieldType::CollectionReference,
            FieldValue::MultiCollectionReference(_) => FieldType::MultiCollectionReference,
        }
    }

    /// This value as a `fieldData` entry: `{type, value}` plus `contentType` for formatted text
    /// and `alt` for images, exactly as the official client sends it.
    pub fn to_wire(&self) -> Value {
        let mut wire = Map::new();
        wire.insert("type".into(), json!(self.kind().wire_name()));
        wire.insert("value".into(), self.wire_value());
        match self {
            FieldValue::FormattedText(_) => {
                wire.insert("contentType".into(), json!("html"));
            }
            FieldValue::Image { alt: Some(alt), .. } if !alt.is_empty() => {
                wire.insert("alt".into(), json!(alt));
            }
            _ => {}
        }
        Value::Object(wire)
    }

    fn wire_value(&self) -> Value {
        match self {
            FieldValue::String(text) | FieldValue::FormattedText(text) | FieldValue::Enum(text) => {
                json!(text)
            }
            FieldValue::Image { url, .. } | FieldValue::File { url } => json!(url),
            FieldValue::Date(text)
            | FieldValue::Color(text)
            | FieldValue::Link(text)
            | FieldValue::CollectionReference(text) => json!(text),
            FieldValue::Number(number) => number_to_json(*number),
            FieldValue::Boolean(flag) => json!(flag),
            FieldValue::MultiCollectionReference(ids) => json!(ids),
        }
    }
}

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Whole numbers become JSON integers, so the encoded frame reads `12` like the official client's
/// rather than `12.0`.
fn number_to_json(number: f64) -> Value {
    if !number.is_finite() {
        return json!(0);
    }
    if number.fract() == 0.0 && number.abs() <= MAX_SAFE_INTEGER {
        // Exact: the value is integral and within i64 range.
        #[allow(clippy::cast_possible_truncation)]
        return json!(number as i64);
    }
    json!(number)
}

/// One item of a managed collection.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Item {
    /// The integration's id for the item (the Notion page id).
    pub id: String,
    /// Unique slug within the collection.
    pub slug: String,
    /// Drafts are excluded from publishing.
    pub draft: bool,
    /// Values keyed by field id; always every field, since Framer may replace whole items.
    pub field_data: BTreeMap<String, FieldValue>,
}

impl Item {
    /// This item as one element of `addManagedCollectionItems2`' second argument.
    ///
    /// `draft` is always sent so that an item published earlier can become a draft and back.
    pub fn to_wire(&self) -> Value {
        let field_data: Map<String, Value> = self
            .field_data
            .iter()
            .map(|(id, value)| (id.clone(), value.to_wire()))
            .collect();
        json!({
            "id": self.id,
            "slug": self.slug,
            "draft": self.draft,
            "fieldData": Value::Object(field_data),
        })
    }
}

/// Hex SHA-256 of an item's content, for skipping items that did not change since last sync.
///
/// Asset URLs go through [`stable_asset_url`] first: Notion re-signs its file URLs on every
/// read, and hashing the signature would make every item with an image look changed.
pub fn content_hash(item: &Item) -> String {
    let mut encoder = CanonicalEncoder::default();
    encoder.bytes(b"framer-item-v1");
    encoder.text(&item.id);
    encoder.text(&item.slug);
    encoder.flag(item.draft);
    encoder.length(item.field_data.len());
    for (field_id, value) in &item.field_data {
        encoder.text(field_id);
        encoder.value(value);
    }
    hex::encode(encoder.hasher.finalize())
}

/// Feeds an unambiguous byte encoding into SHA-256: every variable-length part is length-prefixed
/// and every value is tagged with its type, so different items cannot encode the same.
#[derive(Default)]
struct CanonicalEncoder {
    hasher: Sha256,
}

impl CanonicalEncoder {
    fn bytes(&mut self, bytes: &[u8]) {
        self.length(bytes.len());
        self.hasher.update(bytes);
    }

    fn length(&mut self, length: usize) {
        self.hasher.update((length as u64).to_le_bytes());
    }

    fn text(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    fn flag(&mut self, flag: bool) {
        self.hasher.update([u8::from(flag)]);
    }

    fn optional(&mut self, text: Option<&str>) {
        self.flag(text.is_some());
        if let Some(text) = text {
            self.text(text);
        }
    }

    fn asset(&mut self, url: Option<&String>) {
        let stable = url.map(|url| stable_asset_url(url));
        self.optional(stable.as_deref());
    }

    fn value(&mut self, value: &FieldValue) {
        self.text(value.kind().wire_name());
        match value {
            FieldValue::String(text) | FieldValue::FormattedText(text) | FieldValue::Enum(text) => {
                self.text(text);
            }
            FieldValue::Image { url, alt } => {
                self.asset(url.as_ref());
                self.optional(alt.as_deref().filter(|alt| !alt.is_empty()));
            }
            FieldValue::File { url } => self.asset(url.as_ref()),
            FieldValue::Number(number) => self
                .hasher
                .update(canonical_number_bits(*number).to_le_bytes()),
            FieldValue::Boolean(flag) => self.flag(*flag),
            FieldValue::Date(text)
            | FieldValue::Color(text)
            | FieldValue::Link(text)
            | FieldValue::CollectionReference(text) => self.optional(text.as_deref()),
            FieldValue::MultiCollectionReference(ids) => {
                self.length(ids.len());
                for id in ids {
                    self.text(id);
                }
            }
        }
    }
}

/// Bits of the number as it goes on the wire: -0 and non-finite values collapse as they do there.
fn canonical_number_bits(number: f64) -> u64 {
    if !number.is_finite() || number == 0.0 {
        0.0f64.to_bits()
    } else {
        number.to_bits()
    }
}

/// Query parameters that only carry a URL signature, which changes on every read.
const NOTION_SIGNING_PARAMS: [&str; 2] = ["expirationtimestamp", "signature"];

/// An asset URL without its signing parameters: the same stored file gives the same string.
///
/// Removes every `X-Amz-*` parameter (AWS pre-signed URLs: Notion's `prod-files-secure` S3
/// links) and, on Notion's own hosts, `expirationTimestamp` and `signature`. Everything else
/// (scheme, host, path, other parameters, fragment) is kept, so a different file or an edited
/// external URL still gives a different string.
pub fn stable_asset_url(url: &str) -> String {
    let (without_fragment, fragment) = match url.split_once('#') {
        Some((head, fragment)) => (head, Some(fragment)),
        None => (url, None),
    };
    let Some((base, query)) = without_fragment.split_once('?') else {
        return url.to_string();
    };
    let notion_host = is_notion_host(base);
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !is_signing_param(pair, notion_host))
        .collect();
    let mut stable = base.to_string();
    if !kept.is_empty() {
        stable.push('?');
        stable.push_str(&kept.join("&"));
    }
    if let Some(fragment) = fragment {
        stable.push('#');
        stable.push_str(fragment);
    }
    stable
}

fn is_signing_param(pair: &str, notion_host: bool) -> bool {
    let key = pair
        .split('=')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    key.starts_with("x-amz-") || (notion_host && NOTION_SIGNING_PARAMS.contains(&key.as_str()))
}

fn is_notion_host(base: &str) -> bool {
    let after_scheme = base.split_once("://").map_or(base, |(_, rest)| rest);
    let host = after_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    [
        "notion.so",
        "notion.site",
        "notion-static.com",
        "notionusercontent.com",
    ]
    .iter()
    .any(|domain| host == *domain || host.ends_with(&format!(".{domain}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRANSCRIPT: &str = include_str!("../../../vectors/framer-transcript.json");

    /// Minimal devalue reader for the transcript's frames: objects, arrays, primitives and
    /// `undefined` (-1), which JSON cannot hold and is dropped like `JSON.stringify` does.
    fn devalue_parse(text: &str) -> Value {
        let slots: Vec<Value> = serde_json::from_str(text).unwrap();
        hydrate(&slots, 0).unwrap_or(Value::Null)
    }

    fn hydrate(slots: &[Value], index: i64) -> Option<Value> {
        if index < 0 {
            assert_eq!(index, -1, "only undefined is expected in these frames");
            return None;
        }
        let slot = &slots[usize::try_from(index).unwrap()];
        Some(match slot {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| hydrate(slots, i.as_i64().unwrap()).unwrap_or(Value::Null))
                    .collect(),
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .filter_map(|(k, i)| {
                        hydrate(slots, i.as_i64().unwrap()).map(|v| (k.clone(), v))
                    })
                    .collect(),
            ),
            other => other.clone(),
        })
    }

    /// Every frame of the official client's transcript, decoded, in order.
    fn transcript_messages() -> Vec<Value> {
        let transcript: Value = serde_json::from_str(TRANSCRIPT).unwrap();
        transcript["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|frame| devalue_parse(frame["raw"].as_str().unwrap()))
            .collect()
    }

    fn transcript_message(method: &str) -> Value {
        transcript_messages()
            .into_iter()
            .find(|message| message["methodName"] == method)
            .unwrap()
    }

    fn transcript_reply(call_id: i64) -> Value {
        transcript_messages()
            .into_iter()
            .find(|message| message["type"] == "methodResponse" && message["id"] == call_id)
            .unwrap()
    }

    fn enum_case(id: &str, name: &str) -> EnumCase {
        EnumCase {
            id: id.to_string(),
            name: name.to_string(),
        }
    }

    fn transcript_fields() -> Vec<FieldDef> {
        let mut status = FieldDef::new("status", "Status", FieldType::Enum);
        status.cases = vec![enum_case("draft", "Draft"), enum_case("live", "Live")];
        vec![
            FieldDef::new("title", "Title", FieldType::String),
            FieldDef::new("body", "Body", FieldType::FormattedText),
            FieldDef::new("date", "Date", FieldType::Date),
            FieldDef::new("featured", "Featured", FieldType::Boolean),
            FieldDef::new("views", "Views", FieldType::Number),
            status,
            FieldDef::new("cover", "Cover", FieldType::Image),
            FieldDef::new("site", "Website", FieldType::Link),
        ]
    }

    fn transcript_item() -> Item {
        let mut field_data = BTreeMap::new();
        field_data.insert(
            "title".to_string(),
            FieldValue::String("Hello world".into()),
        );
        field_data.insert(
            "body".to_string(),
            FieldValue::FormattedText("<p>Hi <strong>there</strong></p>".into()),
        );
        field_data.insert(
            "date".to_string(),
            FieldValue::Date(Some("2024-12-05T00:00:00.000Z".into())),
        );
        field_data.insert("featured".to_string(), FieldValue::Boolean(true));
        field_data.insert("views".to_string(), FieldValue::Number(12.0));
        field_data.insert("status".to_string(), FieldValue::Enum("live".into()));
        field_data.insert(
            "cover".to_string(),
            FieldValue::Image {
                url: Some("https://example.com/cover.png".into()),
                alt: Some("Cover".into()),
            },
        );
        field_data.insert(
            "site".to_string(),
            FieldValue::Link(Some("https://example.com".into())),
        );
        Item {
            id: "153104cd-477e-809d-8dc4-ff2d96ae3090".into(),
            slug: "hello-world".into(),
            draft: false,
            field_data,
        }
    }

    #[test]
    fn field_type_wire_names_round_trip() {
        for kind in FieldType::ALL {
            assert_eq!(FieldType::from_wire_name(kind.wire_name()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.wire_name()));
        }
        assert_eq!(
            FieldType::MultiCollectionReference.wire_name(),
            "multiCollectionReference"
        );
        assert_eq!(FieldType::from_wire_name("array"), None);
        assert_eq!(FieldType::from_wire_name("divider"), None);
    }

    #[test]
    fn field_defs_match_the_official_client() {
        let message = transcript_message("setManagedCollectionFields");
        let wire: Vec<Value> = transcript_fields().iter().map(FieldDef::to_wire).collect();
        assert_eq!(message["args"][1], Value::Array(wire));
    }

    #[test]
    fn reads_get_fields_reply() {
        let reply = transcript_reply(2);
        let fields = fields_from_wire(&reply["result"]).unwrap();
        assert_eq!(fields, transcript_fields());
    }

    #[test]
    fn reference_and_file_defs() {
        let mut authors = FieldDef::new("rel", "Authors", FieldType::MultiCollectionReference);
        authors.collection_id = Some("xYz123".into());
        assert_eq!(
            authors.to_wire(),
            json!({"id": "rel", "name": "Authors", "type": "multiCollectionReference", "collectionId": "xYz123"})
        );
        let attachment = FieldDef::new("att", "Attachment", FieldType::File);
        assert_eq!(
            attachment.to_wire(),
            json!({"id": "att", "name": "Attachment", "type": "file", "allowedFileTypes": ["*"]})
        );
        let back = FieldDef::from_wire(&authors.to_wire()).unwrap().unwrap();
        assert_eq!(back, authors);
    }

    #[test]
    fn from_wire_rejects_broken_and_skips_unknown() {
        assert_eq!(
            FieldDef::from_wire(&json!("x")),
            Err(CmsError::NotAnObject("a field object"))
        );
        assert_eq!(
            FieldDef::from_wire(&json!({"type": "string", "name": "T"})),
            Err(CmsError::MissingKey("id"))
        );
        assert_eq!(
            FieldDef::from_wire(&json!({"id": "r", "name": "R", "type": "collectionReference"})),
            Err(CmsError::MissingCollectionId("r".into()))
        );
        assert_eq!(
            FieldDef::from_wire(&json!({"id": "d", "name": "D", "type": "divider"})),
            Ok(None)
        );
        let list = json!([{"id": "a", "name": "A", "type": "array", "fields": []}, {"id": "n", "name": "N", "type": "number"}]);
        assert_eq!(
            fields_from_wire(&list).unwrap(),
            vec![FieldDef::new("n", "N", FieldType::Number)]
        );
    }

    #[test]
    fn item_matches_the_official_client() {
        let message = transcript_message("addManagedCollectionItems2");
        let mut expected = message["args"][1][0].clone();
        // The transcript's item left `draft` unset; this sync always sends it.
        expected["draft"] = json!(false);
        assert_eq!(transcript_item().to_wire(), expected);
    }

    #[test]
    fn value_wire_shapes() {
        assert_eq!(
            FieldValue::Number(12.0).to_wire(),
            json!({"type": "number", "value": 12})
        );
        assert_eq!(
            FieldValue::Number(2.5).to_wire(),
            json!({"type": "number", "value": 2.5})
        );
        assert_eq!(
            FieldValue::Number(f64::NAN).to_wire(),
            json!({"type": "number", "value": 0})
        );
        assert_eq!(
            FieldValue::Image {
                url: None,
                alt: Some(String::new())
            }
            .to_wire(),
            json!({"type": "image", "value": null})
        );
        assert_eq!(
            FieldValue::File {
                url: Some("https://x/y.pdf".into())
            }
            .to_wire(),
            json!({"type": "file", "value": "https://x/y.pdf"})
        );
        assert_eq!(
            FieldValue::Date(None).to_wire(),
            json!({"type": "date", "value": null})
        );
        assert_eq!(
            FieldValue::Color(Some("#ff0000".into())).to_wire(),
            json!({"type": "color", "value": "#ff0000"})
        );
        assert_eq!(
            FieldValue::CollectionReference(Some("a".into())).to_wire(),
            json!({"type": "collectionReference", "value": "a"})
        );
        assert_eq!(
            FieldValue::MultiCollectionReference(vec!["a".into(), "b".into()]).to_wire(),
            json!({"type": "multiCollectionReference", "value": ["a", "b"]})
        );
    }

    const SIGNED_A: &str = "https://prod-files-secure.s3.us-west-2.amazonaws.com/4f1c/9a2e/cover.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=ASIAZI2LB466%2F20241205%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=20241205T100000Z&X-Amz-Expires=3600&X-Amz-Signature=1111aaaa&X-Amz-SignedHeaders=host&x-id=GetObject";
    const SIGNED_B: &str = "https://prod-files-secure.s3.us-west-2.amazonaws.com/4f1c/9a2e/cover.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=ASIAZI2LB466%2F20241205%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=20241205T110512Z&X-Amz-Expires=3600&X-Amz-Signature=2222bbbb&X-Amz-SignedHeaders=host&x-id=GetObject";

    fn with_cover(url: &str) -> Item {
        let mut item = transcript_item();
        item.field_data.insert(
            "cover".into(),
            FieldValue::Image {
                url: Some(url.into()),
                alt: Some("Cover".into()),
            },
        );
        item
    }

    #[test]
    fn stable_asset_url_drops_only_signatures() {
        let stable = "https://prod-files-secure.s3.us-west-2.amazonaws.com/4f1c/9a2e/cover.png?x-id=GetObject";
        assert_eq!(stable_asset_url(SIGNED_A), stable);
        assert_eq!(stable_asset_url(SIGNED_B), stable);
        assert_eq!(
            stable_asset_url("https://file.notion.so/f/f/4f1c/9a2e/a.png?table=block&id=9a2e&expirationTimestamp=1733&signature=abc&downloadName=a.png"),
            "https://file.notion.so/f/f/4f1c/9a2e/a.png?table=block&id=9a2e&downloadName=a.png"
        );
        assert_eq!(
            stable_asset_url("https://example.com/img.png?signature=keep#frag"),
            "https://example.com/img.png?signature=keep#frag"
        );
        assert_eq!(
            stable_asset_url("https://example.com/a.png"),
            "https://example.com/a.png"
        );
    }

    #[test]
    fn content_hash_is_sha256_hex() {
        let hash = content_hash(&transcript_item());
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(hash, content_hash(&transcript_item().clone()));
    }

    #[test]
    fn content_hash_ignores_resigned_notion_urls() {
        assert_eq!(
            content_hash(&with_cover(SIGNED_A)),
            content_hash(&with_cover(SIGNED_B))
        );
        let mut file_a = transcript_item();
        file_a.field_data.insert(
            "doc".into(),
            FieldValue::File {
                url: Some(SIGNED_A.into()),
            },
        );
        let mut file_b = transcript_item();
        file_b.field_data.insert(
            "doc".into(),
            FieldValue::File {
                url: Some(SIGNED_B.into()),
            },
        );
        assert_eq!(content_hash(&file_a), content_hash(&file_b));
    }

    #[test]
    fn content_hash_sees_real_changes() {
        let base = content_hash(&with_cover(SIGNED_A));
        let other_file = SIGNED_A.replace("9a2e/cover.png", "77b1/cover.png");
        assert_ne!(content_hash(&with_cover(&other_file)), base);
        assert_ne!(
            content_hash(&with_cover("https://example.com/cover.png")),
            content_hash(&with_cover("https://example.com/cover2.png"))
        );
        assert_ne!(
            content_hash(&with_cover("https://example.com/cover.png?v=1")),
            content_hash(&with_cover("https://example.com/cover.png?v=2"))
        );

        let original = content_hash(&transcript_item());
        let mut changed = transcript_item();
        changed
            .field_data
            .insert("views".into(), FieldValue::Number(13.0));
        assert_ne!(content_hash(&changed), original);
        let mut drafted = transcript_item();
        drafted.draft = true;
        assert_ne!(content_hash(&drafted), original);
        let mut reslugged = transcript_item();
        reslugged.slug = "hello-world-2".into();
        assert_ne!(content_hash(&reslugged), original);
        let mut retyped = transcript_item();
        retyped.field_data.insert(
            "title".into(),
            FieldValue::FormattedText("Hello world".into()),
        );
        assert_ne!(content_hash(&retyped), original);
        let mut new_alt = transcript_item();
        new_alt.field_data.insert(
            "cover".into(),
            FieldValue::Image {
                url: Some("https://example.com/cover.png".into()),
                alt: Some("Other".into()),
            },
        );
        assert_ne!(content_hash(&new_alt), original);
    }

    #[test]
    fn content_hash_separates_field_boundaries() {
        let mut a = transcript_item();
        a.field_data = BTreeMap::from([("ab".to_string(), FieldValue::String("c".into()))]);
        let mut b = transcript_item();
        b.field_data = BTreeMap::from([("a".to_string(), FieldValue::String("bc".into()))]);
        assert_ne!(content_hash(&a), content_hash(&b));
    }
}
