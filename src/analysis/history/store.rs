//! Where the history is kept: an SQLite file (the default, bundled: no
//! system library) or a PostgreSQL database shared by sensors
//! (`postgres://...`).
//!
//! One table, `observations`, keyed by server, sensor and what was seen;
//! a run adds its tallies with one upsert per row (counts added, first and
//! last seen widened), in one transaction, rows in key order. So writers at
//! once neither lose nor double-count: each row's update is atomic, and the
//! same lock order everywhere leaves no deadlock.
//!
//! The schema has a version (`stripwatch_meta`): an older store is migrated
//! in place, in one transaction; a newer one, a corrupt file or a database
//! that is not a history is an error, never a silent reset.

use super::observe::{Observation, ObservationKey, StarttlsSeen};
use super::{SensorOffers, from_micros, micros};
use crate::flow::Endpoint;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The schema this build writes.
pub(crate) const SCHEMA_VERSION: i64 = 3;

/// The migrations, in order: `MIGRATIONS[n]` takes a store from version n
/// to n + 1. The same SQL runs on SQLite and PostgreSQL.
const MIGRATIONS: [&str; 3] = [
    // 1: what each server showed of STARTTLS, per sensor.
    "CREATE TABLE stripwatch_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE server_starttls (
         server TEXT NOT NULL, port BIGINT NOT NULL, protocol TEXT NOT NULL,
         sensor TEXT NOT NULL, starttls TEXT NOT NULL,
         sessions BIGINT NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,
         PRIMARY KEY (server, port, protocol, sensor, starttls));",
    // 2: banner, capabilities, TLS version and certificate in the key.
    "CREATE TABLE observations (
         server TEXT NOT NULL, port BIGINT NOT NULL, protocol TEXT NOT NULL,
         sensor TEXT NOT NULL, starttls TEXT NOT NULL,
         banner_sha256 TEXT NOT NULL, capabilities_sha256 TEXT NOT NULL,
         tls_version TEXT NOT NULL, certificate_sha256 TEXT NOT NULL,
         sessions BIGINT NOT NULL, first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,
         banner TEXT NOT NULL, capabilities TEXT NOT NULL,
         certificate_subject TEXT NOT NULL, certificate_issuer TEXT NOT NULL,
         PRIMARY KEY (server, port, protocol, sensor, starttls, banner_sha256,
                      capabilities_sha256, tls_version, certificate_sha256));
     INSERT INTO observations
         SELECT server, port, protocol, sensor, starttls, '', '', '', '',
                sessions, first_seen, last_seen, '', '', '', ''
         FROM server_starttls;
     DROP TABLE server_starttls;",
    // 3: the batches of observations added, so that the same capture
    // analysed again is not counted twice.
    "CREATE TABLE batches (
         sensor TEXT NOT NULL, observations_sha256 TEXT NOT NULL,
         sessions BIGINT NOT NULL, added_at BIGINT NOT NULL,
         PRIMARY KEY (sensor, observations_sha256));",
];

/// Records a batch; nothing when the sensor added the same one before.
const BATCH: &str = "INSERT INTO batches (sensor, observations_sha256, sessions, added_at)
    VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sensor, observations_sha256) DO NOTHING";

/// The upsert of one observation (`{min}`/`{max}`: the dialect's two-value
/// minimum and maximum; `?N` parameters, `$N` in PostgreSQL).
const UPSERT: &str = "INSERT INTO observations (server, port, protocol, sensor, starttls,
        banner_sha256, capabilities_sha256, tls_version, certificate_sha256,
        sessions, first_seen, last_seen, banner, capabilities,
        certificate_subject, certificate_issuer)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
    ON CONFLICT (server, port, protocol, sensor, starttls, banner_sha256,
                 capabilities_sha256, tls_version, certificate_sha256)
    DO UPDATE SET
        sessions = observations.sessions + excluded.sessions,
        first_seen = {min}(observations.first_seen, excluded.first_seen),
        last_seen = {max}(observations.last_seen, excluded.last_seen),
        banner = CASE WHEN excluded.last_seen >= observations.last_seen
                 THEN excluded.banner ELSE observations.banner END,
        capabilities = CASE WHEN excluded.last_seen >= observations.last_seen
                 THEN excluded.capabilities ELSE observations.capabilities END,
        certificate_subject = CASE WHEN excluded.last_seen >= observations.last_seen
                 THEN excluded.certificate_subject ELSE observations.certificate_subject END,
        certificate_issuer = CASE WHEN excluded.last_seen >= observations.last_seen
                 THEN excluded.certificate_issuer ELSE observations.certificate_issuer END";

