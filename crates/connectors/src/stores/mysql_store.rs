//! MySQL / MariaDB: a table with the app table's columns (same names) and a primary key or
//! unique index on its key columns. Lookups are one prepared `SELECT … WHERE (key) IN (…)` per
//! batch of misses, writes `INSERT … ON DUPLICATE KEY UPDATE` and `DELETE … WHERE (key) IN (…)`.

use super::{column_list, key_of, quote, row_key, Link, CHUNK, TIMEOUT};
use eventflux_planner::types::Type;
use eventflux_runtime::external::{ExternalStore, StoreError, StoreSchema};
use eventflux_runtime::value::{KeyValue, Value};
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, Params};
use std::collections::HashMap;

pub struct MysqlStore {
    opts: Opts,
    table: String,
    schema: StoreSchema,
    link: Link<Conn>,
}

/// Anything but an error the server reported (bad credentials, unknown table, bad SQL) means
/// the connection is lost: I/O, a closed connection, a timeout.
fn lost(e: &mysql::Error) -> bool {
    !matches!(e, mysql::Error::MySqlError(_))
}

fn param(ty: Type, v: &Value) -> mysql::Value {
    match (ty, v) {
        (_, Value::Null) => mysql::Value::NULL,
        (Type::Int | Type::Long | Type::Timestamp, v) => {
            v.as_i64().map_or(mysql::Value::NULL, mysql::Value::Int)
        }
        (Type::Float, v) => v
            .as_f64()
            .map_or(mysql::Value::NULL, |x| mysql::Value::Float(x as f32)),
        (Type::Double, v) => v.as_f64().map_or(mysql::Value::NULL, mysql::Value::Double),
        (Type::Bool, v) => v
            .as_bool()
            .map_or(mysql::Value::NULL, |b| mysql::Value::Int(i64::from(b))),
        (_, v) => mysql::Value::Bytes(v.to_string().into_bytes()),
    }
}

/// A column value as MySQL returns it (binary protocol: typed; text in bytes) in a column type.
fn read(ty: Type, v: &mysql::Value) -> Value {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match v {
        mysql::Value::NULL => Value::Null,
        mysql::Value::Int(i) => match ty {
            Type::Int => Value::Int(*i as i32),
            Type::Float => Value::Float(*i as f32),
            Type::Double => Value::Double(*i as f64),
            Type::Bool => Value::Bool(*i != 0),
            Type::String | Type::Object | Type::Null => Value::string(&i.to_string()),
            Type::Long | Type::Timestamp => Value::Long(*i),
        },
        mysql::Value::UInt(u) => read(ty, &mysql::Value::Int(*u as i64)),
        mysql::Value::Float(f) => read(ty, &mysql::Value::Double(f64::from(*f))),
        mysql::Value::Double(d) => match ty {
            Type::Int => Value::Int(*d as i32),
            Type::Long | Type::Timestamp => Value::Long(*d as i64),
            Type::Float => Value::Float(*d as f32),
            Type::Bool => Value::Bool(*d != 0.0),
            Type::String | Type::Object | Type::Null => Value::string(&d.to_string()),
            Type::Double => Value::Double(*d),
        },
        mysql::Value::Bytes(b) => super::parse_text(ty, &text(b)),
        other => super::parse_text(ty, &other.as_sql(true)),
    }
}

impl MysqlStore {
    pub fn new(url: &str, table: &str, schema: StoreSchema) -> Result<MysqlStore, StoreError> {
        let opts = Opts::from_url(url).map_err(|e| StoreError::Rejected {
            store: format!("mysql table '{table}'"),
            reason: format!("bad mysql.url: {e}"),
        })?;
        Ok(MysqlStore {
            opts,
            table: table.to_string(),
            schema,
            link: Link::new(format!("mysql table '{table}'")),
        })
    }

    fn connect(&mut self) -> Result<&mut Conn, StoreError> {
        let opts = OptsBuilder::from_opts(self.opts.clone())
            .tcp_connect_timeout(Some(TIMEOUT))
            .read_timeout(Some(TIMEOUT))
            .write_timeout(Some(TIMEOUT));
        self.link.get(|| Conn::new(opts), lost)
    }

