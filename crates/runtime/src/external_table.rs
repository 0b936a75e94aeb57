//! Tables kept in an external store (§4), seen by the operators through the ordinary
//! [`TableStore`] interface.
//!
//! An external table's `TableStore` holds the table's **cache**: rows read from or written to
//! the store, up to `cache.size`, each with its expiry (`cache.ttl`, on the engine clock), plus
//! remembered misses (negative entries). Operators read it exactly like an in-memory table,
//! after making the keys of their batch present:
//!
//! - [`TableStore::begin_batch`] starts a batch: the cache is trimmed to its size;
//! - [`TableStore::fetch`] looks the batch's keys up (pipelined, like the join's own lookups):
//!   live rows and negative entries are hits, expired ones are dropped, and every miss of the
//!   batch goes to the store in **one** call; the answers enter the cache;
//! - writes change the rows in place and are journaled by key; [`TableStore::flush_writes`]
//!   sends the batch's net changes to the store in one upsert and one delete.
//!
//! Rows used by the current batch are never evicted during it (the cache may exceed its size
//! by one batch's keys until the next batch starts), so a batch always sees every row it
//! fetched. `cache.size = 0` keeps only the current batch's rows. Eviction order: FIFO in
//! insertion order; LRU as CLOCK (a row used since it last reached the head gets a second
//! chance — constant time per hit, the usual approximation of LRU); LFU by use count (ties:
//! oldest first). Negative entries are evicted before rows.

use crate::external::{
    CacheConfig, CachePolicy, CacheStats, ExternalStore, StoreError, StoreSchema,
};
use crate::store::{key_is_null, key_value, KeyMap, TableStore};
use crate::value::{KeyValue, Value};
use eventflux_planner::join::TableIndex;
use eventflux_planner::plan::{ErrorStrategy, StorePlan, TablePlan};
use eventflux_planner::types::Type;
use std::collections::{BTreeSet, VecDeque};

/// What the cache keeps per row slot.
#[derive(Debug, Clone, Copy, Default)]
struct Meta {
    expires: i64,
    /// The batch that last used the row (rows of the current batch are not evicted).
    batch: u64,
    /// Used since it was loaded or last given a second chance (LRU as CLOCK).
    referenced: bool,
    /// Uses, and the insertion number (LFU order: fewest uses, then oldest).
    uses: u64,
    seq: u64,
}

/// A remembered miss.
#[derive(Debug, Clone, Copy)]
struct Absent {
    expires: i64,
    batch: u64,
    seq: u64,
}

/// The link of an external table to its store, and its cache bookkeeping.
pub struct ExternalTable {
    /// `postgres`, `mysql` or `redis` (for messages and stats).
    pub extension: String,
    pub store: Box<dyn ExternalStore>,
    pub schema: StoreSchema,
    pub config: CacheConfig,
    pub on_error: ErrorStrategy,
    pub preload: bool,
    /// Column types, to give looked-up keys the store's types (lookups use the hash-key form,
    /// where INT is LONG).
    types: Vec<Type>,
    meta: Vec<Meta>,
    /// LFU order: (uses, seq, slot); entries whose slot moved on are skipped.
    lfu: BTreeSet<(u64, u64, u32)>,
    absent: KeyMap<Absent>,
    /// Negative entries, oldest first (an entry whose `seq` no longer matches is gone).
    absent_order: VecDeque<(u64, Box<[KeyValue]>)>,
    batch: u64,
    seq: u64,
    /// Keys written during this batch, as column values (a key may appear several times).
    pub(crate) dirty: Vec<Vec<Value>>,
    /// Scratch: keys to ask (typed, and in hash-key form), answers, pipelined lookups.
    ask: Vec<Vec<Value>>,
    ask_keys: Vec<KeyValue>,
    asked: KeyMap<()>,
    answers: Vec<Option<Vec<Value>>>,
    ranges: Vec<(u32, u32)>,
    slots: Vec<u32>,
    hashes: Vec<u64>,
    stats: CacheStats,
    /// Events that failed because of this table's store.
    pub failed_events: u64,
}

