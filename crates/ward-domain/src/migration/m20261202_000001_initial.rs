//! The first schema: workspaces, data keys, clients, sessions, attachments, upload intents and
//! the audit log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, blob, blob_null, date, integer, json, pk_auto, pk_uuid, string, text,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

/// Creates every table of the first schema.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Workspaces {
    Table,
    Id,
    Name,
    QuotaBytes,
    UsedBytes,
    AuditSeq,
    AuditHead,
    CreatedAt,
    ShreddedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum DataKeys {
    Table,
    Id,
    WorkspaceId,
    KekId,
    Wrapped,
    State,
    CreatedAt,
    RetiredAt,
    DestroyedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Clients {
    Table,
    Id,
    WorkspaceId,
    Name,
    NameIndex,
    Email,
    EmailIndex,
    Phone,
    DateOfBirth,
    Notes,
    UsedBytes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    Id,
    WorkspaceId,
    ClientId,
    SessionDate,
    SoapNotes,
    UsedBytes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Attachments {
    Table,
    Id,
    WorkspaceId,
    ClientId,
    SessionId,
    DisplayName,
    DisplayNameIndex,
    ContentType,
    SizeBytes,
    ObjectKey,
    StreamKeyId,
    EncryptionEvidence,
    UploadedBy,
    CreatedAt,
    DeletedAt,
    PurgedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UploadIntents {
    Table,
    Id,
    WorkspaceId,
    ClientId,
    SessionId,
    ObjectKey,
    ReservedBytes,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    Id,
    WorkspaceId,
    Seq,
    Actor,
    Action,
    ResourceType,
    ResourceId,
    Metadata,
    OccurredAt,
    PrevHash,
    Hash,
}

/// A foreign key from `from.col` to `to.id`, refusing deletes of the referenced row.
fn fk(
    from: impl IntoIden,
    col: impl IntoIden,
    to: impl IntoIden,
    to_col: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, col)
        .to(to, to_col)
        .on_delete(ForeignKeyAction::Restrict)
        .on_update(ForeignKeyAction::Restrict)
        .to_owned()
}

/// A column that counts bytes: never negative.
fn byte_count(col: impl IntoIden + Clone + 'static) -> ColumnDef {
    big_integer(col.clone())
        .default(0)
        .check(Expr::col(col).gte(0))
        .to_owned()
}

// The trait's signature elides `SchemaManager`'s lifetime; spelling it out does not match it.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Workspaces::Table)
                    .col(pk_uuid(Workspaces::Id))
                    .col(text(Workspaces::Name))
                    .col(
                        big_integer(Workspaces::QuotaBytes)
                            .check(Expr::col(Workspaces::QuotaBytes).gte(0)),
                    )
                    .col(byte_count(Workspaces::UsedBytes))
                    .col(big_integer(Workspaces::AuditSeq).default(0))
                    .col(blob(Workspaces::AuditHead))
                    .col(timestamp_with_time_zone(Workspaces::CreatedAt))
                    .col(timestamp_with_time_zone_null(Workspaces::ShreddedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DataKeys::Table)
                    .col(pk_auto(DataKeys::Id))
                    .col(uuid(DataKeys::WorkspaceId))
                    .col(integer(DataKeys::KekId))
                    .col(blob(DataKeys::Wrapped))
                    .col(string(DataKeys::State))
                    .col(timestamp_with_time_zone(DataKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(DataKeys::RetiredAt))
                    .col(timestamp_with_time_zone_null(DataKeys::DestroyedAt))
                    .foreign_key(&mut fk(
                        DataKeys::Table,
                        DataKeys::WorkspaceId,
                        Workspaces::Table,
                        Workspaces::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("data_keys_workspace")
                    .table(DataKeys::Table)
                    .col(DataKeys::WorkspaceId)
                    .col(DataKeys::State)
                    .to_owned(),
            )
            .await?;
        // At most one active key per workspace, whatever races (same syntax on both databases).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX data_keys_one_active ON data_keys (workspace_id) \
                 WHERE state = 'active'",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .col(pk_uuid(Clients::Id))
                    .col(uuid(Clients::WorkspaceId))
                    .col(blob(Clients::Name))
                    .col(blob(Clients::NameIndex))
                    .col(blob_null(Clients::Email))
                    .col(blob_null(Clients::EmailIndex))
                    .col(blob_null(Clients::Phone))
                    .col(blob_null(Clients::DateOfBirth))
                    .col(blob_null(Clients::Notes))
                    .col(byte_count(Clients::UsedBytes))
                    .col(timestamp_with_time_zone(Clients::CreatedAt))
                    .col(timestamp_with_time_zone(Clients::UpdatedAt))
                    .foreign_key(&mut fk(
                        Clients::Table,
                        Clients::WorkspaceId,
                        Workspaces::Table,
                        Workspaces::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("clients_name_index", Clients::NameIndex),
            ("clients_email_index", Clients::EmailIndex),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Clients::Table)
                        .col(Clients::WorkspaceId)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    .col(uuid(Sessions::WorkspaceId))
                    .col(uuid(Sessions::ClientId))
                    .col(date(Sessions::SessionDate))
                    .col(blob_null(Sessions::SoapNotes))
                    .col(byte_count(Sessions::UsedBytes))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::UpdatedAt))
                    .foreign_key(&mut fk(
                        Sessions::Table,
                        Sessions::WorkspaceId,
                        Workspaces::Table,
                        Workspaces::Id,
                    ))
                    .foreign_key(&mut fk(
                        Sessions::Table,
                        Sessions::ClientId,
                        Clients::Table,
                        Clients::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_client")
                    .table(Sessions::Table)
                    .col(Sessions::WorkspaceId)
                    .col(Sessions::ClientId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Attachments::Table)
                    .col(pk_uuid(Attachments::Id))
                    .col(uuid(Attachments::WorkspaceId))
                    .col(uuid(Attachments::ClientId))
                    .col(uuid_null(Attachments::SessionId))
                    .col(blob(Attachments::DisplayName))
                    .col(blob(Attachments::DisplayNameIndex))
                    .col(string(Attachments::ContentType))
                    .col(byte_count(Attachments::SizeBytes))
                    .col(text(Attachments::ObjectKey).unique_key())
                    .col(integer(Attachments::StreamKeyId))
                    .col(json(Attachments::EncryptionEvidence))
                    .col(string(Attachments::UploadedBy))
                    .col(timestamp_with_time_zone(Attachments::CreatedAt))
                    .col(timestamp_with_time_zone_null(Attachments::DeletedAt))
                    .col(timestamp_with_time_zone_null(Attachments::PurgedAt))
                    .foreign_key(&mut fk(
                        Attachments::Table,
                        Attachments::WorkspaceId,
                        Workspaces::Table,
                        Workspaces::Id,
                    ))
                    .foreign_key(&mut fk(
                        Attachments::Table,
                        Attachments::ClientId,
                        Clients::Table,
                        Clients::Id,
                    ))
                    .foreign_key(&mut fk(
                        Attachments::Table,
                        Attachments::SessionId,
                        Sessions::Table,
                        Sessions::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("attachments_owner")
                    .table(Attachments::Table)
                    .col(Attachments::WorkspaceId)
                    .col(Attachments::ClientId)
                    .col(Attachments::SessionId)
                    .to_owned(),
            )
            .await?;
        // A client's live attachments have distinct display names (compared by blind index).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX attachments_live_name ON attachments \
                 (client_id, display_name_index) WHERE deleted_at IS NULL",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UploadIntents::Table)
                    .col(pk_uuid(UploadIntents::Id))
                    .col(uuid(UploadIntents::WorkspaceId))
                    .col(uuid(UploadIntents::ClientId))
                    .col(uuid_null(UploadIntents::SessionId))
                    .col(text(UploadIntents::ObjectKey))
                    .col(byte_count(UploadIntents::ReservedBytes))
                    .col(timestamp_with_time_zone(UploadIntents::CreatedAt))
                    .col(timestamp_with_time_zone(UploadIntents::ExpiresAt))
                    .foreign_key(&mut fk(
                        UploadIntents::Table,
                        UploadIntents::WorkspaceId,
                        Workspaces::Table,
                        Workspaces::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("upload_intents_expiry")
                    .table(UploadIntents::Table)
                    .col(UploadIntents::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_pk_auto(AuditEvents::Id))
                    .col(uuid(AuditEvents::WorkspaceId))
                    .col(big_integer(AuditEvents::Seq))
                    .col(string(AuditEvents::Actor))
                    .col(string(AuditEvents::Action))
                    .col(string(AuditEvents::ResourceType))
                    .col(string(AuditEvents::ResourceId))
                    .col(json(AuditEvents::Metadata))
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(blob(AuditEvents::PrevHash))
                    .col(blob(AuditEvents::Hash))
                    .foreign_key(&mut fk(
                        AuditEvents::Table,
                        AuditEvents::WorkspaceId,
                        Workspaces::Table,
                        Workspaces::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_chain")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::WorkspaceId)
                    .col(AuditEvents::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Children first, so foreign keys never block the drop.
        for table in [
            AuditEvents::Table.into_iden(),
            UploadIntents::Table.into_iden(),
            Attachments::Table.into_iden(),
            Sessions::Table.into_iden(),
            Clients::Table.into_iden(),
            DataKeys::Table.into_iden(),
            Workspaces::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
