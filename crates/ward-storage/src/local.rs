//! `LocalStore`: objects as files under a root directory, the embedded default backend.

use std::fmt;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt as _};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

use crate::error::{Error, Result};
use crate::key::{KeyPrefix, ObjectKey};
use crate::store::{
    BoxReader, GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PresignMethod,
    PresignOptions, PresignedRequest, PutOptions, PutResult, check_range, presign_not_supported,
};

const STORE: &str = "LocalStore";

/// Objects stored as files under a root directory, at the path their key names.
///
/// - **Atomic, durable writes**: each put writes a hidden temporary file in the target directory,
///   fsyncs it, renames it over the final name and fsyncs the directory. A reader sees the old
///   object or the new one, never a part; a crash leaves at most a hidden temporary file, which
///   listing ignores.
/// - **No traversal**: keys hold only ids (see [`ObjectKey`]), and every directory on the way
///   from the root to an object must be a real directory, not a symlink, so nothing is read or
///   written outside the root.
/// - Content types follow the key's [`FileKind`](crate::FileKind); no server-side encryption;
///   no presigning.
///
/// ```
/// use ward_storage::{FileKind, LocalStore, ObjectKey, ObjectStore, ObjectStoreExt, Owner};
/// # use uuid::Uuid;
/// # let dir = tempfile::tempdir()?;
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let store = LocalStore::new(dir.path())?;
/// let key = ObjectKey::new(Uuid::new_v4(), Owner::Session(Uuid::new_v4()), Uuid::new_v4(), FileKind::Png);
/// store.put(&key, "pixels".into()).await?;
/// assert_eq!(store.head(&key).await?.size, 6);
/// # Ok::<(), ward_storage::Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct LocalStore {
    root: Arc<PathBuf>,
}

impl LocalStore {
    /// A store rooted at `root`, created if missing.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        std::fs::create_dir_all(root).map_err(|source| io_err("", source))?;
        let root = root.canonicalize().map_err(|source| io_err("", source))?;
        Ok(Self {
            root: Arc::new(root),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file path of `key`, after checking that no existing directory on the way is a
    /// symlink and that an existing object is a regular file.
    fn path_for(&self, key: &ObjectKey) -> Result<PathBuf> {
        let mut path = (*self.root).clone();
        let segments: Vec<&str> = key.as_str().split('/').collect();
        let last = segments.len() - 1;
        for (i, segment) in segments.iter().enumerate() {
            path.push(segment);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) => {
                    let ok = if i == last {
                        meta.file_type().is_file()
                    } else {
                        meta.file_type().is_dir()
                    };
                    if !ok {
                        return Err(Error::Io {
                            store: STORE,
                            key: key.to_string(),
                            source: std::io::Error::new(
                                std::io::ErrorKind::InvalidInput,
                                "refusing a path component that is a symlink or of the wrong type",
                            ),
                        });
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // Nothing further exists, so nothing further can be a symlink.
                    for rest in &segments[i + 1..] {
                        path.push(rest);
                    }
                    break;
                }
                Err(source) => return Err(io_err(key.as_str(), source)),
            }
        }
        Ok(path)
    }

    /// Writes `body` to a temporary file next to the object, then publishes it with
    /// [`persist`]. The temporary file is removed on any failure.
    async fn write_atomic(&self, key: &ObjectKey, mut body: BoxReader) -> Result<u64> {
        let path = self.path_for(key)?;
        let dir = path
            .parent()
            .ok_or_else(|| io_err(key.as_str(), std::io::Error::other("key has no directory")))?
            .to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|source| io_err(key.as_str(), source))?;
        // Re-check now that the directories exist (one may have been replaced meanwhile).
        let path = self.path_for(key)?;
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("object");
        let tmp = dir.join(format!(
            ".{file_name}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));

        let written = async {
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .await?;
            let n = tokio::io::copy(&mut body, &mut file).await?;
            file.flush().await?;
            let file = file.into_std().await;
            tokio::task::spawn_blocking({
                let (tmp, path, dir) = (tmp.clone(), path.clone(), dir.clone());
                move || persist(&file, &tmp, &path, &dir)
            })
            .await
            .map_err(std::io::Error::other)??;
            Ok::<u64, std::io::Error>(n)
        }
        .await;
        match written {
            Ok(n) => Ok(n),
            Err(source) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(io_err(key.as_str(), source))
            }
        }
    }

    fn meta_of(key: &ObjectKey, meta: &std::fs::Metadata) -> ObjectMeta {
        let modified = meta.modified().ok().map(OffsetDateTime::from);
        let nanos = modified.map_or(0, |m| m.unix_timestamp_nanos());
        let mut out = ObjectMeta::new(key.clone(), meta.len());
        out.etag = Some(format!("{:x}-{:x}", meta.len(), nanos));
        out.content_type = Some(key.kind().content_type().to_owned());
        out.last_modified = modified;
        out
    }

    async fn stat(&self, key: &ObjectKey) -> Result<std::fs::Metadata> {
        let path = self.path_for(key)?;
        tokio::fs::metadata(&path).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound {
                    key: key.to_string(),
                }
            } else {
                io_err(key.as_str(), e)
            }
        })
    }
}

