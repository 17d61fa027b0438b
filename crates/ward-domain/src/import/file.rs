//! The legacy export file: the seed application's rows as JSON Lines, read by
//! [`LegacyImport::import_file`] (whose docs give the format).

use std::fmt;

use serde::Deserialize;
use time::Date;
use time::macros::format_description;
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _};
use ward_types::{Fault, WorkspaceId};
use zeroize::{Zeroize as _, Zeroizing};

use super::{Imported, LegacyImport, LegacyValue, MAX_LEGACY_VALUE_BYTES};
use crate::audit::Actor;
use crate::error::{Error, Result};
use crate::rotation::Progress;
use crate::sessions::SoapNotes;
use crate::{ClientFields, Domain};

/// The longest line of an export file: a client's five values at their longest, with room for
/// JSON around them.
pub const MAX_IMPORT_LINE_BYTES: usize = 6 * MAX_LEGACY_VALUE_BYTES;

/// Failures kept in [`ImportReport::failed`]; later ones are counted only.
const MAX_FAILURES_KEPT: usize = 1000;

/// What [`LegacyImport::import_file`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Clients made by this run.
    pub clients_created: u64,
    /// Clients an earlier run made (found, not written).
    pub clients_existing: u64,
    /// Sessions made by this run.
    pub sessions_created: u64,
    /// Sessions an earlier run made.
    pub sessions_existing: u64,
    /// Rows refused, all of them counted.
    pub failed_rows: u64,
    /// The first refused rows (up to 1,000), by line.
    pub failed: Vec<RowFailure>,
}

impl ImportReport {
    /// Rows made or found.
    pub fn imported(&self) -> u64 {
        self.clients_created
            + self.clients_existing
            + self.sessions_created
            + self.sessions_existing
    }

    fn count(&mut self, table: Table, done: Imported) {
        let slot = match (table, done) {
            (Table::Clients, Imported::Created(_)) => &mut self.clients_created,
            (Table::Clients, Imported::Existing(_)) => &mut self.clients_existing,
            (Table::Sessions, Imported::Created(_)) => &mut self.sessions_created,
            (Table::Sessions, Imported::Existing(_)) => &mut self.sessions_existing,
        };
        *slot += 1;
    }

    fn fail(&mut self, line: u64, table: Option<Table>, reason: String) {
        self.failed_rows += 1;
        if self.failed.len() < MAX_FAILURES_KEPT {
            self.failed.push(RowFailure {
                line,
                table: table.map(Table::name),
                reason,
            });
        }
    }
}

/// A row the import refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RowFailure {
    /// Its line in the file, from 1.
    pub line: u64,
    /// Its table, when the line said.
    pub table: Option<&'static str>,
    /// What was wrong (never the value).
    pub reason: String,
}

impl fmt::Display for RowFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.table {
            Some(table) => write!(f, "line {} ({table}): {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Clients,
    Sessions,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Self::Clients => "clients",
            Self::Sessions => "sessions",
        }
    }
}

