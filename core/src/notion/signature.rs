//! Notion webhook signatures: `X-Notion-Signature: sha256=<hex HMAC-SHA256 of the raw body>`,
//! keyed with the subscription's verification token.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Why a request's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// Nothing to check against: the webhook has not received its verification token.
    NoToken,
    Missing,
    Malformed,
    Mismatch,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoToken => "no verification token has been received for this webhook yet",
            Self::Missing => "the X-Notion-Signature header is missing",
            Self::Malformed => "the X-Notion-Signature header is not of the form sha256=<64 hex>",
            Self::Mismatch => "the X-Notion-Signature header does not match the body",
        })
    }
}

impl std::error::Error for SignatureError {}

/// The header value Notion would send for `body` signed with `token`.
pub fn sign(token: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(token, body).finalize().into_bytes())
    )
}

/// Checks `header` against the raw `body` in constant time.
pub fn verify(token: &str, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    if hex_digest.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    mac(token, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

fn mac(token: &str, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(token.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Vec<Value> {
        let text = include_str!("../../../vectors/notion-signatures.json");
        let parsed: Value = serde_json::from_str(text).unwrap();
        parsed["cases"].as_array().unwrap().clone()
    }

    #[test]
    fn matches_the_official_sdk_vectors() {
        let cases = vectors();
        assert_eq!(cases.len(), 5);
        for case in cases {
            let token = case["verification_token"].as_str().unwrap();
            let body = case["body"].as_str().unwrap().as_bytes();
            let header = case["x_notion_signature"].as_str().unwrap();
            assert_eq!(sign(token, body), header, "{}", case["name"]);
            assert_eq!(verify(token, body, Some(header)), Ok(()));
        }
    }

    #[test]
    fn refuses_tampering_and_garbage() {
        let case = &vectors()[1];
        let token = case["verification_token"].as_str().unwrap();
        let body = case["body"].as_str().unwrap();
        let header = case["x_notion_signature"].as_str().unwrap();
        let longer = format!("{body} ");
        assert_eq!(
            verify(token, longer.as_bytes(), Some(header)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("secret_other", body.as_bytes(), Some(header)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(token, body.as_bytes(), None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(token, body.as_bytes(), Some(&header[7..])),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(token, body.as_bytes(), Some("sha256=zz")),
            Err(SignatureError::Malformed)
        );
        let non_hex = format!("sha256={}", "g".repeat(64));
        assert_eq!(
            verify(token, body.as_bytes(), Some(&non_hex)),
            Err(SignatureError::Malformed)
        );
    }
}