impl std::fmt::Debug for ExternalTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalTable")
            .field("extension", &self.extension)
            .field("table", &self.schema.table)
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
        ExternalTable::with_cache(
            plan,
            store,
            CacheConfig {
                policy: CachePolicy::parse(&spec.cache_policy).unwrap_or(CachePolicy::Lru),
                size: spec.cache_size,
                ttl: spec.cache_ttl,
            },
            spec.on_error.clone(),
            spec.preload,
        )
    }

    pub fn with_cache(
        plan: &TablePlan,
        store: Box<dyn ExternalStore>,
        config: CacheConfig,
        on_error: ErrorStrategy,
        preload: bool,
    ) -> Self {
        let width = plan.primary_key.len();
        ExternalTable {
            extension: String::new(),
            store,
            schema: store_schema(plan),
            config,
            on_error,
            preload,
            types: plan.schema.attributes.iter().map(|a| a.ty).collect(),
            meta: Vec::new(),
            lfu: BTreeSet::new(),
            absent: KeyMap::new(width),
            absent_order: VecDeque::new(),
            batch: 0,
            seq: 0,
            dirty: Vec::new(),
            ask: Vec::new(),
            ask_keys: Vec::new(),
            asked: KeyMap::new(width),
            answers: Vec::new(),
            ranges: Vec::new(),
            slots: Vec::new(),
            hashes: Vec::new(),
            stats: CacheStats::default(),
            failed_events: 0,
        }
        .named(plan)
    }

    fn named(mut self, plan: &TablePlan) -> Self {
        self.extension = plan
            .store
            .as_ref()
            .map_or_else(String::new, |s| s.extension.clone());
        self
    }

    pub fn stats(&self) -> ExternalTableStats {
        let (connects, connection_failures) = self.store.connection_stats();
        ExternalTableStats {
            table: self.schema.table.clone(),
            extension: self.extension.clone(),
            cache: self.stats,
            cache_size: self.config.size,
            connects,
            connection_failures,
            failed_events: self.failed_events,
        }
    }

    /// Journals a write of the row with `row`'s key (called by the table on every change).
    pub(crate) fn wrote(&mut self, key_cols: &[usize], row: &[Value]) {
        self.dirty
            .push(key_cols.iter().map(|&c| row[c].clone()).collect());
    }

    fn expiry(&self, now: i64) -> i64 {
        self.config.ttl.map_or(i64::MAX, |t| now.saturating_add(t))
    }

    /// Records a row loaded or written now (slot just filled).
    fn loaded(&mut self, slot: u32, now: i64) {
        let i = slot as usize;
        if self.meta.len() <= i {
            self.meta.resize(i + 1, Meta::default());
        }
        self.seq += 1;
        self.meta[i] = Meta {
            expires: self.expiry(now),
            batch: self.batch,
            referenced: false,
            uses: 1,
            seq: self.seq,
        };
        if self.config.policy == CachePolicy::Lfu {
            self.lfu.insert((1, self.seq, slot));
        }
    }

    /// A hit on a row: LRU marks it, LFU counts it.
    fn used(&mut self, slot: u32) {
        let batch = self.batch;
        let m = &mut self.meta[slot as usize];
        m.batch = batch;
        m.referenced = true;
        if self.config.policy == CachePolicy::Lfu {
            self.lfu.remove(&(m.uses, m.seq, slot));
            m.uses += 1;
            self.lfu.insert((m.uses, m.seq, slot));
        }
    }

    fn remember_absent(&mut self, key: &[KeyValue], now: i64) {
        self.seq += 1;
        let entry = Absent {
            expires: self.expiry(now),
            batch: self.batch,
            seq: self.seq,
        };
        self.absent.insert(key, entry);
        self.absent_order.push_back((self.seq, key.into()));
        if self.absent_order.len() > 2 * self.absent.len() + 64 {
            // Drop the records of entries already gone.
            let absent = &self.absent;
            self.absent_order
                .retain(|(seq, k)| absent.get(k).is_some_and(|a| a.seq == *seq));
        }
    }

    fn forget_absent(&mut self, key: &[KeyValue]) {
        self.absent.remove(key);
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

    /// External tables: starts a batch (the cache is trimmed to its size). In-memory tables:
    /// nothing.
    pub fn begin_batch(&mut self) {
        let Some(mut ext) = self.external.take() else {
            return;
        };
        ext.batch += 1;
        ext.dirty.clear();
        self.evict(&mut ext);
        self.external = Some(ext);
    }

    /// Entries in the cache (rows and remembered misses).
    fn cached(&self, ext: &ExternalTable) -> usize {
        self.len() + ext.absent.len()
    }

    /// Evicts entries not used by the current batch while the cache is over its size:
    /// negative entries first, then rows in the policy's order.
    fn evict(&mut self, ext: &mut ExternalTable) {
        while self.cached(ext) > ext.config.size {
            if let Some((seq, key)) = ext.absent_order.front() {
                match ext.absent.get(key) {
                    Some(a) if a.seq == *seq && a.batch == ext.batch => break,
                    Some(a) if a.seq == *seq => {
                        ext.absent.remove(key);
                        ext.stats.evictions += 1;
                    }
                    _ => {}
                }
                ext.absent_order.pop_front();
                continue;
            }
            let Some(victim) = self.victim(ext) else {
                break;
            };
            self.remove(victim);
            ext.stats.evictions += 1;
        }
        ext.stats.entries = self.cached(ext);
    }

    /// The row evicted next, unless it is in use by the current batch.
    fn victim(&mut self, ext: &mut ExternalTable) -> Option<u32> {
        match ext.config.policy {
            CachePolicy::Lfu => loop {
                let &(uses, seq, slot) = ext.lfu.iter().next()?;
                ext.lfu.remove(&(uses, seq, slot));
                let m = ext.meta.get(slot as usize)?;
                if !self.is_live(slot) || m.seq != seq || m.uses != uses {
                    continue;
                }
                if m.batch == ext.batch {
                    ext.lfu.insert((uses, seq, slot));
                    return None;
                }
                return Some(slot);
            },
            policy => {
                // Each row gets at most one second chance per pass.
                for _ in 0..=self.len() {
                    let slot = self.front()?;
                    let m = &mut ext.meta[slot as usize];
                    if m.batch == ext.batch {
                        return None;
                    }
                    if policy == CachePolicy::Lru && m.referenced {
                        m.referenced = false;
                        self.move_to_back(slot);
                        continue;
                    }
                    return Some(slot);
                }
                None
            }
        }
    }

    /// External tables: makes the rows with these primary keys (`width` values each, hash-key
    /// form, as the lookups compute them) present. Cached rows and remembered misses are hits;
    /// all the other keys are asked from the store in one call, and its answers are cached.
    pub fn fetch(&mut self, keys: &[KeyValue], width: usize, now: i64) -> Result<(), StoreError> {
        let Some(mut ext) = self.external.take() else {
            return Ok(());
        };
        let result = self.fetch_with(&mut ext, keys, width, now);
        self.evict(&mut ext);
        self.external = Some(ext);
        result
    }

    fn fetch_with(
        &mut self,
        ext: &mut ExternalTable,
        keys: &[KeyValue],
        width: usize,
        now: i64,
    ) -> Result<(), StoreError> {
        let width = width.max(1);
        if width != self.pk.len() {
            return Ok(());
        }
        // Every key's row, looked up with the cache misses of the batch overlapped.
        let (mut ranges, mut slots, mut hashes) = (
            std::mem::take(&mut ext.ranges),
            std::mem::take(&mut ext.slots),
            std::mem::take(&mut ext.hashes),
        );
        ranges.clear();
        slots.clear();
        self.lookup_many(
            TableIndex::PrimaryKey,
            keys,
            width,
            &mut ranges,
            &mut slots,
            &mut hashes,
        );
        let mut n = 0;
        ext.ask_keys.clear();
        ext.asked.clear();
        for (key, &(from, to)) in keys.chunks_exact(width).zip(&ranges) {
            if key_is_null(key) {
                continue;
            }
            if from < to {
                let slot = slots[from as usize];
                let m = ext.meta.get(slot as usize).copied().unwrap_or_default();
                if m.batch == ext.batch {
                    continue; // already counted in this batch
                }
                if m.expires > now {
                    ext.stats.hits += 1;
                    ext.used(slot);
                    continue;
                }
                ext.stats.expirations += 1;
                self.remove(slot);
            } else if let Some(a) = ext.absent.get(key).copied() {
                if a.batch == ext.batch {
                    continue;
                }
                if a.expires > now {
                    ext.stats.hits += 1;
                    if let Some(e) = ext.absent.get_mut(key) {
                        e.batch = ext.batch;
                    }
                    continue;
                }
                ext.stats.expirations += 1;
                ext.forget_absent(key);
            }
            // A miss (asked once even when the batch has it several times).
            if ext.asked.get(key).is_some() {
                continue;
            }
            ext.asked.insert(key, ());
            ext.stats.misses += 1;
            if n == ext.ask.len() {
                ext.ask.push(Vec::with_capacity(width));
            }
            let typed = &mut ext.ask[n];
            typed.clear();
            let mut fits = true;
            for (k, &c) in key.iter().zip(&self.pk) {
                match to_column(&k.0, ext.types[c]) {
                    Some(v) => typed.push(v),
                    None => fits = false,
                }
            }
            if fits {
                n += 1;
                ext.ask_keys.extend_from_slice(key);
            } else {
                ext.remember_absent(key, now);
            }
        }
        ext.ranges = ranges;
        ext.slots = slots;
        ext.hashes = hashes;
        if n == 0 {
            return Ok(());
        }
        let mut answers = std::mem::take(&mut ext.answers);
        answers.clear();
        let asked = ext.store.lookup(&ext.ask[..n], &mut answers);
        if let Err(e) = asked {
            ext.answers = answers;
            return Err(e);
        }
        if answers.len() != n {
            let reason = format!("answered {} lookups for {n} keys", answers.len());
            ext.answers = answers;
            return Err(StoreError::Rejected {
                store: ext.schema.table.clone(),
                reason,
            });
        }
        let keys = std::mem::take(&mut ext.ask_keys);
        for (answer, key) in answers.drain(..).zip(keys.chunks_exact(width)) {
            match answer {
                Some(row) if row.len() == self.arity() => {
                    let slot = self.insert_slot(&row);
                    ext.loaded(slot, now);
                }
                _ => ext.remember_absent(key, now),
            }
        }
        ext.ask_keys = keys;
        ext.answers = answers;
        Ok(())
    }

    /// External tables: writes the batch's changes through (the final state of every key
    /// written: its row, or a delete). The cache keeps what was written; after a failure it
    /// forgets those keys (the store's state is unknown).
    pub fn flush_writes(&mut self, now: i64) -> Result<(), StoreError> {
        let Some(mut ext) = self.external.take() else {
            return Ok(());
        };
        let result = self.flush_with(&mut ext, now);
        self.evict(&mut ext);
        self.external = Some(ext);
        result
    }

    fn flush_with(&mut self, ext: &mut ExternalTable, now: i64) -> Result<(), StoreError> {
        if ext.dirty.is_empty() {
            return Ok(());
        }
        let mut seen: KeyMap<()> = KeyMap::new(self.pk.len());
        let mut written: Vec<(Vec<KeyValue>, Option<u32>)> = Vec::new();
        let (mut upserts, mut deletes) = (Vec::new(), Vec::new());
        for k in std::mem::take(&mut ext.dirty) {
            let key: Vec<KeyValue> = k.iter().map(key_value).collect();
            if seen.get(&key).is_some() {
                continue;
            }
            seen.insert(&key, ());
            let slot = self.slot_of(&key);
            match slot {
                Some(s) => upserts.push(self.row(s).to_vec()),
                None => deletes.push(k),
            }
            written.push((key, slot));
        }
        let mut result = Ok(());
        if !upserts.is_empty() {
            result = ext.store.upsert(&upserts);
        }
        if result.is_ok() && !deletes.is_empty() {
            result = ext.store.delete(&deletes);
        }
        for (key, slot) in written {
            match (slot, result.is_ok()) {
                (Some(s), true) => {
                    ext.forget_absent(&key);
                    ext.loaded(s, now);
                }
                (None, true) => ext.remember_absent(&key, now),
                (Some(s), false) => self.remove(s),
                (None, false) => ext.forget_absent(&key),
            }
        }
        result
    }

    /// `cache.preload`: loads the whole table into the cache when it fits. Returns the rows
    /// loaded (`None`: larger than the cache, nothing preloaded).
    pub fn preload(&mut self, now: i64) -> Result<Option<usize>, StoreError> {
        let Some(mut ext) = self.external.take() else {
            return Ok(Some(0));
        };
        let result = if ext.preload {
            self.preload_with(&mut ext, now)
        } else {
            Ok(Some(0))
        };
        self.external = Some(ext);
        result
    }

    fn preload_with(
        &mut self,
        ext: &mut ExternalTable,
        now: i64,
    ) -> Result<Option<usize>, StoreError> {
        let limit = ext.config.size;
        let rows = ext.store.scan(limit.saturating_add(1))?;
        if rows.len() > limit {
            return Ok(None);
        }
        for row in &rows {
            if row.len() == self.arity() {
                let slot = self.insert_slot(row);
                ext.loaded(slot, now);
            }
        }
        ext.stats.entries = self.cached(ext);
        Ok(Some(rows.len()))
    }
}

