use std::sync::{Arc, Mutex};

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _, SqliteTransactionMode,
    TransactionOptions, TransactionTrait as _,
};
use time::Duration;
use ward_domain::audit::{self, verify_chain};
use ward_domain::entity::audit_event;
use ward_domain::{
    Action, Actor, AuditMetadata, AuditRecord, ChainBreak, ClientFields, WorkspaceId,
};

use crate::common::Fixture;

pub(crate) async fn events(f: &Fixture, ws: WorkspaceId) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::WorkspaceId.eq(ws.as_uuid()))
        .order_by_asc(audit_event::Column::Seq)
        .all(f.db())
        .await
        .unwrap()
}

async fn set(f: &Fixture, row_id: i64, column: audit_event::Column, value: SimpleExpr) {
    audit_event::Entity::update_many()
        .col_expr(column, value)
        .filter(audit_event::Column::Id.eq(row_id))
        .exec(f.db())
        .await
        .unwrap();
}

/// A new workspace with three events (create, read, search), and those events.
async fn three_events(f: &Fixture, name: &str) -> (WorkspaceId, Vec<audit_event::Model>) {
    let ws = f.domain.workspaces().create(name, None).await.unwrap().id;
    let clients = f.domain.clients();
    let c = clients
        .create(&f.actor, ws, ClientFields::named("Jane Roe"))
        .await
        .unwrap();
    clients.get(&f.actor, ws, c.id).await.unwrap();
    clients
        .find_by_name(&f.actor, ws, "jane roe")
        .await
        .unwrap();
    (ws, events(f, ws).await)
}

#[tokio::test]
async fn every_access_is_recorded_with_ids_only() {
    for f in Fixture::all().await {
        let (ws, rows) = three_events(&f, "all").await;
        let actions: Vec<_> = rows.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["client.create", "client.read", "client.search"]);
        assert!(rows.iter().all(|e| e.actor == "user:test"));
        assert_eq!(rows[2].metadata["matches"], 1);
        assert_eq!(rows[2].metadata["by"], "name");
        let everything = format!("{rows:?}");
        assert!(!everything.contains("Jane"), "a name reached the audit log");
        let report = verify_chain(f.db(), ws).await.unwrap();
        assert!(report.is_intact(), "{:?}", report.first_break);
        assert_eq!(report.events, 3);
        f.cleanup().await;
    }
}