const OFFERS: &str = "SELECT server, port, protocol, sensor, CAST(SUM(sessions) AS BIGINT),
        MIN(first_seen), MAX(last_seen)
    FROM observations WHERE starttls = 'offered'
    GROUP BY server, port, protocol, sensor";

const ROWS: &str = "SELECT server, port, protocol, sensor, starttls,
        banner_sha256, capabilities_sha256, tls_version, certificate_sha256,
        sessions, first_seen, last_seen, banner, capabilities,
        certificate_subject, certificate_issuer
    FROM observations ORDER BY server, port, protocol, sensor, first_seen";

/// A key for PostgreSQL's advisory lock around migrations ("SWHS").
const MIGRATION_LOCK: i64 = 0x5357_4853;

/// Why the history could not be used.
#[derive(Debug)]
pub struct HistoryError {
    message: String,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HistoryError {}

impl HistoryError {
    pub(crate) fn sensor(name: &str) -> Self {
        HistoryError {
            message: format!(
                "sensor name `{}`: it must be 1 to {} printable characters, without backslash",
                crate::text::escape(name.as_bytes()),
                super::MAX_SENSOR_NAME
            ),
        }
    }

    fn new(location: &str, what: impl fmt::Display) -> Self {
        HistoryError {
            message: format!("history {location}: {what}"),
        }
    }
}

/// One stored observation, with the sensor that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredRow {
    pub sensor: String,
    pub key: ObservationKey,
    pub tally: Observation,
}

enum Backend {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

/// An open history, its schema current.
pub(crate) struct Store {
    backend: Backend,
    /// The location as it may be shown (a URL's password masked).
    shown: String,
}

impl Store {
    /// Opens the history at `location`: a `postgres://` or `postgresql://` URL, or the path of
    /// an SQLite file (created, readable by its owner only, when `create` and it does not
    /// exist; never through a symbolic link). Migrates an older schema.
    pub(crate) fn open(location: &str, create: bool) -> Result<Store, HistoryError> {
        let shown = shown_location(location);
        let backend = if is_postgres_url(location) {
            let client = postgres::Client::connect(location, postgres::NoTls).map_err(|e| {
                HistoryError::new(&shown, format!("cannot connect: {}", postgres_error(&e)))
            })?;
            Backend::Postgres(Box::new(client))
        } else {
            Backend::Sqlite(open_sqlite(Path::new(location), create, &shown)?)
        };
        let mut store = Store { backend, shown };
        store.migrate(SCHEMA_VERSION)?;
        Ok(store)
    }

    fn error(&self, what: impl fmt::Display) -> HistoryError {
        HistoryError::new(&self.shown, what)
    }

