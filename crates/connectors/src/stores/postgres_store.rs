//! PostgreSQL: a table with the app table's columns (same names) and a primary key or unique
//! constraint on its key columns. Lookups are one `SELECT … WHERE (key) IN (…)` per batch of
//! misses, writes `INSERT … ON CONFLICT … DO UPDATE` and `DELETE … WHERE (key) IN (…)`.

use super::{column_list, key_of, quote, row_key, Link, CHUNK, TIMEOUT};
use eventflux_planner::types::Type;
use eventflux_runtime::external::{ExternalStore, StoreError, StoreSchema};
use eventflux_runtime::value::{KeyValue, Value};
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row};
use std::collections::HashMap;

pub struct PostgresStore {
    url: String,
    table: String,
    schema: StoreSchema,
    link: Link<Client>,
    /// `SELECT … WHERE key = ANY($1)` prepared on the current connection (single-column keys),
    /// with the connection it was prepared on (the link's connect count).
    lookup_any: Option<(u64, postgres::Statement)>,
}

/// The keys of one lookup as one array parameter (single-column keys).
enum KeyArray {
    Int(Vec<i32>),
    Long(Vec<i64>),
    Float(Vec<f32>),
    Double(Vec<f64>),
    Text(Vec<String>),
    Bool(Vec<bool>),
}

impl KeyArray {
    /// NULL keys match nothing and are left out.
    fn of(ty: Type, keys: &[Vec<Value>]) -> KeyArray {
        let first = keys.iter().filter_map(|k| k.first());
        match ty {
            Type::Int => {
                KeyArray::Int(first.filter_map(|v| v.as_i64()).map(|x| x as i32).collect())
            }
            Type::Long | Type::Timestamp => {
                KeyArray::Long(first.filter_map(|v| v.as_i64()).collect())
            }
            Type::Float => {
                KeyArray::Float(first.filter_map(|v| v.as_f64()).map(|x| x as f32).collect())
            }
            Type::Double => KeyArray::Double(first.filter_map(|v| v.as_f64()).collect()),
            Type::Bool => KeyArray::Bool(first.filter_map(|v| v.as_bool()).collect()),
            Type::String | Type::Object | Type::Null => KeyArray::Text(
                first
                    .filter(|v| !v.is_null())
                    .map(|v| v.to_string())
                    .collect(),
            ),
        }
    }

    fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            KeyArray::Int(x) => x,
            KeyArray::Long(x) => x,
            KeyArray::Float(x) => x,
            KeyArray::Double(x) => x,
            KeyArray::Text(x) => x,
            KeyArray::Bool(x) => x,
        }
    }
}

/// A lost connection (closed, I/O, timeout) rather than an error the server reported; a
/// refused login (SQLSTATE class 28) is the server's answer.
fn lost(e: &PgError) -> bool {
    match e.0.as_db_error() {
        None => true,
        // Class 08 (connection exception) and 57 (operator intervention: the server is
        // shutting down or ended this session) mean the connection is gone.
        Some(db) => e.0.is_closed() || matches!(&db.code().code()[..2], "08" | "57"),
    }
}

/// A client error shown with the server's message when there is one (the client's own text
/// for a server error is only "db error").
struct PgError(postgres::Error);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_db_error() {
            Some(db) => write!(f, "{db}"),
            None => {
                write!(f, "{}", self.0)?;
                // "error connecting to server" alone does not say why.
                match std::error::Error::source(&self.0) {
                    Some(cause) if !self.0.to_string().contains(&cause.to_string()) => {
                        write!(f, ": {cause}")
                    }
                    _ => Ok(()),
                }
            }
        }
    }
}

/// One owned SQL parameter of a column's type (NULL typed too).
enum Param {
    Int(Option<i32>),
    Long(Option<i64>),
    Float(Option<f32>),
    Double(Option<f64>),
    Text(Option<String>),
    Bool(Option<bool>),
}

