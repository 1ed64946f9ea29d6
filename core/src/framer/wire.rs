//! Message layer of Framer's Server API, as the official `framer-api` 5.0.0 client speaks it.
//!
//! The API is one WebSocket per project. Every frame is a devalue text (see [`crate::framer::devalue`]),
//! except chunk envelopes: plain JSON `{"$chunk":1,"id":..,"seq":n,"data":".."}` that the
//! server uses to split a large frame; the pieces of one id are joined when `seq` is -1.
//!
//! A connection goes: server `ready` -> client `pluginReadySignal` -> server
//! `pluginReadyResponse`; then `methodInvocation`s (ids count up from 0) answered by
//! `methodResponse`s, a `ping` every 20 s, and on close `client-disconnect` answered by
//! `disconnect-ack` when `ready` announced `gracefulDisconnect`. An `error` frame after the
//! handshake fails every pending call but leaves the socket open.
//!
//! Uploads (`uploadImage`, `uploadImages`, `uploadFile`, `uploadFiles`) hand Framer a URL that
//! its server downloads itself; the reply is the asset Framer now hosts ([`Asset`]), whose URL
//! is what an image or file field (or an `<img src>` in formatted text) can point at.
//!
//! Pure logic: the socket itself lives in the edge layer.

use std::collections::HashMap;
use std::fmt;

use crate::framer::devalue::json::{self, Json};
use crate::framer::devalue::{self, DevalueError, Value};

/// Version the official client reports as `sdkVersion`; the server may gate features on it.
pub const SDK_VERSION: &str = "5.0.0";
/// The official client's default `clientId` query parameter.
pub const CLIENT_ID: &str = "framer-api/5.0.0";
/// The official client pings this often and expects no reply.
pub const PING_INTERVAL_MS: u64 = 20_000;
/// How long the official client waits for `pluginReadyResponse` (the server boots an instance).
pub const HANDSHAKE_TIMEOUT_MS: u64 = 90_000;
/// How long the official client waits for `disconnect-ack` before closing anyway.
pub const DISCONNECT_ACK_TIMEOUT_MS: u64 = 15_000;
/// Code the official client gives pending calls when the socket closes (retryable).
pub const PROJECT_CLOSED: &str = "PROJECT_CLOSED";
/// Default cap on chunk data buffered by a [`Decoder`], in bytes of escaped JSON text.
pub const DEFAULT_MAX_CHUNKED_BYTES: usize = 32 * 1024 * 1024;

/// The text every chunk envelope starts with; a devalue text never does.
const CHUNK_PREFIX: &str = "{\"$chunk\":";

/// A Server API method call. Arguments are in the order the official client passes them.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    GetManagedCollections,
    CreateManagedCollection {
        name: String,
    },
    GetFields {
        collection_id: String,
    },
    /// `fields` is the array given to `ManagedCollection.setFields`.
    SetFields {
        collection_id: String,
        fields: serde_json::Value,
    },
    /// Each item is `{id, slug, draft?, fieldData}`; existing ids are updated.
    AddItems {
        collection_id: String,
        items: Vec<serde_json::Value>,
    },
    RemoveItems {
        collection_id: String,
        ids: Vec<String>,
    },
    GetItemIds {
        collection_id: String,
    },
    GetPluginData {
        collection_id: String,
        key: String,
    },
    /// `None` removes the key (the client sends null).
    SetPluginData {
        collection_id: String,
        key: String,
        value: Option<String>,
    },
    Publish,
    /// Promotes a deployment from `Publish` to production (all domains).
    Deploy {
        deployment_id: String,
    },
    /// Framer downloads one image and hosts it; answers an `ImageAsset`.
    UploadImage(ImageUpload),
    /// Several images in one call; answers one `ImageAsset` per image, in order.
    UploadImages(Vec<ImageUpload>),
    /// Framer downloads one file and hosts it; answers a `FileAsset`.
    UploadFile(FileUpload),
    /// Several files in one call; answers one `FileAsset` per file, in order.
    UploadFiles(Vec<FileUpload>),
}

/// How Framer serves an uploaded image (`resolution`); Framer's default is `Auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Auto,
    Lossless,
    Small,
    Medium,
    Large,
    Full,
}

impl Resolution {
    pub const ALL: [Resolution; 6] = [
        Self::Auto,
        Self::Lossless,
        Self::Small,
        Self::Medium,
        Self::Large,
        Self::Full,
    ];

    /// The name on the wire (`"auto"`, `"full"`, ...).
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Lossless => "lossless",
            Self::Small => "small",
            Self::Medium => "medium",
            Self::Large => "large",
            Self::Full => "full",
        }
    }

    /// The resolution a wire name stands for.
    pub fn from_wire(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.wire_name() == name)
    }
}

/// How Framer scales an uploaded image (`preferredImageRendering`); Framer's default is `Auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRendering {
    Auto,
    Pixelated,
}

impl ImageRendering {
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Pixelated => "pixelated",
        }
    }
}

/// One image to upload: Framer's server downloads `url` (it must answer while the call runs,
/// so a signed URL is uploaded right after it was read). `None` options are left to Framer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUpload {
    pub url: String,
    /// The asset's name in Framer.
    pub name: Option<String>,
    pub alt_text: Option<String>,
    pub resolution: Option<Resolution>,
    pub rendering: Option<ImageRendering>,
}

impl ImageUpload {
    /// An image with every option left to Framer.
    pub fn from_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            name: None,
            alt_text: None,
            resolution: None,
            rendering: None,
        }
    }
}

/// One file to upload: Framer's server downloads `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUpload {
    pub url: String,
    /// The asset's name in Framer.
    pub name: Option<String>,
}

impl FileUpload {
    pub fn from_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            name: None,
        }
    }
}

/// What `createImageTransferFromInput` builds for `{image: url, name, altText, resolution,
/// preferredImageRendering}`: the options first (an unset one is an explicit undefined, -1 on
/// the wire), then `{type: "url", url}`.
fn image_transfer(image: &ImageUpload) -> Value {
    Value::Object(vec![
        ("name".to_owned(), optional_text(image.name.as_deref())),
        (
            "altText".to_owned(),
            optional_text(image.alt_text.as_deref()),
        ),
        (
            "resolution".to_owned(),
            optional_text(image.resolution.map(Resolution::wire_name)),
        ),
        (
            "preferredImageRendering".to_owned(),
            optional_text(image.rendering.map(ImageRendering::wire_name)),
        ),
        ("type".to_owned(), Value::from("url")),
        ("url".to_owned(), Value::from(image.url.as_str())),
    ])
}

/// What `createFileTransferFromInput` builds for `{file: url, name}`.
fn file_transfer(file: &FileUpload) -> Value {
    Value::Object(vec![
        ("name".to_owned(), optional_text(file.name.as_deref())),
        ("type".to_owned(), Value::from("url")),
        ("url".to_owned(), Value::from(file.url.as_str())),
    ])
}