    /// Brings the schema to `target` (tests stop at older versions).
    pub(crate) fn migrate(&mut self, target: i64) -> Result<(), HistoryError> {
        let shown = self.shown.clone();
        let fail = |e: &dyn fmt::Display| HistoryError::new(&shown, e);
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(|e| fail(&sqlite_error(&e)))?;
                let version = sqlite_version(&tx).map_err(|e| fail(&e))?;
                let version = check_version(version, &shown)?;
                for (n, sql) in pending(version, target) {
                    tx.execute_batch(sql).map_err(|e| fail(&e))?;
                    tx.execute(
                        "INSERT INTO stripwatch_meta (name, value) VALUES ('schema_version', ?1)
                         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        [n.to_string()],
                    )
                    .map_err(|e| fail(&e))?;
                }
                tx.commit().map_err(|e| fail(&e))
            }
            Backend::Postgres(client) => {
                let mut tx = client
                    .transaction()
                    .map_err(|e| fail(&postgres_error(&e)))?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                    .map_err(|e| fail(&postgres_error(&e)))?;
                let version = postgres_version(&mut tx).map_err(|e| fail(&e))?;
                let version = check_version(version, &shown)?;
                for (n, sql) in pending(version, target) {
                    tx.batch_execute(sql)
                        .map_err(|e| fail(&postgres_error(&e)))?;
                    tx.execute(
                        "INSERT INTO stripwatch_meta (name, value) VALUES ('schema_version', $1)
                         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        &[&n.to_string()],
                    )
                    .map_err(|e| fail(&postgres_error(&e)))?;
                }
                tx.commit().map_err(|e| fail(&postgres_error(&e)))
            }
        }
    }

    /// The offers of STARTTLS, per server, protocol and sensor.
    pub(crate) fn offers(&mut self) -> Result<Vec<(Endpoint, String, SensorOffers)>, HistoryError> {
        type Raw = (String, i64, String, String, i64, i64, i64);
        let raw: Vec<Raw> = match &mut self.backend {
            Backend::Sqlite(conn) => {
                sqlite_offers(conn).map_err(|e| HistoryError::new(&self.shown, e))?
            }
            Backend::Postgres(client) => client
                .query(OFFERS, &[])
                .map_err(|e| HistoryError::new(&self.shown, postgres_error(&e)))?
                .iter()
                .map(|r| {
                    (
                        r.get(0),
                        r.get(1),
                        r.get(2),
                        r.get(3),
                        r.get(4),
                        r.get(5),
                        r.get(6),
                    )
                })
                .collect(),
        };
        raw.into_iter()
            .map(|(ip, port, protocol, sensor, sessions, first, last)| {
                let server = self.endpoint(&ip, port)?;
                let offers = SensorOffers {
                    sensor: crate::text::printable(&sensor).into_owned(),
                    sessions: u64::try_from(sessions).unwrap_or(0),
                    first_seen: first,
                    last_seen: last,
                };
                Ok((server, protocol, offers))
            })
            .collect()
    }

    /// Every stored observation, by server, protocol, sensor and first seen.
    pub(crate) fn rows(&mut self) -> Result<Vec<StoredRow>, HistoryError> {
        let raw: Vec<RawRow> = match &mut self.backend {
            Backend::Sqlite(conn) => {
                sqlite_rows(conn).map_err(|e| HistoryError::new(&self.shown, e))?
            }
            Backend::Postgres(client) => client
                .query(ROWS, &[])
                .map_err(|e| HistoryError::new(&self.shown, postgres_error(&e)))?
                .iter()
                .map(RawRow::from_postgres)
                .collect(),
        };
        raw.into_iter().map(|r| self.stored_row(r)).collect()
    }

    /// Adds the run's tallies as `sensor`'s, in one transaction. Returns false, adding nothing,
    /// when the sensor added exactly these observations before (the same capture analysed
    /// again: its sessions are not counted twice).
    pub(crate) fn commit(
        &mut self,
        sensor: &str,
        rows: &[(&ObservationKey, &Observation)],
    ) -> Result<bool, HistoryError> {
        let shown = self.shown.clone();
        let fail = |e: &dyn fmt::Display| HistoryError::new(&shown, format!("cannot write: {e}"));
        let values: Vec<RawRow> = rows.iter().map(|(k, t)| RawRow::of(sensor, k, t)).collect();
        if values.is_empty() {
            return Ok(true);
        }
        let (digest, sessions) = batch_digest(&values);
        let added_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                let sql = UPSERT.replace("{min}", "MIN").replace("{max}", "MAX");
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(|e| fail(&e))?;
                let new = tx
                    .execute(BATCH, rusqlite::params![sensor, digest, sessions, added_at])
                    .map_err(|e| fail(&e))?;
                if new == 0 {
                    return Ok(false);
                }
                {
                    let mut stmt = tx.prepare(&sql).map_err(|e| fail(&e))?;
                    for v in &values {
                        stmt.execute(rusqlite::params_from_iter(v.params_sqlite()))
                            .map_err(|e| fail(&e))?;
                    }
                }
                tx.commit().map_err(|e| fail(&e))?;
                Ok(true)
            }
            Backend::Postgres(client) => {
                let sql = UPSERT
                    .replace("{min}", "LEAST")
                    .replace("{max}", "GREATEST")
                    .replace('?', "$");
                let mut tx = client
                    .transaction()
                    .map_err(|e| fail(&postgres_error(&e)))?;
                let new = tx
                    .execute(
                        &BATCH.replace('?', "$"),
                        &[&sensor, &digest, &sessions, &added_at],
                    )
                    .map_err(|e| fail(&postgres_error(&e)))?;
                if new == 0 {
                    return Ok(false);
                }
                let stmt = tx.prepare(&sql).map_err(|e| fail(&postgres_error(&e)))?;
                for v in &values {
                    tx.execute(&stmt, &v.params_postgres())
                        .map_err(|e| fail(&postgres_error(&e)))?;
                }
                tx.commit().map_err(|e| fail(&postgres_error(&e)))?;
                Ok(true)
            }
        }
    }

    fn endpoint(&self, ip: &str, port: i64) -> Result<Endpoint, HistoryError> {
        let ip: IpAddr = ip.parse().map_err(|_| {
            self.error(format!(
                "a row has an unreadable server address {:?}",
                crate::text::escape(ip.as_bytes())
            ))
        })?;
        let port = u16::try_from(port).map_err(|_| self.error(format!("a row has port {port}")))?;
        Ok(Endpoint { ip, port })
    }

    fn stored_row(&self, r: RawRow) -> Result<StoredRow, HistoryError> {
        let server = self.endpoint(&r.server, r.port)?;
        // What the store holds was escaped when written, but another writer
        // may not have been stripwatch: nothing leaves unescaped.
        let safe = |t: String| crate::text::printable(&t).into_owned();
        let r = RawRow {
            sensor: safe(r.sensor),
            protocol: safe(r.protocol),
            banner_sha256: safe(r.banner_sha256),
            capabilities_sha256: safe(r.capabilities_sha256),
            tls_version: safe(r.tls_version),
            certificate_sha256: safe(r.certificate_sha256),
            banner: safe(r.banner),
            capabilities: safe(r.capabilities),
            certificate_subject: safe(r.certificate_subject),
            certificate_issuer: safe(r.certificate_issuer),
            ..r
        };
        let starttls = StarttlsSeen::from_name(&r.starttls).ok_or_else(|| {
            self.error(format!(
                "a row has an unknown STARTTLS value {:?}",
                crate::text::escape(r.starttls.as_bytes())
            ))
        })?;
        Ok(StoredRow {
            sensor: r.sensor,
            key: ObservationKey {
                server,
                protocol: r.protocol.into(),
                starttls,
                banner_sha256: r.banner_sha256.into(),
                capabilities_sha256: r.capabilities_sha256.into(),
                tls_version: r.tls_version.into(),
                certificate_sha256: r.certificate_sha256.into(),
            },
            tally: Observation {
                sessions: u64::try_from(r.sessions).unwrap_or(0),
                first_seen: from_micros(r.first_seen),
                last_seen: from_micros(r.last_seen),
                banner: r.banner.into(),
                capabilities: r.capabilities.into(),
                certificate_subject: r.certificate_subject.into(),
                certificate_issuer: r.certificate_issuer.into(),
            },
        })
    }
}