impl Param {
    fn of(ty: Type, v: &Value) -> Param {
        match ty {
            Type::Int => Param::Int(v.as_i64().map(|x| x as i32)),
            Type::Long | Type::Timestamp => Param::Long(v.as_i64()),
            Type::Float => Param::Float(v.as_f64().map(|x| x as f32)),
            Type::Double => Param::Double(v.as_f64()),
            Type::Bool => Param::Bool(v.as_bool()),
            Type::String | Type::Object | Type::Null => Param::Text(match v {
                Value::Null => None,
                other => Some(other.to_string()),
            }),
        }
    }

    fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Int(x) => x,
            Param::Long(x) => x,
            Param::Float(x) => x,
            Param::Double(x) => x,
            Param::Text(x) => x,
            Param::Bool(x) => x,
        }
    }
}

fn read(row: &Row, i: usize, ty: Type) -> Result<Value, postgres::Error> {
    Ok(match ty {
        Type::Int => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Value::Null, Value::Int),
        Type::Long | Type::Timestamp => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(Value::Null, Value::Long),
        Type::Float => row
            .try_get::<_, Option<f32>>(i)?
            .map_or(Value::Null, Value::Float),
        Type::Double => row
            .try_get::<_, Option<f64>>(i)?
            .map_or(Value::Null, Value::Double),
        Type::Bool => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Value::Null, Value::Bool),
        Type::String | Type::Object | Type::Null => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Value::Null, |s| Value::string(&s)),
    })
}

impl PostgresStore {
    pub fn new(url: &str, table: &str, schema: StoreSchema) -> PostgresStore {
        PostgresStore {
            url: url.to_string(),
            table: table.to_string(),
            schema,
            link: Link::new(format!("postgres table '{table}'")),
            lookup_any: None,
        }
    }

    fn connect(&mut self) -> Result<&mut Client, StoreError> {
        let mut config: postgres::Config = self
            .url
            .parse()
            .map_err(|e| self.link.rejected(format!("bad postgres.url: {e}")))?;
        config.connect_timeout(TIMEOUT);
        config.options(&format!("-c statement_timeout={}", TIMEOUT.as_millis()));
        self.link
            .get(|| config.connect(NoTls).map_err(PgError), lost)
    }

    fn fail(&mut self, e: postgres::Error) -> StoreError {
        let e = PgError(e);
        let lost = lost(&e);
        self.link.fail(e, lost)
    }

    /// `(k1, k2) IN (($1, $2), …)` for `n` keys, parameters from `first`.
    fn key_in(&self, n: usize, first: usize) -> String {
        let cols: Vec<String> = self
            .schema
            .key
            .iter()
            .map(|&k| quote(&self.schema.columns[k].0, '"'))
            .collect();
        let width = cols.len();
        let tuples: Vec<String> = (0..n)
            .map(|i| {
                let ps: Vec<String> = (0..width)
                    .map(|j| format!("${}", first + i * width + j))
                    .collect();
                format!("({})", ps.join(", "))
            })
            .collect();
        format!("({}) IN ({})", cols.join(", "), tuples.join(", "))
    }

    fn key_params(&self, keys: &[Vec<Value>]) -> Vec<Param> {
        keys.iter()
            .flat_map(|key| {
                key.iter()
                    .zip(&self.schema.key)
                    .map(|(v, &k)| Param::of(self.schema.columns[k].1, v))
            })
            .collect()
    }

    fn rows(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Value>>, StoreError> {
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::sql).collect();
        let result = self.connect()?.query(sql, &refs);
        let rows = result.map_err(|e| self.fail(e))?;
        self.decode(rows)
    }

    /// Single-column keys: one prepared `= ANY($1)` query for any number of keys (no SQL text
    /// to build or plan per batch).
    fn rows_by_any(&mut self, keys: &[Vec<Value>]) -> Result<Vec<Vec<Value>>, StoreError> {
        let key_col = self.schema.key[0];
        let array = KeyArray::of(self.schema.columns[key_col].1, keys);
        self.connect()?;
        let connection = self.link.stats().0;
        let statement = match &self.lookup_any {
            Some((c, st)) if *c == connection => st.clone(),
            _ => {
                let sql = format!(
                    "SELECT {} FROM {} WHERE {} = ANY($1)",
                    column_list(&self.schema, '"'),
                    quote(&self.table, '"'),
                    quote(&self.schema.columns[key_col].0, '"')
                );
                let prepared = self.connect()?.prepare(&sql);
                let st = prepared.map_err(|e| self.fail(e))?;
                self.lookup_any = Some((connection, st.clone()));
                st
            }
        };
        let result = self.connect()?.query(&statement, &[array.sql()]);
        let rows = result.map_err(|e| self.fail(e))?;
        self.decode(rows)
    }

