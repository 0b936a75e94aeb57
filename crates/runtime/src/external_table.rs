//! Tables kept in an external store (§4), seen by the operators through the ordinary
//! [`TableStore`] interface.
//!
//! An external table's `TableStore` holds a *view*: the rows the current batch needs. An
//! operator reading or writing the table starts its batch with [`TableStore::begin_batch`]
//! (the previous view is forgotten), makes the keys it will look up visible with
//! [`TableStore::fetch`] — the cache answers what it can and every miss of the batch goes to
//! the store in one round trip — and then runs its usual per-row code against the view. Writes
//! change the view and are journaled by key; [`TableStore::flush_writes`] sends the batch's
//! net changes through in one upsert and one delete. Within a batch, reads therefore see the
//! batch's own earlier writes, and the view never holds more than one batch's keys.

use crate::external::{
    CacheConfig, CachePolicy, CacheStats, CachedStore, ExternalStore, StoreError, StoreSchema,
};
use crate::store::{key_is_null, KeyMap, TableStore};
use crate::value::{KeyValue, Value};
use eventflux_planner::plan::{ErrorStrategy, StorePlan, TablePlan};
use eventflux_planner::types::Type;

/// The link of an external table to its store.
pub struct ExternalTable {
    /// `postgres`, `mysql` or `redis` (for messages and stats).
    pub extension: String,
    pub store: CachedStore,
    pub on_error: ErrorStrategy,
    pub preload: bool,
    /// Column types, to give looked-up keys the store's types (lookups use the hash-key form,
    /// where INT is LONG).
    types: Vec<Type>,
    /// Keys the view already answers for this batch: fetched (found or not) or written.
    known: KeyMap<()>,
    /// Keys written during this batch, as column values (a key may appear several times).
    pub(crate) dirty: Vec<Vec<Value>>,
    /// Scratch: keys to ask, rows to write, keys to delete.
    ask: Vec<Vec<Value>>,
    upserts: Vec<Vec<Value>>,
    deletes: Vec<Vec<Value>>,
    /// Events that failed because of this table's store.
    pub failed_events: u64,
}

impl std::fmt::Debug for ExternalTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalTable")
            .field("extension", &self.extension)
            .field("table", &self.store.schema.table)
            .finish()
    }
}

/// Counters of an external table (for stats and metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalTableStats {
    pub table: String,
    pub extension: String,
    pub cache: CacheStats,
    pub cache_size: usize,
    /// Connections opened, and calls that failed on a lost connection.
    pub connects: u64,
    pub connection_failures: u64,
    /// Events dropped, routed or failed because of a store error.
    pub failed_events: u64,
}

impl ExternalTable {
    /// Wraps an opened store with the cache and error handling of its plan.
    pub fn new(plan: &TablePlan, spec: &StorePlan, store: Box<dyn ExternalStore>) -> Self {
        let schema = store_schema(plan);
        let policy = CachePolicy::parse(&spec.cache_policy).unwrap_or(CachePolicy::Lru);
        ExternalTable {
            extension: spec.extension.clone(),
            store: CachedStore::new(
                store,
                schema,
                CacheConfig {
                    policy,
                    size: spec.cache_size,
                    ttl: spec.cache_ttl,
                },
            ),
            on_error: spec.on_error.clone(),
            preload: spec.preload,
            types: plan.schema.attributes.iter().map(|a| a.ty).collect(),
            known: KeyMap::new(plan.primary_key.len()),
            dirty: Vec::new(),
            ask: Vec::new(),
            upserts: Vec::new(),
            deletes: Vec::new(),
            failed_events: 0,
        }
    }

    pub fn stats(&self) -> ExternalTableStats {
        let (connects, connection_failures) = self.store.store.connection_stats();
        ExternalTableStats {
            table: self.store.schema.table.clone(),
            extension: self.extension.clone(),
            cache: self.store.cache.stats(),
            cache_size: self.store.cache.config().size,
            connects,
            connection_failures,
            failed_events: self.failed_events,
        }
    }

    /// Remembers that the view answers for the key of `row` (written in this batch).
    pub(crate) fn wrote(&mut self, key_cols: &[usize], row: &[Value], scratch: &mut Vec<KeyValue>) {
        let key: Vec<Value> = key_cols.iter().map(|&c| row[c].clone()).collect();
        scratch.clear();
        scratch.extend(key.iter().map(crate::store::key_value));
        if self.known.get(scratch).is_none() {
            self.known.insert(scratch, ());
        }
        self.dirty.push(key);
    }
}

