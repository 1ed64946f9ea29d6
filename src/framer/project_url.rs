//! Where a Framer connection goes: the project a URL (or bare id) names, as the official
//! `framer-api` client reads it, and the WebSocket URL with the query that client sends.

use std::fmt;

use crate::framer::wire::{CLIENT_ID, SDK_VERSION};

/// Framer's endpoint for headless (Server API) connections.
pub const DEFAULT_SERVER_URL: &str = "wss://api.framer.com/channel/headless-plugin";

/// Why no connection URL could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// Neither a Framer project URL nor a 20-character project id.
    InvalidProject(String),
    /// The server URL is not an absolute ws, wss, http or https URL.
    InvalidServerUrl(String),
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidProject(input) => write!(f, "invalid Framer project URL or id: {input:?}"),
            Self::InvalidServerUrl(input) => write!(f, "invalid Framer server URL: {input:?}"),
        }
    }
}

impl std::error::Error for UrlError {}

/// A project named by its URL or id, with the branch the URL names (`?branch=`), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectTarget {
    pub project_id: String,
    pub branch_id: Option<String>,
}

/// Reads a project the way the official client does: a bare 20-character id, or a URL (or
/// path) with a `projects/<Name>--<id>` or `projects/<id>` segment and maybe `?branch=<id>`.
pub fn parse_project(input: &str) -> Result<ProjectTarget, UrlError> {
    if is_project_id(input) {
        return Ok(ProjectTarget {
            project_id: input.to_owned(),
            branch_id: None,
        });
    }
    let reference = UrlReference::split(input);
    let project_id = project_id_from_path(&reference.path)
        .ok_or_else(|| UrlError::InvalidProject(input.to_owned()))?;
    let branch_id = reference
        .query
        .as_deref()
        .and_then(|query| form_param(query, "branch"))
        .map(|branch| branch.trim().to_owned())
        .filter(|branch| !branch.is_empty());
    Ok(ProjectTarget {
        project_id,
        branch_id,
    })
}

fn is_project_id(s: &str) -> bool {
    s.len() == 20 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The path and query of a URL or of a reference resolved against `https://framer.com`.
struct UrlReference {
    path: String,
    query: Option<String>,
}

impl UrlReference {
    fn split(input: &str) -> Self {
        // As the WHATWG URL parser: surrounding controls and spaces go, tabs and newlines
        // inside are dropped, backslashes count as slashes in http(s) URLs.
        let cleaned: String = input
            .trim_matches(|c: char| c <= ' ')
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .map(|c| if c == '\\' { '/' } else { c })
            .collect();
        let without_fragment = cleaned.split('#').next().unwrap_or_default();
        let (before_query, query) = match without_fragment.split_once('?') {
            Some((before, query)) => (before, Some(query.to_owned())),
            None => (without_fragment, None),
        };
        let after_scheme = strip_scheme(before_query);
        let path = match after_scheme.strip_prefix("//") {
            Some(authority_and_path) => authority_and_path
                .find('/')
                .map_or("", |at| &authority_and_path[at..]),
            None => after_scheme,
        };
        Self {
            path: path.to_owned(),
            query,
        }
    }
}

fn strip_scheme(s: &str) -> &str {
    let Some((scheme, rest)) = s.split_once(':') else {
        return s;
    };
    let mut chars = scheme.chars();
    let is_scheme = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if is_scheme {
        rest
    } else {
        s
    }
}

/// The id in the segment after `projects`: after the last `--` in `Name--<id>`, or the whole
/// segment; either way it must be a 20-character id.
fn project_id_from_path(path: &str) -> Option<String> {
    let segments = path_segments(path);
    let at = segments
        .iter()
        .position(|s| s.to_lowercase() == "projects")?;
    let segment = percent_decode_strict(segments.get(at + 1)?)?;
    let candidate = id_after_last_separator(&segment).unwrap_or(&segment);
    is_project_id(candidate).then(|| candidate.to_owned())
}

/// Non-empty path segments with `.` and `..` resolved, as URL parsing leaves them.
fn path_segments(path: &str) -> Vec<&str> {
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    segments
}

/// What `/^.+--([A-Za-z0-9]+)/u` captures: the greedy `.+` makes it the last `--` that has
/// text before it (on the first line) and an alphanumeric after it.
fn id_after_last_separator(segment: &str) -> Option<&str> {
    let first_line_end = segment
        .find(['\n', '\r', '\u{2028}', '\u{2029}'])
        .unwrap_or(segment.len());
    (1..=first_line_end.min(segment.len().saturating_sub(2)))
        .rev()
        .filter(|&at| segment.is_char_boundary(at) && segment[at..].starts_with("--"))
        .find_map(|at| {
            let rest = &segment[at + 2..];
            let end = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            (end > 0).then(|| &rest[..end])
        })
}

/// `decodeURIComponent`: every `%` must start a valid escape and the bytes must be UTF-8.
fn percent_decode_strict(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(hex_byte(bytes.get(i + 1..i + 3)?)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(pair).ok()?;
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(text, 16).ok()
}

/// The first value of `name` in an `application/x-www-form-urlencoded` query.
fn form_param(query: &str, name: &str) -> Option<String> {
    form_pairs(query)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(key), form_decode(value))
        })
        .collect()
}

