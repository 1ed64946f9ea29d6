//! An alert destination as the API receives it: a URL that accepts a JSON POST, and the format
//! of the body. Validation refuses what could never be a public receiver (plain http, private
//! or loopback address literals) so that alerts cannot be aimed at the Worker's own network;
//! plain http to localhost is the one exception, for local development and tests.

use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A destination request that cannot be accepted: the field at fault and why (the API answers
/// it as a 400 naming the field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInput {
    pub field: String,
    pub message: String,
}

impl InvalidInput {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Longest display name accepted.
pub const MAX_NAME_LEN: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"text": ...}`: what Slack, Discord (`/slack` suffix) and Teams incoming webhooks take.
    Slack,
    /// A structured event signed with HMAC-SHA256 (see `payload`).
    Json,
}

impl Format {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "slack" => Some(Self::Slack),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Json => "json",
        }
    }
}

/// A validated request to create a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationInput {
    /// `None`: named by `default_name`.
    pub name: Option<String>,
    pub url: String,
    pub format: Format,
}

impl DestinationInput {
    /// Reads `{"url", "format"?, "name"?}`; `format` defaults to `slack`.
    pub fn parse(body: &Value) -> Result<Self, InvalidInput> {
        let Some(object) = body.as_object() else {
            return Err(InvalidInput::new("body", "expected a JSON object"));
        };
        for key in object.keys() {
            if !["url", "format", "name"].contains(&key.as_str()) {
                return Err(InvalidInput::new(key, "unknown field"));
            }
        }
        let url = match object.get("url") {
            Some(Value::String(url)) => url.trim().to_owned(),
            Some(_) => return Err(InvalidInput::new("url", "must be a string")),
            None => return Err(InvalidInput::new("url", "is required")),
        };
        validate_url(&url)?;
        let format = match object.get("format") {
            None | Some(Value::Null) => Format::Slack,
            Some(Value::String(f)) => Format::parse(f)
                .ok_or_else(|| InvalidInput::new("format", "must be \"slack\" or \"json\""))?,
            Some(_) => return Err(InvalidInput::new("format", "must be a string")),
        };
        let name = match object.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(n)) if n.trim().is_empty() => None,
            Some(Value::String(n)) if n.trim().chars().count() > MAX_NAME_LEN => {
                return Err(InvalidInput::new(
                    "name",
                    format!("must be at most {MAX_NAME_LEN} characters"),
                ))
            }
            Some(Value::String(n)) => Some(n.trim().to_owned()),
            Some(_) => return Err(InvalidInput::new("name", "must be a string")),
        };
        Ok(Self { name, url, format })
    }
}

/// A validated change to a destination: a new name or URL, or turning it on or off (the way
/// back after a 410 disabled it). The format cannot change: the secret belongs to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub enabled: Option<bool>,
}

impl DestinationPatch {
    pub fn parse(body: &Value) -> Result<Self, InvalidInput> {
        let Some(object) = body.as_object() else {
            return Err(InvalidInput::new("body", "expected a JSON object"));
        };
        let mut patch = Self::default();
        for (key, value) in object {
            match (key.as_str(), value) {
                ("url", Value::String(url)) => {
                    validate_url(url.trim())?;
                    patch.url = Some(url.trim().to_owned());
                }
                ("name", Value::String(name))
                    if !name.trim().is_empty() && name.trim().chars().count() <= MAX_NAME_LEN =>
                {
                    patch.name = Some(name.trim().to_owned());
                }
                ("name", _) => {
                    return Err(InvalidInput::new(
                        "name",
                        format!("must be a non-empty string of at most {MAX_NAME_LEN} characters"),
                    ))
                }
                ("enabled", Value::Bool(on)) => patch.enabled = Some(*on),
                ("url" | "enabled", _) => return Err(InvalidInput::new(key, "has the wrong type")),
                ("format", _) => {
                    return Err(InvalidInput::new(
                        "format",
                        "cannot change; create a new destination instead",
                    ))
                }
                _ => return Err(InvalidInput::new(key, "unknown field")),
            }
        }
        Ok(patch)
    }
}

/// What a destination URL is shown as once stored (it is a credential): its scheme, host and
/// port, and its last four characters, e.g. `https://hooks.slack.com/…x9Yz`.
pub fn url_hint(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let after = &rest[authority.len()..];
    let chars: Vec<char> = after.chars().collect();
    if chars.len() <= 1 {
        return format!("{scheme}://{authority}/");
    }
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    let tail = tail.trim_start_matches('/');
    format!("{scheme}://{authority}/…{tail}")
}

