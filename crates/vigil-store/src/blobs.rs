//! Where evidence frames and identity photos live: a directory under the
//! data dir (the default: one process, nothing else to run), or an
//! S3-compatible bucket shared by every node (`s3://bucket[/prefix]`, the
//! endpoint and credentials from the environment as `object_store` reads
//! them: `AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ALLOW_HTTP`).

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientConfigKey, RetryConfig};
use object_store::{ObjectStore, ObjectStoreExt};

use crate::{Result, StoreError};

/// The blob store's location, parsed once from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum BlobLocation {
    /// `evidence/` under the data dir.
    #[default]
    Local,
    /// A bucket of an S3-compatible service, under `prefix` (may be empty).
    S3 { bucket: String, prefix: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobLocationError {
    #[error("a blob store is `local` or `s3://bucket[/prefix]`, not {0:?}")]
    Scheme(String),
    #[error("an S3 bucket name is 3 to 63 lowercase letters, digits, dots and hyphens, not {0:?}")]
    Bucket(String),
    #[error("the prefix {0:?} is not a valid object path (no empty, `.` or `..` segments)")]
    Prefix(String),
}

impl FromStr for BlobLocation {
    type Err = BlobLocationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "local" {
            return Ok(BlobLocation::Local);
        }
        let rest = s.strip_prefix("s3://").ok_or_else(|| BlobLocationError::Scheme(s.to_owned()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.as_bytes()[0].is_ascii_alphanumeric();
        if !bucket_ok {
            return Err(BlobLocationError::Bucket(bucket.to_owned()));
        }
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() && ObjectPath::parse(prefix).map_or(true, |p| p.as_ref() != prefix) {
            return Err(BlobLocationError::Prefix(prefix.to_owned()));
        }
        Ok(BlobLocation::S3 { bucket: bucket.to_owned(), prefix: prefix.to_owned() })
    }
}

impl std::fmt::Display for BlobLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlobLocation::Local => f.write_str("local"),
            BlobLocation::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            BlobLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl BlobLocation {
    /// `local` or `s3`, for health reports and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            BlobLocation::Local => "local",
            BlobLocation::S3 { .. } => "s3",
        }
    }

    /// Opens the store; for a bucket, checks at once that it answers, so a
    /// wrong endpoint, bucket or key stops the server at start rather than
    /// at the first student's evidence.
    pub(crate) async fn open(&self, data_dir: &Path) -> Result<Arc<dyn ObjectStore>> {
        match self {
            BlobLocation::Local => {
                let dir = data_dir.join("evidence");
                crate::create_dir(&dir)?;
                Ok(Arc::new(LocalFileSystem::new_with_prefix(&dir)?))
            }
            BlobLocation::S3 { bucket, prefix } => {
                // A student's upload waits on the bucket: bounded well below
                // object_store's defaults (3 minutes of retries), so a
                // bucket that stops answering costs an upload seconds and
                // the student's outbox retries it later.
                let s3 = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout), "3s")
                    .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "15s")
                    .with_retry(RetryConfig {
                        backoff: BackoffConfig {
                            init_backoff: Duration::from_millis(100),
                            max_backoff: Duration::from_secs(2),
                            base: 2.0,
                        },
                        max_retries: 3,
                        retry_timeout: Duration::from_secs(10),
                    })
                    .build()?;
                let store: Arc<dyn ObjectStore> =
                    if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix.as_str())) };
                probe(store.as_ref()).await?;
                Ok(store)
            }
        }
    }
}

/// One cheap request that proves the store answers and lets us in: the
/// probe object need not exist.
pub(crate) async fn probe(store: &dyn ObjectStore) -> Result<()> {
    match store.head(&ObjectPath::from(".vigil-probe")).await {
        Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(StoreError::Blob(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_print_back() {
        for good in ["local", "s3://vigil", "s3://vigil-evidence/exams/2026", "s3://a.b-c"] {
            let parsed: BlobLocation = good.parse().unwrap();
            assert_eq!(parsed.to_string(), good);
        }
        assert_eq!(
            "s3://vigil/".parse::<BlobLocation>().unwrap(),
            BlobLocation::S3 { bucket: "vigil".into(), prefix: String::new() }
        );
        assert!(matches!("file:///tmp".parse::<BlobLocation>(), Err(BlobLocationError::Scheme(_))));
        assert!(matches!("s3://".parse::<BlobLocation>(), Err(BlobLocationError::Bucket(_))));
        assert!(matches!("s3://Upper".parse::<BlobLocation>(), Err(BlobLocationError::Bucket(_))));
        assert!(matches!("s3://-x-bucket".parse::<BlobLocation>(), Err(BlobLocationError::Bucket(_))));
        assert!(matches!("s3://vigil/a//b".parse::<BlobLocation>(), Err(BlobLocationError::Prefix(_))));
        assert!(matches!("s3://vigil/../up".parse::<BlobLocation>(), Err(BlobLocationError::Prefix(_))));
    }
}