/// One row's values as stored.
struct RawRow {
    server: String,
    port: i64,
    protocol: String,
    sensor: String,
    starttls: String,
    banner_sha256: String,
    capabilities_sha256: String,
    tls_version: String,
    certificate_sha256: String,
    sessions: i64,
    first_seen: i64,
    last_seen: i64,
    banner: String,
    capabilities: String,
    certificate_subject: String,
    certificate_issuer: String,
}

impl RawRow {
    fn of(sensor: &str, k: &ObservationKey, t: &Observation) -> Self {
        RawRow {
            server: k.server.ip.to_string(),
            port: i64::from(k.server.port),
            protocol: k.protocol.to_string(),
            sensor: sensor.to_string(),
            starttls: k.starttls.name().to_string(),
            banner_sha256: k.banner_sha256.to_string(),
            capabilities_sha256: k.capabilities_sha256.to_string(),
            tls_version: k.tls_version.to_string(),
            certificate_sha256: k.certificate_sha256.to_string(),
            sessions: i64::try_from(t.sessions).unwrap_or(i64::MAX),
            first_seen: micros(t.first_seen),
            last_seen: micros(t.last_seen),
            banner: t.banner.to_string(),
            capabilities: t.capabilities.to_string(),
            certificate_subject: t.certificate_subject.to_string(),
            certificate_issuer: t.certificate_issuer.to_string(),
        }
    }

    fn params_sqlite(&self) -> Vec<rusqlite::types::Value> {
        use rusqlite::types::Value::{Integer, Text};
        vec![
            Text(self.server.clone()),
            Integer(self.port),
            Text(self.protocol.clone()),
            Text(self.sensor.clone()),
            Text(self.starttls.clone()),
            Text(self.banner_sha256.clone()),
            Text(self.capabilities_sha256.clone()),
            Text(self.tls_version.clone()),
            Text(self.certificate_sha256.clone()),
            Integer(self.sessions),
            Integer(self.first_seen),
            Integer(self.last_seen),
            Text(self.banner.clone()),
            Text(self.capabilities.clone()),
            Text(self.certificate_subject.clone()),
            Text(self.certificate_issuer.clone()),
        ]
    }

