//! `LocalStore`: objects as files under a root directory, the embedded default backend.

use std::fmt;
use std::io::{self, SeekFrom};
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
    BoxReader, DeleteOptions, GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore,
    PutOptions, PutResult, check_range, refuse_version,
};

use self::dir::Dir;

const STORE: &str = "LocalStore";

/// Objects stored as files under a root directory, at the path their key names.
///
/// - **Atomic, durable writes**: each put writes a hidden temporary file in the target directory,
///   fsyncs it, renames it over the final name and fsyncs the directory; every directory the put
///   creates is fsynced into its parent too. A reader sees the old object or the new one, never a
///   part; a crash leaves at most a hidden temporary file, which listing ignores. Once the rename
///   is done the object is in place: a failed directory fsync after it is logged (with the key
///   only) and the put succeeds; it fails only when the object is not in place.
/// - **Owner-only permissions**: objects are created `0600` and directories `0700` (the root too
///   when the store creates it; an existing root keeps its mode), so other local users can
///   neither read ciphertext nor list workspace and patient ids.
/// - **No traversal, no symlinks**: keys hold only ids (see [`ObjectKey`]), and every path is
///   opened one component at a time from the root directory, never following a symlink
///   (`openat` with `O_NOFOLLOW`). A symlink or a file of the wrong type anywhere on the way
///   fails the call, so nothing is read or written outside the root, and no check can be
///   overtaken by a swap between the check and the use.
/// - Content types follow the key's [`FileKind`](crate::FileKind); no server-side encryption;
///   no presigning.
/// - Unix only (it needs `openat`): elsewhere [`LocalStore::new`] fails.
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
    /// The root directory, opened once: every path is resolved from it.
    dir: Arc<Dir>,
}

impl LocalStore {
    /// A store rooted at `root`, created (`0700`) if missing.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        dir::create_root(root).map_err(|source| io_err("", source))?;
        let root = root.canonicalize().map_err(|source| io_err("", source))?;
        let dir = Dir::open_root(&root).map_err(|source| io_err("", source))?;
        Ok(Self {
            root: Arc::new(root),
            dir: Arc::new(dir),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `body` to a temporary file next to the object, then publishes it with
    /// [`persist`]; returns the bytes written and the new object's metadata. The temporary file
    /// is removed on any failure.
    async fn write_atomic(
        &self,
        key: &ObjectKey,
        mut body: BoxReader,
    ) -> Result<(u64, std::fs::Metadata)> {
        let (dirs, name) = split_key(key)?;
        let tmp = format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple());
        let (dir, file) = blocking({
            let (root, tmp) = (Arc::clone(&self.dir), tmp.clone());
            let (dirs, name) = (dirs.to_owned(), name.to_owned());
            move || {
                let dir = open_dirs(&root, &dirs, true)?;
                // Renaming over a symlink would replace the link, not follow it; a key whose
                // object is not a regular file is refused all the same, as on every other call.
                dir.check_not_special(&name)?;
                let file = dir.create_file(&tmp)?;
                Ok((Arc::new(dir), file))
            }
        })
        .await
        .map_err(|source| io_err(key.as_str(), source))?;

        let written = async {
            let mut file = tokio::fs::File::from_std(file);
            let n = tokio::io::copy(&mut body, &mut file).await?;
            file.flush().await?;
            let file = file.into_std().await;
            let meta = blocking({
                let (dir, tmp, name, key) =
                    (Arc::clone(&dir), tmp.clone(), name.to_owned(), key.clone());
                move || {
                    persist(&dir, &file, &tmp, &name, &key)?;
                    file.metadata()
                }
            })
            .await?;
            Ok::<_, io::Error>((n, meta))
        }
        .await;
        match written {
            Ok(done) => Ok(done),
            Err(source) => {
                // Only the temporary name: after a rename it no longer exists, and the object
                // itself is never removed here.
                let _ = blocking(move || dir.remove(&tmp)).await;
                Err(io_err(key.as_str(), source))
            }
        }
    }

    fn meta_of(key: &ObjectKey, meta: &std::fs::Metadata) -> ObjectMeta {
        let modified = meta.modified().ok().map(OffsetDateTime::from);
        let nanos = modified.map_or(0, |m| m.unix_timestamp_nanos());
        let mut out = ObjectMeta::new(key.clone(), meta.len());
        out.etag = Some(format!("{:x}-{:x}", meta.len(), nanos));
        out.content_type = Some(key.media_type().to_owned());
        out.last_modified = modified;
        out
    }

    /// Opens `key`'s object for reading, with its metadata.
    async fn open(&self, key: &ObjectKey) -> Result<(std::fs::File, std::fs::Metadata)> {
        let (dirs, name) = split_key(key)?;
        let (root, dirs, name) = (Arc::clone(&self.dir), dirs.to_owned(), name.to_owned());
        blocking(move || open_dirs(&root, &dirs, false)?.open_file(&name))
            .await
            .map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    Error::NotFound {
                        key: key.to_string(),
                    }
                } else {
                    io_err(key.as_str(), e)
                }
            })
    }
}

