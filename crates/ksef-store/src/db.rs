//! The two backends behind one small interface: run a statement with parameters, read rows of
//! plain values, apply the migrations. The outbox's SQL is written once (with `$1`-style
//! parameters), in the subset both SQLite and PostgreSQL understand.

use std::sync::{Arc, Mutex};

use crate::error::Error;
use crate::schema::{self, MIGRATIONS, MIGRATIONS_TABLE};

/// A parameter or a column value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Bytes(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// A row as plain values, in the order of the statement's columns.
pub(crate) type Row = Vec<Value>;

/// An open database.
#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
    #[cfg(feature = "postgres")]
    Postgres(Arc<tokio_postgres::Client>),
}

impl Db {
    /// Opens (creating if needed) the SQLite file at `path` and migrates it.
    pub(crate) async fn open_sqlite(path: std::path::PathBuf) -> Result<Db, Error> {
        let connection = tokio::task::spawn_blocking(move || -> Result<_, Error> {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| {
                    Error::db(format!("creating the directory {}", parent.display()), e)
                })?;
            }
            let mut connection = rusqlite::Connection::open(&path)
                .map_err(|e| Error::db(format!("opening SQLite file {}", path.display()), e))?;
            // WAL lets `outbox add` and `outbox status` run while a worker writes; FULL makes
            // every commit durable before it returns; a writer waits for another's lock.
            connection
                .busy_timeout(std::time::Duration::from_secs(30))
                .map_err(|e| Error::db("setting the busy timeout", e))?;
            connection
                .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
                .map_err(|e| Error::db("setting the journal mode", e))?;
            migrate_sqlite(&mut connection)?;
            Ok(connection)
        })
        .await
        .map_err(|e| Error::db("opening the SQLite store", e))??;
        Ok(Db::Sqlite(Arc::new(Mutex::new(connection))))
    }

    /// Connects to PostgreSQL at `url` and migrates the database.
    #[cfg(feature = "postgres")]
    pub(crate) async fn open_postgres(url: &str) -> Result<Db, Error> {
        let (mut client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(|e| Error::db("connecting to PostgreSQL", e))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "the PostgreSQL connection ended");
            }
        });
        migrate_postgres(&mut client).await?;
        Ok(Db::Postgres(Arc::new(client)))
    }

    /// Runs a statement; returns the number of rows it changed.
    pub(crate) async fn execute(
        &self,
        action: &'static str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<u64, Error> {
        match self {
            Db::Sqlite(connection) => {
                let connection = Arc::clone(connection);
                let sql = sqlite_sql(sql);
                blocking(action, move || {
                    let connection = connection.lock().unwrap_or_else(|e| e.into_inner());
                    let mut statement = connection.prepare(&sql)?;
                    let changed =
                        statement.execute(rusqlite::params_from_iter(params.iter().map(Sql)))?;
                    Ok(changed as u64)
                })
                .await
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(client) => {
                let params = pg_params(&params);
                client
                    .execute(sql, &pg_refs(&params))
                    .await
                    .map_err(|e| Error::db(action, e))
            }
        }
    }

    /// Runs a query (or a statement with `RETURNING`) and reads every row.
    pub(crate) async fn query(
        &self,
        action: &'static str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<Row>, Error> {
        match self {
            Db::Sqlite(connection) => {
                let connection = Arc::clone(connection);
                let sql = sqlite_sql(sql);
                blocking(action, move || {
                    let connection = connection.lock().unwrap_or_else(|e| e.into_inner());
                    let mut statement = connection.prepare(&sql)?;
                    let columns = statement.column_count();
                    let mut rows =
                        statement.query(rusqlite::params_from_iter(params.iter().map(Sql)))?;
                    let mut out = Vec::new();
                    while let Some(row) = rows.next()? {
                        let mut values = Vec::with_capacity(columns);
                        for i in 0..columns {
                            values.push(match row.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => Value::Null,
                                rusqlite::types::ValueRef::Integer(v) => Value::Int(v),
                                rusqlite::types::ValueRef::Real(v) => Value::Int(v as i64),
                                rusqlite::types::ValueRef::Text(v) => {
                                    Value::Text(String::from_utf8_lossy(v).into_owned())
                                }
                                rusqlite::types::ValueRef::Blob(v) => Value::Bytes(v.to_vec()),
                            });
                        }
                        out.push(values);
                    }
                    Ok(out)
                })
                .await
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(client) => {
                let params = pg_params(&params);
                let rows = client
                    .query(sql, &pg_refs(&params))
                    .await
                    .map_err(|e| Error::db(action, e))?;
                rows.iter()
                    .map(|row| pg_row(row).map_err(|e| Error::db(action, e)))
                    .collect()
            }
        }
    }

    /// Which backend this is, for messages.
    pub(crate) fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => "postgres",
        }
    }
}

/// An open database and the store's name for it (its location, password masked): every
/// database error says which store failed.
#[derive(Clone)]
pub(crate) struct NamedDb {
    /// The database.
    pub(crate) inner: Db,
    /// The location as shown in errors.
    pub(crate) name: Arc<str>,
}

impl NamedDb {
    /// [`Db::execute`], its error naming the store.
    pub(crate) async fn execute(
        &self,
        action: &'static str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<u64, Error> {
        self.inner
            .execute(action, sql, params)
            .await
            .map_err(|e| e.in_store(&self.name))
    }

