//! Where the Flask shop kept its profile pictures: a folder (`file:///dir`) or an S3
//! prefix (`s3://bucket/prefix`, with credentials from the usual AWS environment).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use crate::config::DEFAULT_MAX_UPLOAD_MB;

/// Pictures larger than a shopper may upload are not imported either.
const MAX_PICTURE_BYTES: u64 = DEFAULT_MAX_UPLOAD_MB as u64 * 1024 * 1024;

/// A picture that takes longer than this to read is reported and left behind.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

pub struct PhotoSource {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: String,
}

impl PhotoSource {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let parsed = Url::parse(url).with_context(|| format!("invalid --photos-url {url:?}"))?;
        let (store, prefix): (Arc<dyn ObjectStore>, Path) = match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| anyhow::anyhow!("--photos-url {url:?} is not a local path"))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .with_context(|| {
                        format!("--photos-url: the folder {} cannot be read", dir.display())
                    })?;
                (Arc::new(store), Path::default())
            }
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .ok_or_else(|| anyhow::anyhow!("--photos-url {url:?} names no bucket"))?;
                let store = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()?;
                (Arc::new(store), Path::from(parsed.path().trim_matches('/')))
            }
            other => anyhow::bail!(
                "unsupported --photos-url scheme {other:?}: use file:///folder or s3://bucket/prefix"
            ),
        };
        Ok(Self {
            store,
            prefix,
            url: url.to_owned(),
        })
    }

    /// The bytes of the picture called `name`, or why they cannot be had.
    pub async fn fetch(&self, name: &str) -> Result<Bytes, String> {
        // A name with `..` or empty segments could point outside the folder: refused.
        let name_path = Path::parse(name).map_err(|_| "is not a plain file name".to_owned())?;
        let location: Path = self.prefix.parts().chain(name_path.parts()).collect();
        let read = async {
            let found = self.store.get(&location).await?;
            if found.meta.size > MAX_PICTURE_BYTES {
                return Ok(None);
            }
            found.bytes().await.map(Some)
        };
        match tokio::time::timeout(READ_TIMEOUT, read).await {
            Ok(Ok(Some(bytes))) => Ok(bytes),
            Ok(Ok(None)) => Err(format!("is larger than {DEFAULT_MAX_UPLOAD_MB} MB")),
            Ok(Err(object_store::Error::NotFound { .. })) => {
                Err(format!("was not found in {}", self.url))
            }
            Ok(Err(error)) => Err(format!("could not be read: {error}")),
            Err(_) => Err("took too long to read".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pictures_are_read_from_a_folder_and_names_cannot_leave_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("me.jpeg"), b"jpeg bytes").unwrap();
        let photos = PhotoSource::from_url(&format!("file://{}", dir.path().display())).unwrap();
        assert_eq!(
            photos.fetch("me.jpeg").await.unwrap(),
            Bytes::from_static(b"jpeg bytes")
        );
        assert!(
            photos
                .fetch("cell.jpg")
                .await
                .unwrap_err()
                .contains("not found")
        );
        assert!(photos.fetch("../etc/passwd").await.is_err());
    }

    #[test]
    fn a_missing_folder_is_an_error_of_the_command() {
        assert!(PhotoSource::from_url("file:///no/such/folder/anywhere").is_err());
        assert!(PhotoSource::from_url("ftp://host/photos").is_err());
    }
}
