//! `LocalStore` on a real filesystem: no path outside the root, no partial object ever visible.

use futures::TryStreamExt as _;
use ward_storage::conformance::{TestReader, fresh_key, pattern};
use ward_storage::{
    Error, FileKind, KeyPrefix, LocalStore, ObjectKey, ObjectStore as _, ObjectStoreExt as _, Owner,
};

#[test]
fn keys_that_would_traverse_cannot_be_built() {
    for text in [
        "../../etc/passwd",
        "workspaces/../../etc/passwd",
        "/etc/passwd",
        "workspaces/00000000-0000-0000-0000-000000000001/sessions/00000000-0000-0000-0000-000000000002/attachments/../../x.pdf",
    ] {
        assert!(
            matches!(text.parse::<ObjectKey>(), Err(Error::InvalidKey { .. })),
            "{text}"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn local_store_refuses_a_symlinked_directory_out_of_the_root() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let store = LocalStore::new(root.path()).unwrap();
    let key = fresh_key(FileKind::Pdf);

    // Plant `workspaces/{ws}` as a symlink to a directory outside the root.
    let ws_dir = root.path().join("workspaces");
    std::fs::create_dir_all(&ws_dir).unwrap();
    std::os::unix::fs::symlink(
        outside.path(),
        ws_dir.join(key.workspace().unwrap().to_string()),
    )
    .unwrap();

    let err = store.put(&key, pattern(10, 1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                store: "LocalStore",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(store.get(&key).await.is_err());
    assert!(store.delete(&key).await.is_err());
    let escaped: Vec<_> = walk(outside.path());
    assert!(
        escaped.is_empty(),
        "files written outside the root: {escaped:?}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn local_store_refuses_an_object_that_is_a_symlink() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    std::fs::write(&secret, b"not yours").unwrap();
    let store = LocalStore::new(root.path()).unwrap();
    let key = fresh_key(FileKind::Jpeg);
    store.put(&key, pattern(10, 2)).await.unwrap();
    let path = root.path().join(key.as_str());
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&secret, &path).unwrap();
    assert!(store.get(&key).await.is_err());
    assert!(store.head(&key).await.is_err());
    assert!(store.put(&key, pattern(10, 3)).await.is_err());
    assert_eq!(std::fs::read(&secret).unwrap(), b"not yours");
}

/// Objects are `0600` and every directory the store creates (root included) `0700`, so other
/// local users can neither read ciphertext nor list workspace and patient ids.
#[cfg(unix)]
#[tokio::test]
async fn objects_are_owner_only_and_directories_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("ward-data");
    let store = LocalStore::new(&root).unwrap();
    let key = fresh_key(FileKind::Pdf);
    store.put(&key, pattern(100, 9)).await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    let object = root.join(key.as_str());
    assert_eq!(mode(&object), 0o600, "object mode");
    let mut dir = object.parent().unwrap();
    loop {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
        if dir == root {
            break;
        }
        dir = dir.parent().unwrap();
    }
    // A replacing put keeps the mode (a new file is renamed over the old one).
    store.put(&key, pattern(10, 10)).await.unwrap();
    assert_eq!(mode(&object), 0o600, "replaced object mode");
}

/// A symlink deep in the tree pointing at a directory inside the root is refused too: no path
/// below the root is ever resolved through a symlink.
#[cfg(unix)]
#[tokio::test]
async fn local_store_refuses_a_symlink_even_inside_the_root() {
    let root = tempfile::tempdir().unwrap();
    let store = LocalStore::new(root.path()).unwrap();
    let real = fresh_key(FileKind::Png);
    store.put(&real, pattern(10, 11)).await.unwrap();
    // Plant `{other owner}` as a symlink to the real owner's directory.
    let owner_dir = root
        .path()
        .join(real.as_str())
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let other = ObjectKey::new(
        real.workspace().unwrap(),
        Owner::Client(uuid::Uuid::new_v4()),
        real.attachment().unwrap(),
        FileKind::Png,
    );
    let other_owner_dir = root
        .path()
        .join(other.as_str())
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    std::fs::create_dir_all(other_owner_dir.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&owner_dir, &other_owner_dir).unwrap();

    assert!(store.get(&other).await.is_err());
    assert!(store.head(&other).await.is_err());
    assert!(store.put(&other, pattern(10, 12)).await.is_err());
    assert!(store.delete(&other).await.is_err());
    assert_eq!(
        store.get(&real).await.unwrap().bytes().await.unwrap(),
        pattern(10, 11)
    );
    let listed: Vec<ObjectKey> = store
        .list(&KeyPrefix::all())
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed, vec![real]);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn a_failed_write_leaves_the_previous_object_and_no_temporary_file() {
    let root = tempfile::tempdir().unwrap();
    let store = LocalStore::new(root.path()).unwrap();
    let key = fresh_key(FileKind::Png);
    let first = pattern(1000, 4);
    store.put(&key, first.clone()).await.unwrap();

    let failing = TestReader::failing_after(pattern(2_000_000, 5));
    assert!(store.put_stream(&key, Box::pin(failing)).await.is_err());

    assert_eq!(store.get(&key).await.unwrap().bytes().await.unwrap(), first);
    let files = walk(root.path());
    assert_eq!(files, vec![root.path().join(key.as_str())]);
}

#[tokio::test]
async fn a_write_in_progress_is_never_visible() {
    let root = tempfile::tempdir().unwrap();
    let store = LocalStore::new(root.path()).unwrap();
    let key = fresh_key(FileKind::Pdf);

    // A body that stalls half-way, so the write is observed while in progress.
    let (mut tx, rx) = tokio::io::duplex(64 * 1024);
    let writer = {
        let store = store.clone();
        let key = key.clone();
        tokio::spawn(async move { store.put_stream(&key, Box::pin(rx)).await })
    };
    use tokio::io::AsyncWriteExt as _;
    tx.write_all(&pattern(500_000, 6)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    assert!(store.head(&key).await.unwrap_err().is_not_found());
    assert!(store.get(&key).await.is_err());
    let listed: Vec<_> = store.list(&KeyPrefix::all()).try_collect().await.unwrap();
    assert!(
        listed.is_empty(),
        "a write in progress is listed: {listed:?}"
    );
    // The bytes so far sit in a hidden temporary file only.
    assert!(
        walk(root.path())
            .iter()
            .all(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
    );

    tx.write_all(&pattern(10, 7)).await.unwrap();
    drop(tx);
    let put = writer.await.unwrap().unwrap();
    assert_eq!(put.size, 500_010);
    assert_eq!(store.head(&key).await.unwrap().size, 500_010);
}

#[tokio::test]
async fn files_that_are_not_ward_keys_are_not_listed() {
    let root = tempfile::tempdir().unwrap();
    let store = LocalStore::new(root.path()).unwrap();
    let key = fresh_key(FileKind::Webp);
    store.put(&key, pattern(5, 8)).await.unwrap();
    let dir = root.path().join(key.as_str());
    let stray = dir.parent().unwrap().join("notes.txt");
    std::fs::write(&stray, b"stray").unwrap();
    let listed: Vec<ObjectKey> = store
        .list(&KeyPrefix::all())
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed, vec![key]);
}