/// The one durability step every write goes through: fsync the data, rename it into place,
/// fsync the directory so the rename itself survives a crash.
fn persist(file: &std::fs::File, tmp: &Path, path: &Path, dir: &Path) -> std::io::Result<()> {
    file.sync_all()?;
    std::fs::rename(tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

fn io_err(key: &str, source: std::io::Error) -> Error {
    Error::Io {
        store: STORE,
        key: key.to_owned(),
        source,
    }
}

/// Every object file under `dir`, as keys relative to `root`; hidden (temporary) files,
/// symlinks and names that are not ward keys are skipped.
fn walk(
    root: &Path,
    dir: &Path,
    out: &mut Vec<(ObjectKey, std::fs::Metadata)>,
) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let file_type = entry.file_type()?;
        let path = entry.path();
        if file_type.is_dir() {
            walk(root, &path, out)?;
        } else if file_type.is_file() {
            let Some(rel) = path.strip_prefix(root).ok().and_then(|p| p.to_str()) else {
                continue;
            };
            match rel.parse::<ObjectKey>() {
                Ok(key) => out.push((key, entry.metadata()?)),
                Err(_) => tracing::warn!(store = STORE, "skipping a file that is not a ward key"),
            }
        }
    }
    Ok(())
}

impl fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(STORE).field("root", &self.root).finish()
    }
}

impl fmt::Display for LocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{STORE}({})", self.root.display())
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put_opts(
        &self,
        key: &ObjectKey,
        payload: Bytes,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.put_stream_opts(key, Box::pin(std::io::Cursor::new(payload)), opts)
            .await
    }

    async fn put_stream_opts(
        &self,
        key: &ObjectKey,
        body: BoxReader,
        _opts: PutOptions,
    ) -> Result<PutResult> {
        let size = self.write_atomic(key, body).await?;
        let meta = Self::meta_of(key, &self.stat(key).await?);
        Ok(PutResult {
            size,
            etag: meta.etag,
            sse: meta.sse,
        })
    }

    async fn get_opts(&self, key: &ObjectKey, opts: GetOptions) -> Result<GetResult> {
        let path = self.path_for(key)?;
        let mut file = tokio::fs::File::open(&path).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::NotFound {
                    key: key.to_string(),
                }
            } else {
                io_err(key.as_str(), e)
            }
        })?;
        let meta = file
            .metadata()
            .await
            .map_err(|source| io_err(key.as_str(), source))?;
        let len = meta.len();
        let range = opts.range.unwrap_or(0..len);
        check_range(&range, len)?;
        file.seek(SeekFrom::Start(range.start))
            .await
            .map_err(|source| io_err(key.as_str(), source))?;
        let body = file.take(range.end - range.start);
        Ok(GetResult::new(
            Self::meta_of(key, &meta),
            range,
            Box::pin(body),
        ))
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        Ok(Self::meta_of(key, &self.stat(key).await?))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        let path = self.path_for(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(io_err(key.as_str(), source)),
        }
    }

    fn list_opts(
        &self,
        prefix: &KeyPrefix,
        _opts: ListOptions,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let root = Arc::clone(&self.root);
        let dir = root.join(prefix.as_str());
        let prefix = prefix.clone();
        stream::once(async move {
            let found = tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                walk(&root, &dir, &mut out).map(|()| out)
            })
            .await
            .map_err(|e| io_err(prefix.as_str(), std::io::Error::other(e)))?
            .map_err(|source| io_err(prefix.as_str(), source))?;
            let mut metas: Vec<ObjectMeta> = found
                .iter()
                .filter(|(key, _)| prefix.contains(key))
                .map(|(key, meta)| Self::meta_of(key, meta))
                .collect();
            metas.sort_by(|a, b| a.key.cmp(&b.key));
            Ok::<_, Error>(stream::iter(metas.into_iter().map(Ok)))
        })
        .map(|page| match page {
            Ok(items) => items.boxed(),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        })
        .flatten()
        .boxed()
    }

    async fn presign(
        &self,
        _method: PresignMethod,
        _key: &ObjectKey,
        opts: PresignOptions,
    ) -> Result<PresignedRequest> {
        presign_not_supported(STORE, &opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    #[tokio::test]
    async fn local_store_passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path()).unwrap();
        conformance::run_all(&store, conformance::Capabilities::local()).await;
    }
}