fn optional_text(text: Option<&str>) -> Value {
    text.map_or(Value::Undefined, Value::from)
}

impl Call {
    /// The internal method name the official client invokes for this call.
    pub fn method_name(&self) -> &'static str {
        match self {
            Self::GetManagedCollections => "getManagedCollections",
            Self::CreateManagedCollection { .. } => "createManagedCollection",
            Self::GetFields { .. } => "getManagedCollectionFields3",
            Self::SetFields { .. } => "setManagedCollectionFields",
            Self::AddItems { .. } => "addManagedCollectionItems2",
            Self::RemoveItems { .. } => "removeManagedCollectionItems",
            Self::GetItemIds { .. } => "getManagedCollectionItemIds",
            Self::GetPluginData { .. } => "getPluginDataForNode",
            Self::SetPluginData { .. } => "setPluginDataForNode",
            Self::Publish => "publish",
            Self::Deploy { .. } => "deploy",
            Self::UploadImage(_) => "uploadImage",
            Self::UploadImages(_) => "uploadImages",
            Self::UploadFile(_) => "uploadFile",
            Self::UploadFiles(_) => "uploadFiles",
        }
    }

    /// The `args` array exactly as the official client builds it.
    fn args(&self) -> Vec<Value> {
        let text = |s: &str| Value::from(s);
        match self {
            Self::GetManagedCollections | Self::Publish => vec![],
            Self::CreateManagedCollection { name } => vec![text(name)],
            Self::GetFields { collection_id } | Self::GetItemIds { collection_id } => {
                vec![text(collection_id)]
            }
            Self::SetFields {
                collection_id,
                fields,
            } => vec![text(collection_id), sanitize_fields(fields)],
            Self::AddItems {
                collection_id,
                items,
            } => vec![
                text(collection_id),
                Value::Array(items.iter().cloned().map(Value::from).collect()),
            ],
            Self::RemoveItems { collection_id, ids } => vec![
                text(collection_id),
                Value::Array(ids.iter().map(|id| text(id)).collect()),
            ],
            Self::GetPluginData { collection_id, key } => vec![text(collection_id), text(key)],
            Self::SetPluginData {
                collection_id,
                key,
                value,
            } => vec![
                text(collection_id),
                text(key),
                value.as_deref().map_or(Value::Null, text),
            ],
            // deploy(deploymentId, domains) with domains omitted: an explicit undefined.
            Self::Deploy { deployment_id } => vec![text(deployment_id), Value::Undefined],
            Self::UploadImage(image) => vec![image_transfer(image)],
            Self::UploadImages(images) => {
                vec![Value::Array(images.iter().map(image_transfer).collect())]
            }
            Self::UploadFile(file) => vec![file_transfer(file)],
            Self::UploadFiles(files) => {
                vec![Value::Array(files.iter().map(file_transfer).collect())]
            }
        }
    }
}

/// Whether an asset is an image (`uploadImage`) or a file (`uploadFile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AssetKind {
    Image,
    File,
}

impl AssetKind {
    /// The `__class` tag of the marshalled reply.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Image => "ImageAsset",
            Self::File => "FileAsset",
        }
    }

    /// The name stored with a remembered asset (`image`, `file`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::File => "file",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "image" => Some(Self::Image),
            "file" => Some(Self::File),
            _ => None,
        }
    }
}

/// An asset Framer hosts, as an upload answers it: `{__class: "ImageAsset", id, url,
/// thumbnailUrl, altText, resolution}` or `{__class: "FileAsset", id, url, extension}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub kind: AssetKind,
    pub id: String,
    /// Where Framer serves the asset: the value for an image or file field.
    pub url: String,
    /// Images only.
    pub thumbnail_url: Option<String>,
    /// Images only, when one was given.
    pub alt_text: Option<String>,
    /// Images only (`auto` unless asked otherwise).
    pub resolution: Option<Resolution>,
    /// Files only: the extension without its dot, when Framer knows one.
    pub extension: Option<String>,
}

impl Asset {
    /// Reads the result of `uploadImage` (`kind` Image) or `uploadFile` (`kind` File).
    pub fn from_reply(kind: AssetKind, result: &serde_json::Value) -> Result<Self, WireError> {
        let bad = |reason: &str| WireError::BadAsset(format!("{}: {reason}", kind.class_name()));
        let fields = result
            .as_object()
            .ok_or_else(|| bad("the reply is not an object"))?;
        let text = |key: &str| fields.get(key).and_then(serde_json::Value::as_str);
        match text("__class") {
            Some(class) if class != kind.class_name() => {
                return Err(bad(&format!("the reply is a {class}")));
            }
            _ => {}
        }
        let id = text("id")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| bad("no id"))?;
        let url = text("url")
            .filter(|url| is_http_url(url))
            .ok_or_else(|| bad("no absolute http(s) url"))?;
        let is_image = kind == AssetKind::Image;
        let image_text = |key: &str| text(key).filter(|_| is_image).map(str::to_owned);
        Ok(Self {
            kind,
            id: id.to_owned(),
            url: url.to_owned(),
            thumbnail_url: image_text("thumbnailUrl"),
            alt_text: image_text("altText"),
            resolution: text("resolution")
                .filter(|_| is_image)
                .and_then(Resolution::from_wire),
            extension: text("extension")
                .filter(|extension| !is_image && !extension.is_empty())
                .map(str::to_owned),
        })
    }
}

impl Asset {
    /// Reads the result of `uploadImages` / `uploadFiles`: one asset per file sent (`count`),
    /// in the order sent.
    pub fn from_batch_reply(
        kind: AssetKind,
        result: &serde_json::Value,
        count: usize,
    ) -> Result<Vec<Self>, WireError> {
        let items = result.as_array().ok_or_else(|| {
            WireError::BadAsset(format!("{}: the reply is not a list", kind.class_name()))
        })?;
        if items.len() != count {
            return Err(WireError::BadAsset(format!(
                "{}: {} assets for {count} files",
                kind.class_name(),
                items.len()
            )));
        }
        items
            .iter()
            .map(|item| Self::from_reply(kind, item))
            .collect()
    }
}

fn is_http_url(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("https://") && url.len() > 8)
        || (lower.starts_with("http://") && url.len() > 7)
}

/// `setFields` rewrites every enum case's `nameByLocale` before sending: kept entries are
/// localization updates (`{action, ...}`), and a case without one gets an explicit undefined,
/// which appears on the wire as a key with index -1.
fn sanitize_fields(fields: &serde_json::Value) -> Value {
    let mut value = Value::from(fields.clone());
    if let Value::Array(items) = &mut value {
        items.iter_mut().for_each(sanitize_enum_field);
    }
    value
}