/// The service a receiver's host belongs to, for names: Slack, Discord, Microsoft Teams, or
/// the host itself.
fn service_of(host: &str) -> &str {
    match host {
        "hooks.slack.com" => "Slack",
        "discord.com" | "discordapp.com" | "ptb.discord.com" | "canary.discord.com" => "Discord",
        h if h.ends_with(".webhook.office.com")
            || h.ends_with(".logic.azure.com")
            || h.ends_with(".api.powerplatform.com") =>
        {
            "Teams"
        }
        h => h,
    }
}

/// A name for a destination created without one that tells it apart from the account's
/// others (`taken`): the service and the URL's last four characters, e.g. `Slack …x9Yz`,
/// numbered when that is taken too. Every Slack URL shares its host, so the host alone would
/// not do.
pub fn default_name(url: &str, taken: &[String]) -> String {
    let host = validate_url(url).unwrap_or_default();
    let hint = url_hint(url);
    let tail = hint.rsplit_once('…').map_or("", |(_, t)| t);
    let base = if tail.is_empty() {
        service_of(&host).to_owned()
    } else {
        format!("{} …{tail}", service_of(&host))
    };
    let mut name = base.clone();
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
        name = format!("{base} ({n})");
        n += 1;
    }
    name
}

/// Checks a destination URL and returns its host. Errors name the field `url`.
pub fn validate_url(url: &str) -> Result<String, InvalidInput> {
    let bad = |message: &str| InvalidInput::new("url", message);
    if url.is_empty() {
        return Err(bad("is required"));
    }
    if url.len() > MAX_URL_LEN {
        return Err(bad(&format!("must be at most {MAX_URL_LEN} characters")));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must not contain spaces or control characters"));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("must be an absolute https:// URL"))?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("must not contain a user name or password"));
    }
    let host = host_of(authority).ok_or_else(|| bad("has no host"))?;
    let local = is_localhost(&host);
    match scheme.as_str() {
        "https" => {}
        "http" if local => {}
        "http" => {
            return Err(bad(
                "must use https (plain http is accepted only for localhost)",
            ))
        }
        _ => return Err(bad("must be an absolute https:// URL")),
    }
    if !local {
        if let Some(ip) = ip_literal(&host) {
            if !is_public(ip) {
                return Err(bad(
                    "points at a private, loopback or link-local address; use a public receiver",
                ));
            }
        } else if host == "localhost" || host.ends_with(".localhost") || !host.contains('.') {
            return Err(bad("must name a public host"));
        }
    }
    Ok(host)
}

/// The host of `host[:port]` or `[v6]:port`, lowercased, without brackets.
fn host_of(authority: &str) -> Option<String> {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split_once(']')?.0
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// The development exception: exactly `localhost` or `127.0.0.1`.
fn is_localhost(host: &str) -> bool {
    host == "localhost" || host == "127.0.0.1"
}

/// An IP address literal, including the shorthand forms a URL parser accepts for IPv4
/// (`2130706433`, `0x7f.1`), which must not slip past as "names".
fn ip_literal(host: &str) -> Option<IpAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let numbers: Option<Vec<u64>> = parts.iter().map(|p| parse_ipv4_part(p)).collect();
    let numbers = numbers?;
    let count = numbers.len();
    let (last, head) = numbers.split_last()?;
    if head.iter().any(|p| *p > 255) || *last >= 1u64 << (8 * (5 - count)) {
        return None;
    }
    let mut value = *last;
    for (i, part) in head.iter().enumerate() {
        value += part << (8 * (3 - i));
    }
    u32::try_from(value)
        .ok()
        .map(|v| IpAddr::V4(Ipv4Addr::from(v)))
}

fn parse_ipv4_part(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok();
    }
    if part.len() > 1 && part.starts_with('0') {
        return u64::from_str_radix(&part[1..], 8).ok();
    }
    part.parse().ok()
}

