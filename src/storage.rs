//! Object storage for pictures, selected by URL: `file:///path` (the default, under the
//! data folder), `s3://bucket/prefix` in production, `memory://` for unit tests.
//!
//! Keys are content-addressed (`photos/<sha256>.jpg`): an object never changes once
//! written, so it can be cached forever by browsers and CloudFront.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{Attribute, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};
use sha2::{Digest, Sha256};
use url::Url;

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    description: String,
    /// S3 keeps each object's Content-Type and Cache-Control; local files cannot.
    keeps_headers: bool,
    /// Longest call, retries included, so a dead store cannot hang a request.
    timeout: Duration,
}

/// Objects never change once written (their key is their content's hash).
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// How to reach the store: its time bound, and for `s3://` the endpoint and credentials.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// An S3-compatible server instead of AWS (path-style requests; plain HTTP allowed).
    pub endpoint: Option<String>,
    /// Whether the instance role (through the metadata service) may provide credentials.
    pub instance_metadata: bool,
    /// Longest call, retries included (STORAGE_TIMEOUT_MS).
    pub timeout: Duration,
    /// Retries of a failed S3 call (STORAGE_RETRIES).
    pub retries: usize,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            endpoint: None,
            instance_metadata: false,
            timeout: Duration::from_secs(5),
            retries: 2,
        }
    }
}

impl Storage {
    /// The store configured for this process: `configured`, or the data folder's.
    pub fn open(
        common: &crate::config::CommonSettings,
        configured: Option<&str>,
    ) -> anyhow::Result<Self> {
        let s3 = S3Settings {
            endpoint: common.s3_endpoint.clone(),
            instance_metadata: common.aws_instance_metadata,
            timeout: Duration::from_millis(common.storage_timeout_ms),
            retries: common.storage_retries,
        };
        Self::from_url(&common.storage_url(configured)?, &s3)
    }

    pub fn from_url(url: &str, s3: &S3Settings) -> anyhow::Result<Self> {
        let parsed =
            Url::parse(url).map_err(|e| anyhow::anyhow!("invalid STORAGE_URL {url:?}: {e}"))?;
        let (store, prefix): (Arc<dyn ObjectStore>, Path) = match parsed.scheme() {
            "memory" => (Arc::new(InMemory::new()), Path::default()),
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|_| anyhow::anyhow!("STORAGE_URL {url:?} is not a local path"))?;
                std::fs::create_dir_all(&dir)?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)?;
                (Arc::new(store), Path::default())
            }
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .ok_or_else(|| anyhow::anyhow!("STORAGE_URL {url:?} names no bucket"))?;
                let store = s3_store(bucket, s3)?;
                (Arc::new(store), Path::from(parsed.path().trim_matches('/')))
            }
            other => anyhow::bail!(
                "unsupported STORAGE_URL scheme {other:?}: use file://, s3:// or memory://"
            ),
        };
        let keeps_headers = parsed.scheme() == "s3";
        Ok(Self {
            store,
            prefix,
            description: url.to_owned(),
            keeps_headers,
            timeout: s3.timeout,
        })
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    fn location(&self, key: &str) -> Path {
        let mut location = self.prefix.clone();
        for part in key.split('/') {
            location = location.join(part);
        }
        location
    }

    /// Stores `bytes` under `folder/<sha256>.<ext>` and returns that key.
    pub async fn put_content_addressed(
        &self,
        folder: &str,
        ext: &str,
        bytes: Bytes,
    ) -> Result<String, object_store::Error> {
        let hash = hex::encode(Sha256::digest(&bytes));
        let key = format!("{folder}/{hash}.{ext}");
        self.put(&key, bytes, content_type_of(&key)).await?;
        Ok(key)
    }

    /// Stores an object that is never rewritten, with its type and a cache lifetime of a
    /// year where the store keeps headers (so a CDN can serve it straight from the bucket).
    pub async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), object_store::Error> {
        let location = self.location(key);
        let mut options = PutOptions::default();
        if self.keeps_headers {
            options
                .attributes
                .insert(Attribute::ContentType, content_type.to_owned().into());
            options
                .attributes
                .insert(Attribute::CacheControl, IMMUTABLE.into());
        }
        let put = self
            .store
            .put_opts(&location, PutPayload::from_bytes(bytes), options);
        match self.within_timeout(put).await {
            // Nothing to find on a write: the bucket itself is missing, the store's fault.
            Err(object_store::Error::NotFound { path, source }) => {
                Err(object_store::Error::Generic {
                    store: "storage",
                    source: format!("no bucket to write {path} into: {source}").into(),
                })
            }
            other => other.map(|_| ()),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, object_store::Error> {
        let location = self.location(key);
        self.within_timeout(async { self.store.get(&location).await?.bytes().await })
            .await
    }

    /// Storage answers: used by the readiness check.
    pub async fn ping(&self) -> Result<(), object_store::Error> {
        use futures::StreamExt;
        let probe = async {
            let mut listing = self.store.list(Some(&self.prefix));
            match listing.next().await {
                Some(Err(e)) => Err(e),
                _ => Ok(()),
            }
        };
        self.within_timeout(probe).await
    }

    async fn within_timeout<T>(
        &self,
        work: impl Future<Output = Result<T, object_store::Error>>,
    ) -> Result<T, object_store::Error> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(object_store::Error::Generic {
                store: "storage",
                source: "the object store did not answer in time".into(),
            }),
        }
    }
}