#[cfg(test)]
mod tests {
    //! The cache's rules over a table store kept in a map (the stores themselves are tested
    //! against the real servers in the connectors' and the app's integration tests).
    use super::*;
    use eventflux_planner::plan::{Attribute, Schema};
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct MapStore {
        rows: BTreeMap<i64, Vec<Value>>,
        lookups: Vec<usize>,
    }

    struct Shared(std::sync::Arc<std::sync::Mutex<MapStore>>);

    impl ExternalStore for Shared {
        fn lookup(
            &mut self,
            keys: &[Vec<Value>],
            out: &mut Vec<Option<Vec<Value>>>,
        ) -> Result<(), StoreError> {
            let mut s = self.0.lock().unwrap();
            s.lookups.push(keys.len());
            out.extend(
                keys.iter()
                    .map(|k| k[0].as_i64().and_then(|i| s.rows.get(&i).cloned())),
            );
            Ok(())
        }
        fn upsert(&mut self, rows: &[Vec<Value>]) -> Result<(), StoreError> {
            let mut s = self.0.lock().unwrap();
            for r in rows {
                s.rows.insert(r[0].as_i64().unwrap(), r.clone());
            }
            Ok(())
        }
        fn delete(&mut self, keys: &[Vec<Value>]) -> Result<(), StoreError> {
            let mut s = self.0.lock().unwrap();
            for k in keys {
                s.rows.remove(&k[0].as_i64().unwrap());
            }
            Ok(())
        }
        fn scan(&mut self, limit: usize) -> Result<Vec<Vec<Value>>, StoreError> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .rows
                .values()
                .take(limit)
                .cloned()
                .collect())
        }
    }

    type Backing = std::sync::Arc<std::sync::Mutex<MapStore>>;

    fn table(policy: CachePolicy, size: usize, ttl: Option<i64>) -> (TableStore, Backing) {
        let plan = TablePlan {
            name: "T".into(),
            schema: Schema {
                attributes: vec![
                    Attribute {
                        name: "id".into(),
                        ty: Type::Long,
                    },
                    Attribute {
                        name: "v".into(),
                        ty: Type::String,
                    },
                ],
            },
            primary_key: vec![0],
            indexes: Vec::new(),
            max_size: None,
            store: None,
            span: Default::default(),
        };
        let backing: Backing = Default::default();
        {
            let mut b = backing.lock().unwrap();
            for i in 0..10 {
                b.rows
                    .insert(i, vec![Value::Long(i), Value::from(format!("v{i}"))]);
            }
        }
        let ext = ExternalTable::with_cache(
            &plan,
            Box::new(Shared(backing.clone())),
            CacheConfig { policy, size, ttl },
            ErrorStrategy::Log,
            false,
        );
        (TableStore::with_external(&plan, ext), backing)
    }

    fn keys(ids: &[i64]) -> Vec<KeyValue> {
        ids.iter().map(|&i| KeyValue(Value::Long(i))).collect()
    }

    /// Starts a batch and fetches `ids`; returns the ids the table then holds.
    fn batch(t: &mut TableStore, ids: &[i64], now: i64) -> Vec<i64> {
        t.begin_batch();
        t.fetch(&keys(ids), 1, now).unwrap();
        let mut slots = Vec::new();
        t.scan(&mut slots);
        let mut held: Vec<i64> = slots.iter().filter_map(|&s| t.row(s)[0].as_i64()).collect();
        held.sort_unstable();
        held
    }

    fn stats(t: &TableStore) -> CacheStats {
        t.external().unwrap().stats().cache
    }

    #[test]
    fn one_store_call_per_batch_for_the_distinct_misses() {
        let (mut t, b) = table(CachePolicy::Lru, 100, None);
        assert_eq!(batch(&mut t, &[1, 2, 1, 42, 2], 0), vec![1, 2]);
        assert_eq!(b.lock().unwrap().lookups, vec![3]);
        // Hits and the remembered miss: no store call.
        batch(&mut t, &[2, 42, 1], 0);
        assert_eq!(b.lock().unwrap().lookups, vec![3]);
        let s = stats(&t);
        assert_eq!((s.hits, s.misses, s.entries), (3, 3, 3));
    }

    #[test]
    fn ttl_expires_rows_and_misses_on_the_engine_clock() {
        let (mut t, b) = table(CachePolicy::Fifo, 100, Some(1_000));
        batch(&mut t, &[1, 42], 0);
        b.lock()
            .unwrap()
            .rows
            .insert(42, vec![Value::Long(42), Value::from("new")]);
        assert_eq!(batch(&mut t, &[1, 42], 999), vec![1]);
        assert_eq!(batch(&mut t, &[1, 42], 1_000), vec![1, 42]);
        let s = stats(&t);
        assert_eq!((s.hits, s.misses, s.expirations), (2, 4, 2));
    }

    #[test]
    fn lru_keeps_the_rows_in_use_and_fifo_does_not() {
        let (mut lru, _) = table(CachePolicy::Lru, 3, None);
        batch(&mut lru, &[1, 2, 3], 0);
        batch(&mut lru, &[1], 0);
        assert_eq!(batch(&mut lru, &[4], 0), vec![1, 3, 4]);
        let (mut fifo, _) = table(CachePolicy::Fifo, 3, None);
        batch(&mut fifo, &[1, 2, 3], 0);
        batch(&mut fifo, &[1], 0);
        assert_eq!(batch(&mut fifo, &[4], 0), vec![2, 3, 4]);
        assert_eq!(stats(&fifo).evictions, 1);
    }

    #[test]
    fn lfu_evicts_the_least_used() {
        let (mut t, _) = table(CachePolicy::Lfu, 3, None);
        batch(&mut t, &[1, 2, 3], 0);
        batch(&mut t, &[1], 0);
        batch(&mut t, &[3], 0);
        batch(&mut t, &[1], 0);
        assert_eq!(batch(&mut t, &[4], 0), vec![1, 3, 4]);
    }

    #[test]
    fn a_batch_keeps_its_rows_beyond_the_size_until_the_next_batch() {
        let (mut t, _) = table(CachePolicy::Lru, 2, None);
        assert_eq!(batch(&mut t, &[1, 2, 3, 4], 0), vec![1, 2, 3, 4]);
        assert_eq!(batch(&mut t, &[], 0).len(), 2);
        let (mut none, b) = table(CachePolicy::Lru, 0, None);
        assert_eq!(batch(&mut none, &[5], 0), vec![5]);
        assert_eq!(batch(&mut none, &[], 0), Vec::<i64>::new());
        batch(&mut none, &[5], 0);
        assert_eq!(
            b.lock().unwrap().lookups,
            vec![1, 1],
            "no cache: asked again"
        );
    }

    #[test]
    fn writes_go_through_and_stay_cached() {
        let (mut t, b) = table(CachePolicy::Lru, 10, None);
        batch(&mut t, &[1], 0);
        t.insert(&[Value::Long(20), Value::from("twenty")]);
        let mut slots = Vec::new();
        t.lookup(TableIndex::PrimaryKey, &keys(&[1]), &mut slots);
        t.remove(slots[0]);
        t.flush_writes(0).unwrap();
        let store = b.lock().unwrap().rows.clone();
        assert!(store.contains_key(&20) && !store.contains_key(&1));
        // Both answered from the cache (the delete is a remembered miss).
        assert_eq!(batch(&mut t, &[20, 1], 0), vec![20]);
        assert_eq!(b.lock().unwrap().lookups, vec![1]);
    }

    #[test]
    fn preload_loads_a_table_that_fits() {
        let (mut t, b) = table(CachePolicy::Lru, 10, None);
        t.external_mut().unwrap().preload = true;
        assert_eq!(t.preload(0).unwrap(), Some(10));
        assert_eq!(batch(&mut t, &[3, 9], 0).len(), 10);
        assert!(b.lock().unwrap().lookups.is_empty());
        let (mut small, _) = table(CachePolicy::Lru, 5, None);
        small.external_mut().unwrap().preload = true;
        assert_eq!(small.preload(0).unwrap(), None);
    }
}
