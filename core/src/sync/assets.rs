//! Notion-hosted files re-hosted in Framer: which URLs expire, the stable identity of each file,
//! the uploads a row needs, and the row rewritten to point at the copies Framer hosts.
//!
//! Notion signs the URL of every file it hosts (files properties, page covers and icons, image
//! and file blocks) and the signature expires after an hour; Notion's docs say not to store
//! them. So each such file that reaches Framer is uploaded (`uploadImages` / `uploadFiles`, in
//! batches of [`UPLOADS_PER_CALL`]; Framer's server downloads the signed URLs while they are
//! fresh) and the item refers to Framer's copy.
//!
//! Upload once: a file is known by its URL without the signature, which is the same on every
//! read of an unchanged file and new when the file is replaced in Notion (Notion stores each
//! upload under a new path). The assets uploaded so far are remembered per project under
//! [`AssetRef::key`] (`edge::store::assets`), so a run that changed nothing uploads nothing.
//!
//! External URLs the user typed stay as they are. Pure: the edge layer looks the keys up,
//! uploads what is missing within its step budget and hands the results to [`rewrite_row`].

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::framer::cms::FieldValue;
use crate::framer::wire::{AssetKind, Call, FileUpload, ImageUpload, Resolution};
use crate::notion::body_files::{body_files, rewrite_body_files, BodyFile, Element, Rewrite};
use crate::notion::page_html::BlockNode;

/// Keys longer than this are remembered by their SHA-256 instead (D1 keys stay small).
const MAX_PLAIN_KEY_BYTES: usize = 512;

/// Whether a URL, judged by itself, names a file Notion hosts: one of Notion's file hosts
/// (`prod-files-secure` on S3, `secure.notion-static.com`, `file.notion.so`,
/// `*.notionusercontent.com`, `notion.so/image/...`), or any URL carrying an expiring
/// signature (`X-Amz-Signature`, or `Signature`/`signature` with `Expires` or
/// `expirationTimestamp`): such a URL stops working soon whoever typed it, so it is worth a copy.
///
/// Notion's own marking (`type: "file"`) is the stronger signal; [`NotionFiles`] adds it.
pub fn is_notion_hosted(url: &str) -> bool {
    let Some(parts) = UrlParts::split(url) else {
        return false;
    };
    is_notion_file_host(&parts.hostname(), parts.path) || is_presigned(parts.query)
}

/// The stable identity of the file a URL names: host (with port) and path, without the query
/// (the signature, its date and expiry) or fragment. `None` for anything but an absolute
/// http(s) URL.
pub fn file_key(url: &str) -> Option<String> {
    let parts = UrlParts::split(url)?;
    let path = if parts.path.is_empty() {
        "/"
    } else {
        parts.path
    };
    Some(format!("{}{path}", parts.host.to_ascii_lowercase()))
}

/// How an uploaded asset is remembered: `<kind>:<file key>` (the same file uploaded as an
/// image and as a file makes two assets), hashed when very long.
pub fn asset_key(kind: AssetKind, url: &str) -> Option<String> {
    let key = file_key(url)?;
    if key.len() <= MAX_PLAIN_KEY_BYTES {
        return Some(format!("{}:{key}", kind.as_str()));
    }
    let digest = Sha256::digest(key.as_bytes());
    Some(format!("{}:sha256:{}", kind.as_str(), hex::encode(digest)))
}

/// The file's name: the last path segment, percent-decoded; `None` when the path ends in `/`.
pub fn file_name(url: &str) -> Option<String> {
    let parts = UrlParts::split(url)?;
    let segment = parts.path.rsplit('/').next().unwrap_or_default();
    let name = percent_decode(segment);
    (!name.is_empty()).then_some(name)
}

/// The URLs Notion marked as its own files (`{"type": "file", "file": {"url", "expiry_time"}}`)
/// in the JSON of one read: page properties, cover, icon, blocks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotionFiles {
    urls: HashSet<String>,
}

impl NotionFiles {
    /// The URLs marked before (kept with a staged row between steps).
    pub fn from_urls(urls: impl IntoIterator<Item = String>) -> Self {
        Self {
            urls: urls.into_iter().collect(),
        }
    }

