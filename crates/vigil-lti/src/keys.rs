//! vigil's own signing keys (Security Framework §6): RSA-2048, kept by the
//! server as PKCS#8 PEM, published as a JWK set, and rotated with a grace
//! period. Also the parsing of a platform's JWK set, which the adapter
//! fetches.

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::Value;

use crate::types::UnixSeconds;

/// Largest PEM accepted for a private key.
pub const MAX_PEM_BYTES: usize = 16 * 1024;
/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest platform JWK set document read.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Most keys kept from a platform JWK set.
pub const MAX_JWKS_KEYS: usize = 64;

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("RSA key generation failed")]
    Generation,
    #[error("the private key is not unencrypted PKCS#8 PEM")]
    NotPkcs8Pem,
    #[error("the private key is not a usable RSA key")]
    Rejected,
    #[error("the RSA key has {bits} bits; at least 2048 are needed")]
    TooSmall { bits: usize },
    #[error("signing failed")]
    Signing,
}

/// One RSA key pair of vigil's. Its `kid` is the RFC 7638 thumbprint of the
/// public key, so it is the same wherever the key is loaded and never needs
/// storing beside it.
#[derive(Clone)]
pub struct ToolKey {
    kid: String,
    pkcs8_pem: String,
    encoding: EncodingKey,
    public_jwk: Jwk,
}

impl fmt::Debug for ToolKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl ToolKey {
    /// A fresh RSA-2048 key pair. The entropy comes from aws-lc's own
    /// generator: the one place this crate does not take randomness as input.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generation)?;
        let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| KeyError::Generation)?;
        Self::from_pkcs8_der(der.as_ref())
    }

    /// Loads a key saved with [`ToolKey::pkcs8_pem`].
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        Self::from_pkcs8_der(&decode_pem(pem)?)
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let pair = KeyPair::from_pkcs8(der).map_err(|_| KeyError::Rejected)?;
        let bits = pair.public_modulus_len() * 8;
        if bits < MIN_RSA_BITS {
            return Err(KeyError::TooSmall { bits });
        }
        let pkcs8_pem = encode_pem(der);
        let encoding = EncodingKey::from_rsa_pem(pkcs8_pem.as_bytes()).map_err(|_| KeyError::Rejected)?;
        let mut public_jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).map_err(|_| KeyError::Rejected)?;
        let kid = public_jwk.thumbprint(ThumbprintHash::SHA256).map_err(|_| KeyError::Rejected)?;
        public_jwk.common.key_id = Some(kid.clone());
        public_jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(Self { kid, pkcs8_pem, encoding, public_jwk })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PKCS#8 PEM, for the server to store. Secret.
    pub fn pkcs8_pem(&self) -> &str {
        &self.pkcs8_pem
    }

    /// The public key as a JWK: `kty`, `alg: RS256`, `use: sig`, `kid`, `n`, `e`.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public_jwk
    }

    /// Signs `claims` as an RS256 JWT whose header names this key's `kid`.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|_| KeyError::Signing)
    }
}

fn encode_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
    pem.push_str(PEM_BEGIN);
    pem.push('\n');
    for line in body.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    pem
}

fn decode_pem(pem: &str) -> Result<Vec<u8>, KeyError> {
    if pem.len() > MAX_PEM_BYTES {
        return Err(KeyError::NotPkcs8Pem);
    }
    let body =
        pem.trim().strip_prefix(PEM_BEGIN).and_then(|rest| rest.strip_suffix(PEM_END)).ok_or(KeyError::NotPkcs8Pem)?;
    let body: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(body).map_err(|_| KeyError::NotPkcs8Pem)
}

/// vigil's signing keys: the current one, and the previous one while it
/// retires. Tokens are signed with the current key; the JWK set publishes
/// both until the previous key's grace period ends, so that a platform can
/// still check what the previous key signed just before a rotation.
#[derive(Clone, Debug)]
pub struct ToolKeys {
    current: ToolKey,
    previous: Option<(ToolKey, UnixSeconds)>,
}

impl ToolKeys {
    pub fn new(current: ToolKey) -> Self {
        Self { current, previous: None }
    }