/// Form decoding: `+` is a space, bad `%` escapes stay as written, invalid UTF-8 is replaced.
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let Some(byte) = bytes.get(i + 1..i + 3).and_then(hex_byte) {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Form encoding as `URLSearchParams` writes it.
fn form_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        match byte {
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => {
                out.push('%');
                out.push(char::from(HEX[usize::from(other >> 4)]));
                out.push(char::from(HEX[usize::from(other & 0xF)]));
            }
        }
    }
    out
}

/// The WebSocket URL for `project` on `server_url` (e.g. [`DEFAULT_SERVER_URL`], or a test
/// server), with the query the official client sends: `projectId`, `sdkVersion`, `clientId`,
/// and `expectedInitialBranchId` when the project URL names a branch. An http(s) server URL
/// becomes ws(s); other query parameters of the server URL are kept.
pub fn connect_url(server_url: &str, project: &str) -> Result<String, UrlError> {
    let target = parse_project(project)?;
    let mut url = ServerUrl::parse(server_url)?;
    url.set_param("projectId", &target.project_id);
    url.set_param("sdkVersion", SDK_VERSION);
    url.set_param("clientId", CLIENT_ID);
    if let Some(branch) = &target.branch_id {
        url.set_param("expectedInitialBranchId", branch);
    }
    Ok(url.to_string())
}

/// The http(s) form of a ws(s) URL: on Cloudflare Workers the socket is opened by a `fetch`
/// of this URL with `Upgrade: websocket`, as the official client does there.
pub fn upgrade_fetch_url(ws_url: &str) -> String {
    if let Some(rest) = ws_url.strip_prefix("wss:") {
        format!("https:{rest}")
    } else if let Some(rest) = ws_url.strip_prefix("ws:") {
        format!("http:{rest}")
    } else {
        ws_url.to_owned()
    }
}

/// An absolute ws(s) URL split enough to set query parameters the way `URLSearchParams` does.
struct ServerUrl {
    scheme: &'static str,
    authority: String,
    path: String,
    params: Vec<(String, String)>,
    fragment: Option<String>,
}

impl ServerUrl {
    fn parse(input: &str) -> Result<Self, UrlError> {
        let invalid = || UrlError::InvalidServerUrl(input.to_owned());
        let trimmed = input.trim_matches(|c: char| c <= ' ');
        let (scheme, rest) = trimmed.split_once("://").ok_or_else(invalid)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "ws" | "http" => "ws",
            "wss" | "https" => "wss",
            _ => return Err(invalid()),
        };
        let (rest, fragment) = match rest.split_once('#') {
            Some((rest, fragment)) => (rest, Some(fragment.to_owned())),
            None => (rest, None),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
        if authority.is_empty() {
            return Err(invalid());
        }
        Ok(Self {
            scheme,
            authority: lowercase_host(authority),
            path: if path.is_empty() {
                "/".to_owned()
            } else {
                path.to_owned()
            },
            params: form_pairs(query),
            fragment,
        })
    }

    /// `URLSearchParams.set`: replaces the first pair named `name` and drops the others, or
    /// appends one.
    fn set_param(&mut self, name: &str, value: &str) {
        match self.params.iter().position(|(key, _)| key == name) {
            Some(first) => {
                value.clone_into(&mut self.params[first].1);
                let mut index = 0;
                self.params.retain(|(key, _)| {
                    let keep = index <= first || key != name;
                    index += 1;
                    keep
                });
            }
            None => self.params.push((name.to_owned(), value.to_owned())),
        }
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.path)?;
        let query: Vec<String> = self
            .params
            .iter()
            .map(|(key, value)| format!("{}={}", form_encode(key), form_encode(value)))
            .collect();
        if !query.is_empty() {
            write!(f, "?{}", query.join("&"))?;
        }
        if let Some(fragment) = &self.fragment {
            write!(f, "#{fragment}")?;
        }
        Ok(())
    }
}