    /// [`Db::query`], its error naming the store.
    pub(crate) async fn query(
        &self,
        action: &'static str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<Row>, Error> {
        self.inner
            .query(action, sql, params)
            .await
            .map_err(|e| e.in_store(&self.name))
    }

    /// [`Db::backend`].
    pub(crate) fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    /// For tests: how long a SQLite writer waits for another's lock before failing (busy).
    pub(crate) fn set_busy_timeout(&self, timeout: std::time::Duration) -> Result<(), Error> {
        match &self.inner {
            Db::Sqlite(connection) => connection
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .busy_timeout(timeout)
                .map_err(|e| Error::db("setting the busy timeout", e).in_store(&self.name)),
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => Ok(()),
        }
    }
}

/// Runs a closure over the SQLite connection on the blocking pool.
async fn blocking<T: Send + 'static>(
    action: &'static str,
    f: impl FnOnce() -> Result<T, rusqlite::Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::db(action, e))?
        .map_err(|e| Error::db(action, e))
}

/// `$1`-style parameters as SQLite's `?1`.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

/// A [`Value`] bound to a SQLite statement.
struct Sql<'a>(&'a Value);

impl rusqlite::ToSql for Sql<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Bytes(v) => ValueRef::Blob(v),
        }))
    }
}

fn migrate_sqlite(connection: &mut rusqlite::Connection) -> Result<(), Error> {
    let transaction = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| Error::db("starting the migration", e))?;
    transaction
        .execute_batch(MIGRATIONS_TABLE)
        .map_err(|e| Error::db("creating ksef_store_migrations", e))?;
    let current: i64 = transaction
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM ksef_store_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(|e| Error::db("reading the schema version", e))?;
    if current > schema::latest() {
        return Err(Error::SchemaTooNew {
            found: current,
            known: schema::latest(),
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        transaction
            .execute_batch(migration.sqlite)
            .map_err(|e| Error::db(format!("applying migration {}", migration.version), e))?;
        transaction
            .execute(
                "INSERT INTO ksef_store_migrations (version, applied_at) VALUES (?1, ?2)",
                rusqlite::params![migration.version, crate::outbox::now_text()],
            )
            .map_err(|e| Error::db(format!("recording migration {}", migration.version), e))?;
    }
    transaction
        .commit()
        .map_err(|e| Error::db("committing the migration", e))
}

#[cfg(feature = "postgres")]
async fn migrate_postgres(client: &mut tokio_postgres::Client) -> Result<(), Error> {
    let transaction = client
        .transaction()
        .await
        .map_err(|e| Error::db("starting the migration", e))?;
    // One migrating process at a time; the others wait here and then find nothing to do.
    transaction
        .execute("SELECT pg_advisory_xact_lock(5307180018)", &[])
        .await
        .map_err(|e| Error::db("locking the schema for migration", e))?;
    transaction
        .batch_execute(MIGRATIONS_TABLE)
        .await
        .map_err(|e| Error::db("creating ksef_store_migrations", e))?;
    let current: i64 = transaction
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM ksef_store_migrations",
            &[],
        )
        .await
        .map_err(|e| Error::db("reading the schema version", e))?
        .get(0);
    if current > schema::latest() {
        return Err(Error::SchemaTooNew {
            found: current,
            known: schema::latest(),
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        transaction
            .batch_execute(migration.postgres)
            .await
            .map_err(|e| Error::db(format!("applying migration {}", migration.version), e))?;
        transaction
            .execute(
                "INSERT INTO ksef_store_migrations (version, applied_at) VALUES ($1, $2)",
                &[&migration.version, &crate::outbox::now_text()],
            )
            .await
            .map_err(|e| Error::db(format!("recording migration {}", migration.version), e))?;
    }
    transaction
        .commit()
        .await
        .map_err(|e| Error::db("committing the migration", e))
}

#[cfg(feature = "postgres")]
enum PgParam {
    Null(PgNull),
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// SQL NULL for a parameter of any type.
#[cfg(feature = "postgres")]
#[derive(Debug)]
struct PgNull;

#[cfg(feature = "postgres")]
impl tokio_postgres::types::ToSql for PgNull {
    fn to_sql(
        &self,
        _: &tokio_postgres::types::Type,
        _: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(tokio_postgres::types::IsNull::Yes)
    }

    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

#[cfg(feature = "postgres")]
fn pg_params(params: &[Value]) -> Vec<PgParam> {
    params
        .iter()
        .map(|v| match v {
            Value::Null => PgParam::Null(PgNull),
            Value::Int(v) => PgParam::Int(Some(*v)),
            Value::Text(v) => PgParam::Text(Some(v.clone())),
            Value::Bytes(v) => PgParam::Bytes(Some(v.clone())),
        })
        .collect()
}

#[cfg(feature = "postgres")]
fn pg_refs(params: &[PgParam]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| -> &(dyn tokio_postgres::types::ToSql + Sync) {
            match p {
                PgParam::Null(v) => v,
                PgParam::Int(v) => v,
                PgParam::Text(v) => v,
                PgParam::Bytes(v) => v,
            }
        })
        .collect()
}

#[cfg(feature = "postgres")]
fn pg_row(row: &tokio_postgres::Row) -> Result<Row, tokio_postgres::Error> {
    use tokio_postgres::types::Type;
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let value = if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?
                .map(|v| Value::Int(i64::from(v)))
        } else if *ty == Type::BYTEA {
            row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes)
        } else {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        };
        values.push(value.unwrap_or(Value::Null));
    }
    Ok(values)
}