    /// Rebuilds the key set the server stored: the current key, and the
    /// previous one with the time it stops being published.
    pub fn restore(current: ToolKey, previous: Option<(ToolKey, UnixSeconds)>) -> Self {
        Self { current, previous }
    }

    pub fn current(&self) -> &ToolKey {
        &self.current
    }

    /// The previous key and when it retires, for the server to store.
    pub fn retiring(&self) -> Option<(&ToolKey, UnixSeconds)> {
        self.previous.as_ref().map(|(key, until)| (key, *until))
    }

    /// Makes `new_key` current; the old current key stays published for
    /// `grace_secs` from `now`. A key still retiring from an earlier
    /// rotation is dropped.
    pub fn rotate(&mut self, new_key: ToolKey, now: UnixSeconds, grace_secs: i64) {
        let old = std::mem::replace(&mut self.current, new_key);
        self.previous = Some((old, now.plus(grace_secs)));
    }

    /// The public JWK set to serve at vigil's JWKS URL.
    pub fn jwks(&self, now: UnixSeconds) -> JwkSet {
        let mut keys = vec![self.current.public_jwk.clone()];
        if let Some((previous, until)) = &self.previous
            && now < *until
        {
            keys.push(previous.public_jwk.clone());
        }
        JwkSet { keys }
    }

    /// Signs with the current key.
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        self.current.sign(claims)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("the key set document is too large")]
    TooLarge,
    #[error("the key set document is not a JWK set")]
    Malformed,
}

