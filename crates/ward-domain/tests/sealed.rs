use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use time::macros::date;
use ward_domain::entity::{client, session};
use ward_domain::{ClientFields, Error, SoapNotes};

use crate::common::Fixture;

fn jane() -> ClientFields {
    ClientFields::named("Jane Q. Roe")
        .with_email("Jane.Roe@Example.org")
        .with_phone("+1 (555) 010-7788")
        .with_date_of_birth(date!(1984 - 02 - 29))
        .with_notes("allergic to penicillin")
}

#[tokio::test]
async fn fields_round_trip_and_the_database_holds_no_plaintext() {
    for f in Fixture::all().await {
        let clients = f.domain.clients();
        let created = clients.create(&f.actor, f.ws.id, jane()).await.unwrap();
        let read = clients.get(&f.actor, f.ws.id, created.id).await.unwrap();
        assert_eq!(read.fields, jane());
        assert_eq!(read.id, created.id);

        // A client with only a name: the other columns are NULL, and read back as None.
        let bare = clients
            .create(&f.actor, f.ws.id, ClientFields::named("Sam Poe"))
            .await
            .unwrap();
        let row = client::Entity::find_by_id(bare.id)
            .one(f.db())
            .await
            .unwrap()
            .unwrap();
        assert!(row.email.is_none() && row.email_index.is_none() && row.notes.is_none());
        assert_eq!(
            clients
                .get(&f.actor, f.ws.id, bare.id)
                .await
                .unwrap()
                .fields,
            ClientFields::named("Sam Poe")
        );

        // Every stored byte of every column: no field's plaintext appears anywhere.
        let row = client::Entity::find_by_id(created.id)
            .one(f.db())
            .await
            .unwrap()
            .unwrap();
        let stored: Vec<Vec<u8>> = [
            Some(row.name.0.clone()),
            Some(row.name_index.0.clone()),
            row.email.clone().map(|v| v.0),
            row.email_index.clone().map(|v| v.0),
            row.phone.clone().map(|v| v.0),
            row.date_of_birth.clone().map(|v| v.0),
            row.notes.clone().map(|v| v.0),
        ]
        .into_iter()
        .flatten()
        .collect();
        // Needles of four or more bytes, so random ciphertext does not match one by chance.
        for needle in ["Jane", "example", "7788", "1984", "penicillin"] {
            for column in &stored {
                assert!(
                    !column
                        .windows(needle.len())
                        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes())),
                    "{needle} stored in clear"
                );
            }
        }
        // Debug output of what was read shows no value either (digits are left out of the
        // needles: the ids and times in the output are full of them).
        let debug = format!("{read:?} {row:?}");
        for needle in ["Jane", "penicillin", "Example", "Roe"] {
            assert!(!debug.contains(needle), "{debug}");
        }
        f.cleanup().await;
    }
}

/// A sealed value copied into another row, another column or another workspace does not open.
#[tokio::test]
async fn a_value_moved_to_another_cell_does_not_open() {
    for f in Fixture::all().await {
        let clients = f.domain.clients();
        let a = clients.create(&f.actor, f.ws.id, jane()).await.unwrap();
        let b = clients
            .create(&f.actor, f.ws.id, ClientFields::named("Sam Poe"))
            .await
            .unwrap();
        let a_row = client::Entity::find_by_id(a.id)
            .one(f.db())
            .await
            .unwrap()
            .unwrap();

        // Another row: A's email into B.
        client::Entity::update_many()
            .col_expr(client::Column::Email, Expr::value(a_row.email.clone()))
            .filter(client::Column::Id.eq(b.id))
            .exec(f.db())
            .await
            .unwrap();
        let err = clients.get(&f.actor, f.ws.id, b.id).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Unsealable {
                    table: "clients",
                    column: "email",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains(&b.id.to_string()), "{err}");

        // Another column of the same row: A's phone into A's notes.
        client::Entity::update_many()
            .col_expr(client::Column::Notes, Expr::value(a_row.phone.clone()))
            .filter(client::Column::Id.eq(a.id))
            .exec(f.db())
            .await
            .unwrap();
        let err = clients.get(&f.actor, f.ws.id, a.id).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Unsealable {
                    column: "notes",
                    ..
                }
            ),
            "{err}"
        );

        // Another table: A's name into a session's notes.
        let s = f
            .domain
            .sessions()
            .create(&f.actor, f.ws.id, b.id, date!(2026 - 12 - 01), None)
            .await
            .unwrap();
        session::Entity::update_many()
            .col_expr(session::Column::SoapNotes, Expr::value(a_row.name.clone()))
            .filter(session::Column::Id.eq(s.id))
            .exec(f.db())
            .await
            .unwrap();
        let err = f
            .domain
            .sessions()
            .get(&f.actor, f.ws.id, s.id)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Unsealable {
                    table: "sessions",
                    ..
                }
            ),
            "{err}"
        );

        // A flipped byte.
        let mut flipped = a_row.name.0.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        client::Entity::update_many()
            .col_expr(client::Column::Name, Expr::value(flipped))
            .filter(client::Column::Id.eq(a.id))
            .exec(f.db())
            .await
            .unwrap();
        assert!(clients.get(&f.actor, f.ws.id, a.id).await.is_err());
        f.cleanup().await;
    }
}