    /// The marked URLs, to keep with a staged row.
    pub fn urls(&self) -> impl Iterator<Item = &String> {
        self.urls.iter()
    }

    /// No marked URLs: [`Self::is_hosted`] then judges by the URL alone.
    pub fn new() -> Self {
        Self::default()
    }

    /// The files marked anywhere in `json` (a page, a property value, a block, a list of them).
    pub fn from_json(json: &Value) -> Self {
        let mut files = Self::new();
        files.add_json(json);
        files
    }

    pub fn add_json(&mut self, json: &Value) {
        match json {
            Value::Object(object) => {
                let marked = object.get("type").and_then(Value::as_str) == Some("file");
                let url = object.get("file").and_then(|file| file.get("url"));
                if let (true, Some(Value::String(url))) = (marked, url) {
                    self.urls.insert(url.clone());
                }
                object.values().for_each(|value| self.add_json(value));
            }
            Value::Array(items) => items.iter().for_each(|item| self.add_json(item)),
            _ => {}
        }
    }

    /// The files of a page body (every block and its children).
    pub fn add_blocks(&mut self, blocks: &[BlockNode]) {
        for node in blocks {
            self.add_json(&node.block);
            self.add_blocks(&node.children);
        }
    }

    /// Whether `url` is a Notion-hosted file: marked by Notion, or judged so by
    /// [`is_notion_hosted`].
    pub fn is_hosted(&self, url: &str) -> bool {
        self.urls.contains(url) || is_notion_hosted(url)
    }
}

/// One reference of a row to a Notion-hosted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetRef {
    /// Under which the uploaded asset is remembered ([`asset_key`]).
    pub key: String,
    pub kind: AssetKind,
    /// The signed URL of this read: what Framer downloads. Never store or log it.
    pub url: String,
    /// The Framer field that refers to the file.
    pub field_id: String,
    /// The file's name ([`file_name`]).
    pub name: Option<String>,
    /// Alt text: a body image's caption, an image field's alt.
    pub alt: Option<String>,
}

impl AssetRef {
    /// The upload call for this file alone (`resolution` as the project wants images served;
    /// `None` leaves Framer's default, `auto`).
    pub fn upload(&self, resolution: Option<Resolution>) -> Call {
        match self.kind {
            AssetKind::Image => Call::UploadImage(self.image(resolution)),
            AssetKind::File => Call::UploadFile(self.file()),
        }
    }

    fn image(&self, resolution: Option<Resolution>) -> ImageUpload {
        ImageUpload {
            name: self.name.clone(),
            alt_text: self.alt.clone(),
            resolution,
            ..ImageUpload::from_url(self.url.clone())
        }
    }

    fn file(&self) -> FileUpload {
        FileUpload {
            name: self.name.clone(),
            ..FileUpload::from_url(self.url.clone())
        }
    }
}

/// Files per `uploadImages` / `uploadFiles` call. Framer's server downloads them all before it
/// answers, so a call waits for its slowest file: small enough that one call stays well within
/// a step, large enough that a page of rows with covers takes a handful of calls.
pub const UPLOADS_PER_CALL: usize = 25;

