//! Redis: one hash per row under `<redis.key.prefix><key values joined by ':'>`, one field per
//! column (NULL columns are absent fields). Lookups are one pipelined `HGETALL` round trip per
//! batch of misses; upserts `DEL` + `HSET` in a transaction per row; deletes `DEL`.

use super::{row_key, to_text, Link, TIMEOUT};
use eventflux_runtime::external::{ExternalStore, StoreError, StoreSchema};
use eventflux_runtime::value::Value;
use std::collections::HashMap;

pub struct RedisStore {
    client: redis::Client,
    prefix: String,
    schema: StoreSchema,
    link: Link<redis::Connection>,
}

/// A lost connection rather than an error reply (wrong type, failed authentication).
fn lost(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

impl RedisStore {
    pub fn new(url: &str, prefix: &str, schema: StoreSchema) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::Rejected {
            store: format!("redis table '{}'", schema.table),
            reason: format!("bad redis.url: {e}"),
        })?;
        Ok(RedisStore {
            link: Link::new(format!("redis table '{}' ({prefix}*)", schema.table)),
            client,
            prefix: prefix.to_string(),
            schema,
        })
    }

    fn key(&self, key: &[Value]) -> String {
        let parts: Vec<String> = key.iter().map(|v| to_text(v).unwrap_or_default()).collect();
        format!("{}{}", self.prefix, parts.join(":"))
    }

    fn run<T: redis::FromRedisValue>(&mut self, pipe: &redis::Pipeline) -> Result<T, StoreError> {
        let client = &self.client;
        let conn = self.link.get(
            || {
                let c = client.get_connection_with_timeout(TIMEOUT)?;
                c.set_read_timeout(Some(TIMEOUT))?;
                c.set_write_timeout(Some(TIMEOUT))?;
                Ok::<_, redis::RedisError>(c)
            },
            lost,
        )?;
        let result = pipe.query::<T>(conn);
        result.map_err(|e| {
            let lost = lost(&e);
            self.link.fail(e, lost)
        })
    }

    fn row_of(&self, fields: &HashMap<String, String>) -> Vec<Value> {
        self.schema
            .columns
            .iter()
            .map(|(c, t)| {
                fields
                    .get(c)
                    .map_or(Value::Null, |s| super::parse_text(*t, s))
            })
            .collect()
    }
}

impl ExternalStore for RedisStore {
    fn lookup(
        &mut self,
        keys: &[Vec<Value>],
        out: &mut Vec<Option<Vec<Value>>>,
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("HGETALL").arg(self.key(key));
        }
        let hashes: Vec<HashMap<String, String>> = self.run(&pipe)?;
        out.extend(
            hashes
                .iter()
                .map(|h| (!h.is_empty()).then(|| self.row_of(h))),
        );
        Ok(())
    }

    fn upsert(&mut self, rows: &[Vec<Value>]) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for row in rows {
            let key = self.key(&row_key(&self.schema, row));
            pipe.cmd("DEL").arg(&key).ignore();
            let fields: Vec<(String, String)> = self
                .schema
                .columns
                .iter()
                .zip(row)
                .filter_map(|((c, _), v)| to_text(v).map(|s| (c.clone(), s)))
                .collect();
            if !fields.is_empty() {
                pipe.cmd("HSET").arg(&key).arg(fields).ignore();
            }
        }
        self.run::<()>(&pipe)
    }

    fn delete(&mut self, keys: &[Vec<Value>]) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.cmd("DEL").arg(self.key(key)).ignore();
        }
        self.run::<()>(&pipe)
    }

    fn scan(&mut self, limit: usize) -> Result<Vec<Vec<Value>>, StoreError> {
        let pattern = format!("{}*", self.prefix);
        let mut cursor: u64 = 0;
        let mut names: Vec<String> = Vec::new();
        loop {
            let mut pipe = redis::pipe();
            pipe.cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000);
            let ((next, batch),): ((u64, Vec<String>),) = self.run(&pipe)?;
            names.extend(batch);
            cursor = next;
            if cursor == 0 || names.len() >= limit {
                break;
            }
        }
        names.truncate(limit);
        let mut pipe = redis::pipe();
        for n in &names {
            pipe.cmd("HGETALL").arg(n);
        }
        let hashes: Vec<HashMap<String, String>> = if names.is_empty() {
            Vec::new()
        } else {
            self.run(&pipe)?
        };
        Ok(hashes
            .iter()
            .filter(|h| !h.is_empty())
            .map(|h| self.row_of(h))
            .collect())
    }

    fn connection_stats(&self) -> (u64, u64) {
        self.link.stats()
    }
}