    fn params_postgres(&self) -> [&(dyn postgres::types::ToSql + Sync); 16] {
        [
            &self.server,
            &self.port,
            &self.protocol,
            &self.sensor,
            &self.starttls,
            &self.banner_sha256,
            &self.capabilities_sha256,
            &self.tls_version,
            &self.certificate_sha256,
            &self.sessions,
            &self.first_seen,
            &self.last_seen,
            &self.banner,
            &self.capabilities,
            &self.certificate_subject,
            &self.certificate_issuer,
        ]
    }

    fn from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawRow {
            server: r.get(0)?,
            port: r.get(1)?,
            protocol: r.get(2)?,
            sensor: r.get(3)?,
            starttls: r.get(4)?,
            banner_sha256: r.get(5)?,
            capabilities_sha256: r.get(6)?,
            tls_version: r.get(7)?,
            certificate_sha256: r.get(8)?,
            sessions: r.get(9)?,
            first_seen: r.get(10)?,
            last_seen: r.get(11)?,
            banner: r.get(12)?,
            capabilities: r.get(13)?,
            certificate_subject: r.get(14)?,
            certificate_issuer: r.get(15)?,
        })
    }

    fn from_postgres(r: &postgres::Row) -> Self {
        RawRow {
            server: r.get(0),
            port: r.get(1),
            protocol: r.get(2),
            sensor: r.get(3),
            starttls: r.get(4),
            banner_sha256: r.get(5),
            capabilities_sha256: r.get(6),
            tls_version: r.get(7),
            certificate_sha256: r.get(8),
            sessions: r.get(9),
            first_seen: r.get(10),
            last_seen: r.get(11),
            banner: r.get(12),
            capabilities: r.get(13),
            certificate_subject: r.get(14),
            certificate_issuer: r.get(15),
        }
    }
}

/// SHA-256 (hex) of a batch's rows, every field, in order; and its sessions.
fn batch_digest(rows: &[RawRow]) -> (String, i64) {
    let mut text = String::new();
    let mut sessions: i64 = 0;
    for r in rows {
        use std::fmt::Write;
        let _ = writeln!(
            text,
            "{:?}",
            (
                &r.server,
                r.port,
                &r.protocol,
                &r.starttls,
                &r.banner_sha256,
                &r.capabilities_sha256,
                &r.tls_version,
                &r.certificate_sha256,
                r.sessions,
                r.first_seen,
                r.last_seen,
                (
                    &r.banner,
                    &r.capabilities,
                    &r.certificate_subject,
                    &r.certificate_issuer
                ),
            )
        );
        sessions = sessions.saturating_add(r.sessions);
    }
    (super::observe::sha256_hex(text.as_bytes()), sessions)
}

fn sqlite_rows(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<RawRow>> {
    let mut stmt = conn.prepare(ROWS)?;
    let rows = stmt.query_map([], RawRow::from_sqlite)?;
    rows.collect()
}

#[allow(clippy::type_complexity)]
fn sqlite_offers(
    conn: &rusqlite::Connection,
) -> rusqlite::Result<Vec<(String, i64, String, String, i64, i64, i64)>> {
    let mut stmt = conn.prepare(OFFERS)?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })?;
    rows.collect()
}

/// The migrations from `version` to `target`, with the version each leads to.
fn pending(version: i64, target: i64) -> impl Iterator<Item = (i64, &'static str)> {
    MIGRATIONS
        .iter()
        .enumerate()
        .map(|(n, sql)| (i64::try_from(n).unwrap_or(i64::MAX).saturating_add(1), *sql))
        .filter(move |(n, _)| *n > version && *n <= target)
}

/// A version this build can read: not newer than its own.
fn check_version(version: Option<i64>, shown: &str) -> Result<i64, HistoryError> {
    match version {
        None => Err(HistoryError::new(
            shown,
            "this database has tables but is not a stripwatch history (no stripwatch_meta): \
             left as it is; give another location",
        )),
        Some(v) if v > SCHEMA_VERSION => Err(HistoryError::new(
            shown,
            format!(
                "its schema is version {v}, newer than this stripwatch's ({SCHEMA_VERSION}): \
                 use a newer stripwatch (the history is left as it is)"
            ),
        )),
        Some(v) => Ok(v),
    }
}