/// The uploads of `missing` as batches of one kind each (images, then files; each in the
/// order given), at most `per_call` files per batch.
pub fn upload_batches(missing: &[&AssetRef], per_call: usize) -> Vec<Vec<AssetRef>> {
    let per_call = per_call.max(1);
    [AssetKind::Image, AssetKind::File]
        .into_iter()
        .flat_map(|kind| {
            let of_kind: Vec<AssetRef> = missing
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| (*r).clone())
                .collect();
            of_kind
                .chunks(per_call)
                .map(<[AssetRef]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// One call uploading `batch` (all of one kind, as [`upload_batches`] makes them):
/// `uploadImages` or `uploadFiles`.
pub fn upload_call(batch: &[AssetRef], resolution: Option<Resolution>) -> Call {
    match batch.first().map(|r| r.kind) {
        Some(AssetKind::File) => Call::UploadFiles(batch.iter().map(AssetRef::file).collect()),
        _ => Call::UploadImages(batch.iter().map(|r| r.image(resolution)).collect()),
    }
}

/// Every Notion-hosted file a mapped row refers to: image, file and link fields, and the
/// `<img src>` / `<a href>` of formatted text (the page body). Once per field and key, in
/// field order.
pub fn row_assets(field_data: &BTreeMap<String, FieldValue>, files: &NotionFiles) -> Vec<AssetRef> {
    let mut refs = Vec::new();
    let mut seen = HashSet::new();
    for (field_id, value) in field_data {
        for (kind, url, alt) in value_files(value) {
            if !files.is_hosted(&url) {
                continue;
            }
            let Some(key) = asset_key(kind, &url) else {
                continue;
            };
            if seen.insert((field_id.as_str(), key.clone())) {
                refs.push(AssetRef {
                    key,
                    kind,
                    name: file_name(&url),
                    url,
                    field_id: field_id.clone(),
                    alt,
                });
            }
        }
    }
    refs
}

/// The references whose key is not `known` (uploaded before), each key once: what has to be
/// uploaded before the row can be written whole.
pub fn missing_uploads(refs: &[AssetRef], known: impl Fn(&str) -> bool) -> Vec<&AssetRef> {
    let mut wanted = HashSet::new();
    refs.iter()
        .filter(|r| !known(&r.key) && wanted.insert(r.key.as_str()))
        .collect()
}

/// A Notion-hosted file a row was written without, because no asset was available for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedFile {
    pub field_id: String,
    pub kind: AssetKind,
    /// [`asset_key`] of the file (`None` when its URL cannot be keyed).
    pub key: Option<String>,
    pub name: Option<String>,
}

/// Points every Notion-hosted file of the row at its asset (`asset_url`: [`asset_key`] -> the
/// asset URL Framer answered for it, if any). A file without an asset is taken out (an image or file field
/// is cleared, a body image removed, a body link unwrapped to its label) and returned, so the
/// row can be written now and the file retried by the next run. Other URLs are left alone.
pub fn rewrite_row(
    field_data: &mut BTreeMap<String, FieldValue>,
    files: &NotionFiles,
    asset_url: impl Fn(&str) -> Option<String>,
) -> Vec<DroppedFile> {
    let mut dropped = Vec::new();
    for (field_id, value) in field_data.iter_mut() {
        let mut decide = |kind: AssetKind, url: &str| {
            if !files.is_hosted(url) {
                return Target::NotHosted;
            }
            let key = asset_key(kind, url);
            if let Some(asset) = key.as_deref().and_then(&asset_url) {
                return Target::Asset(asset);
            }
            let file = DroppedFile {
                field_id: field_id.clone(),
                kind,
                key,
                name: file_name(url),
            };
            if !dropped.contains(&file) {
                dropped.push(file);
            }
            Target::Missing
        };
        rewrite_value(value, &mut decide);
    }
    dropped
}

/// Where a file URL of a row should point after the rewrite.
enum Target {
    /// Not a Notion-hosted file: left as it is.
    NotHosted,
    /// The asset URL Framer answered for it.
    Asset(String),
    /// Hosted, but no asset: taken out of the row.
    Missing,
}

fn rewrite_value(value: &mut FieldValue, decide: &mut dyn FnMut(AssetKind, &str) -> Target) {
    match value {
        FieldValue::Image { url, .. } => rewrite_url(url, AssetKind::Image, decide),
        FieldValue::File { url } | FieldValue::Link(url) => {
            rewrite_url(url, AssetKind::File, decide);
        }
        FieldValue::FormattedText(html) => {
            *html = rewrite_body_files(html, |file| match decide(element_kind(file), &file.url) {
                Target::NotHosted => Rewrite::Keep,
                Target::Asset(asset) => Rewrite::Replace(asset),
                Target::Missing => Rewrite::Remove,
            });
        }
        _ => {}
    }
}

fn rewrite_url(
    slot: &mut Option<String>,
    kind: AssetKind,
    decide: &mut dyn FnMut(AssetKind, &str) -> Target,
) {
    let Some(url) = slot.as_deref() else {
        return;
    };
    match decide(kind, url) {
        Target::NotHosted => {}
        Target::Asset(asset) => *slot = Some(asset),
        Target::Missing => *slot = None,
    }
}

/// The file URLs one field value holds, with the kind of asset each would become.
fn value_files(value: &FieldValue) -> Vec<(AssetKind, String, Option<String>)> {
    match value {
        FieldValue::Image {
            url: Some(url),
            alt,
        } => vec![(
            AssetKind::Image,
            url.clone(),
            alt.clone().filter(|alt| !alt.is_empty()),
        )],
        FieldValue::File { url: Some(url) } | FieldValue::Link(Some(url)) => {
            vec![(AssetKind::File, url.clone(), None)]
        }
        FieldValue::FormattedText(html) => body_files(html)
            .into_iter()
            .map(|file| (element_kind(&file), file.url, file.alt))
            .collect(),
        _ => Vec::new(),
    }
}

/// A body image becomes an image asset; a body link (file, PDF, video, audio) a file asset.
fn element_kind(file: &BodyFile) -> AssetKind {
    match file.element {
        Element::Image => AssetKind::Image,
        Element::Link => AssetKind::File,
    }
}

/// An absolute http(s) URL cut into its parts (enough for keys and host checks; no decoding).
struct UrlParts<'a> {
    /// `host[:port]`, without user info.
    host: &'a str,
    path: &'a str,
    query: &'a str,
}

impl<'a> UrlParts<'a> {
    fn split(url: &'a str) -> Option<Self> {
        let url = url.trim();
        let (scheme, rest) = url.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        let rest = rest.split('#').next().unwrap_or_default();
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let host = authority.rsplit('@').next().unwrap_or_default();
        if host.is_empty() {
            return None;
        }
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        Some(Self { host, path, query })
    }

    /// The host name in lower case, without the port.
    fn hostname(&self) -> String {
        let host = self.host.to_ascii_lowercase();
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
            _ => host,
        }
    }
}