#[tokio::test]
async fn an_edit_to_any_field_is_found_and_named() {
    type Tamper = fn(&audit_event::Model) -> (audit_event::Column, SimpleExpr);
    let tampers: [(&str, Tamper); 8] = [
        ("actor", |_| {
            (audit_event::Column::Actor, Expr::value("user:someone-else"))
        }),
        ("action", |_| {
            (audit_event::Column::Action, Expr::value("client.update"))
        }),
        ("resource_type", |_| {
            (audit_event::Column::ResourceType, Expr::value("session"))
        }),
        ("resource_id", |_| {
            (
                audit_event::Column::ResourceId,
                Expr::value(uuid::Uuid::new_v4().to_string()),
            )
        }),
        ("metadata", |_| {
            (
                audit_event::Column::Metadata,
                Expr::value(serde_json::json!({"matches": 0})),
            )
        }),
        ("occurred_at", |e| {
            (
                audit_event::Column::OccurredAt,
                Expr::value(e.occurred_at - Duration::seconds(1)),
            )
        }),
        ("prev_hash", |_| {
            (audit_event::Column::PrevHash, Expr::value(vec![7_u8; 32]))
        }),
        ("hash", |_| {
            (audit_event::Column::Hash, Expr::value(vec![7_u8; 32]))
        }),
    ];
    for f in Fixture::all().await {
        for (name, tamper) in tampers {
            // A fresh workspace per field, so each edit is the only one.
            let (ws, rows) = three_events(&f, name).await;
            let target = &rows[1];
            let (column, value) = tamper(target);
            set(&f, target.id, column, value).await;
            let report = verify_chain(f.db(), ws).await.unwrap();
            let named = match report.first_break {
                Some(
                    ChainBreak::Altered { row_id, seq } | ChainBreak::Unlinked { row_id, seq },
                ) => {
                    assert_eq!(seq, 2, "{name}");
                    row_id
                }
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(named, target.id, "{name} on {:?}", f.backend());
        }
        f.cleanup().await;
    }
}

#[tokio::test]
async fn deleted_reordered_and_appended_rows_are_found() {
    for f in Fixture::all().await {
        // Deleting a middle event.
        let (ws, rows) = three_events(&f, "middle").await;
        audit_event::Entity::delete_by_id(rows[1].id)
            .exec(f.db())
            .await
            .unwrap();
        let report = verify_chain(f.db(), ws).await.unwrap();
        assert_eq!(
            report.first_break,
            Some(ChainBreak::Gap {
                expected: 2,
                found: 3,
                row_id: rows[2].id
            })
        );

        // Deleting the newest event.
        let (ws, rows) = three_events(&f, "newest").await;
        audit_event::Entity::delete_by_id(rows[2].id)
            .exec(f.db())
            .await
            .unwrap();
        let report = verify_chain(f.db(), ws).await.unwrap();
        assert_eq!(
            report.first_break,
            Some(ChainBreak::Truncated {
                recorded_len: 3,
                found_len: 2
            })
        );

        // Swapping two events' positions.
        let (ws, rows) = three_events(&f, "swap").await;
        set(
            &f,
            rows[1].id,
            audit_event::Column::Seq,
            Expr::value(-1_i64),
        )
        .await;
        set(&f, rows[2].id, audit_event::Column::Seq, Expr::value(2_i64)).await;
        set(&f, rows[1].id, audit_event::Column::Seq, Expr::value(3_i64)).await;
        let report = verify_chain(f.db(), ws).await.unwrap();
        assert_eq!(
            report.first_break,
            Some(ChainBreak::Altered {
                seq: 2,
                row_id: rows[2].id
            })
        );

        // An event appended behind the workspace's back (even with a correct hash).
        let (ws, rows) = three_events(&f, "forged").await;
        let mut forged: audit_event::ActiveModel = rows[2].clone().into();
        forged.id = sea_orm::ActiveValue::NotSet;
        forged.seq = sea_orm::ActiveValue::Set(4);
        forged.prev_hash = sea_orm::ActiveValue::Set(rows[2].hash.clone());
        let forged_id = audit_event::Entity::insert(forged)
            .exec(f.db())
            .await
            .unwrap()
            .last_insert_id;
        let report = verify_chain(f.db(), ws).await.unwrap();
        assert_eq!(
            report.first_break,
            Some(ChainBreak::Unrecorded {
                seq: 4,
                row_id: forged_id
            }),
            "{report:?}"
        );
        f.cleanup().await;
    }
}

/// Appends racing in one workspace take turns: every event gets its own position and the chain
/// stays whole.
#[tokio::test]
async fn concurrent_appends_keep_one_chain() {
    for f in Fixture::all().await {
        // A verifier runs the whole time: a check racing the appends never reports a break.
        let checks = Arc::new(Mutex::new((0_u32, Vec::new())));
        let verifier = {
            let (db, ws, checks) = (f.db().clone(), f.ws.id, Arc::clone(&checks));
            tokio::spawn(async move {
                loop {
                    let report = verify_chain(&db, ws).await.unwrap();
                    {
                        let mut c = checks.lock().unwrap();
                        c.0 += 1;
                        c.1.extend(report.first_break);
                    }
                    tokio::task::yield_now().await;
                }
            })
        };
        let mut tasks = Vec::new();
        for i in 0..16 {
            let db = f.db().clone();
            let ws = f.ws.id;
            tasks.push(tokio::spawn(async move {
                let txn = db
                    .begin_with_options(TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                let actor = Actor::new(format!("user:{i}")).unwrap();
                let record = AuditRecord::new(&actor, Action::AttachmentList, uuid::Uuid::new_v4())
                    .with(AuditMetadata::new().count("n", i));
                let seq = audit::append(&txn, ws, &record).await.unwrap();
                txn.commit().await.unwrap();
                seq
            }));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=16).collect::<Vec<i64>>(), "{:?}", f.backend());
        verifier.abort();
        let (runs, breaks) = checks.lock().unwrap().clone();
        assert!(runs > 0);
        assert!(
            breaks.is_empty(),
            "{:?}: {breaks:?} in {runs} checks",
            f.backend()
        );
        let report = verify_chain(f.db(), f.ws.id).await.unwrap();
        assert!(report.is_intact(), "{:?}", report.first_break);
        assert_eq!(report.events, 16);
        f.cleanup().await;
    }
}