fn sanitize_enum_field(field: &mut Value) {
    if field.get("type").and_then(Value::as_str) != Some("enum") {
        return;
    }
    let Some(Value::Array(cases)) = field.get_mut("cases") else {
        return;
    };
    for case in cases.iter_mut().filter(|case| case.as_object().is_some()) {
        let names = match case.get("nameByLocale") {
            Some(names) if names.is_truthy() => localization_updates(names),
            _ => Value::Undefined,
        };
        case.set("nameByLocale", names);
    }
}

/// Keeps the entries whose value is an object with a string `action`. (The official client
/// throws on a plain-string entry; dropping it is the closest thing a sender can do.)
fn localization_updates(names: &Value) -> Value {
    let entries = names.as_object().unwrap_or_default();
    let kept = entries
        .iter()
        .filter(|(_, update)| update.get("action").and_then(Value::as_str).is_some())
        .cloned()
        .collect();
    Value::Object(kept)
}

/// A frame the client sends.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// The answer to the server's `ready`.
    PluginReadySignal,
    /// `id` counts calls on this connection from 0; the response carries it back.
    Invocation { id: u64, method: Call },
    /// Keep-alive; the server does not answer.
    Ping,
    /// Graceful close, sent only when `ready` had `gracefulDisconnect: true`.
    ClientDisconnect,
}

/// The frame text for `message`, identical to what the official client writes.
pub fn encode(message: &ClientMessage) -> String {
    devalue::stringify(&message_value(message))
}

fn message_value(message: &ClientMessage) -> Value {
    match message {
        ClientMessage::PluginReadySignal => typed("pluginReadySignal"),
        ClientMessage::Ping => typed("ping"),
        ClientMessage::ClientDisconnect => typed("client-disconnect"),
        ClientMessage::Invocation { id, method } => Value::Object(vec![
            ("type".to_owned(), Value::from("methodInvocation")),
            ("methodName".to_owned(), Value::from(method.method_name())),
            ("id".to_owned(), Value::Number(id_number(*id))),
            ("args".to_owned(), Value::Array(method.args())),
        ]),
    }
}

fn typed(kind: &str) -> Value {
    Value::Object(vec![("type".to_owned(), Value::from(kind))])
}

/// Call ids count the calls of one connection, so they stay far below 2^53 where f64 is exact.
#[allow(clippy::cast_precision_loss)]
fn id_number(id: u64) -> f64 {
    id as f64
}

/// A frame the server sends, reduced to what a sync needs.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// First frame; the client must answer with `pluginReadySignal`.
    Ready {
        graceful_disconnect: bool,
    },
    /// Ends the handshake; `mode` is "api" for Server API connections.
    PluginReadyResponse {
        mode: String,
    },
    /// The answer to invocation `id`: its result (undefined becomes null) or the error string.
    Response {
        id: u64,
        result: Result<serde_json::Value, String>,
    },
    /// A server error; after the handshake it fails every pending call.
    Error {
        code: String,
        message: String,
        retryable: bool,
    },
    DisconnectAck,
    /// Any other frame, by its `type` ("" when it has none); the official client ignores these.
    Other(String),
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The frame is not a devalue text we accept.
    Devalue(DevalueError),
    /// A text that starts like a chunk envelope but is not a well-formed one.
    BadChunk(String),
    /// Buffered chunk data would exceed the decoder's limit; that id's pieces were dropped.
    ChunkTooLarge { id: String, limit: usize },
    /// A `methodResponse` whose id is not a non-negative integer.
    BadResponseId(String),
    /// An upload's result is not the asset the official client would unmarshal.
    BadAsset(String),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Devalue(e) => write!(f, "unreadable Framer frame: {e}"),
            Self::BadChunk(reason) => write!(f, "malformed Framer chunk frame: {reason}"),
            Self::ChunkTooLarge { id, limit } => {
                write!(f, "chunked Framer message {id:?} exceeds {limit} bytes")
            }
            Self::BadResponseId(found) => {
                write!(f, "Framer methodResponse has an invalid id: {found}")
            }
            Self::BadAsset(reason) => write!(f, "Framer upload reply is not an asset: {reason}"),
        }
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Devalue(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DevalueError> for WireError {
    fn from(e: DevalueError) -> Self {
        Self::Devalue(e)
    }
}

/// Reads server frames in arrival order, reassembling chunked ones.
#[derive(Debug)]
pub struct Decoder {
    /// Escaped JSON string bodies per chunk id, joined as they arrive.
    pending: HashMap<String, String>,
    buffered: usize,
    limit: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder buffering at most [`DEFAULT_MAX_CHUNKED_BYTES`] of chunk data.
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_CHUNKED_BYTES)
    }

    /// A decoder buffering at most `limit` bytes of (escaped) chunk data across all ids.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            pending: HashMap::new(),
            buffered: 0,
            limit,
        }
    }

    /// Bytes of chunk data currently waiting for their last piece.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Reads one text frame. Returns `Ok(None)` for a chunk that is not the last of its message.
    pub fn push(&mut self, text: &str) -> Result<Option<ServerMessage>, WireError> {
        if text.starts_with(CHUNK_PREFIX) {
            let chunk = parse_chunk(text)?;
            return self.push_chunk(&chunk);
        }
        decode_frame(text).map(Some)
    }

    fn push_chunk(&mut self, chunk: &Chunk<'_>) -> Result<Option<ServerMessage>, WireError> {
        let total = self.buffered.saturating_add(chunk.data.len());
        if total > self.limit {
            self.discard(&chunk.id);
            return Err(WireError::ChunkTooLarge {
                id: chunk.id.clone(),
                limit: self.limit,
            });
        }
        self.buffered = total;
        self.pending
            .entry(chunk.id.clone())
            .or_default()
            .push_str(chunk.data);
        if !chunk.is_last {
            return Ok(None);
        }
        let body = self.pending.remove(&chunk.id).unwrap_or_default();
        self.buffered -= body.len();
        // The pieces are escaped JSON string bodies: a surrogate pair split across two chunks
        // arrives as `\ud83d` + `\ude80`, which the joined body decodes as one character.
        decode_frame(&json::decode_body(&body)).map(Some)
    }

    fn discard(&mut self, id: &str) {
        if let Some(body) = self.pending.remove(id) {
            self.buffered -= body.len();
        }
    }
}

/// One chunk envelope; `data` is the raw (still escaped) body of its string literal.
struct Chunk<'a> {
    id: String,
    is_last: bool,
    data: &'a str,
}

