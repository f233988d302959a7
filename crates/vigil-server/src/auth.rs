//! Join tokens: HS256 JWTs scoped to one exam and one role, signed with a
//! per-installation key kept in the data directory.

use std::io::Write;
use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use vigil_proto::{ExamId, RejectReason, Rejection, Role, UnixMillis};

const KEY_FILE: &str = "server.key";
const ADMIN_TOKEN_FILE: &str = "admin.token";

/// What a token grants: `role` `sub` in exam `exam`, until `exp` (seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The student's or proctor's id; parsed by the caller, which knows which.
    pub sub: String,
    pub exam: ExamId,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    /// A proctor who may also change the exam's settings (an instructor).
    /// Absent in older tokens, which therefore do not grant it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub configure: bool,
}

#[derive(Clone)]
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} must hold at least 32 bytes of key material")]
    TooShort { path: String },
}

/// Reads a secret file, or creates it with `make` and mode 0600 on first start.
fn load_or_create(path: &Path, make: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>, KeyError> {
    let io = |source| KeyError::Io { path: path.display().to_string(), source };
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes = make();
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(path).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
            Ok(bytes)
        }
        Err(e) => Err(io(e)),
    }
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::rng().fill_bytes(&mut v);
    v
}

impl Keys {
    /// Loads the signing key from `data_dir`, creating it on first start.
    pub fn load(data_dir: &Path) -> Result<Keys, KeyError> {
        let path = data_dir.join(KEY_FILE);
        let secret = load_or_create(&path, || random_bytes(32))?;
        if secret.len() < 32 {
            return Err(KeyError::TooShort { path: path.display().to_string() });
        }
        Ok(Keys::from_secret(&secret))
    }

    pub fn from_secret(secret: &[u8]) -> Keys {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the service's clock in `verify`, not
        // the library's reading of the system clock.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Keys { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
    }

    pub fn issue(&self, claims: &Claims) -> String {
        // HS256 signing of a serialisable struct has no failure mode short of
        // a broken allocator; an empty token is then refused on use.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding).unwrap_or_default()
    }

    /// Verifies signature and expiry at `now`, and that the token is for `role`.
    pub fn verify(&self, token: &str, role: Role, now: UnixMillis) -> Result<Claims, Rejection> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| Rejection::new(RejectReason::InvalidToken, "the token is not valid for this server"))?;
        if data.claims.exp.saturating_mul(1000).saturating_add(EXPIRY_LEEWAY_MS) < now {
            return Err(Rejection::new(RejectReason::ExpiredToken, "the join link has expired; ask for a new one"));
        }
        if data.claims.role != role {
            return Err(Rejection::new(
                RejectReason::WrongScope,
                format!("this token is for a {:?}, not a {role:?}", data.claims.role).to_lowercase(),
            ));
        }
        Ok(data.claims)
    }
}

/// Clock skew tolerated on expiry.
const EXPIRY_LEEWAY_MS: i64 = 5_000;

pub fn claims(role: Role, exam: &ExamId, sub: &str, now: UnixMillis, expires_at: UnixMillis) -> Claims {
    Claims { sub: sub.to_owned(), exam: exam.clone(), role, iat: now / 1000, exp: expires_at / 1000, configure: false }
}

/// The admin token: from configuration, or generated into the data dir.
pub fn admin_token(data_dir: &Path, configured: Option<&str>) -> Result<String, KeyError> {
    if let Some(t) = configured {
        return Ok(t.to_owned());
    }
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let bytes = load_or_create(&path, || hex::encode(random_bytes(24)).into_bytes())?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
}

/// Constant-time comparison, so the admin token cannot be guessed byte by byte.
pub fn token_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now_ms() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
    }

    #[test]
    fn round_trip_and_refusals() {
        let keys = Keys::from_secret(&[7u8; 32]);
        let now = now_ms();
        let t = keys.issue(&claims(Role::Student, &"e1".parse().unwrap(), "s1", now, now + 60_000));
        let c = keys.verify(&t, Role::Student, now).unwrap();
        assert_eq!((c.exam.as_str(), c.sub.as_str()), ("e1", "s1"));
        assert_eq!(keys.verify(&t, Role::Proctor, now).unwrap_err().reason, RejectReason::WrongScope);

        let other = Keys::from_secret(&[8u8; 32]);
        assert_eq!(other.verify(&t, Role::Student, now).unwrap_err().reason, RejectReason::InvalidToken);

        let expired = keys.issue(&claims(Role::Student, &"e1".parse().unwrap(), "s1", now - 120_000, now - 60_000));
        assert_eq!(keys.verify(&expired, Role::Student, now).unwrap_err().reason, RejectReason::ExpiredToken);
        assert_eq!(keys.verify("garbage", Role::Student, now).unwrap_err().reason, RejectReason::InvalidToken);
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Keys::load(dir.path()).unwrap();
        let b = Keys::load(dir.path()).unwrap();
        let now = now_ms();
        let t = a.issue(&claims(Role::Proctor, &"e".parse().unwrap(), "p", now, now + 1_000_000));
        assert!(b.verify(&t, Role::Proctor, now).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(token_eq("abc", "abc") && !token_eq("abc", "abd") && !token_eq("abc", "ab"));
    }
}
