//! Secrets at rest and API tokens: AES-256-GCM for stored credentials, SHA-256 for tokens we
//! only need to recognise, and hints that show a secret without revealing it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    /// ENCRYPTION_KEY is not 32 bytes in base64 or hex.
    BadKey,
    /// A stored ciphertext does not decrypt under this key (tampered, or the key changed).
    Undecryptable,
    /// The system random source failed.
    Random,
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadKey => "ENCRYPTION_KEY must be 32 bytes, base64- or hex-encoded",
            Self::Undecryptable => {
                "a stored secret cannot be decrypted (was ENCRYPTION_KEY changed?)"
            }
            Self::Random => "the random number source failed",
        })
    }
}

impl std::error::Error for SecretError {}

/// Encrypts and decrypts stored credentials under the deployment's ENCRYPTION_KEY.
pub struct Cipher {
    aead: Aes256Gcm,
}

impl Cipher {
    pub fn from_key(encoded: &str) -> Result<Self, SecretError> {
        let encoded = encoded.trim();
        let bytes = hex::decode(encoded)
            .ok()
            .filter(|b| b.len() == 32)
            .or_else(|| STANDARD.decode(encoded).ok())
            .or_else(|| URL_SAFE_NO_PAD.decode(encoded).ok())
            .filter(|b| b.len() == 32)
            .ok_or(SecretError::BadKey)?;
        let aead = Aes256Gcm::new_from_slice(&bytes).map_err(|_| SecretError::BadKey)?;
        Ok(Self { aead })
    }

    /// `context` (for example "project:<id>:notion_token") is authenticated with the ciphertext,
    /// so a value copied into another row or column does not decrypt.
    pub fn encrypt(&self, plaintext: &str, context: &str) -> Result<String, SecretError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let nonce = Nonce::from_slice(&nonce_bytes);
        let sealed = self
            .aead
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Undecryptable)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    pub fn decrypt(&self, stored: &str, context: &str) -> Result<String, SecretError> {
        let bytes = STANDARD
            .decode(stored)
            .map_err(|_| SecretError::Undecryptable)?;
        if bytes.len() <= NONCE_LEN {
            return Err(SecretError::Undecryptable);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .aead
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Undecryptable)
    }
}

/// The credentials a project stores encrypted. Each ciphertext is bound to its project and kind
/// (the associated data is `project:<id>:<kind>`), so one cannot be replayed as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectSecret {
    NotionToken,
    FramerApiKey,
    VerificationToken,
}

impl ProjectSecret {
    pub fn name(self) -> &'static str {
        match self {
            Self::NotionToken => "notion_token",
            Self::FramerApiKey => "framer_api_key",
            Self::VerificationToken => "verification_token",
        }
    }

    pub fn context(self, project_id: &str) -> String {
        format!("project:{project_id}:{}", self.name())
    }
}

/// `N` bytes from the platform's CSPRNG (crypto.getRandomValues on Workers).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(|_| SecretError::Random)?;
    Ok(buf)
}

/// A new unguessable token: `prefix` followed by 256 random bits, URL-safe.
pub fn random_token(prefix: &str) -> Result<String, SecretError> {
    Ok(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
    ))
}

/// A short random id for rows (128 bits, hex).
pub fn random_id() -> Result<String, SecretError> {
    Ok(hex::encode(random_bytes::<16>()?))
}

/// What we store to recognise a token later.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Enough of a secret for a person to recognise it: its prefix up to the first `_` and its
/// last four characters. Short secrets show nothing but their length class.
pub fn hint(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 16 {
        return "…".to_owned();
    }
    let prefix: String = match secret.find('_') {
        Some(i) if i <= 8 => secret[..=i].to_owned(),
        _ => String::new(),
    };
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn round_trips_and_binds_context() {
        let c = Cipher::from_key(KEY_HEX).unwrap();
        let sealed = c.encrypt("ntn_supersecret", "project:1:notion").unwrap();
        assert!(!sealed.contains("supersecret"));
        assert_eq!(
            c.decrypt(&sealed, "project:1:notion").unwrap(),
            "ntn_supersecret"
        );
        assert_eq!(
            c.decrypt(&sealed, "project:2:notion"),
            Err(SecretError::Undecryptable)
        );
        assert_ne!(
            c.encrypt("ntn_supersecret", "x").unwrap(),
            c.encrypt("ntn_supersecret", "x").unwrap(),
            "fresh nonce each time"
        );
        let other = Cipher::from_key(&STANDARD.encode([7u8; 32])).unwrap();
        assert_eq!(
            other.decrypt(&sealed, "project:1:notion"),
            Err(SecretError::Undecryptable)
        );
        assert_eq!(c.decrypt("AAAA", "x"), Err(SecretError::Undecryptable));
    }

    #[test]
    fn project_secrets_do_not_open_as_each_other() {
        let c = Cipher::from_key(KEY_HEX).unwrap();
        let sealed = c
            .encrypt("ntn_x", &ProjectSecret::NotionToken.context("p1"))
            .unwrap();
        assert_eq!(
            c.decrypt(&sealed, &ProjectSecret::NotionToken.context("p1"))
                .unwrap(),
            "ntn_x"
        );
        assert!(c
            .decrypt(&sealed, &ProjectSecret::FramerApiKey.context("p1"))
            .is_err());
        assert!(c
            .decrypt(&sealed, &ProjectSecret::NotionToken.context("p2"))
            .is_err());
    }

    #[test]
    fn refuses_keys_of_the_wrong_size() {
        assert!(Cipher::from_key("abcd").is_err());
        assert!(Cipher::from_key(&STANDARD.encode([1u8; 16])).is_err());
        assert!(Cipher::from_key("").is_err());
    }

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let a = random_token("nfs_").unwrap();
        let b = random_token("nfs_").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("nfs_") && a.len() == 4 + 43);
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq(&a, &a.clone()));
        assert!(!constant_time_eq(&a, &b));
        assert!(!constant_time_eq("abc", "abcd"));
    }

    #[test]
    fn hints_reveal_little() {
        assert_eq!(
            hint("secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"),
            "secret_…7yBl"
        );
        assert_eq!(hint("0123456789abcdefXYZW"), "…XYZW");
        assert_eq!(hint("short"), "…");
    }
}
