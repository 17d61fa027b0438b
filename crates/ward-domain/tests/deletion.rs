use time::macros::date;
use ward_domain::{Action, ClientFields, Error};
use ward_storage::Owner;

use crate::attachments::{attachments, png_with_secret};
use crate::common::Fixture;
use crate::stores;

#[tokio::test]
async fn a_deleted_client_and_its_sessions_answer_not_found_and_take_nothing_new() {
    for f in Fixture::all().await {
        let clients = f.domain.clients();
        let sessions = f.domain.sessions();
        let c = clients
            .create(
                &f.actor,
                f.ws.id,
                ClientFields::named("Jane Roe").with_email("jane@example.org"),
            )
            .await
            .unwrap();
        let s = sessions
            .create(&f.actor, f.ws.id, c.id, date!(2026 - 12 - 07), None)
            .await
            .unwrap();
        // With a file filed under it, the client is not deleted.
        let store = stores::local();
        let files = attachments(&f, &store);
        let file = files
            .upload(
                &f.actor,
                f.ws.id,
                Owner::Session(s.id),
                "a.png",
                &png_with_secret(1)[..],
            )
            .await
            .unwrap();
        assert!(matches!(
            clients.delete(&f.actor, f.ws.id, c.id).await,
            Err(Error::Conflict { .. })
        ));
        assert!(matches!(
            sessions.delete(&f.actor, f.ws.id, s.id).await,
            Err(Error::Conflict { .. })
        ));
        assert!(
            clients.get(&f.actor, f.ws.id, c.id).await.is_ok(),
            "a refused delete changes nothing"
        );
        files.delete(&f.actor, f.ws.id, file.id).await.unwrap();

        clients.delete(&f.actor, f.ws.id, c.id).await.unwrap();
        assert!(matches!(
            clients.get(&f.actor, f.ws.id, c.id).await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            sessions.get(&f.actor, f.ws.id, s.id).await,
            Err(Error::NotFound { .. })
        ));
        assert!(
            clients
                .find_by_email(&f.actor, f.ws.id, "jane@example.org")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            clients
                .update(&f.actor, f.ws.id, c.id, ClientFields::named("X"))
                .await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            sessions
                .create(&f.actor, f.ws.id, c.id, date!(2026 - 12 - 08), None)
                .await,
            Err(Error::NotFound { .. })
        ));
        for owner in [Owner::Client(c.id), Owner::Session(s.id)] {
            assert!(matches!(
                files
                    .upload(&f.actor, f.ws.id, owner, "b.png", &png_with_secret(2)[..])
                    .await,
                Err(Error::NotFound { .. })
            ));
        }
        assert!(matches!(
            clients.delete(&f.actor, f.ws.id, c.id).await,
            Err(Error::NotFound { .. })
        ));
        let events = crate::audit::events(&f, f.ws.id).await;
        assert!(
            events
                .iter()
                .any(|e| e.action == Action::ClientDelete.as_str())
        );
        f.cleanup_checking_audit().await;
    }
}

#[tokio::test]
async fn a_session_is_deleted_alone() {
    for f in Fixture::all().await {
        let c = f
            .domain
            .clients()
            .create(&f.actor, f.ws.id, ClientFields::named("Jane Roe"))
            .await
            .unwrap();
        let sessions = f.domain.sessions();
        let s = sessions
            .create(&f.actor, f.ws.id, c.id, date!(2026 - 12 - 07), None)
            .await
            .unwrap();
        let other = ward_domain::WorkspaceId::from(uuid::Uuid::new_v4());
        assert!(matches!(
            sessions.delete(&f.actor, other, s.id).await,
            Err(Error::NotFound { .. })
        ));
        sessions.delete(&f.actor, f.ws.id, s.id).await.unwrap();
        assert!(matches!(
            sessions.get(&f.actor, f.ws.id, s.id).await,
            Err(Error::NotFound { .. })
        ));
        assert!(
            f.domain
                .clients()
                .get(&f.actor, f.ws.id, c.id)
                .await
                .is_ok()
        );
        f.cleanup_checking_audit().await;
    }
}