    fn fail(&mut self, e: mysql::Error) -> StoreError {
        let lost = lost(&e);
        self.link.fail(e, lost)
    }

    fn key_in(&self, n: usize) -> String {
        let cols: Vec<String> = self
            .schema
            .key
            .iter()
            .map(|&k| quote(&self.schema.columns[k].0, '`'))
            .collect();
        let one = format!("({})", vec!["?"; cols.len()].join(", "));
        format!("({}) IN ({})", cols.join(", "), vec![one; n].join(", "))
    }

    fn key_params(&self, keys: &[Vec<Value>]) -> Params {
        Params::Positional(
            keys.iter()
                .flat_map(|key| {
                    key.iter()
                        .zip(&self.schema.key)
                        .map(|(v, &k)| param(self.schema.columns[k].1, v))
                })
                .collect(),
        )
    }

    fn rows(&mut self, sql: &str, params: Params) -> Result<Vec<Vec<Value>>, StoreError> {
        let result = self.connect()?.exec::<mysql::Row, _, _>(sql, params);
        let rows = result.map_err(|e| self.fail(e))?;
        let types: Vec<Type> = self.schema.columns.iter().map(|(_, t)| *t).collect();
        Ok(rows
            .into_iter()
            .map(|r| {
                let vals = r.unwrap();
                types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| vals.get(i).map_or(Value::Null, |v| read(*t, v)))
                    .collect()
            })
            .collect())
    }

    fn execute(&mut self, sql: &str, params: Params) -> Result<(), StoreError> {
        let result = self.connect()?.exec_drop(sql, params);
        result.map_err(|e| self.fail(e))
    }
}

impl ExternalStore for MysqlStore {
    fn lookup(
        &mut self,
        keys: &[Vec<Value>],
        out: &mut Vec<Option<Vec<Value>>>,
    ) -> Result<(), StoreError> {
        let mut found: HashMap<Vec<KeyValue>, Vec<Value>> = HashMap::new();
        for chunk in keys.chunks(CHUNK) {
            let sql = format!(
                "SELECT {} FROM {} WHERE {}",
                column_list(&self.schema, '`'),
                quote(&self.table, '`'),
                self.key_in(chunk.len())
            );
            let params = self.key_params(chunk);
            for row in self.rows(&sql, params)? {
                found.insert(key_of(&row_key(&self.schema, &row)), row);
            }
        }
        out.extend(keys.iter().map(|k| found.get(&key_of(k)).cloned()));
        Ok(())
    }

    fn upsert(&mut self, rows: &[Vec<Value>]) -> Result<(), StoreError> {
        let width = self.schema.columns.len();
        let set: Vec<String> = self
            .schema
            .columns
            .iter()
            .map(|(c, _)| format!("{0} = VALUES({0})", quote(c, '`')))
            .collect();
        for chunk in rows.chunks(CHUNK) {
            let one = format!("({})", vec!["?"; width].join(", "));
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {} ON DUPLICATE KEY UPDATE {}",
                quote(&self.table, '`'),
                column_list(&self.schema, '`'),
                vec![one; chunk.len()].join(", "),
                set.join(", ")
            );
            let params = Params::Positional(
                chunk
                    .iter()
                    .flat_map(|row| {
                        row.iter()
                            .zip(&self.schema.columns)
                            .map(|(v, (_, t))| param(*t, v))
                    })
                    .collect(),
            );
            self.execute(&sql, params)?;
        }
        Ok(())
    }

    fn delete(&mut self, keys: &[Vec<Value>]) -> Result<(), StoreError> {
        for chunk in keys.chunks(CHUNK) {
            let sql = format!(
                "DELETE FROM {} WHERE {}",
                quote(&self.table, '`'),
                self.key_in(chunk.len())
            );
            let params = self.key_params(chunk);
            self.execute(&sql, params)?;
        }
        Ok(())
    }

    fn scan(&mut self, limit: usize) -> Result<Vec<Vec<Value>>, StoreError> {
        let sql = format!(
            "SELECT {} FROM {} LIMIT {}",
            column_list(&self.schema, '`'),
            quote(&self.table, '`'),
            limit
        );
        self.rows(&sql, Params::Empty)
    }

    fn connection_stats(&self) -> (u64, u64) {
        self.link.stats()
    }
}
