use std::collections::HashSet;
use std::sync::Arc;

use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use ward_crypto::{DataKeySource as _, DekId};
use ward_domain::entity::data_key;
use ward_domain::{DataKeys, Error, KeyState};
use ward_storage::WorkspaceKeys as _;

use crate::common::{Fixture, kek};

#[tokio::test]
async fn rotation_retires_the_old_key_which_still_opens_and_destroy_shreds_it() {
    for f in Fixture::all().await {
        let keys = f.domain.keys();
        let first = keys.active_key(f.ws.id).await.unwrap();
        let second_id = keys.rotate(f.ws.id).await.unwrap();
        assert!(
            second_id > first.id(),
            "ids grow: {second_id} after {}",
            first.id()
        );
        assert_eq!(keys.active_key(f.ws.id).await.unwrap().id(), second_id);

        let listed = keys.data_keys().list(f.ws.id).await.unwrap();
        let states: Vec<_> = listed.iter().map(|k| (k.id, k.state)).collect();
        assert_eq!(
            states,
            vec![
                (first.id(), KeyState::Retired),
                (second_id, KeyState::Active)
            ]
        );
        assert!(listed.iter().all(|k| k.kek_id == ward_crypto::KekId(1)));

        // The retired key still opens what it sealed (same bytes as before).
        let again = keys.key(f.ws.id, first.id()).await.unwrap();
        assert_eq!(
            ward_crypto::FieldCipher::new(&again)
                .open(
                    &ward_crypto::FieldCipher::new(&first)
                        .seal(b"x", b"c")
                        .unwrap(),
                    b"c"
                )
                .unwrap()
                .as_slice(),
            b"x"
        );

        // The active key cannot be destroyed; the retired one can, and is then gone for good.
        let err = keys.destroy(f.ws.id, second_id).await.unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
        keys.destroy(f.ws.id, first.id()).await.unwrap();
        keys.destroy(f.ws.id, first.id()).await.unwrap(); // idempotent
        let err = keys.key(f.ws.id, first.id()).await.unwrap_err();
        assert!(
            matches!(err, ward_crypto::Error::KeyDestroyed { .. }),
            "{err}"
        );
        let row = data_key::Entity::find_by_id(first.id().0 as i32)
            .one(f.db())
            .await
            .unwrap()
            .unwrap();
        assert!(row.wrapped.is_empty(), "the wrapped key is erased");
        assert_eq!(row.state, "destroyed");
        f.cleanup().await;
    }
}

#[tokio::test]
async fn another_workspaces_key_ids_are_unknown_here() {
    for f in Fixture::all().await {
        let other = f.domain.workspaces().create("Other", None).await.unwrap();
        let mine = f.domain.keys().active_key(f.ws.id).await.unwrap().id();
        let theirs = f.domain.keys().active_key(other.id).await.unwrap().id();
        assert_ne!(mine, theirs);
        let err = f.domain.keys().key(f.ws.id, theirs).await.unwrap_err();
        assert!(
            matches!(err, ward_crypto::Error::UnknownKeyId { .. }),
            "{err}"
        );
        let err = f
            .domain
            .keys()
            .key(f.ws.id, DekId(999_999))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ward_crypto::Error::UnknownKeyId { .. }),
            "{err}"
        );
        f.cleanup().await;
    }
}

/// A wrapped key copied into another workspace's row does not unwrap there: the wrap is bound to
/// the workspace.
#[tokio::test]
async fn a_wrapped_key_moved_to_another_workspace_does_not_unwrap() {
    for f in Fixture::all().await {
        let other = f.domain.workspaces().create("Other", None).await.unwrap();
        let mine = data_key::Entity::find()
            .filter(data_key::Column::WorkspaceId.eq(f.ws.id.as_uuid()))
            .one(f.db())
            .await
            .unwrap()
            .unwrap();
        // Re-home the row: same id, same wrapped bytes, other workspace.
        data_key::Entity::update_many()
            .col_expr(
                data_key::Column::State,
                sea_orm::sea_query::Expr::value("retired"),
            )
            .col_expr(
                data_key::Column::WorkspaceId,
                sea_orm::sea_query::Expr::value(other.id.as_uuid()),
            )
            .filter(data_key::Column::Id.eq(mine.id))
            .exec(f.db())
            .await
            .unwrap();
        let fresh = DataKeys::new(f.db().clone(), f.domain.keys().data_keys().kek().clone());
        let err = fresh
            .source(other.id)
            .key(DekId(mine.id as u32))
            .await
            .unwrap_err();
        assert!(matches!(err, ward_crypto::Error::Decrypt), "{err}");
        f.cleanup().await;
    }
}

/// Key ids come from the database: many workspaces generating keys at once never share an id.
#[tokio::test]
async fn concurrent_generation_never_collides() {
    for f in Fixture::all().await {
        let keys = Arc::new(DataKeys::new(f.db().clone(), kek()));
        let mut workspaces = Vec::new();
        for i in 0..4 {
            workspaces.push(
                f.domain
                    .workspaces()
                    .create(&format!("W{i}"), None)
                    .await
                    .unwrap()
                    .id,
            );
        }
        let mut tasks = Vec::new();
        for i in 0..16 {
            let keys = Arc::clone(&keys);
            let ws = workspaces[i % workspaces.len()];
            tasks.push(tokio::spawn(async move { keys.generate(ws).await }));
        }
        let mut ids = HashSet::new();
        let mut conflicts = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(id) => assert!(ids.insert(id), "id {id} handed out twice"),
                Err(Error::Conflict { .. }) => conflicts += 1,
                Err(e) => panic!("{:?}: {e}", f.backend()),
            }
        }
        assert_eq!(ids.len() + conflicts, 16);
        // Whatever raced, each workspace has exactly one active key.
        for ws in workspaces {
            let active = keys
                .list(ws)
                .await
                .unwrap()
                .into_iter()
                .filter(|k| k.state == KeyState::Active)
                .count();
            assert_eq!(active, 1, "{:?}", f.backend());
        }
        f.cleanup().await;
    }
}
