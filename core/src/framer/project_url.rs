//! Where a Framer connection goes: the project a URL (or bare id) names, as the official
//! `framer-api` client reads it, and the WebSocket URL with the query that client sends.

use std::borrow::Cow;
use std::fmt;

use percent_encoding::percent_decode_str;
use url::{form_urlencoded, Position, Url};

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
/// URL parsing is the WHATWG parser's (the `url` crate): a reference is resolved against
/// `https://framer.com`, as the client's `new URL(input, base)` does.
pub fn parse_project(input: &str) -> Result<ProjectTarget, UrlError> {
    if is_project_id(input) {
        return Ok(ProjectTarget {
            project_id: input.to_owned(),
            branch_id: None,
        });
    }
    let invalid = || UrlError::InvalidProject(input.to_owned());
    let url = Url::parse(FRAMER_ORIGIN)
        .and_then(|base| base.join(input))
        .map_err(|_| invalid())?;
    let project_id = project_id_from_path(&url).ok_or_else(invalid)?;
    let branch_id = url
        .query_pairs()
        .find(|(key, _)| key == "branch")
        .map(|(_, branch)| branch.trim().to_owned())
        .filter(|branch| !branch.is_empty());
    Ok(ProjectTarget {
        project_id,
        branch_id,
    })
}

/// What a project reference without a scheme is resolved against.
const FRAMER_ORIGIN: &str = "https://framer.com/";

fn is_project_id(s: &str) -> bool {
    s.len() == 20 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The id in the segment after `projects`: after the last `--` in `Name--<id>`, or the whole
/// segment; either way it must be a 20-character id.
fn project_id_from_path(url: &Url) -> Option<String> {
    let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    let at = segments
        .iter()
        .position(|s| s.to_lowercase() == "projects")?;
    let segment = decode_uri_component(segments.get(at + 1)?)?;
    let candidate = id_after_last_separator(&segment).unwrap_or(&segment);
    is_project_id(candidate).then(|| candidate.to_owned())
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

/// `decodeURIComponent`: every `%` must start a valid escape and the bytes must be UTF-8
/// (`percent_decode` alone would keep a bad escape as written).
fn decode_uri_component(s: &str) -> Option<String> {
    let escapes_valid = s.match_indices('%').all(|(at, _)| {
        s.as_bytes()
            .get(at + 1..at + 3)
            .is_some_and(|pair| pair.iter().all(u8::is_ascii_hexdigit))
    });
    escapes_valid.then_some(())?;
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(Cow::into_owned)
}

/// The WebSocket URL for `project` on `server_url` (e.g. [`DEFAULT_SERVER_URL`], or a test
/// server), with the query the official client sends: `projectId`, `sdkVersion`, `clientId`,
/// and `expectedInitialBranchId` when the project URL names a branch. An http(s) server URL
/// becomes ws(s); other query parameters of the server URL are kept.
pub fn connect_url(server_url: &str, project: &str) -> Result<String, UrlError> {
    let target = parse_project(project)?;
    let invalid = || UrlError::InvalidServerUrl(server_url.to_owned());
    let mut url = Url::parse(server_url).map_err(|_| invalid())?;
    let scheme = match url.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        _ => return Err(invalid()),
    };
    let mut params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    set_param(&mut params, "projectId", &target.project_id);
    set_param(&mut params, "sdkVersion", SDK_VERSION);
    set_param(&mut params, "clientId", CLIENT_ID);
    if let Some(branch) = &target.branch_id {
        set_param(&mut params, "expectedInitialBranchId", branch);
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    url.set_query(Some(&query));
    // http(s) and ws(s) share their default ports, so the rest of the URL stays as parsed.
    Ok(format!("{scheme}{}", &url[Position::AfterScheme..]))
}

/// `URLSearchParams.set`: replaces the first pair named `name` and drops the others, or
/// appends one.
fn set_param(params: &mut Vec<(String, String)>, name: &str, value: &str) {
    match params.iter().position(|(key, _)| key == name) {
        Some(first) => {
            value.clone_into(&mut params[first].1);
            let mut index = 0;
            params.retain(|(key, _)| {
                let keep = index <= first || key != name;
                index += 1;
                keep
            });
        }
        None => params.push((name.to_owned(), value.to_owned())),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const TRANSCRIPT: &str = include_str!("../../../vectors/framer-transcript.json");

    #[test]
    fn projects_are_parsed_like_the_official_client() {
        // Expected values from the official client's parseProjectConnectionTarget.
        let id = "AbCdEfGhIjKlMnOpQrSt";
        let cases: [(&str, Option<&str>); 9] = [
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
            // WHATWG parsing: backslashes are slashes, tabs and newlines inside are dropped,
            // dot segments resolve.
            (
                " https:\\\\framer.com\\projects\\Name--AbCdEfGhIjKlMnOpQrSt ",
                None,
            ),
            (
                "https://framer.com/x/../pro\tjects/./Name--AbCdEfGhIjKlMn\nOpQrSt?branch=b",
                Some("b"),
            ),
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
        let ours: serde_json::Map<String, serde_json::Value> =
            url::form_urlencoded::parse(ours.as_bytes())
                .into_owned()
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