/// What a store needs to know about the table.
pub fn store_schema(plan: &TablePlan) -> StoreSchema {
    StoreSchema {
        table: plan.name.clone(),
        columns: plan
            .schema
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.ty))
            .collect(),
        key: plan.primary_key.clone(),
    }
}

/// A key value (hash-key form) in its column's type; `None` when no row can have it (an
/// integer out of an INT column's range).
fn to_column(v: &Value, ty: Type) -> Option<Value> {
    Some(match (v, ty) {
        (Value::Long(x), Type::Int) => Value::Int(i32::try_from(*x).ok()?),
        (Value::Double(x), Type::Float) => Value::Float(*x as f32),
        (other, _) => other.clone(),
    })
}

impl TableStore {
    pub fn is_external(&self) -> bool {
        self.external.is_some()
    }

    pub fn external(&self) -> Option<&ExternalTable> {
        self.external.as_deref()
    }

    pub fn external_mut(&mut self) -> Option<&mut ExternalTable> {
        self.external.as_deref_mut()
    }

    /// External tables: forgets the previous batch's view. In-memory tables: nothing.
    pub fn begin_batch(&mut self) {
        let Some(ext) = self.external.as_deref_mut() else {
            return;
        };
        ext.known = KeyMap::new(self.pk.len());
        ext.dirty.clear();
        self.clear_rows();
    }

    /// External tables: makes the rows with these primary keys (`width` values each, hash-key
    /// form, as the lookups compute them) visible in the view. Keys the view already answers
    /// are not asked again; the others are answered by the cache, then by one store call.
    pub fn fetch(&mut self, keys: &[KeyValue], width: usize, now: i64) -> Result<(), StoreError> {
        let Some(mut ext) = self.external.take() else {
            return Ok(());
        };
        ext.ask.clear();
        for key in keys.chunks_exact(width.max(1)) {
            if key.len() != self.pk.len() || key_is_null(key) || ext.known.get(key).is_some() {
                continue;
            }
            ext.known.insert(key, ());
            let typed: Option<Vec<Value>> = key
                .iter()
                .zip(&self.pk)
                .map(|(k, &c)| to_column(&k.0, ext.types[c]))
                .collect();
            if let Some(typed) = typed {
                ext.ask.push(typed);
            }
        }
        let ask = std::mem::take(&mut ext.ask);
        // The table's own rows are not journaled while the external part is taken out.
        let result = ext.store.lookup_with(&ask, now, |_, row| {
            if let Some(row) = row {
                self.insert(row);
            }
        });
        ext.ask = ask;
        self.external = Some(ext);
        result
    }

    /// External tables: writes the batch's changes through (the final state of every key
    /// written: its row, or a delete).
    pub fn flush_writes(&mut self, now: i64) -> Result<(), StoreError> {
        let Some(mut ext) = self.external.take() else {
            return Ok(());
        };
        if ext.dirty.is_empty() {
            self.external = Some(ext);
            return Ok(());
        }
        ext.upserts.clear();
        ext.deletes.clear();
        let mut seen: KeyMap<()> = KeyMap::new(self.pk.len());
        let mut key = Vec::new();
        let mut slots = Vec::new();
        for k in std::mem::take(&mut ext.dirty) {
            key.clear();
            key.extend(k.iter().map(crate::store::key_value));
            if seen.get(&key).is_some() {
                continue;
            }
            seen.insert(&key, ());
            self.lookup(
                eventflux_planner::join::TableIndex::PrimaryKey,
                &key,
                &mut slots,
            );
            match slots.first() {
                Some(&s) => ext.upserts.push(self.row(s).to_vec()),
                None => ext.deletes.push(k),
            }
        }
        let (upserts, deletes) = (
            std::mem::take(&mut ext.upserts),
            std::mem::take(&mut ext.deletes),
        );
        let result = ext.store.write_through(&upserts, &deletes, now);
        ext.upserts = upserts;
        ext.deletes = deletes;
        self.external = Some(ext);
        result
    }

    /// `cache.preload`: loads the whole table into the cache when it fits. Returns the rows
    /// loaded (`None`: larger than the cache, nothing preloaded).
    pub fn preload(&mut self, now: i64) -> Result<Option<usize>, StoreError> {
        match self.external.as_deref_mut() {
            Some(ext) if ext.preload => ext.store.preload(now),
            _ => Ok(Some(0)),
        }
    }
}