/// An S3 client with the usual credential chain (environment, web identity), and the
/// instance role only when the deployment allows the metadata service: elsewhere nothing
/// may reach 169.254.169.254, so missing credentials are an error at start instead.
fn s3_store(bucket: &str, s3: &S3Settings) -> anyhow::Result<object_store::aws::AmazonS3> {
    let has_credentials = [
        "AWS_ACCESS_KEY_ID",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if !has_credentials && !s3.instance_metadata {
        anyhow::bail!(
            "S3 storage needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
             or AWS_INSTANCE_METADATA=true to use the EC2 instance role"
        );
    }
    // A few quick retries, all within the call's time bound: a store that is away is
    // reported at once instead of after minutes of backing off.
    let retry = object_store::RetryConfig {
        max_retries: s3.retries,
        retry_timeout: s3.timeout,
        ..Default::default()
    };
    let mut builder = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry);
    if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        builder = builder.with_region("us-east-1");
    }
    if let Some(endpoint) = &s3.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    Ok(builder.build()?)
}

/// Whether a key is one this application writes: `folder/<64 hex>.<ext>`, nothing else.
pub fn is_valid_key(key: &str) -> bool {
    let Some((folder, file)) = key.split_once('/') else {
        return false;
    };
    let Some((hash, ext)) = file.split_once('.') else {
        return false;
    };
    matches!(folder, "photos" | "products")
        && hash.len() == 64
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
        && matches!(ext, "jpg" | "png" | "svg")
}

pub fn content_type_of(key: &str) -> &'static str {
    match key.rsplit('.').next() {
        Some("jpg") => "image/jpeg",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn content_addressed_objects_round_trip() {
        let storage = Storage::from_url("memory://", &S3Settings::default()).unwrap();
        let key = storage
            .put_content_addressed("photos", "jpg", Bytes::from_static(b"abc"))
            .await
            .unwrap();
        assert!(is_valid_key(&key), "{key}");
        assert_eq!(storage.get(&key).await.unwrap(), Bytes::from_static(b"abc"));
    }

    #[test]
    fn only_keys_the_shop_writes_are_valid() {
        let hash = "a".repeat(64);
        assert!(is_valid_key(&format!("photos/{hash}.jpg")));
        assert!(!is_valid_key(&format!("../{hash}.jpg")));
        assert!(!is_valid_key(&format!("photos/{hash}.exe")));
        assert!(!is_valid_key("photos/../../etc/passwd"));
    }
}