fn is_notion_file_host(host: &str, path: &str) -> bool {
    let on = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    if on("notion-static.com") || on("notionusercontent.com") || host == "file.notion.so" {
        return true;
    }
    if on("amazonaws.com") {
        // The bucket is in the host (virtual-hosted style) or leads the path (path style).
        return host.starts_with("prod-files-secure.")
            || path.starts_with("/prod-files-secure/")
            || path.starts_with("/secure.notion-static.com/");
    }
    (host == "www.notion.so" || host == "notion.so")
        && ["/image/", "/signed/", "/f/"]
            .iter()
            .any(|prefix| path.starts_with(prefix))
}

/// Whether the query carries an expiring signature (AWS SigV4 or V2 presigning, Notion's own).
fn is_presigned(query: &str) -> bool {
    let keys: HashSet<String> = query
        .split('&')
        .map(|pair| {
            pair.split('=')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        })
        .collect();
    let has = |key: &str| keys.contains(key);
    has("x-amz-signature") || (has("signature") && (has("expires") || has("expirationtimestamp")))
}

/// `%XX` sequences decoded as UTF-8 (invalid sequences are replaced), `+` left alone (paths).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notion::fixtures::{page, schema, SIGNED_COVER};
    use crate::notion::page_html::render_blocks;
    use crate::sync::fixtures::mapping;
    use crate::sync::mapping::sanitize_id;
    use crate::sync::row::{map_page, RowOptions};
    use serde_json::json;
    use std::collections::HashMap;

    /// The same cover read an hour later: new date, expiry and signature, same object.
    const COVER_LATER: &str = "https://prod-files-secure.s3.us-west-2.amazonaws.com/4f1c2a3b-0000-4c4c-9d9d-1a2b3c4d5e6f/9a2e7c1d-2b3c-4d5e-8f90-a1b2c3d4e5f6/cover.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAZI2LB466%2F20241205%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=20241205T110512Z&X-Amz-Expires=3600&X-Amz-Signature=2222bbbb&X-Amz-SignedHeaders=host&x-id=GetObject";
    const SPEC: &str = "https://prod-files-secure.s3.us-west-2.amazonaws.com/4f1c2a3b-0000-4c4c-9d9d-1a2b3c4d5e6f/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9/Spec%20v2.pdf?X-Amz-Signature=3333&X-Amz-Expires=3600";
    const BODY_CAT: &str = "https://prod-files-secure.s3.us-west-2.amazonaws.com/4f1c2a3b-0000-4c4c-9d9d-1a2b3c4d5e6f/0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9/cat.png?X-Amz-Signature=4444&X-Amz-Expires=3600";
    const EXTERNAL: &str = "https://images.example.com/dog.jpg?v=2";

    #[test]
    fn notion_hosted_urls_are_recognised_by_host_or_signature() {
        for url in [
            SIGNED_COVER,
            "https://s3.us-west-2.amazonaws.com/secure.notion-static.com/a1b2/photo.jpg",
            "https://s3-us-west-2.amazonaws.com/prod-files-secure/ws/f/photo.jpg",
            "https://file.notion.so/f/f/ws/f/photo.jpg?table=block&id=b&spaceId=s&expirationTimestamp=1&signature=x",
            "https://www.notion.so/image/https%3A%2F%2Fs3.us-west-2.amazonaws.com%2Fa.png?table=block&id=b",
            "https://img.notionusercontent.com/s3/prod-files-secure%2Fa.png/size/w=800",
            // This repository's fake and any stand-in serving presigned URLs from its own host.
            "http://127.0.0.1:8123/s3/prod-files-secure/ws/f/cover.png?X-Amz-Date=1&X-Amz-Expires=3600&X-Amz-Signature=ab",
            "http://127.0.0.1:9/files/f1/cover.png?x-amz-signature=ab&x-amz-expires=3600",
            "https://bucket.example.com/a.png?Expires=1700000000&Signature=abc&Key-Pair-Id=K",
        ] {
            assert!(is_notion_hosted(url), "{url}");
        }
        for url in [
            EXTERNAL,
            "https://example.com/brief.pdf",
            "https://framerusercontent.com/images/Hc0VrC4lbAvKZ3mHPTxk8g1Jw.png",
            "https://my-bucket.s3.amazonaws.com/photo.jpg",
            "https://www.notion.so/Some-page-153104cd477e809d8dc4ff2d96ae3090",
            "www.example.com/c.png",
            "mailto:editor@example.com",
            "ftp://prod-files-secure.s3.us-west-2.amazonaws.com/a.png",
            "",
        ] {
            assert!(!is_notion_hosted(url), "{url}");
        }
    }

    #[test]
    fn a_file_keeps_its_key_across_signatures_and_a_replaced_file_gets_a_new_one() {
        let key = file_key(SIGNED_COVER).unwrap();
        assert_eq!(
            key,
            "prod-files-secure.s3.us-west-2.amazonaws.com/4f1c2a3b-0000-4c4c-9d9d-1a2b3c4d5e6f/9a2e7c1d-2b3c-4d5e-8f90-a1b2c3d4e5f6/cover.png"
        );
        assert_eq!(file_key(COVER_LATER).as_deref(), Some(key.as_str()));
        let replaced = SIGNED_COVER.replace("9a2e7c1d", "77b1c2d3");
        assert_ne!(file_key(&replaced), Some(key.clone()));
        assert_eq!(
            file_key("HTTP://Prod-Files-Secure.S3.US-West-2.amazonaws.com/4f1c2a3b-0000-4c4c-9d9d-1a2b3c4d5e6f/9a2e7c1d-2b3c-4d5e-8f90-a1b2c3d4e5f6/cover.png#x"),
            Some(key.clone()),
            "scheme, host case and fragment do not matter"
        );
        assert_eq!(
            file_key("http://127.0.0.1:8123/s3/a.png?X-Amz-Signature=1").as_deref(),
            Some("127.0.0.1:8123/s3/a.png")
        );
        assert_eq!(
            file_key("https://user:pw@host.test?x=1").as_deref(),
            Some("host.test/")
        );
        assert_eq!(file_key("/relative.png"), None);
        assert_eq!(file_key("https://"), None);

        assert_eq!(
            asset_key(AssetKind::Image, COVER_LATER),
            Some(format!("image:{key}"))
        );
        assert_eq!(
            asset_key(AssetKind::File, SIGNED_COVER),
            Some(format!("file:{key}"))
        );
        let long = format!("https://h.test/{}.png?X-Amz-Signature=1", "a".repeat(600));
        let hashed = asset_key(AssetKind::Image, &long).unwrap();
        assert_eq!(hashed.len(), "image:sha256:".len() + 64);
        assert!(hashed.starts_with("image:sha256:"));
        assert_eq!(
            asset_key(AssetKind::Image, &long.replace("=1", "=2")),
            Some(hashed)
        );
    }

    #[test]
    fn file_names_are_the_decoded_last_segment() {
        assert_eq!(file_name(SPEC).as_deref(), Some("Spec v2.pdf"));
        assert_eq!(file_name(SIGNED_COVER).as_deref(), Some("cover.png"));
        assert_eq!(
            file_name("https://h.test/a/%E6%9D%B1%E4%BA%AC.png").as_deref(),
            Some("東京.png")
        );
        assert_eq!(
            file_name("https://h.test/a/100%.png").as_deref(),
            Some("100%.png")
        );
        assert_eq!(file_name("https://h.test/dir/"), None);
        assert_eq!(file_name("not a url"), None);
    }

    #[test]
    fn notion_marks_its_own_files_even_on_hosts_nobody_knows() {
        // A stand-in whose URLs carry no recognisable signature: only Notion's marking tells.
        let odd = "http://127.0.0.1:5/blob/abc.png?token=x";
        let mut page = page();
        page["cover"] = json!({"type": "file", "file": {"url": odd, "expiry_time": "2024-12-06T09:15:00.000Z"}});
        page["icon"] =
            json!({"type": "external", "external": {"url": "https://example.com/icon.png"}});
        let files = NotionFiles::from_json(&page);
        assert!(files.is_hosted(odd));
        assert!(files.is_hosted(SIGNED_COVER));
        assert!(!files.is_hosted("https://example.com/icon.png"));
        assert!(!files.is_hosted("https://example.com/brief.pdf"));
        assert!(!NotionFiles::new().is_hosted(odd));

        let mut from_body = NotionFiles::new();
        let mut parent = BlockNode::leaf(json!({"type": "toggle", "toggle": {"rich_text": []}}));
        parent
            .children
            .push(BlockNode::leaf(json!({"type": "image", "image": {
            "type": "file", "caption": [], "file": {"url": odd, "expiry_time": "x"}}})));
        from_body.add_blocks(&[parent]);
        assert!(from_body.is_hosted(odd), "children are read too");
    }

    fn body_html() -> String {
        let caption = json!([{"type": "text", "text": {"content": "A cat", "link": null}, "plain_text": "A cat"}]);
        render_blocks(&[
            BlockNode::leaf(
                json!({"type": "image", "image": {"type": "file", "caption": caption,
                "file": {"url": BODY_CAT, "expiry_time": "x"}}}),
            ),
            BlockNode::leaf(
                json!({"type": "file", "file": {"type": "file", "caption": [], "name": "Spec v2.pdf",
                "file": {"url": SPEC, "expiry_time": "x"}}}),
            ),
            BlockNode::leaf(
                json!({"type": "image", "image": {"type": "external", "caption": [],
                "external": {"url": EXTERNAL}}}),
            ),
        ])
    }

    fn row() -> BTreeMap<String, FieldValue> {
        BTreeMap::from([
            ("title".to_owned(), FieldValue::String("Hello".into())),
            (
                "cover".to_owned(),
                FieldValue::Image {
                    url: Some(SIGNED_COVER.into()),
                    alt: Some("Cover".into()),
                },
            ),
            (
                "photo".to_owned(),
                FieldValue::Image {
                    url: Some(EXTERNAL.into()),
                    alt: None,
                },
            ),
            (
                "doc".to_owned(),
                FieldValue::File {
                    url: Some(SPEC.into()),
                },
            ),
            ("link".to_owned(), FieldValue::Link(Some(SPEC.into()))),
            (
                "empty".to_owned(),
                FieldValue::Image {
                    url: None,
                    alt: None,
                },
            ),
            ("body".to_owned(), FieldValue::FormattedText(body_html())),
        ])
    }

    fn key(kind: AssetKind, url: &str) -> String {
        asset_key(kind, url).unwrap()
    }

    #[test]
    fn a_row_lists_each_hosted_file_once_per_field_with_its_alt_and_name() {
        type Summary<'a> = (
            &'a str,
            AssetKind,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
        );
        let refs = row_assets(&row(), &NotionFiles::new());
        let summary: Vec<Summary> = refs
            .iter()
            .map(|r| {
                (
                    r.field_id.as_str(),
                    r.kind,
                    r.url.as_str(),
                    r.name.as_deref(),
                    r.alt.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "body",
                    AssetKind::Image,
                    BODY_CAT,
                    Some("cat.png"),
                    Some("A cat")
                ),
                ("body", AssetKind::File, SPEC, Some("Spec v2.pdf"), None),
                (
                    "cover",
                    AssetKind::Image,
                    SIGNED_COVER,
                    Some("cover.png"),
                    Some("Cover")
                ),
                ("doc", AssetKind::File, SPEC, Some("Spec v2.pdf"), None),
                ("link", AssetKind::File, SPEC, Some("Spec v2.pdf"), None),
            ]
        );
        assert_eq!(refs[2].key, key(AssetKind::Image, SIGNED_COVER));
        assert_eq!(
            refs[1].key, refs[3].key,
            "the same file in two fields is one asset"
        );

        // Three distinct assets; the cover is already known, so two uploads remain.
        let known = HashSet::from([key(AssetKind::Image, COVER_LATER)]);
        let missing: Vec<&str> = missing_uploads(&refs, |key| known.contains(key))
            .iter()
            .map(|r| r.key.as_str())
            .collect();
        assert_eq!(
            missing,
            vec![key(AssetKind::Image, BODY_CAT), key(AssetKind::File, SPEC)]
        );
        assert!(missing_uploads(&refs, |_| true).is_empty());
    }

    #[test]
    fn a_row_mapped_from_a_notion_page_finds_the_hosted_cover() {
        let page = page();
        let mapped = map_page(&page, &mapping(), &schema(), &RowOptions::default()).unwrap();
        let refs = row_assets(&mapped.field_data, &NotionFiles::from_json(&page));
        assert_eq!(refs.len(), 1, "{refs:?}");
        assert_eq!(refs[0].field_id, sanitize_id("cV%7Br"));
        assert_eq!(refs[0].url, SIGNED_COVER);
        assert_eq!(refs[0].kind, AssetKind::Image);
    }

    #[test]
    fn every_hosted_file_points_at_its_asset_after_the_rewrite() {
        let assets = HashMap::from([
            (
                key(AssetKind::Image, COVER_LATER),
                "https://framerusercontent.com/images/cover.png".to_owned(),
            ),
            (
                key(AssetKind::Image, BODY_CAT),
                "https://framerusercontent.com/images/cat.png?a=1&b=2".to_owned(),
            ),
            (
                key(AssetKind::File, SPEC),
                "https://framerusercontent.com/assets/spec.pdf".to_owned(),
            ),
        ]);
        let mut data = row();
        let dropped = rewrite_row(&mut data, &NotionFiles::new(), |key| {
            assets.get(key).cloned()
        });
        assert_eq!(dropped, vec![]);
        assert_eq!(
            data["cover"],
            FieldValue::Image {
                url: Some("https://framerusercontent.com/images/cover.png".into()),
                alt: Some("Cover".into())
            }
        );
        assert_eq!(data["photo"], row()["photo"], "external images stay");
        assert_eq!(
            data["doc"],
            FieldValue::File {
                url: Some("https://framerusercontent.com/assets/spec.pdf".into())
            }
        );
        assert_eq!(
            data["link"],
            FieldValue::Link(Some("https://framerusercontent.com/assets/spec.pdf".into()))
        );
        assert_eq!(data["title"], row()["title"]);
        let FieldValue::FormattedText(html) = &data["body"] else {
            panic!()
        };
        assert_eq!(
            html,
            "<figure><img src=\"https://framerusercontent.com/images/cat.png?a=1&amp;b=2\" alt=\"A cat\"><figcaption>A cat</figcaption></figure>\
             <p><a href=\"https://framerusercontent.com/assets/spec.pdf\">Spec v2.pdf</a></p>\
             <figure><img src=\"https://images.example.com/dog.jpg?v=2\" alt=\"\"></figure>"
        );
        // Nothing of Notion's file host is left, so a second pass finds nothing to do.
        assert!(row_assets(&data, &NotionFiles::new()).is_empty());
        let before = data.clone();
        assert_eq!(
            rewrite_row(&mut data, &NotionFiles::new(), |_| None),
            vec![]
        );
        assert_eq!(data, before);
    }

    #[test]
    fn files_without_an_asset_are_taken_out_and_reported() {
        let assets = HashMap::from([(
            key(AssetKind::File, SPEC),
            "https://framerusercontent.com/assets/spec.pdf".to_owned(),
        )]);
        let mut data = row();
        let dropped = rewrite_row(&mut data, &NotionFiles::new(), |key| {
            assets.get(key).cloned()
        });
        assert_eq!(
            dropped,
            vec![
                DroppedFile {
                    field_id: "body".into(),
                    kind: AssetKind::Image,
                    key: Some(key(AssetKind::Image, BODY_CAT)),
                    name: Some("cat.png".into())
                },
                DroppedFile {
                    field_id: "cover".into(),
                    kind: AssetKind::Image,
                    key: Some(key(AssetKind::Image, SIGNED_COVER)),
                    name: Some("cover.png".into())
                },
            ]
        );
        assert_eq!(
            data["cover"],
            FieldValue::Image {
                url: None,
                alt: Some("Cover".into())
            }
        );
        let FieldValue::FormattedText(html) = &data["body"] else {
            panic!()
        };
        assert!(html.starts_with("<figure><figcaption>A cat</figcaption></figure><p><a href=\"https://framerusercontent.com/assets/spec.pdf\">"), "{html}");
        assert!(!html.contains("prod-files-secure"));
    }

    #[test]
    fn uploads_ask_framer_for_the_signed_url_with_name_and_alt() {
        let refs = row_assets(&row(), &NotionFiles::new());
        assert_eq!(
            refs[2].upload(Some(Resolution::Full)),
            Call::UploadImage(ImageUpload {
                url: SIGNED_COVER.into(),
                name: Some("cover.png".into()),
                alt_text: Some("Cover".into()),
                resolution: Some(Resolution::Full),
                rendering: None,
            })
        );
        assert_eq!(
            refs[3].upload(None),
            Call::UploadFile(FileUpload {
                url: SPEC.into(),
                name: Some("Spec v2.pdf".into())
            })
        );
    }

    fn file_ref(kind: AssetKind, n: usize) -> AssetRef {
        AssetRef {
            key: format!("{}:k{n}", kind.as_str()),
            kind,
            url: format!(
                "https://prod-files-secure.s3.us-west-2.amazonaws.com/{n}.bin?X-Amz-Signature=s"
            ),
            field_id: "f".into(),
            name: Some(format!("{n}.bin")),
            alt: None,
        }
    }

    #[test]
    fn uploads_go_in_batches_of_one_kind_in_order() {
        let refs: Vec<AssetRef> = (0..7)
            .map(|n| {
                file_ref(
                    if n % 3 == 0 {
                        AssetKind::File
                    } else {
                        AssetKind::Image
                    },
                    n,
                )
            })
            .collect();
        let all: Vec<&AssetRef> = refs.iter().collect();
        let batches = upload_batches(&all, 2);
        let keys: Vec<Vec<&str>> = batches
            .iter()
            .map(|b| b.iter().map(|r| r.key.as_str()).collect())
            .collect();
        assert_eq!(
            keys,
            vec![
                vec!["image:k1", "image:k2"],
                vec!["image:k4", "image:k5"],
                vec!["file:k0", "file:k3"],
                vec!["file:k6"],
            ]
        );
        match upload_call(&batches[0], None) {
            Call::UploadImages(images) => {
                assert_eq!(images.len(), 2);
                assert_eq!(images[0].name.as_deref(), Some("1.bin"));
            }
            other => panic!("{}", other.method_name()),
        }
        assert!(
            matches!(upload_call(&batches[3], None), Call::UploadFiles(files) if files.len() == 1)
        );
        assert!(upload_batches(&[], UPLOADS_PER_CALL).is_empty());
    }
}
