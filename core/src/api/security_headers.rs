//! The security headers of every response: the Worker's own (API, webhooks, errors) get them in
//! the Worker's `src/http.rs`, the page's static files through `public/_headers`, which a test keeps equal
//! to this list. The page runs with no inline script or style, so the policy can forbid both.

/// Only the page's own scripts, styles and API; no framing, no plugins, no base rewriting.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Sent on https origins only: a browser must not pin HTTPS for http://localhost in development.
/// Browsers apply it to the whole host, so the page's static files are covered as soon as the
/// page has made its first API call.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000; includeSubDomains";

/// `(name, value)` for every response; `https` says whether the request came over HTTPS.
pub fn for_response(https: bool) -> Vec<(&'static str, &'static str)> {
    let mut headers = vec![
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
    ];
    if https {
        headers.push(("strict-transport-security", STRICT_TRANSPORT_SECURITY));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsts_only_over_https() {
        let plain = for_response(false);
        assert_eq!(plain.len(), 4);
        assert!(plain
            .iter()
            .all(|(name, _)| *name != "strict-transport-security"));
        let secure = for_response(true);
        assert!(secure.contains(&("strict-transport-security", STRICT_TRANSPORT_SECURITY)));
    }

    #[test]
    fn the_policy_forbids_inline_code_and_framing() {
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(CONTENT_SECURITY_POLICY.contains(directive), "{directive}");
        }
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
    }

    /// Workers static assets apply `public/_headers` to the page: the same headers, every path.
    #[test]
    fn public_headers_file_sends_the_same_headers() {
        let file = include_str!("../../../public/_headers");
        let mut lines = file
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        assert_eq!(lines.next(), Some("/*"));
        let served: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.trim().split_once(": ").expect("name: value");
                (name.to_ascii_lowercase(), value.to_owned())
            })
            .collect();
        let expected: Vec<(String, String)> = for_response(false)
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(served, expected);
    }
}