    fn decode(&mut self, rows: Vec<Row>) -> Result<Vec<Vec<Value>>, StoreError> {
        let types: Vec<Type> = self.schema.columns.iter().map(|(_, t)| *t).collect();
        rows.iter()
            .map(|r| {
                types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| read(r, i, *t))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                self.link
                    .rejected(format!("column types do not match the table: {e}"))
            })
    }

    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<(), StoreError> {
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::sql).collect();
        let result = self.connect()?.execute(sql, &refs);
        result.map(|_| ()).map_err(|e| self.fail(e))
    }
}

impl ExternalStore for PostgresStore {
    fn lookup(
        &mut self,
        keys: &[Vec<Value>],
        out: &mut Vec<Option<Vec<Value>>>,
    ) -> Result<(), StoreError> {
        let mut found: HashMap<Vec<KeyValue>, Vec<Value>> = HashMap::new();
        if self.schema.key.len() == 1 {
            for row in self.rows_by_any(keys)? {
                found.insert(key_of(&row_key(&self.schema, &row)), row);
            }
            out.extend(keys.iter().map(|k| found.get(&key_of(k)).cloned()));
            return Ok(());
        }
        for chunk in keys.chunks(CHUNK) {
            let sql = format!(
                "SELECT {} FROM {} WHERE {}",
                column_list(&self.schema, '"'),
                quote(&self.table, '"'),
                self.key_in(chunk.len(), 1)
            );
            let params = self.key_params(chunk);
            for row in self.rows(&sql, &params)? {
                found.insert(key_of(&row_key(&self.schema, &row)), row);
            }
        }
        out.extend(keys.iter().map(|k| found.get(&key_of(k)).cloned()));
        Ok(())
    }

    fn upsert(&mut self, rows: &[Vec<Value>]) -> Result<(), StoreError> {
        let width = self.schema.columns.len();
        let key_cols: Vec<String> = self
            .schema
            .key
            .iter()
            .map(|&k| quote(&self.schema.columns[k].0, '"'))
            .collect();
        let set: Vec<String> = self
            .schema
            .columns
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.schema.key.contains(i))
            .map(|(_, (c, _))| format!("{0} = EXCLUDED.{0}", quote(c, '"')))
            .collect();
        let action = if set.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!("DO UPDATE SET {}", set.join(", "))
        };
        for chunk in rows.chunks(CHUNK) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let ps: Vec<String> = (0..width)
                        .map(|j| format!("${}", i * width + j + 1))
                        .collect();
                    format!("({})", ps.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) {}",
                quote(&self.table, '"'),
                column_list(&self.schema, '"'),
                values.join(", "),
                key_cols.join(", "),
                action
            );
            let params: Vec<Param> = chunk
                .iter()
                .flat_map(|row| {
                    row.iter()
                        .zip(&self.schema.columns)
                        .map(|(v, (_, t))| Param::of(*t, v))
                })
                .collect();
            self.execute(&sql, &params)?;
        }
        Ok(())
    }

    fn delete(&mut self, keys: &[Vec<Value>]) -> Result<(), StoreError> {
        for chunk in keys.chunks(CHUNK) {
            let sql = format!(
                "DELETE FROM {} WHERE {}",
                quote(&self.table, '"'),
                self.key_in(chunk.len(), 1)
            );
            let params = self.key_params(chunk);
            self.execute(&sql, &params)?;
        }
        Ok(())
    }

    fn scan(&mut self, limit: usize) -> Result<Vec<Vec<Value>>, StoreError> {
        let sql = format!(
            "SELECT {} FROM {} LIMIT {}",
            column_list(&self.schema, '"'),
            quote(&self.table, '"'),
            limit
        );
        self.rows(&sql, &[])
    }

    fn connection_stats(&self) -> (u64, u64) {
        self.link.stats()
    }
}