/// One line of the file.
#[derive(Deserialize)]
#[serde(tag = "table", rename_all = "snake_case")]
enum Row {
    Clients(ClientRow),
    Sessions(SessionRow),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientRow {
    id: String,
    name: Value,
    #[serde(default)]
    email: Option<Value>,
    #[serde(default)]
    phone: Option<Value>,
    #[serde(default)]
    date_of_birth: Option<Value>,
    #[serde(default)]
    notes: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionRow {
    id: String,
    client_id: String,
    session_date: Value,
    #[serde(default)]
    soap_notes: Option<Value>,
}

/// A value as the seed kept it; its text is wiped when dropped.
#[derive(Deserialize)]
#[serde(untagged)]
enum Value {
    Text(String),
    Parts {
        ciphertext: String,
        nonce: String,
        version: u32,
    },
    Raw {
        raw: String,
        version: u32,
    },
    Plain {
        plain: String,
    },
}

impl Drop for Value {
    fn drop(&mut self) {
        match self {
            Self::Text(text) | Self::Raw { raw: text, .. } | Self::Plain { plain: text } => {
                text.zeroize();
            }
            Self::Parts {
                ciphertext, nonce, ..
            } => {
                ciphertext.zeroize();
                nonce.zeroize();
            }
        }
    }
}

impl LegacyImport {
    /// Imports an export file of the seed's rows (below) into `workspace`, row by row and in
    /// file order, as `actor`; `progress` hears every 100 rows. Re-running a file finds the rows
    /// made before ([`Imported::Existing`]).
    ///
    /// # The export file
    ///
    /// One JSON object per line (UTF-8, `\n`-separated, blank lines ignored), each naming its table:
    ///
    /// ```text
    /// {"table": "clients", "id": "17", "name": V, "email": V, "phone": V, "date_of_birth": V, "notes": V}
    /// {"table": "sessions", "id": "s-900", "client_id": "17", "session_date": V, "soap_notes": V}
    /// ```
    ///
    /// `id` is the row's id in the seed application (1–128 bytes, what makes a re-run find the row
    /// made the first time); a session names its client by the client's seed id, so clients come
    /// first (on earlier lines, or in an earlier run). Only `name` (clients) and `client_id` and
    /// `session_date` (sessions) are required; a member not listed here is refused, so a misspelt
    /// column never drops data silently. Each `V` is a value as the seed kept it, or `null`:
    ///
    /// | `V` | the seed's form |
    /// |---|---|
    /// | `"v2:<base64>"` | the text form: key version, then nonce ‖ ciphertext ‖ tag |
    /// | `{"ciphertext": "…", "nonce": "…", "version": 2}` | a JSON column (other members ignored) |
    /// | `{"raw": "<base64>", "version": 2}` | a raw `BYTEA` column (nonce ‖ ciphertext ‖ tag), base64 for the file |
    /// | `{"plain": "…"}` | a column the seed kept unencrypted |
    ///
    /// Dates (`date_of_birth`, `session_date`) open to `YYYY-MM-DD`.
    ///
    /// # Bounds and failures
    ///
    /// A line is read only up to [`MAX_IMPORT_LINE_BYTES`]: a longer one stops the import with
    /// [`Error::ImportFile`] naming its line, having buffered no more than that. A row that does not
    /// parse, does not open under the configured keys or does not validate is reported by line
    /// number and table in [`ImportReport::failed`] and the import goes on; fix the file and run it
    /// again (rows already made are found, not made twice). Errors of the database stop the import.
    /// No message carries a value.
    pub async fn import_file<R: AsyncBufRead + Unpin>(
        &self,
        domain: &Domain,
        actor: &Actor,
        workspace: WorkspaceId,
        mut input: R,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<ImportReport> {
        let mut report = ImportReport::default();
        let mut buf = Zeroizing::new(Vec::new());
        let mut line = 0_u64;
        let mut rows = 0_u64;
        loop {
            buf.clear();
            line += 1;
            if !read_line(&mut input, &mut buf, line).await? {
                break;
            }
            let text = buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let row: Row = match serde_json::from_slice(text) {
                Ok(row) => row,
                Err(e) => {
                    report.fail(line, None, parse_failure(&e));
                    continue;
                }
            };
            let table = match &row {
                Row::Clients(_) => Table::Clients,
                Row::Sessions(_) => Table::Sessions,
            };
            match self.import_row(domain, actor, workspace, row).await {
                Ok(done) => report.count(table, done),
                Err(e) if matches!(e.fault(), Fault::Server | Fault::Unavailable) => {
                    return Err(e);
                }
                Err(e) => report.fail(line, Some(table), e.to_string()),
            }
            rows += 1;
            if rows.is_multiple_of(100) {
                progress(Progress::new("legacy rows", rows));
            }
        }
        progress(Progress::new("legacy rows", rows));
        Ok(report)
    }

    async fn import_row(
        &self,
        domain: &Domain,
        actor: &Actor,
        workspace: WorkspaceId,
        row: Row,
    ) -> Result<Imported> {
        match row {
            Row::Clients(c) => {
                let mut fields = ClientFields::named(self.text(&c.name)?.as_str());
                if let Some(v) = &c.email {
                    fields = fields.with_email(self.text(v)?.as_str());
                }
                if let Some(v) = &c.phone {
                    fields = fields.with_phone(self.text(v)?.as_str());
                }
                if let Some(v) = &c.date_of_birth {
                    fields = fields.with_date_of_birth(self.date(v)?);
                }
                if let Some(v) = &c.notes {
                    fields = fields.with_notes(self.text(v)?.as_str());
                }
                domain
                    .clients()
                    .import(actor, workspace, &c.id, fields)
                    .await
            }
            Row::Sessions(s) => {
                let client = domain.clients().imported_id(workspace, &s.client_id)?;
                let date = self.date(&s.session_date)?;
                let notes = match &s.soap_notes {
                    Some(v) => Some(SoapNotes(self.text(v)?.to_string())),
                    None => None,
                };
                domain
                    .sessions()
                    .import(actor, workspace, &s.id, client, date, notes)
                    .await
            }
        }
    }

    /// The plaintext of a value of the file.
    fn text(&self, value: &Value) -> Result<Zeroizing<String>> {
        match value {
            Value::Plain { plain } => Ok(Zeroizing::new(plain.clone())),
            Value::Text(text) => self.open_text(LegacyValue::Text(text)),
            Value::Parts {
                ciphertext,
                nonce,
                version,
            } => self.open_text(LegacyValue::Parts {
                version: *version,
                nonce,
                ciphertext,
            }),
            Value::Raw { raw, version } => {
                let bytes = Zeroizing::new(
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, raw.trim())
                        .map_err(|_| Error::InvalidInput {
                            field: "legacy value",
                            reason: "`raw` is not base64",
                        })?,
                );
                self.open_text(LegacyValue::Raw {
                    version: *version,
                    bytes: &bytes,
                })
            }
        }
    }

    fn date(&self, value: &Value) -> Result<Date> {
        let text = self.text(value)?;
        Date::parse(text.trim(), format_description!("[year]-[month]-[day]")).map_err(|_| {
            Error::InvalidInput {
                field: "legacy date",
                reason: "is not a YYYY-MM-DD date",
            }
        })
    }
}

/// Why a line is not a row, from serde's error without its text (which may quote a value).
fn parse_failure(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            "is not valid JSON"
        }
        _ => {
            "is not a row of the export format (a `table` of clients or sessions, an `id`, the \
             table's required members, only known members, values as the format lists them)"
        }
    };
    format!("{what} (near column {})", e.column())
}

/// Reads one line (without its `\n`) into `buf`, at most [`MAX_IMPORT_LINE_BYTES`]; `false` at
/// the end of the input.
async fn read_line<R: AsyncBufRead + Unpin>(
    input: &mut R,
    buf: &mut Vec<u8>,
    line: u64,
) -> Result<bool> {
    let mut read_any = false;
    loop {
        let chunk = input
            .fill_buf()
            .await
            .map_err(|source| Error::ImportRead { line, source })?;
        if chunk.is_empty() {
            return Ok(read_any);
        }
        read_any = true;
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if buf.len() + take > MAX_IMPORT_LINE_BYTES {
            return Err(Error::ImportFile {
                line,
                reason: "is longer than the 3 MiB a row may take",
            });
        }
        buf.extend_from_slice(&chunk[..take]);
        input.consume(if done { take + 1 } else { take });
        if done {
            return Ok(true);
        }
    }
}