/// `key` split into its directories and its file name.
fn split_key(key: &ObjectKey) -> Result<(&str, &str)> {
    key.as_str()
        .rsplit_once('/')
        .ok_or_else(|| io_err(key.as_str(), io::Error::other("key has no directory")))
}

/// Runs blocking filesystem calls off the async runtime.
async fn blocking<T, F>(f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

/// The directory `path` (`a/b/c`, relative to the root), opened one component at a time without
/// following symlinks; missing components are created when `create` is set.
fn open_dirs(root: &Dir, path: &str, create: bool) -> io::Result<Dir> {
    let mut dir = root.try_clone()?;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        dir = dir.child(segment, create)?;
    }
    Ok(dir)
}

/// The one durability step every write goes through: fsync the data, rename it into place,
/// fsync the directory so the rename itself survives a crash.
fn persist(
    dir: &Dir,
    file: &std::fs::File,
    tmp: &str,
    name: &str,
    key: &ObjectKey,
) -> io::Result<()> {
    persist_with(dir, file, tmp, name, key, Dir::sync)
}

/// [`persist`] with the directory fsync passed in, so its failure can be tested.
///
/// After the rename the object is in place. If the directory fsync then fails, the put is still
/// reported as done (the bytes are durable, only the rename might be lost in a crash), with a
/// warning naming the key; it is an error only when `name` no longer holds the file just written.
fn persist_with(
    dir: &Dir,
    file: &std::fs::File,
    tmp: &str,
    name: &str,
    key: &ObjectKey,
    sync_dir: impl FnOnce(&Dir) -> io::Result<()>,
) -> io::Result<()> {
    file.sync_all()?;
    dir.rename(tmp, name)?;
    let Err(error) = sync_dir(dir) else {
        return Ok(());
    };
    if dir.holds(name, file).unwrap_or(false) {
        tracing::warn!(
            store = STORE,
            key = %key,
            error_kind = ?error.kind(),
            "fsync of the directory failed after the object was renamed into place"
        );
        Ok(())
    } else {
        Err(error)
    }
}

fn io_err(key: &str, source: io::Error) -> Error {
    Error::Io {
        store: STORE,
        key: key.to_owned(),
        source,
    }
}