/// The schema version: 0 for an empty database, `None` for one with
/// tables that are not a history's.
fn sqlite_version(conn: &rusqlite::Connection) -> Result<Option<i64>, String> {
    let tables: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .map_err(|e| sqlite_error(&e))?;
        let names = stmt
            .query_map([], |r| r.get(0))
            .map_err(|e| sqlite_error(&e))?;
        names
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| sqlite_error(&e))?
    };
    if !tables.iter().any(|t| t == "stripwatch_meta") {
        return Ok(tables.is_empty().then_some(0));
    }
    let value: String = conn
        .query_row(
            "SELECT value FROM stripwatch_meta WHERE name = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| sqlite_error(&e))?;
    value
        .parse()
        .map(Some)
        .map_err(|_| format!("its schema version {value:?} is not a number"))
}

fn postgres_version(tx: &mut postgres::Transaction<'_>) -> Result<Option<i64>, String> {
    let tables: Vec<String> = tx
        .query(
            "SELECT table_name::TEXT FROM information_schema.tables
             WHERE table_schema = current_schema()",
            &[],
        )
        .map_err(|e| postgres_error(&e))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !tables.iter().any(|t| t == "stripwatch_meta") {
        return Ok(tables.is_empty().then_some(0));
    }
    let value: String = tx
        .query_one(
            "SELECT value FROM stripwatch_meta WHERE name = 'schema_version'",
            &[],
        )
        .map_err(|e| postgres_error(&e))?
        .get(0);
    value
        .parse()
        .map(Some)
        .map_err(|_| format!("its schema version {value:?} is not a number"))
}

/// PostgreSQL's error in words: the server's message and SQLSTATE when it
/// answered (the error's own text is only "db error"), else what failed.
fn postgres_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// SQLite's error in words, naming the usual causes.
fn sqlite_error(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => {
            format!("not an SQLite database, or corrupt ({e}): left as it is")
        }
        Some(rusqlite::ErrorCode::DatabaseCorrupt) => format!("corrupt ({e}): left as it is"),
        _ => e.to_string(),
    }
}

/// Opens an SQLite history file: created new (0600) when `create` and
/// missing; never through a symbolic link.
fn open_sqlite(
    path: &Path,
    create: bool,
    shown: &str,
) -> Result<rusqlite::Connection, HistoryError> {
    use rusqlite::OpenFlags;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(HistoryError::new(
                shown,
                "is a symbolic link: refused (give the file itself)",
            ));
        }
        Ok(m) if !m.is_file() => return Err(HistoryError::new(shown, "not a regular file")),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            match create_private(path) {
                Ok(()) => {}
                // Another sensor created it between the two calls: SQLite's own open below
                // still refuses a symlink (NOFOLLOW), and the schema check decides the rest.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(HistoryError::new(shown, format!("cannot create: {e}"))),
            }
        }
        Err(e) => return Err(HistoryError::new(shown, e)),
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NOFOLLOW
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags)
        .map_err(|e| HistoryError::new(shown, sqlite_error(&e)))?;
    // Sensors on one host may share the file: wait for the other's write.
    conn.busy_timeout(std::time::Duration::from_secs(60))
        .map_err(|e| HistoryError::new(shown, sqlite_error(&e)))?;
    Ok(conn)
}

/// Creates an empty file readable by its owner only (O_EXCL, O_NOFOLLOW).
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
        .map(drop)
}

fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The location as it may be shown: a URL's password is a secret.
fn shown_location(location: &str) -> String {
    if !is_postgres_url(location) {
        return crate::text::escape(PathBuf::from(location).as_os_str().as_encoded_bytes());
    }
    let masked = match location.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    let user = userinfo.split(':').next().unwrap_or_default();
                    let hidden = if userinfo.contains(':') { ":***" } else { "" };
                    format!("{scheme}://{user}{hidden}@{host}{tail}")
                }
                None => location.to_string(),
            }
        }
        None => location.to_string(),
    };
    // A password may also sit in the query (`?password=`).
    let masked = match masked.split_once("password=") {
        Some((before, after)) => {
            let rest = after
                .find('&')
                .and_then(|e| after.get(e..))
                .unwrap_or_default();
            format!("{before}password=***{rest}")
        }
        None => masked,
    };
    crate::text::escape(masked.as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