/// Parses a platform's JWK set document. An entry that is not a JWK is
/// skipped rather than failing the whole set (keys of unknown types or
/// algorithms are kept, and refused only if a token names them), and at most
/// [`MAX_JWKS_KEYS`] are kept.
pub fn parse_platform_jwks(document: &[u8]) -> Result<JwkSet, JwksError> {
    if document.len() > MAX_JWKS_BYTES {
        return Err(JwksError::TooLarge);
    }
    let value: Value = serde_json::from_slice(document).map_err(|_| JwksError::Malformed)?;
    let Some(Value::Array(entries)) = value.get("keys") else {
        return Err(JwksError::Malformed);
    };
    let keys = entries
        .iter()
        .filter_map(|entry| serde_json::from_value::<Jwk>(entry.clone()).ok())
        .take(MAX_JWKS_KEYS)
        .collect();
    Ok(JwkSet { keys })
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::jwk::{AlgorithmParameters, KeyAlgorithm};
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;
    use crate::test_platform::{other_key, platform_key};

    #[test]
    fn generated_keys_survive_a_pem_round_trip() {
        let key = platform_key();
        let pem = key.pkcs8_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let loaded = ToolKey::from_pkcs8_pem(pem).unwrap();
        assert_eq!(loaded.kid(), key.kid());
        assert_eq!(loaded.public_jwk(), key.public_jwk());
        assert_eq!(loaded.pkcs8_pem(), pem);
        assert_ne!(key.kid(), other_key().kid());
        assert!(format!("{key:?}").contains(key.kid()));
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }

    #[test]
    fn the_public_jwk_has_what_platforms_expect() {
        let jwk = serde_json::to_value(platform_key().public_jwk()).unwrap();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"], platform_key().kid());
        assert_eq!(jwk["e"], "AQAB");
        let n = jwk["n"].as_str().unwrap();
        assert_eq!(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(n).unwrap().len(), 256);
        assert!(jwk.get("d").is_none(), "no private part");
    }

    #[test]
    fn signatures_verify_against_the_published_key() {
        let keys = ToolKeys::new(platform_key().clone());
        let token = keys.sign(&serde_json::json!({ "hello": "world" })).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some(platform_key().kid()));

        let jwks = keys.jwks(UnixSeconds(0));
        let jwk = jwks.find(platform_key().kid()).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap();
        assert_eq!(data.claims["hello"], "world");
    }

    #[test]
    fn rotation_publishes_the_previous_key_during_the_grace_period() {
        let mut keys = ToolKeys::new(platform_key().clone());
        keys.rotate(other_key().clone(), UnixSeconds(1_000), 3_600);
        assert_eq!(keys.current().kid(), other_key().kid());
        let kids =
            |now| keys.jwks(UnixSeconds(now)).keys.iter().map(|k| k.common.key_id.clone().unwrap()).collect::<Vec<_>>();
        assert_eq!(kids(1_000), vec![other_key().kid().to_owned(), platform_key().kid().to_owned()]);
        assert_eq!(kids(4_599).len(), 2);
        assert_eq!(kids(4_600), vec![other_key().kid().to_owned()]);

        let token = keys.sign(&serde_json::json!({})).unwrap();
        assert_eq!(jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(), Some(other_key().kid()));

        let (retiring, until) = keys.retiring().unwrap();
        assert_eq!(retiring.kid(), platform_key().kid());
        let restored = ToolKeys::restore(keys.current().clone(), Some((retiring.clone(), until)));
        assert_eq!(restored.jwks(UnixSeconds(2_000)).keys.len(), 2);
    }

    #[test]
    fn bad_private_keys_are_refused() {
        assert_eq!(ToolKey::from_pkcs8_pem("not a key").unwrap_err(), KeyError::NotPkcs8Pem);
        assert_eq!(
            ToolKey::from_pkcs8_pem("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----").unwrap_err(),
            KeyError::NotPkcs8Pem
        );
        let garbage = encode_pem(b"definitely not DER");
        assert_eq!(ToolKey::from_pkcs8_pem(&garbage).unwrap_err(), KeyError::Rejected);
        let huge = format!("{PEM_BEGIN}\n{}\n{PEM_END}", "A".repeat(MAX_PEM_BYTES));
        assert_eq!(ToolKey::from_pkcs8_pem(&huge).unwrap_err(), KeyError::NotPkcs8Pem);
        let pkcs1 = platform_key().pkcs8_pem().replace("PRIVATE KEY", "RSA PRIVATE KEY");
        assert_eq!(ToolKey::from_pkcs8_pem(&pkcs1).unwrap_err(), KeyError::NotPkcs8Pem);
    }

    #[test]
    fn platform_key_sets_skip_keys_they_cannot_represent() {
        let rsa = serde_json::to_value(platform_key().public_jwk()).unwrap();
        let document = serde_json::json!({
            "keys": [
                "not a key",
                42,
                { "kty": "RSA", "alg": "RSA-OAEP-512-NOT-A-THING", "kid": "weird", "n": "AQAB", "e": "AQAB" },
                rsa,
                { "kty": "EC", "crv": "P-256", "kid": "ec", "x": "AA", "y": "AA" },
                { "kty": "RSA", "kid": "bad-modulus", "n": 7, "e": "AQAB" },
            ]
        });
        let jwks = parse_platform_jwks(document.to_string().as_bytes()).unwrap();
        assert_eq!(jwks.keys.len(), 4);
        assert!(jwks.find(platform_key().kid()).is_some());
        assert_eq!(jwks.find("weird").unwrap().common.key_algorithm, Some(KeyAlgorithm::UNKNOWN_ALGORITHM));
        assert!(jwks.find("ec").is_some());
        let jwk = jwks.find(platform_key().kid()).unwrap();
        assert!(matches!(jwk.algorithm, AlgorithmParameters::RSA(_)));
        assert_eq!(jwk.common.key_algorithm, Some(KeyAlgorithm::RS256));

        assert_eq!(parse_platform_jwks(b"[]").unwrap_err(), JwksError::Malformed);
        assert_eq!(parse_platform_jwks(b"{\"keys\": 3}").unwrap_err(), JwksError::Malformed);
        assert_eq!(parse_platform_jwks(&vec![b' '; MAX_JWKS_BYTES + 1]).unwrap_err(), JwksError::TooLarge);
        let many: Vec<Value> =
            (0..100).map(|i| serde_json::json!({"kty": "oct", "kid": i.to_string(), "k": "AA"})).collect();
        let jwks = parse_platform_jwks(serde_json::json!({ "keys": many }).to_string().as_bytes()).unwrap();
        assert_eq!(jwks.keys.len(), MAX_JWKS_KEYS);
    }
}