/// Reads a chunk envelope as the official client accepts it: `$chunk` 1, a string `id`, a
/// number `seq` (-1 on the last piece) and a string `data`.
fn parse_chunk(text: &str) -> Result<Chunk<'_>, WireError> {
    let envelope = json::parse(text).map_err(|e| WireError::BadChunk(e.to_string()))?;
    if envelope.member("$chunk") != Some(&Json::Number(1.0)) {
        return Err(WireError::BadChunk("$chunk is not 1".to_owned()));
    }
    let Some(Json::String(id)) = envelope.member("id") else {
        return Err(WireError::BadChunk("id is not a string".to_owned()));
    };
    let Some(Json::Number(seq)) = envelope.member("seq") else {
        return Err(WireError::BadChunk("seq is not a number".to_owned()));
    };
    let Some(Json::String(data)) = envelope.member("data") else {
        return Err(WireError::BadChunk("data is not a string".to_owned()));
    };
    Ok(Chunk {
        id: json::decode_body(id),
        is_last: is_minus_one(*seq),
        data,
    })
}

/// The last-piece sentinel, compared exactly (bit equality, so no float tolerance involved).
fn is_minus_one(n: f64) -> bool {
    n.to_bits() == (-1.0_f64).to_bits()
}

/// Reads one complete (non-chunk) devalue frame.
pub fn decode_frame(text: &str) -> Result<ServerMessage, WireError> {
    server_message(&devalue::parse(text)?)
}

fn server_message(frame: &Value) -> Result<ServerMessage, WireError> {
    let Some(kind) = frame.get("type").and_then(Value::as_str) else {
        return Ok(ServerMessage::Other(String::new()));
    };
    let message = match kind {
        "ready" => ServerMessage::Ready {
            graceful_disconnect: is_true(frame.get("gracefulDisconnect")),
        },
        "pluginReadyResponse" => ServerMessage::PluginReadyResponse {
            mode: frame
                .get("mode")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        },
        "methodResponse" => method_response(frame)?,
        "error" => server_error(frame),
        "disconnect-ack" => ServerMessage::DisconnectAck,
        other => ServerMessage::Other(other.to_owned()),
    };
    Ok(message)
}

fn is_true(value: Option<&Value>) -> bool {
    value.and_then(Value::as_bool) == Some(true)
}

/// The client rejects a call when `error` is a string and resolves it with `result` otherwise.
fn method_response(frame: &Value) -> Result<ServerMessage, WireError> {
    let id = frame.get("id").unwrap_or(&Value::Undefined);
    let id = id
        .as_f64()
        .and_then(response_id)
        .ok_or_else(|| WireError::BadResponseId(json_text(id)))?;
    let result = match frame.get("error") {
        Some(Value::String(error)) => Err(error.clone()),
        _ => Ok(frame
            .get("result")
            .map_or(serde_json::Value::Null, Value::to_json)),
    };
    Ok(ServerMessage::Response { id, result })
}

fn response_id(n: f64) -> Option<u64> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    // Checked non-negative, integral and below 2^53, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (n.fract() == 0.0 && (0.0..=MAX_SAFE).contains(&n)).then_some(n as u64)
}

/// As the official client reads it: code defaults to INTERNAL, an empty message becomes the
/// whole frame as JSON, and only `retryable === true` counts.
fn server_error(frame: &Value) -> ServerMessage {
    let code = match frame.get("code") {
        None | Some(Value::Undefined | Value::Null) => "INTERNAL".to_owned(),
        Some(Value::String(code)) => code.clone(),
        Some(other) => json_text(other),
    };
    let message = match frame.get("message") {
        Some(Value::String(message)) if !message.is_empty() => message.clone(),
        Some(other) if other.is_truthy() => json_text(other),
        _ => json_text(frame),
    };
    ServerMessage::Error {
        code,
        message,
        retryable: is_true(frame.get("retryable")),
    }
}

fn json_text(value: &Value) -> String {
    value.to_json().to_string()
}

/// Whether a failed call is worth retrying on a new connection, as `isRetryableError` decides.
pub fn is_retryable(code: &str, retryable: bool) -> bool {
    code == "POOL_EXHAUSTED" || retryable
}

