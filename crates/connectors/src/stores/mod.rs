//! External table stores (§4): PostgreSQL, MySQL / MariaDB and Redis behind the runtime's
//! [`ExternalStore`] interface. Each keeps one connection, opened lazily and reopened after a
//! failure with backoff ([`Backoff`]: 100 ms doubling to 10 s); while the store is down every call
//! fails fast with [`StoreError::Unavailable`] naming the store, so the engine reports the event
//! and keeps running. Connect, read and write timeouts bound every call.

mod mysql_store;
mod postgres_store;
mod redis_store;

pub use mysql_store::MysqlStore;
pub use postgres_store::PostgresStore;
pub use redis_store::RedisStore;

use eventflux_planner::types::Type;
use eventflux_runtime::external::{Backoff, ExternalStore, StoreError, StoreSchema};
use eventflux_runtime::value::{KeyValue, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Time allowed to connect, and for one request.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the store named by a table's `extension` with its `WITH` options (keys as written,
/// e.g. `postgres.url`). Connecting happens on first use.
pub fn open_store(
    extension: &str,
    options: &BTreeMap<String, String>,
    schema: StoreSchema,
) -> Result<Box<dyn ExternalStore>, StoreError> {
    let opt = |k: &str| options.get(k).map(|s| s.as_str());
    let required = |k: &str| {
        opt(k).ok_or_else(|| StoreError::Rejected {
            store: format!("table '{}'", schema.table),
            reason: format!("option '{k}' is required"),
        })
    };
    match extension.to_ascii_lowercase().as_str() {
        "postgres" => {
            let url = required("postgres.url")?.to_string();
            let table = opt("postgres.table").unwrap_or(&schema.table).to_string();
            Ok(Box::new(PostgresStore::new(&url, &table, schema)))
        }
        "mysql" => {
            let url = required("mysql.url")?.to_string();
            let table = opt("mysql.table").unwrap_or(&schema.table).to_string();
            Ok(Box::new(MysqlStore::new(&url, &table, schema)?))
        }
        "redis" => {
            let url = required("redis.url")?.to_string();
            let prefix = opt("redis.key.prefix")
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}:", schema.table));
            Ok(Box::new(RedisStore::new(&url, &prefix, schema)?))
        }
        other => Err(StoreError::Rejected {
            store: format!("table '{}'", schema.table),
            reason: format!("unknown store '{other}' (postgres, mysql, redis)"),
        }),
    }
}

/// A key as a hashable value list (to match answers to the keys asked).
pub(crate) fn key_of(vals: &[Value]) -> Vec<KeyValue> {
    vals.iter().cloned().map(KeyValue).collect()
}

/// The key columns' values of a row.
pub(crate) fn row_key(schema: &StoreSchema, row: &[Value]) -> Vec<Value> {
    schema.key.iter().map(|&k| row[k].clone()).collect()
}

/// A value read as text (Redis fields) converted to a column type; unparsable text is NULL.
pub(crate) fn parse_text(ty: Type, s: &str) -> Value {
    match ty {
        Type::Int => s.parse().map(Value::Int).unwrap_or(Value::Null),
        Type::Long | Type::Timestamp => s.parse().map(Value::Long).unwrap_or(Value::Null),
        Type::Float => s.parse().map(Value::Float).unwrap_or(Value::Null),
        Type::Double => s.parse().map(Value::Double).unwrap_or(Value::Null),
        Type::Bool => match s {
            "true" | "1" | "t" => Value::Bool(true),
            "false" | "0" | "f" => Value::Bool(false),
            _ => Value::Null,
        },
        Type::String | Type::Object | Type::Null => Value::string(s),
    }
}

/// A value as text (Redis fields, key parts).
pub(crate) fn to_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// `"a", "b"` — identifiers quoted with `q` (`"` for SQL, backtick for MySQL).
pub(crate) fn column_list(schema: &StoreSchema, q: char) -> String {
    schema
        .columns
        .iter()
        .map(|(c, _)| quote(c, q))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn quote(ident: &str, q: char) -> String {
    let doubled: String = ident
        .chars()
        .flat_map(|c| if c == q { vec![c, c] } else { vec![c] })
        .collect();
    format!("{q}{doubled}{q}")
}

/// One connection to a store: opened on first use, dropped when a call finds it lost, and
/// reopened after the backoff; calls made while waiting fail fast.
pub(crate) struct Link<C> {
    name: String,
    conn: Option<C>,
    backoff: Backoff,
    connects: u64,
    failures: u64,
}

impl<C> Link<C> {
    pub(crate) fn new(name: String) -> Link<C> {
        Link {
            name,
            conn: None,
            backoff: Backoff::default(),
            connects: 0,
            failures: 0,
        }
    }

    /// The open connection, opening it with `open` when there is none and the backoff allows.
    pub(crate) fn get<E: std::fmt::Display>(
        &mut self,
        open: impl FnOnce() -> Result<C, E>,
        lost: impl Fn(&E) -> bool,
    ) -> Result<&mut C, StoreError> {
        if self.conn.is_none() {
            if !self.backoff.may_try() {
                return Err(StoreError::Unavailable {
                    store: self.name.clone(),
                    reason: format!("reconnecting in {} ms", self.backoff.wait_ms()),
                });
            }
            match open() {
                Ok(c) => {
                    self.connects += 1;
                    self.backoff.succeeded();
                    self.conn = Some(c);
                }
                Err(e) => {
                    let lost = lost(&e);
                    return Err(self.fail(e, lost));
                }
            }
        }
        self.conn.as_mut().ok_or_else(|| StoreError::Unavailable {
            store: self.name.clone(),
            reason: "not connected".into(),
        })
    }

    /// The error of a call: a lost connection is dropped (reopened after the backoff) and the
    /// store is unavailable; otherwise the store refused this request.
    pub(crate) fn fail(&mut self, e: impl std::fmt::Display, lost: bool) -> StoreError {
        if lost {
            self.conn = None;
            self.backoff.failed();
            self.failures += 1;
            StoreError::Unavailable {
                store: self.name.clone(),
                reason: e.to_string(),
            }
        } else {
            StoreError::Rejected {
                store: self.name.clone(),
                reason: e.to_string(),
            }
        }
    }

    pub(crate) fn rejected(&self, reason: String) -> StoreError {
        StoreError::Rejected {
            store: self.name.clone(),
            reason,
        }
    }

    /// (connections opened, calls failed on a lost connection).
    pub(crate) fn stats(&self) -> (u64, u64) {
        (self.connects, self.failures)
    }
}

/// Keys per statement (bounded statement size and parameter count).
pub(crate) const CHUNK: usize = 500;