/// Every object file under `dir` (which is `rel`, ending in `/`, below the root), as keys;
/// hidden (temporary) files, symlinks and names that are not ward keys are skipped.
fn walk(dir: &Dir, rel: &str, out: &mut Vec<(ObjectKey, std::fs::Metadata)>) -> io::Result<()> {
    for (name, kind) in dir.entries()? {
        if name.starts_with('.') {
            continue;
        }
        match kind {
            dir::Kind::Directory => {
                let child = match dir.child(&name, false) {
                    Ok(child) => child,
                    // Removed since it was listed.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                walk(&child, &format!("{rel}{name}/"), out)?;
            }
            dir::Kind::File => match format!("{rel}{name}").parse::<ObjectKey>() {
                Ok(key) => match dir.open_file(&name) {
                    Ok((_, meta)) => out.push((key, meta)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                },
                Err(_) => tracing::warn!(store = STORE, "skipping a file that is not a ward key"),
            },
            dir::Kind::Other => {}
        }
    }
    Ok(())
}

/// Directory handles: every path below the root is opened relative to an open directory, one
/// component at a time, never following a symlink.
#[cfg(unix)]
mod dir {
    use std::fs::File;
    use std::io;
    use std::os::fd::OwnedFd;
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    use std::path::Path;

    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    use rustix::io::Errno;

    /// Directories are owner-only: `0700`.
    const DIR_MODE: Mode = Mode::RWXU;
    /// Objects are owner read/write only: `0600`.
    fn file_mode() -> Mode {
        Mode::RUSR | Mode::WUSR
    }
    /// A directory below the root: never through a symlink (`O_NOFOLLOW`), and only a directory
    /// (`O_DIRECTORY`).
    fn dir_flags() -> OFlags {
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
    }

    /// What a directory entry is.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Kind {
        File,
        Directory,
        /// A symlink, device, socket, pipe or anything else: never followed or opened.
        Other,
    }

    /// An open directory.
    #[derive(Debug)]
    pub(super) struct Dir(OwnedFd);

    /// Creates `path` and its missing parents with mode `0700`.
    pub(super) fn create_root(path: &Path) -> io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
    }

    /// The error for a symlink or a file of the wrong type on the way to an object; other
    /// errors pass through (a missing entry stays `NotFound`).
    fn refused_or(errno: Errno) -> io::Error {
        // O_NOFOLLOW on a symlink gives ELOOP (EMLINK on some BSDs); O_DIRECTORY on anything
        // but a directory gives ENOTDIR.
        if errno == Errno::LOOP || errno == Errno::MLINK || errno == Errno::NOTDIR {
            refused()
        } else {
            errno.into()
        }
    }

    fn refused() -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing a path component that is a symlink or of the wrong type",
        )
    }

    impl Dir {
        /// Opens the root directory. The root path is the operator's configuration, so a
        /// symlink in it is followed; nothing below it ever is.
        pub(super) fn open_root(path: &Path) -> io::Result<Self> {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            Ok(Self(rustix::fs::open(path, flags, Mode::empty())?))
        }

        /// Another handle on the same directory.
        pub(super) fn try_clone(&self) -> io::Result<Self> {
            Ok(Self(self.0.try_clone()?))
        }

        /// The subdirectory `name`. When it is missing and `create` is set it is created
        /// (`0700`) and this directory is fsynced, so the new entry survives a crash.
        pub(super) fn child(&self, name: &str, create: bool) -> io::Result<Self> {
            match rustix::fs::openat(&self.0, name, dir_flags(), Mode::empty()) {
                Ok(fd) => return Ok(Self(fd)),
                Err(e) if e == Errno::NOENT && create => {}
                Err(e) => return Err(refused_or(e)),
            }
            match rustix::fs::mkdirat(&self.0, name, DIR_MODE) {
                Ok(()) => rustix::fs::fsync(&self.0)?,
                // Created by a concurrent put meanwhile.
                Err(e) if e == Errno::EXIST => {}
                Err(e) => return Err(e.into()),
            }
            rustix::fs::openat(&self.0, name, dir_flags(), Mode::empty())
                .map(Self)
                .map_err(refused_or)
        }

        /// Creates the new file `name` (`0600`), failing if anything, a symlink included,
        /// already has that name.
        pub(super) fn create_file(&self, name: &str) -> io::Result<File> {
            let flags =
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            Ok(rustix::fs::openat(&self.0, name, flags, file_mode())?.into())
        }

        /// Opens the regular file `name` for reading, with its metadata; a symlink or any
        /// other kind of file is refused.
        pub(super) fn open_file(&self, name: &str) -> io::Result<(File, std::fs::Metadata)> {
            // O_NONBLOCK so that a pipe planted in the tree cannot block the open; it has no
            // effect on regular files.
            let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
            let file = File::from(
                rustix::fs::openat(&self.0, name, flags, Mode::empty()).map_err(refused_or)?,
            );
            let meta = file.metadata()?;
            if !meta.is_file() {
                return Err(refused());
            }
            Ok((file, meta))
        }

        /// Fails when `name` exists and is not a regular file.
        pub(super) fn check_not_special(&self, name: &str) -> io::Result<()> {
            match rustix::fs::statat(&self.0, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => Ok(()),
                Ok(_) => Err(refused()),
                Err(e) if e == Errno::NOENT => Ok(()),
                Err(e) => Err(e.into()),
            }
        }

        /// Whether `name` is the same file as `file` (device and inode).
        pub(super) fn holds(&self, name: &str, file: &File) -> io::Result<bool> {
            let (_, there) = self.open_file(name)?;
            let ours = file.metadata()?;
            Ok(there.dev() == ours.dev() && there.ino() == ours.ino())
        }

        /// Renames `from` to `to` within this directory, replacing `to`.
        pub(super) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            Ok(rustix::fs::renameat(&self.0, from, &self.0, to)?)
        }

        /// Removes the file `name` (a symlink is removed itself, never followed).
        pub(super) fn remove(&self, name: &str) -> io::Result<()> {
            Ok(rustix::fs::unlinkat(&self.0, name, AtFlags::empty())?)
        }

        /// Fsyncs the directory, making renames and new entries in it durable.
        pub(super) fn sync(&self) -> io::Result<()> {
            Ok(rustix::fs::fsync(&self.0)?)
        }

        /// The entries (`.` and `..` excluded, names that are not UTF-8 skipped), each with
        /// its kind as seen without following symlinks.
        pub(super) fn entries(&self) -> io::Result<Vec<(String, Kind)>> {
            let mut out = Vec::new();
            for entry in rustix::fs::Dir::read_from(&self.0)? {
                let entry = entry?;
                let Ok(name) = entry.file_name().to_str() else {
                    continue;
                };
                if name == "." || name == ".." {
                    continue;
                }
                let file_type = match entry.file_type() {
                    // Some filesystems do not report the type in the listing.
                    FileType::Unknown => {
                        match rustix::fs::statat(&self.0, name, AtFlags::SYMLINK_NOFOLLOW) {
                            Ok(st) => FileType::from_raw_mode(st.st_mode),
                            Err(e) if e == Errno::NOENT => continue,
                            Err(e) => return Err(e.into()),
                        }
                    }
                    other => other,
                };
                let kind = match file_type {
                    FileType::RegularFile => Kind::File,
                    FileType::Directory => Kind::Directory,
                    _ => Kind::Other,
                };
                out.push((name.to_owned(), kind));
            }
            Ok(out)
        }
    }
}