/// Hosts are case-insensitive and URL serialization lowercases them; user info is kept.
fn lowercase_host(authority: &str) -> String {
    match authority.rsplit_once('@') {
        Some((user, host)) => format!("{user}@{}", host.to_ascii_lowercase()),
        None => authority.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRANSCRIPT: &str = include_str!("../../vectors/framer-transcript.json");

    #[test]
    fn projects_are_parsed_like_the_official_client() {
        // Expected values from the official client's parseProjectConnectionTarget.
        let id = "AbCdEfGhIjKlMnOpQrSt";
        let cases: [(&str, Option<&str>); 7] = [
            ("AbCdEfGhIjKlMnOpQrSt", None),
            (
                "https://framer.com/projects/Sites--AbCdEfGhIjKlMnOpQrSt",
                None,
            ),
            (
                "https://framer.com/projects/My--Site--AbCdEfGhIjKlMnOpQrSt-xyz?node=1",
                None,
            ),
            (
                "https://framer.com/projects/Name--AbCdEfGhIjKlMnOpQrSt?branch=%20br%2F1%20&x=1",
                Some("br/1"),
            ),
            ("https://framer.com/projects/AbCdEfGhIjKlMnOpQrSt", None),
            (
                "framer.com/Projects/N%C3%A9--AbCdEfGhIjKlMnOpQrSt#frag",
                None,
            ),
            ("/projects/Name--AbCdEfGhIjKlMnOpQrSt?branch=", None),
        ];
        for (input, branch) in cases {
            let expected = ProjectTarget {
                project_id: id.into(),
                branch_id: branch.map(str::to_owned),
            };
            assert_eq!(parse_project(input), Ok(expected), "{input}");
        }
        for input in [
            "https://framer.com/projects/Name--short",
            "https://framer.com/p/Name--AbCdEfGhIjKlMnOpQrSt",
            "https://framer.com/projects/Bad%E0--AbCdEfGhIjKlMnOpQrSt",
            "AbCdEfGhIjKlMnOpQrS",
            "",
        ] {
            assert_eq!(
                parse_project(input),
                Err(UrlError::InvalidProject(input.into())),
                "{input}"
            );
        }
    }

    #[test]
    fn connect_urls_match_the_official_client() {
        // Expected values from the official client's createHeadlessServerUrl.
        let project = "https://framer.com/projects/Sites--AbCdEfGhIjKlMnOpQrSt";
        let branched =
            "https://framer.com/projects/Sites--AbCdEfGhIjKlMnOpQrSt?branch=br%201%2F%C3%A9";
        let query = "projectId=AbCdEfGhIjKlMnOpQrSt&sdkVersion=5.0.0&clientId=framer-api%2F5.0.0";
        let branch = "&expectedInitialBranchId=br+1%2F%C3%A9";
        let cases = [
            (
                DEFAULT_SERVER_URL,
                project,
                format!("wss://api.framer.com/channel/headless-plugin?{query}"),
            ),
            (
                DEFAULT_SERVER_URL,
                branched,
                format!("wss://api.framer.com/channel/headless-plugin?{query}{branch}"),
            ),
            (
                "https://example.test:8787/ws?x=a%20b&projectId=old",
                project,
                format!("wss://example.test:8787/ws?x=a+b&{query}"),
            ),
            (
                "http://127.0.0.1:9000",
                branched,
                format!("ws://127.0.0.1:9000/?{query}{branch}"),
            ),
            (
                "WSS://API.Example.com/p#h",
                project,
                format!("wss://api.example.com/p?{query}#h"),
            ),
        ];
        for (server, project, expected) in cases {
            assert_eq!(connect_url(server, project), Ok(expected), "{server}");
        }
        assert_eq!(
            connect_url("ftp://example.com", project),
            Err(UrlError::InvalidServerUrl("ftp://example.com".into()))
        );
        assert_eq!(
            connect_url("example.com/ws", project),
            Err(UrlError::InvalidServerUrl("example.com/ws".into()))
        );
        assert_eq!(
            connect_url(DEFAULT_SERVER_URL, "nope"),
            Err(UrlError::InvalidProject("nope".into()))
        );
    }

    #[test]
    fn the_transcript_connection_used_the_same_query() {
        let doc: serde_json::Value = serde_json::from_str(TRANSCRIPT).unwrap();
        let query = &doc["connection"]["query"];
        let url = connect_url(DEFAULT_SERVER_URL, query["projectId"].as_str().unwrap()).unwrap();
        let (_, ours) = url.split_once('?').unwrap();
        let ours: serde_json::Map<String, serde_json::Value> = form_pairs(ours)
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        assert_eq!(&serde_json::Value::Object(ours), query);
    }

    #[test]
    fn upgrade_urls_are_http() {
        assert_eq!(
            upgrade_fetch_url("wss://api.framer.com/x?a=1"),
            "https://api.framer.com/x?a=1"
        );
        assert_eq!(
            upgrade_fetch_url("ws://127.0.0.1:9000/"),
            "http://127.0.0.1:9000/"
        );
    }
}