/// The `Authorization` header value for an API key.
pub fn authorization_header(api_key: &str) -> String {
    format!("Token {api_key}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TRANSCRIPT: &str = include_str!("../../../vectors/framer-transcript.json");
    const COLLECTION: &str = "nEis1iUBl";
    const ITEM: &str = "153104cd-477e-809d-8dc4-ff2d96ae3090";

    struct Frame {
        official: bool,
        raw: String,
    }

    fn transcript() -> Vec<Frame> {
        let doc: serde_json::Value = serde_json::from_str(TRANSCRIPT).unwrap();
        doc["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|frame| Frame {
                official: frame["from"] == "official client",
                raw: frame["raw"].as_str().unwrap().to_owned(),
            })
            .collect()
    }

    fn invocation(id: u64, method: Call) -> ClientMessage {
        ClientMessage::Invocation { id, method }
    }

    fn collection() -> String {
        COLLECTION.to_owned()
    }

    /// What the test code gave the official client's `setFields`.
    fn transcript_fields() -> serde_json::Value {
        json!([
            {"id": "title", "name": "Title", "type": "string"},
            {"id": "body", "name": "Body", "type": "formattedText"},
            {"id": "date", "name": "Date", "type": "date"},
            {"id": "featured", "name": "Featured", "type": "boolean"},
            {"id": "views", "name": "Views", "type": "number"},
            {"id": "status", "name": "Status", "type": "enum",
             "cases": [{"id": "draft", "name": "Draft"}, {"id": "live", "name": "Live"}]},
            {"id": "cover", "name": "Cover", "type": "image"},
            {"id": "site", "name": "Website", "type": "link"},
        ])
    }

    /// What the test code gave the official client's `addItems`.
    fn transcript_item() -> serde_json::Value {
        json!({
            "id": ITEM,
            "slug": "hello-world",
            "fieldData": {
                "title": {"type": "string", "value": "Hello world"},
                "body": {"type": "formattedText", "value": "<p>Hi <strong>there</strong></p>", "contentType": "html"},
                "date": {"type": "date", "value": "2024-12-05T00:00:00.000Z"},
                "featured": {"type": "boolean", "value": true},
                "views": {"type": "number", "value": 12},
                "status": {"type": "enum", "value": "live"},
                "cover": {"type": "image", "value": "https://example.com/cover.png", "alt": "Cover"},
                "site": {"type": "link", "value": "https://example.com"},
            }
        })
    }

    fn expected_client_messages() -> Vec<ClientMessage> {
        vec![
            ClientMessage::PluginReadySignal,
            invocation(
                0,
                Call::CreateManagedCollection {
                    name: "Blog".into(),
                },
            ),
            invocation(
                1,
                Call::SetFields {
                    collection_id: collection(),
                    fields: transcript_fields(),
                },
            ),
            invocation(
                2,
                Call::GetFields {
                    collection_id: collection(),
                },
            ),
            invocation(
                3,
                Call::AddItems {
                    collection_id: collection(),
                    items: vec![transcript_item()],
                },
            ),
            invocation(
                4,
                Call::GetItemIds {
                    collection_id: collection(),
                },
            ),
            invocation(
                5,
                Call::RemoveItems {
                    collection_id: collection(),
                    ids: vec![ITEM.into()],
                },
            ),
            invocation(
                6,
                Call::SetPluginData {
                    collection_id: collection(),
                    key: "lastSync".into(),
                    value: Some("2024-12-05T00:00:00.000Z".into()),
                },
            ),
            invocation(7, Call::Publish),
            invocation(
                8,
                Call::Deploy {
                    deployment_id: "4n20esofBvG33mHn".into(),
                },
            ),
            ClientMessage::ClientDisconnect,
        ]
    }

    /// `serde_json` without `preserve_order` iterates object keys sorted.
    fn serde_json_sorts_keys() -> bool {
        json!({"b": 0, "a": 0})
            .as_object()
            .unwrap()
            .keys()
            .next()
            .map(String::as_str)
            == Some("a")
    }

    fn sort_keys(value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
            Value::Object(entries) => {
                let mut sorted: Vec<(String, Value)> = entries
                    .iter()
                    .map(|(k, v)| (k.clone(), sort_keys(v)))
                    .collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(sorted)
            }
            other => other.clone(),
        }
    }

    /// The official frame as the official client would write it had it been given objects in
    /// the key order `serde_json` hands them over (the arguments are ours; the envelope is not).
    fn in_serde_json_key_order(raw: &str) -> String {
        if !serde_json_sorts_keys() {
            return raw.to_owned();
        }
        let mut frame = devalue::parse(raw).unwrap();
        if let Some(args) = frame.get("args").map(sort_keys) {
            frame.set("args", args);
        }
        devalue::stringify(&frame)
    }

    #[test]
    fn client_frames_match_the_official_client() {
        let official: Vec<String> = transcript()
            .into_iter()
            .filter(|f| f.official)
            .map(|f| f.raw)
            .collect();
        let expected = expected_client_messages();
        assert_eq!(official.len(), expected.len());
        let mut order_independent = 0;
        for (raw, message) in official.iter().zip(&expected) {
            let wanted = in_serde_json_key_order(raw);
            order_independent += usize::from(&wanted == raw);
            assert_eq!(encode(message), wanted, "{message:?}");
        }
        // Only setFields and addItems carry objects whose key order serde_json can change;
        // every other frame was compared with the official text byte for byte.
        assert!(order_independent >= 9, "{order_independent}");
    }

    #[test]
    fn object_arguments_carry_the_same_data_as_the_official_frames() {
        let official: Vec<String> = transcript()
            .into_iter()
            .filter(|f| f.official)
            .map(|f| f.raw)
            .collect();
        for (raw, message) in official.iter().zip(expected_client_messages()) {
            let ours = sort_keys(&devalue::parse(&encode(&message)).unwrap());
            assert_eq!(
                ours,
                sort_keys(&devalue::parse(raw).unwrap()),
                "{message:?}"
            );
        }
    }

    #[test]
    fn set_fields_gives_enum_cases_an_explicit_undefined_name_by_locale() {
        let fields = json!([{"id": "s", "name": "S", "type": "enum", "cases": [
            {"id": "a", "name": "A"},
            {"id": "b", "name": "B", "nameByLocale": {"fr": {"action": "set", "value": "Bé"}, "de": "B"}},
        ]}, {"id": "t", "name": "T", "type": "string", "cases": [{"id": "x"}]}]);
        let frame = encode(&invocation(
            4,
            Call::SetFields {
                collection_id: "c".into(),
                fields,
            },
        ));
        let args = devalue::parse(&frame).unwrap().get("args").unwrap().clone();
        let cases = args.as_array().unwrap()[1].as_array().unwrap()[0]
            .get("cases")
            .unwrap()
            .clone();
        let cases = cases.as_array().unwrap();
        assert_eq!(cases[0].get("nameByLocale"), Some(&Value::Undefined));
        assert_eq!(
            cases[1].get("nameByLocale").unwrap().to_json(),
            json!({"fr": {"action": "set", "value": "Bé"}})
        );
        // Non-enum fields pass through untouched.
        let untouched = args.as_array().unwrap()[1].as_array().unwrap()[1].to_json();
        assert_eq!(
            untouched,
            json!({"id": "t", "name": "T", "type": "string", "cases": [{"id": "x"}]})
        );
    }

    #[test]
    fn small_frames_have_the_reference_text() {
        // Reference texts from devalue 5.9.4's stringify of the objects the client builds.
        assert_eq!(encode(&ClientMessage::Ping), r#"[{"type":1},"ping"]"#);
        assert_eq!(
            encode(&invocation(12, Call::GetManagedCollections)),
            r#"[{"type":1,"methodName":2,"id":3,"args":4},"methodInvocation","getManagedCollections",12,[]]"#
        );
        assert_eq!(
            encode(&invocation(
                3,
                Call::SetPluginData {
                    collection_id: "c".into(),
                    key: "k".into(),
                    value: None
                }
            )),
            r#"[{"type":1,"methodName":2,"id":3,"args":4},"methodInvocation","setPluginDataForNode",3,[5,6,7],"c","k",null]"#
        );
        assert_eq!(
            encode(&invocation(
                1,
                Call::GetPluginData {
                    collection_id: "c".into(),
                    key: "k".into()
                }
            )),
            r#"[{"type":1,"methodName":2,"id":3,"args":4},"methodInvocation","getPluginDataForNode",1,[5,6],"c","k"]"#
        );
    }

    #[test]
    fn method_names_are_the_clients_internal_names() {
        let names: Vec<&str> = [
            Call::GetManagedCollections,
            Call::CreateManagedCollection {
                name: String::new(),
            },
            Call::GetFields {
                collection_id: String::new(),
            },
            Call::SetFields {
                collection_id: String::new(),
                fields: json!([]),
            },
            Call::AddItems {
                collection_id: String::new(),
                items: vec![],
            },
            Call::RemoveItems {
                collection_id: String::new(),
                ids: vec![],
            },
            Call::GetItemIds {
                collection_id: String::new(),
            },
            Call::GetPluginData {
                collection_id: String::new(),
                key: String::new(),
            },
            Call::SetPluginData {
                collection_id: String::new(),
                key: String::new(),
                value: None,
            },
            Call::Publish,
            Call::Deploy {
                deployment_id: String::new(),
            },
            Call::UploadImage(ImageUpload::from_url("")),
            Call::UploadImages(vec![]),
            Call::UploadFile(FileUpload::from_url("")),
            Call::UploadFiles(vec![]),
        ]
        .iter()
        .map(Call::method_name)
        .collect();
        assert_eq!(
            names,
            [
                "getManagedCollections",
                "createManagedCollection",
                "getManagedCollectionFields3",
                "setManagedCollectionFields",
                "addManagedCollectionItems2",
                "removeManagedCollectionItems",
                "getManagedCollectionItemIds",
                "getPluginDataForNode",
                "setPluginDataForNode",
                "publish",
                "deploy",
                "uploadImage",
                "uploadImages",
                "uploadFile",
                "uploadFiles",
            ]
        );
    }

    fn response(id: u64, result: serde_json::Value) -> ServerMessage {
        ServerMessage::Response {
            id,
            result: Ok(result),
        }
    }

    #[test]
    fn server_frames_of_the_transcript_decode() {
        let mut decoder = Decoder::new();
        let messages: Vec<ServerMessage> = transcript()
            .into_iter()
            .filter(|f| !f.official)
            .map(|f| decoder.push(&f.raw).unwrap().unwrap())
            .collect();
        assert_eq!(messages.len(), 12);
        assert_eq!(
            messages[0],
            ServerMessage::Ready {
                graceful_disconnect: true
            }
        );
        assert_eq!(
            messages[1],
            ServerMessage::PluginReadyResponse { mode: "api".into() }
        );
        assert_eq!(
            messages[2],
            response(
                0,
                json!({"id": COLLECTION, "name": "Blog", "slugFieldName": null,
                "slugFieldBasedOn": null, "readonly": false, "managedBy": "thisPlugin"})
            )
        );
        for (at, id) in [(3, 1), (5, 3), (7, 5), (8, 6)] {
            assert_eq!(messages[at], response(id, serde_json::Value::Null));
        }
        let ServerMessage::Response {
            id: 2,
            result: Ok(fields),
        } = &messages[4]
        else {
            panic!("{:?}", messages[4]);
        };
        assert_eq!(fields.as_array().unwrap().len(), 8);
        assert_eq!(
            fields[0],
            json!({"id": "title", "name": "Title", "type": "string", "userEditable": false,
                "required": false, "basedOn": null})
        );
        assert_eq!(
            fields[5]["cases"][1],
            json!({"id": "live", "name": "Live", "nameByLocale": {}})
        );
        assert_eq!(messages[6], response(4, json!([ITEM])));
        let ServerMessage::Response {
            id: 7,
            result: Ok(published),
        } = &messages[9]
        else {
            panic!("{:?}", messages[9]);
        };
        assert_eq!(published["deployment"]["id"], "4n20esofBvG33mHn");
        assert_eq!(
            published["hostnames"][0]["hostname"],
            "abcdefghijklmnopqrst.framer.website"
        );
        assert_eq!(
            published["hostnames"][0]["deploymentId"],
            "4n20esofBvG33mHn"
        );
        assert_eq!(
            messages[10],
            response(
                8,
                json!([{"hostname": "www.abcdefghijklmnopqrst.example.com", "type": "custom",
                "isPrimary": true, "isPublished": true, "deploymentId": "4n20esofBvG33mHn"}])
            )
        );
        assert_eq!(messages[11], ServerMessage::DisconnectAck);
    }

    #[test]
    fn error_frames_are_read_as_the_client_reads_them() {
        // Written by devalue 5.9.4.
        let frame = r#"[{"type":1,"code":2,"message":3,"retryable":4},"error","POOL_EXHAUSTED","No instance available",true]"#;
        assert_eq!(
            decode_frame(frame),
            Ok(ServerMessage::Error {
                code: "POOL_EXHAUSTED".into(),
                message: "No instance available".into(),
                retryable: true
            })
        );
        let bare = r#"[{"type":1},"error"]"#;
        assert_eq!(
            decode_frame(bare),
            Ok(ServerMessage::Error {
                code: "INTERNAL".into(),
                message: r#"{"type":"error"}"#.into(),
                retryable: false
            })
        );
        let odd = r#"[{"type":1,"code":2,"message":3,"retryable":4},"error",503,"",1]"#;
        let ServerMessage::Error {
            code,
            message,
            retryable,
        } = decode_frame(odd).unwrap()
        else {
            panic!("not an error frame");
        };
        assert_eq!((code.as_str(), retryable), ("503", false));
        assert!(message.contains(r#""code":503"#), "{message}");
        let failed_call =
            r#"[{"type":1,"id":2,"error":3},"methodResponse",4,"Collection not found"]"#;
        assert_eq!(
            decode_frame(failed_call),
            Ok(ServerMessage::Response {
                id: 4,
                result: Err("Collection not found".into())
            })
        );
    }

    #[test]
    fn odd_frames_are_other_or_errors() {
        assert_eq!(
            decode_frame(r#"[{"type":1},"subscriptionMessage"]"#),
            Ok(ServerMessage::Other("subscriptionMessage".into()))
        );
        assert_eq!(
            decode_frame(r#"["text"]"#),
            Ok(ServerMessage::Other(String::new()))
        );
        assert_eq!(
            decode_frame(r#"[{"type":1,"id":2},"methodResponse",-1]"#),
            Err(WireError::BadResponseId("-1".into()))
        );
        assert_eq!(
            decode_frame(r#"[{"type":1,"id":-1},"methodResponse"]"#),
            Err(WireError::BadResponseId("null".into()))
        );
        assert_eq!(
            decode_frame(r#"[["Date","2024-01-01T00:00:00.000Z"]]"#),
            Err(WireError::Devalue(DevalueError::TaggedValue("Date".into())))
        );
    }

    // Chunk frames as the server would write them: JSON.stringify of pieces of the devalue
    // text of {type:"methodResponse", id:9, result:{title:'Launch 🚀 "day" <b>', items:["a","b"]}},
    // cut so that the rocket's surrogate pair is split between the second and third piece.
    const CHUNKS: [&str; 3] = [
        r#"{"$chunk":1,"id":"r-1","seq":0,"data":"[{\"type\":1,\"id\":2,\"r"}"#,
        r#"{"$chunk":1,"id":"r-1","seq":1,"data":"esult\":3},\"methodResponse\",9,{\"title\":4,\"items\":5},\"Launch \ud83d"}"#,
        r#"{"$chunk":1,"id":"r-1","seq":-1,"data":"\ude80 \\\"day\\\" \\u003Cb>\",[6,7],\"a\",\"b\"]"}"#,
    ];

    fn chunked_result() -> ServerMessage {
        response(
            9,
            json!({"title": "Launch 🚀 \"day\" <b>", "items": ["a", "b"]}),
        )
    }

    #[test]
    fn chunks_are_joined_across_a_split_surrogate_pair() {
        let mut decoder = Decoder::new();
        assert_eq!(decoder.push(CHUNKS[0]), Ok(None));
        assert_eq!(decoder.push(CHUNKS[1]), Ok(None));
        assert!(decoder.buffered_bytes() > 0);
        assert_eq!(decoder.push(CHUNKS[2]), Ok(Some(chunked_result())));
        assert_eq!(decoder.buffered_bytes(), 0);
    }

    #[test]
    fn chunks_of_different_ids_and_plain_frames_interleave() {
        let mut decoder = Decoder::new();
        let other = |chunk: &str| chunk.replace("\"r-1\"", "\"r-2\"");
        assert_eq!(decoder.push(CHUNKS[0]), Ok(None));
        assert_eq!(decoder.push(&other(CHUNKS[0])), Ok(None));
        assert_eq!(
            decoder.push(r#"[{"type":1},"disconnect-ack"]"#),
            Ok(Some(ServerMessage::DisconnectAck))
        );
        assert_eq!(decoder.push(&other(CHUNKS[1])), Ok(None));
        assert_eq!(decoder.push(CHUNKS[1]), Ok(None));
        assert_eq!(decoder.push(CHUNKS[2]), Ok(Some(chunked_result())));
        assert_eq!(decoder.push(&other(CHUNKS[2])), Ok(Some(chunked_result())));
        assert_eq!(decoder.buffered_bytes(), 0);
    }

    #[test]
    fn oversized_chunked_messages_are_dropped_with_an_error() {
        let mut decoder = Decoder::with_limit(60);
        assert_eq!(decoder.push(CHUNKS[0]), Ok(None));
        assert_eq!(
            decoder.push(CHUNKS[1]),
            Err(WireError::ChunkTooLarge {
                id: "r-1".into(),
                limit: 60
            })
        );
        assert_eq!(decoder.buffered_bytes(), 0);
        // The decoder stays usable for the next message.
        let single =
            r#"{"$chunk":1,"id":"r-3","seq":-1,"data":"[{\"type\":1},\"disconnect-ack\"]"}"#;
        assert_eq!(decoder.push(single), Ok(Some(ServerMessage::DisconnectAck)));
    }

    #[test]
    fn malformed_chunk_envelopes_are_errors() {
        let mut decoder = Decoder::new();
        for text in [
            r#"{"$chunk":2,"id":"a","seq":-1,"data":"[1]"}"#,
            r#"{"$chunk":1,"id":7,"seq":-1,"data":"[1]"}"#,
            r#"{"$chunk":1,"id":"a","seq":"0","data":"[1]"}"#,
            r#"{"$chunk":1,"id":"a","seq":-1}"#,
            r#"{"$chunk":1,"id":"a""#,
        ] {
            assert!(
                matches!(decoder.push(text), Err(WireError::BadChunk(_))),
                "{text}"
            );
        }
    }

    // ---------------------------------------------------------------- uploads

    const UPLOADS: &str = include_str!("../../../vectors/framer-uploads.json");

    struct UploadVectors {
        /// `[method, input]` as the test code handed them to the official client.
        calls: Vec<(String, serde_json::Value)>,
        official_invocations: Vec<String>,
        server_frames: Vec<String>,
    }

    fn upload_vectors() -> UploadVectors {
        let doc: serde_json::Value = serde_json::from_str(UPLOADS).unwrap();
        let calls = doc["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["method"].as_str().unwrap().to_owned(), c["input"].clone()))
            .collect();
        let frames: Vec<(bool, String)> = doc["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["from"] == "official client",
                    f["raw"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        UploadVectors {
            calls,
            official_invocations: frames
                .iter()
                .filter(|(official, raw)| *official && raw.contains("\"methodInvocation\""))
                .map(|(_, raw)| raw.clone())
                .collect(),
            server_frames: frames
                .into_iter()
                .filter(|(official, _)| !official)
                .map(|(_, raw)| raw)
                .collect(),
        }
    }

    fn text_at(input: &serde_json::Value, key: &str) -> Option<String> {
        input[key].as_str().map(str::to_owned)
    }

    /// The upload an input of the vectors stands for; `None` for bytes, which we never send.
    fn image_upload(input: &serde_json::Value) -> Option<ImageUpload> {
        Some(ImageUpload {
            url: input["image"].as_str()?.to_owned(),
            name: text_at(input, "name"),
            alt_text: text_at(input, "altText"),
            resolution: input["resolution"]
                .as_str()
                .map(|r| Resolution::from_wire(r).unwrap()),
            rendering: input["preferredImageRendering"].as_str().map(|r| match r {
                "pixelated" => ImageRendering::Pixelated,
                _ => ImageRendering::Auto,
            }),
        })
    }

    fn file_upload(input: &serde_json::Value) -> Option<FileUpload> {
        Some(FileUpload {
            url: input["file"].as_str()?.to_owned(),
            name: text_at(input, "name"),
        })
    }

    fn each<T>(
        input: &serde_json::Value,
        one: fn(&serde_json::Value) -> Option<T>,
    ) -> Option<Vec<T>> {
        input.as_array()?.iter().map(one).collect()
    }

    fn upload_call(method: &str, input: &serde_json::Value) -> Option<Call> {
        match method {
            "uploadImage" => image_upload(input).map(Call::UploadImage),
            "uploadImages" => each(input, image_upload).map(Call::UploadImages),
            "uploadFile" => file_upload(input).map(Call::UploadFile),
            "uploadFiles" => each(input, file_upload).map(Call::UploadFiles),
            other => panic!("not an upload: {other}"),
        }
    }

    #[test]
    fn upload_frames_match_the_official_client_byte_for_byte() {
        let vectors = upload_vectors();
        assert_eq!(vectors.calls.len(), vectors.official_invocations.len());
        let mut compared = 0;
        for (id, ((method, input), raw)) in vectors
            .calls
            .iter()
            .zip(&vectors.official_invocations)
            .enumerate()
        {
            let Some(call) = upload_call(method, input) else {
                // Bytes uploads carry a Uint8Array (a devalue tagged value): not ours to send.
                assert!(raw.contains(r#"["Uint8Array","#), "{raw}");
                continue;
            };
            assert_eq!(call.method_name(), method);
            let frame = encode(&invocation(id as u64, call));
            assert_eq!(&frame, raw, "{method} {input}");
            compared += 1;
        }
        assert_eq!(compared, 6);
    }

    #[test]
    fn an_upload_written_by_hand_is_the_official_frame() {
        let vectors = upload_vectors();
        let cover = "https://prod-files-secure.s3.us-west-2.amazonaws.com/4f1c2a3b-0000-4c4c-9d9d-1a2b3c4d5e6f/9a2e7c1d-2b3c-4d5e-8f90-a1b2c3d4e5f6/cover.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAZI2LB466%2F20241205%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=20241205T100000Z&X-Amz-Expires=3600&X-Amz-Signature=1111aaaa&X-Amz-SignedHeaders=host&x-id=GetObject";
        let call = Call::UploadImage(ImageUpload {
            name: Some("cover.png".into()),
            alt_text: Some("A cover".into()),
            resolution: Some(Resolution::Full),
            ..ImageUpload::from_url(cover)
        });
        assert_eq!(
            encode(&invocation(0, call)),
            vectors.official_invocations[0]
        );
        // Unset options are explicit undefineds (-1), as the client's object spread leaves them.
        let bare = encode(&invocation(
            1,
            Call::UploadFile(FileUpload::from_url("https://x.test/a.pdf")),
        ));
        assert_eq!(
            bare,
            r#"[{"type":1,"methodName":2,"id":3,"args":4},"methodInvocation","uploadFile",1,[5],{"name":-1,"type":6,"url":7},"url","https://x.test/a.pdf"]"#
        );
    }

    fn upload_results() -> HashMap<u64, Result<serde_json::Value, String>> {
        let mut decoder = Decoder::new();
        upload_vectors()
            .server_frames
            .iter()
            .filter_map(|raw| match decoder.push(raw).unwrap() {
                Some(ServerMessage::Response { id, result }) => Some((id, result)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn upload_replies_read_as_assets() {
        let results = upload_results();
        let result = |id: u64| results[&id].clone().unwrap();
        let cover = Asset::from_reply(AssetKind::Image, &result(0)).unwrap();
        assert_eq!(
            cover,
            Asset {
                kind: AssetKind::Image,
                id: "Hc0VrC4lbAvKZ3mHPTxk8g1Jw".into(),
                url: "https://framerusercontent.com/images/Hc0VrC4lbAvKZ3mHPTxk8g1Jw.png".into(),
                thumbnail_url: Some(
                    "https://framerusercontent.com/images/Hc0VrC4lbAvKZ3mHPTxk8g1Jw.png?scale-down-to=512"
                        .into()
                ),
                alt_text: Some("A cover".into()),
                resolution: Some(Resolution::Full),
                extension: None,
            }
        );
        let photo = Asset::from_reply(AssetKind::Image, &result(1)).unwrap();
        assert_eq!(
            (photo.alt_text, photo.resolution),
            (None, Some(Resolution::Auto))
        );
        let pair: Vec<Asset> = result(2)
            .as_array()
            .unwrap()
            .iter()
            .map(|item| Asset::from_reply(AssetKind::Image, item).unwrap())
            .collect();
        assert_eq!(pair.len(), 2);
        assert_eq!(pair[0].alt_text.as_deref(), Some("Left"));
        assert_eq!(
            pair[1].url,
            "https://framerusercontent.com/images/a9Tz3Wq6Ek1Ys8Ux0Jm5Cn2Rb.jpg"
        );
        let doc = Asset::from_reply(AssetKind::File, &result(3)).unwrap();
        assert_eq!(
            (doc.kind, doc.url.as_str(), doc.extension.as_deref()),
            (
                AssetKind::File,
                "https://framerusercontent.com/assets/Lp5Gh8Dk2Sj0Fa7Qw3Er6Ty9Ui.pdf",
                Some("pdf")
            )
        );
        assert_eq!(doc.thumbnail_url, None);
        assert_eq!(
            Asset::from_reply(AssetKind::File, &result(4)[0])
                .unwrap()
                .extension
                .as_deref(),
            Some("pdf")
        );
        // A URL the server could not download fails the call with its message.
        assert_eq!(
            results[&6],
            Err("Could not download the asset from its URL: it answered HTTP 403".into())
        );
    }

    #[test]
    fn asset_replies_that_the_client_would_not_read_are_errors() {
        let image = |value: serde_json::Value| Asset::from_reply(AssetKind::Image, &value);
        let is_bad = |r: Result<Asset, WireError>| matches!(r, Err(WireError::BadAsset(_)));
        assert!(is_bad(image(json!(null))));
        assert!(is_bad(image(
            json!({"__class": "FileAsset", "id": "a", "url": "https://x/a"})
        )));
        assert!(is_bad(image(
            json!({"__class": "ImageAsset", "url": "https://x/a"})
        )));
        assert!(is_bad(image(
            json!({"__class": "ImageAsset", "id": "a", "url": "/a.png"})
        )));
        assert!(is_bad(image(
            json!({"__class": "ImageAsset", "id": "a", "url": "javascript:x"})
        )));
        assert!(matches!(
            Asset::from_reply(AssetKind::File, &json!({"__class": "FileAsset"})),
            Err(WireError::BadAsset(_))
        ));
        // Without the class tag the client still hands back the object: read it.
        let plain =
            image(json!({"id": "a", "url": "https://x/a.png", "resolution": "odd"})).unwrap();
        assert_eq!(
            (plain.url.as_str(), plain.resolution),
            ("https://x/a.png", None)
        );
        let message = WireError::BadAsset("ImageAsset: no id".into()).to_string();
        assert_eq!(
            message,
            "Framer upload reply is not an asset: ImageAsset: no id"
        );
    }

    #[test]
    fn resolutions_and_kinds_round_trip_their_wire_names() {
        for resolution in Resolution::ALL {
            assert_eq!(
                Resolution::from_wire(resolution.wire_name()),
                Some(resolution)
            );
        }
        assert_eq!(Resolution::from_wire("huge"), None);
        for kind in [AssetKind::Image, AssetKind::File] {
            assert_eq!(AssetKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(AssetKind::parse("video"), None);
    }

    #[test]
    fn headers_and_retry_rules() {
        assert_eq!(authorization_header("fr_abc"), "Token fr_abc");
        assert!(is_retryable("POOL_EXHAUSTED", false));
        assert!(is_retryable(PROJECT_CLOSED, true));
        assert!(!is_retryable("TOKEN_SESSION_LIMIT", false));
        assert!(!is_retryable("UNAUTHORIZED", false));
    }

    #[test]
    fn a_batch_upload_answers_one_asset_per_file_in_order() {
        let reply = serde_json::json!([
            {"__class": "ImageAsset", "id": "a", "url": "https://framerusercontent.com/images/a.png", "resolution": "auto"},
            {"__class": "ImageAsset", "id": "b", "url": "https://framerusercontent.com/images/b.png"},
        ]);
        let assets = Asset::from_batch_reply(AssetKind::Image, &reply, 2).unwrap();
        assert_eq!(
            assets.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(Asset::from_batch_reply(AssetKind::Image, &reply, 3).is_err());
        assert!(Asset::from_batch_reply(AssetKind::File, &reply, 2).is_err());
        assert!(Asset::from_batch_reply(AssetKind::Image, &reply[0], 1).is_err());
    }
}