/// Without `openat` there is no way to open a path without racing a symlink swap, so
/// `LocalStore::new` fails on these platforms and nothing below is ever reached.
#[cfg(not(unix))]
mod dir {
    use std::fs::File;
    use std::io;
    use std::path::Path;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Kind {
        File,
        Directory,
        Other,
    }

    #[derive(Debug)]
    pub(super) struct Dir(());

    fn unsupported() -> io::Error {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "LocalStore needs a unix platform (openat)",
        )
    }

    pub(super) fn create_root(_path: &Path) -> io::Result<()> {
        Err(unsupported())
    }

    impl Dir {
        pub(super) fn open_root(_path: &Path) -> io::Result<Self> {
            Err(unsupported())
        }
        pub(super) fn try_clone(&self) -> io::Result<Self> {
            Err(unsupported())
        }
        pub(super) fn child(&self, _name: &str, _create: bool) -> io::Result<Self> {
            Err(unsupported())
        }
        pub(super) fn create_file(&self, _name: &str) -> io::Result<File> {
            Err(unsupported())
        }
        pub(super) fn open_file(&self, _name: &str) -> io::Result<(File, std::fs::Metadata)> {
            Err(unsupported())
        }
        pub(super) fn check_not_special(&self, _name: &str) -> io::Result<()> {
            Err(unsupported())
        }
        pub(super) fn holds(&self, _name: &str, _file: &File) -> io::Result<bool> {
            Err(unsupported())
        }
        pub(super) fn rename(&self, _from: &str, _to: &str) -> io::Result<()> {
            Err(unsupported())
        }
        pub(super) fn remove(&self, _name: &str) -> io::Result<()> {
            Err(unsupported())
        }
        pub(super) fn sync(&self) -> io::Result<()> {
            Err(unsupported())
        }
        pub(super) fn entries(&self) -> io::Result<Vec<(String, Kind)>> {
            Err(unsupported())
        }
    }
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
        self.put_stream_opts(key, Box::pin(io::Cursor::new(payload)), opts)
            .await
    }

    async fn put_stream_opts(
        &self,
        key: &ObjectKey,
        body: BoxReader,
        _opts: PutOptions,
    ) -> Result<PutResult> {
        let (size, written) = self.write_atomic(key, body).await?;
        let meta = Self::meta_of(key, &written);
        Ok(PutResult {
            size,
            etag: meta.etag,
            sse: meta.sse,
            version: None,
        })
    }

    async fn get_opts(&self, key: &ObjectKey, opts: GetOptions) -> Result<GetResult> {
        let (file, meta) = self.open(key).await?;
        let mut file = tokio::fs::File::from_std(file);
        let len = meta.len();
        let range = opts.range.unwrap_or(0..len);
        check_range(&range, len)?;
        file.seek(SeekFrom::Start(range.start))
            .await
            .map_err(|source| io_err(key.as_str(), source))?;
        let body = file.take(range.end - range.start);
        Ok(GetResult::new(
            STORE,
            Self::meta_of(key, &meta),
            range,
            Box::pin(body),
        ))
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let (_, meta) = self.open(key).await?;
        Ok(Self::meta_of(key, &meta))
    }

    async fn delete_opts(&self, key: &ObjectKey, opts: DeleteOptions) -> Result<()> {
        refuse_version(STORE, &opts)?;
        let (dirs, name) = split_key(key)?;
        let (root, dirs, name) = (Arc::clone(&self.dir), dirs.to_owned(), name.to_owned());
        let removed = blocking(move || {
            let dir = open_dirs(&root, &dirs, false)?;
            dir.check_not_special(&name)?;
            dir.remove(&name)
        })
        .await;
        match removed {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(io_err(key.as_str(), source)),
        }
    }

    fn list_opts(
        &self,
        prefix: &KeyPrefix,
        _opts: ListOptions,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let root = Arc::clone(&self.dir);
        let prefix = prefix.clone();
        stream::once(async move {
            let rel = prefix.as_str().to_owned();
            let found = blocking(move || {
                let mut out = Vec::new();
                let dir = match open_dirs(&root, &rel, false) {
                    Ok(dir) => dir,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
                    Err(e) => return Err(e),
                };
                walk(&dir, &rel, &mut out)?;
                Ok(out)
            })
            .await
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

    /// The durability helper, with the directory fsync failing on purpose.
    #[cfg(unix)]
    mod durability {
        use std::io::Write as _;

        use super::*;
        use crate::conformance::fresh_key;
        use crate::key::FileKind;

        /// A directory and a written temporary file in it, ready for `persist_with`.
        fn staged(bytes: &[u8]) -> (tempfile::TempDir, Dir, std::fs::File) {
            let root = tempfile::tempdir().unwrap();
            let dir = Dir::open_root(root.path()).unwrap();
            let mut file = dir.create_file(".obj.tmp").unwrap();
            file.write_all(bytes).unwrap();
            (root, dir, file)
        }

        fn failing_sync(_: &Dir) -> io::Result<()> {
            Err(io::Error::other("injected directory fsync failure"))
        }

        #[test]
        fn a_failed_directory_fsync_after_the_rename_is_not_an_error_when_the_object_is_in_place() {
            let (root, dir, file) = staged(b"ciphertext");
            let key = fresh_key(FileKind::Pdf);
            persist_with(&dir, &file, ".obj.tmp", "obj", &key, failing_sync).unwrap();
            assert_eq!(
                std::fs::read(root.path().join("obj")).unwrap(),
                b"ciphertext"
            );
            assert!(!root.path().join(".obj.tmp").exists());
        }

        #[test]
        fn a_failed_directory_fsync_is_an_error_when_the_object_is_not_in_place() {
            let (root, dir, file) = staged(b"ours");
            let key = fresh_key(FileKind::Pdf);
            // Another writer replaces the object between the rename and the failed fsync.
            let replaced_then_failed = |dir: &Dir| {
                let mut other = dir.create_file(".other.tmp").unwrap();
                other.write_all(b"theirs").unwrap();
                dir.rename(".other.tmp", "obj").unwrap();
                failing_sync(dir)
            };
            let err = persist_with(&dir, &file, ".obj.tmp", "obj", &key, replaced_then_failed)
                .unwrap_err();
            assert_eq!(err.to_string(), "injected directory fsync failure");
            assert_eq!(std::fs::read(root.path().join("obj")).unwrap(), b"theirs");
        }

        #[test]
        fn a_failed_rename_is_an_error() {
            let (_root, dir, file) = staged(b"x");
            let key = fresh_key(FileKind::Pdf);
            let err =
                persist_with(&dir, &file, ".missing.tmp", "obj", &key, Dir::sync).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::NotFound);
        }
    }
}