#[tokio::test]
async fn another_workspaces_rows_are_not_found() {
    for f in Fixture::all().await {
        let other = f.domain.workspaces().create("Other", None).await.unwrap();
        let clients = f.domain.clients();
        let theirs = clients.create(&f.actor, other.id, jane()).await.unwrap();
        let err = clients.get(&f.actor, f.ws.id, theirs.id).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::NotFound {
                    resource: "client",
                    ..
                }
            ),
            "{err}"
        );
        let err = f
            .domain
            .sessions()
            .create(&f.actor, f.ws.id, theirs.id, date!(2026 - 12 - 01), None)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::NotFound {
                    resource: "client",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            clients
                .find_by_email(&f.actor, f.ws.id, "jane.roe@example.org")
                .await
                .unwrap()
                .is_empty()
        );
        // Moving the row itself to this workspace: its values were sealed for the other one.
        client::Entity::update_many()
            .col_expr(client::Column::WorkspaceId, Expr::value(f.ws.id.as_uuid()))
            .filter(client::Column::Id.eq(theirs.id))
            .exec(f.db())
            .await
            .unwrap();
        let err = clients.get(&f.actor, f.ws.id, theirs.id).await.unwrap_err();
        assert!(matches!(err, Error::Unsealable { .. }), "{err}");
        f.cleanup().await;
    }
}

#[tokio::test]
async fn search_by_blind_index_survives_key_rotation() {
    for f in Fixture::all().await {
        let clients = f.domain.clients();
        let before = clients.create(&f.actor, f.ws.id, jane()).await.unwrap();
        f.domain.keys().rotate(f.ws.id).await.unwrap();
        let mut twin = jane();
        twin.notes = None;
        let after = clients.create(&f.actor, f.ws.id, twin).await.unwrap();
        let _other = clients
            .create(&f.actor, f.ws.id, ClientFields::named("Sam Poe"))
            .await
            .unwrap();

        let by_email = clients
            .find_by_email(&f.actor, f.ws.id, "  jane.roe@EXAMPLE.org ")
            .await
            .unwrap();
        let ids: Vec<_> = by_email.iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![before.id, after.id], "{:?}", f.backend());

        let by_name = clients
            .find_by_name(&f.actor, f.ws.id, "jane q. roe")
            .await
            .unwrap();
        assert_eq!(by_name.len(), 2);
        assert!(
            clients
                .find_by_email(&f.actor, f.ws.id, "jane@example.org")
                .await
                .unwrap()
                .is_empty()
        );
        f.cleanup().await;
    }
}

#[tokio::test]
async fn updates_reseal_and_bad_input_names_the_rule_not_the_value() {
    for f in Fixture::all().await {
        let clients = f.domain.clients();
        let c = clients.create(&f.actor, f.ws.id, jane()).await.unwrap();
        let mut changed = jane();
        changed.email = Some("new@example.org".into());
        changed.phone = None;
        let updated = clients
            .update(&f.actor, f.ws.id, c.id, changed.clone())
            .await
            .unwrap();
        assert_eq!(updated.fields, changed);
        let row = client::Entity::find_by_id(c.id)
            .one(f.db())
            .await
            .unwrap()
            .unwrap();
        assert!(row.phone.is_none(), "cleared fields become NULL");

        for (bad, field) in [
            (ClientFields::named(""), "client name"),
            (
                ClientFields::named("A").with_email("secret-value-no-at"),
                "client email",
            ),
            (
                ClientFields::named("A").with_phone("call me secret-value"),
                "client phone",
            ),
            (
                ClientFields::named("A").with_notes("x".repeat(64 * 1024 + 1)),
                "client notes",
            ),
        ] {
            let err = clients.create(&f.actor, f.ws.id, bad).await.unwrap_err();
            assert!(
                matches!(&err, Error::InvalidInput { field: named, .. } if *named == field),
                "{err}"
            );
            assert!(err.to_string().contains(field), "{err}");
            assert!(!err.to_string().contains("secret-value"), "{err}");
        }

        // Sessions: notes round trip, update, clear.
        let sessions = f.domain.sessions();
        let s = sessions
            .create(
                &f.actor,
                f.ws.id,
                c.id,
                date!(2026 - 11 - 30),
                Some(SoapNotes("S: knee pain".into())),
            )
            .await
            .unwrap();
        let read = sessions.get(&f.actor, f.ws.id, s.id).await.unwrap();
        assert_eq!(read.soap_notes, Some(SoapNotes("S: knee pain".into())));
        assert_eq!(read.date, date!(2026 - 11 - 30));
        assert!(!format!("{read:?}").contains("knee"));
        sessions
            .update_notes(&f.actor, f.ws.id, s.id, None)
            .await
            .unwrap();
        assert_eq!(
            sessions
                .get(&f.actor, f.ws.id, s.id)
                .await
                .unwrap()
                .soap_notes,
            None
        );
        f.cleanup().await;
    }
}