/// Whether an address is reachable on the public internet (not private, loopback,
/// link-local, unspecified, shared, documentation or multicast space).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || first == 0x2001 && ip.segments()[1] == 0x0db8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(e: &InvalidInput) -> String {
        e.field.clone()
    }

    #[test]
    fn public_https_urls_pass_and_give_their_host() {
        for (url, host) in [
            (
                "https://hooks.slack.com/services/T0/B0/x",
                "hooks.slack.com",
            ),
            (
                "https://discord.com/api/webhooks/1/abc/slack",
                "discord.com",
            ),
            ("https://Example.COM:8443/a?b=c#d", "example.com"),
            ("https://8.8.8.8/hook", "8.8.8.8"),
            ("https://[2606:4700::1111]/hook", "2606:4700::1111"),
        ] {
            assert_eq!(validate_url(url).unwrap(), host, "{url}");
        }
    }

    #[test]
    fn http_is_allowed_only_for_localhost() {
        assert!(validate_url("http://localhost:8787/hook").is_ok());
        assert!(validate_url("http://127.0.0.1:9999/hook").is_ok());
        assert!(validate_url("https://127.0.0.1/hook").is_ok());
        let e = validate_url("http://example.com/hook").unwrap_err();
        assert_eq!(field_of(&e), "url");
        assert!(e.message.contains("https"));
        assert!(validate_url("ftp://example.com/").is_err());
        assert!(validate_url("example.com/hook").is_err());
    }

    #[test]
    fn private_loopback_and_link_local_literals_are_refused() {
        for url in [
            "https://10.0.0.1/",
            "https://192.168.1.20/",
            "https://172.16.0.1/",
            "https://127.0.0.2/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://2130706433/",
            "https://0x7f.1/",
            "https://017700000001/",
            "https://intranet/",
        ] {
            let e = validate_url(url).unwrap_err();
            assert_eq!(field_of(&e), "url", "{url}");
        }
    }

    #[test]
    fn long_or_odd_urls_are_refused() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(validate_url(&long).unwrap_err().message.contains("2048"));
        assert!(validate_url("https://user:pw@example.com/").is_err());
        assert!(validate_url("https://exa mple.com/").is_err());
        assert!(validate_url("").is_err());
        assert!(validate_url("https:///path").is_err());
    }

    #[test]
    fn patches_change_name_url_or_state_only() {
        let p = DestinationPatch::parse(&json!({"enabled": true, "name": "Ops"})).unwrap();
        assert_eq!(
            (p.enabled, p.name.as_deref(), p.url),
            (Some(true), Some("Ops"), None)
        );
        for (body, field) in [
            (json!({"url": "http://example.com"}), "url"),
            (json!({"format": "json"}), "format"),
            (json!({"enabled": "yes"}), "enabled"),
            (json!({"name": ""}), "name"),
            (json!({"other": 1}), "other"),
        ] {
            assert_eq!(
                field_of(&DestinationPatch::parse(&body).unwrap_err()),
                field,
                "{body}"
            );
        }
    }

    #[test]
    fn hints_show_the_host_and_little_else() {
        let slack = "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXx9Yz";
        assert_eq!(url_hint(slack), "https://hooks.slack.com/…x9Yz");
        assert_eq!(
            url_hint("http://127.0.0.1:8080/hook"),
            "http://127.0.0.1:8080/…hook"
        );
        assert_eq!(
            url_hint("https://example.com/ab"),
            "https://example.com/…ab"
        );
        assert_eq!(url_hint("https://example.com/"), "https://example.com/");
        assert_eq!(url_hint("https://example.com"), "https://example.com/");
        assert!(!url_hint(slack).contains("T0000"));
    }

    #[test]
    fn unnamed_destinations_get_names_that_tell_them_apart() {
        let a = "https://hooks.slack.com/services/T0/B0/aaaaaaaaaaaaaaaaaaaa1111";
        let b = "https://hooks.slack.com/services/T0/B1/bbbbbbbbbbbbbbbbbbbb2222";
        assert_eq!(default_name(a, &[]), "Slack …1111");
        assert_eq!(default_name(b, &["Slack …1111".to_owned()]), "Slack …2222");
        assert_ne!(default_name(a, &[]), default_name(b, &[]));
        let taken = vec!["Slack …1111".to_owned(), "slack …1111 (2)".to_owned()];
        assert_eq!(default_name(a, &taken), "Slack …1111 (3)");
        assert_eq!(
            default_name("https://discord.com/api/webhooks/1/abcd/slack", &[]),
            "Discord …lack"
        );
        assert_eq!(
            default_name(
                "https://acme.webhook.office.com/webhookb2/x/IncomingWebhook/zz/yy",
                &[]
            ),
            "Teams …z/yy"
        );
        assert_eq!(
            default_name("https://ops.example.com/", &[]),
            "ops.example.com"
        );
    }

    #[test]
    fn input_defaults_and_names_the_bad_field() {
        let input = DestinationInput::parse(&json!({"url": "https://hooks.slack.com/x"})).unwrap();
        assert_eq!(input.format, Format::Slack);
        assert_eq!(
            input.name, None,
            "named once the account's others are known"
        );
        let input = DestinationInput::parse(
            &json!({"url": "https://example.com/x", "format": "json", "name": " Ops "}),
        )
        .unwrap();
        assert_eq!(
            (input.format, input.name.as_deref()),
            (Format::Json, Some("Ops"))
        );
        for (body, field) in [
            (json!({}), "url"),
            (json!({"url": 3}), "url"),
            (
                json!({"url": "https://example.com", "format": "xml"}),
                "format",
            ),
            (
                json!({"url": "https://example.com", "name": "n".repeat(101)}),
                "name",
            ),
            (
                json!({"url": "https://example.com", "secret": "x"}),
                "secret",
            ),
            (json!([]), "body"),
        ] {
            let e = DestinationInput::parse(&body).unwrap_err();
            assert_eq!(field_of(&e), field, "{body}");
        }
    }
}
