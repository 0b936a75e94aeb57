//! Tables kept outside the engine (§4: `extension = 'postgres' | 'mysql' | 'redis'`): the
//! [`ExternalStore`] interface the connectors implement, and the [`Cache`] in front of it
//! (`cache.policy` LRU | LFU | FIFO, `cache.size`, `cache.ttl`, negative caching, hit / miss /
//! eviction counts). The runtime only sees this interface; the `eventflux` crate opens stores
//! through the connectors, so lower crates never depend on client libraries.
//!
//! Lookups are batched: [`CachedStore::lookup`] answers what the cache holds and asks the store
//! for every miss of an input batch in one round trip, keeping the batch's order. Cache expiry
//! runs on the engine clock (virtual under replay), so replays stay deterministic.

use crate::value::{KeyValue, Value};
use eventflux_planner::types::Type;
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;

/// What a store needs to know about its table.
#[derive(Debug, Clone)]
pub struct StoreSchema {
    /// The table's name in the app.
    pub table: String,
    pub columns: Vec<(String, Type)>,
    /// Primary-key column indices (reads and writes go by key).
    pub key: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached (down, timed out, refused): calls fail fast until the next
    /// reconnect attempt.
    #[error("{store} is unavailable: {reason}")]
    Unavailable { store: String, reason: String },
    /// The store answered with an error (bad credentials, missing table, type mismatch).
    #[error("{store} refused the request: {reason}")]
    Rejected { store: String, reason: String },
}

/// A table read through and written through by primary key.
pub trait ExternalStore: Send {
    /// The row whose primary key equals each of `keys` (key values in key-column order), one
    /// answer per key, in order, appended to `out`.
    fn lookup(
        &mut self,
        keys: &[Vec<Value>],
        out: &mut Vec<Option<Vec<Value>>>,
    ) -> Result<(), StoreError>;
    /// Inserts rows, replacing those with the same key.
    fn upsert(&mut self, rows: &[Vec<Value>]) -> Result<(), StoreError>;
    /// Deletes the rows with these keys.
    fn delete(&mut self, keys: &[Vec<Value>]) -> Result<(), StoreError>;
    /// Up to `limit` rows, for `cache.preload`.
    fn scan(&mut self, limit: usize) -> Result<Vec<Vec<Value>>, StoreError>;
    /// Counters of the connection: (reconnects, failed calls).
    fn connection_stats(&self) -> (u64, u64) {
        (0, 0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePolicy {
    Lru,
    Lfu,
    Fifo,
}

impl CachePolicy {
    pub fn parse(s: &str) -> Option<CachePolicy> {
        match s.trim().to_ascii_uppercase().as_str() {
            "LRU" => Some(CachePolicy::Lru),
            "LFU" => Some(CachePolicy::Lfu),
            "FIFO" => Some(CachePolicy::Fifo),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    pub policy: CachePolicy,
    /// Rows (and remembered misses) kept at most; 0 disables the cache.
    pub size: usize,
    /// Milliseconds an entry stays valid (engine clock).
    pub ttl: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub expirations: u64,
    pub entries: usize,
}

struct Slot {
    key: Box<[KeyValue]>,
    /// `None`: the store has no such row (negative entry).
    row: Option<Vec<Value>>,
    expires: i64,
    /// Uses (LFU) and the last use or the insertion (LRU / FIFO order).
    uses: u64,
    stamp: u64,
}

/// A bounded map from primary key to row (or to "absent").
pub struct Cache {
    config: CacheConfig,
    map: FxHashMap<Box<[KeyValue]>, u32>,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// Eviction order: (uses or 0, stamp, slot); the first is evicted.
    order: BTreeSet<(u64, u64, u32)>,
    clock: u64,
    stats: CacheStats,
    scratch: Vec<KeyValue>,
}

/// What the cache knows about a key.
#[derive(Debug, PartialEq)]
pub enum Cached<'a> {
    Row(&'a [Value]),
    Absent,
    Unknown,
}

impl Cache {
    pub fn new(config: CacheConfig) -> Cache {
        Cache {
            config,
            map: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            order: BTreeSet::new(),
            clock: 0,
            stats: CacheStats::default(),
            scratch: Vec::new(),
        }
    }

    pub fn config(&self) -> CacheConfig {
        self.config
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.map.len(),
            ..self.stats
        }
    }

    fn rank(&self, s: &Slot) -> (u64, u64) {
        match self.config.policy {
            CachePolicy::Lfu => (s.uses, s.stamp),
            CachePolicy::Lru | CachePolicy::Fifo => (0, s.stamp),
        }
    }

    fn find(&mut self, key: &[Value]) -> Option<u32> {
        self.scratch.clear();
        self.scratch.extend(key.iter().cloned().map(KeyValue));
        self.map.get(&self.scratch[..]).copied()
    }

    fn drop_slot(&mut self, i: u32) {
        if let Some(s) = self.slots[i as usize].take() {
            let (a, b) = self.rank(&s);
            self.order.remove(&(a, b, i));
            self.map.remove(&s.key);
            self.free.push(i);
        }
    }

    /// Looks `key` up at time `now`, counting a hit or a miss.
    pub fn get(&mut self, key: &[Value], now: i64) -> Cached<'_> {
        let Some(i) = self.find(key) else {
            self.stats.misses += 1;
            return Cached::Unknown;
        };
        let expired = self.slots[i as usize]
            .as_ref()
            .is_some_and(|s| s.expires <= now);
        if expired {
            self.drop_slot(i);
            self.stats.expirations += 1;
            self.stats.misses += 1;
            return Cached::Unknown;
        }
        self.stats.hits += 1;
        self.clock += 1;
        let clock = self.clock;
        let policy = self.config.policy;
        let Some(s) = self.slots[i as usize].as_mut() else {
            return Cached::Unknown;
        };
        let before = match policy {
            CachePolicy::Lfu => (s.uses, s.stamp),
            _ => (0, s.stamp),
        };
        s.uses += 1;
        if policy == CachePolicy::Lru {
            s.stamp = clock;
        }
        let after = match policy {
            CachePolicy::Lfu => (s.uses, s.stamp),
            _ => (0, s.stamp),
        };
        if before != after {
            self.order.remove(&(before.0, before.1, i));
            self.order.insert((after.0, after.1, i));
        }
        match &self.slots[i as usize] {
            Some(Slot { row: Some(r), .. }) => Cached::Row(r),
            _ => Cached::Absent,
        }
    }

    /// Remembers what the store answered for `key` (a row, or `None` for no row).
    pub fn put(&mut self, key: &[Value], row: Option<Vec<Value>>, now: i64) {
        if self.config.size == 0 {
            return;
        }
        if let Some(i) = self.find(key) {
            self.drop_slot(i);
        }
        while self.map.len() >= self.config.size {
            let Some(&(_, _, victim)) = self.order.iter().next() else {
                break;
            };
            self.drop_slot(victim);
            self.stats.evictions += 1;
        }
        self.clock += 1;
        let slot = Slot {
            key: key.iter().cloned().map(KeyValue).collect(),
            row,
            expires: self.config.ttl.map_or(i64::MAX, |t| now.saturating_add(t)),
            uses: 1,
            stamp: self.clock,
        };
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        let (a, b) = self.rank(&slot);
        self.order.insert((a, b, i));
        self.map.insert(slot.key.clone(), i);
        self.slots[i as usize] = Some(slot);
    }

    /// Forgets `key` (after a write through the cache).
    pub fn invalidate(&mut self, key: &[Value]) {
        if let Some(i) = self.find(key) {
            self.drop_slot(i);
        }
    }
}

/// A store with its cache: batched read-through, write-through.
pub struct CachedStore {
    pub store: Box<dyn ExternalStore>,
    pub cache: Cache,
    pub schema: StoreSchema,
    /// Per batch: the distinct missed keys, where each is asked (key → index in `misses`),
    /// and (position in the batch, index in `misses`) of every miss.
    misses: Vec<Vec<Value>>,
    asked: FxHashMap<Vec<KeyValue>, usize>,
    miss_at: Vec<(usize, usize)>,
    answers: Vec<Option<Vec<Value>>>,
}

impl CachedStore {
    pub fn new(store: Box<dyn ExternalStore>, schema: StoreSchema, cache: CacheConfig) -> Self {
        CachedStore {
            store,
            cache: Cache::new(cache),
            schema,
            misses: Vec::new(),
            asked: FxHashMap::default(),
            miss_at: Vec::new(),
            answers: Vec::new(),
        }
    }

    /// Loads the whole table into the cache when it fits (`cache.preload`); returns the rows
    /// loaded, or `None` when the table is larger than the cache.
    pub fn preload(&mut self, now: i64) -> Result<Option<usize>, StoreError> {
        let limit = self.cache.config.size;
        let rows = self.store.scan(limit.saturating_add(1))?;
        if rows.len() > limit {
            return Ok(None);
        }
        let n = rows.len();
        for row in rows {
            let key: Vec<Value> = self.schema.key.iter().map(|&k| row[k].clone()).collect();
            self.cache.put(&key, Some(row), now);
        }
        Ok(Some(n))
    }

    /// The row of each key (in order): cached answers first, then one store call for all the
    /// misses of the batch. On a store error the error is returned for the whole batch and
    /// nothing is cached.
    pub fn lookup(
        &mut self,
        keys: &[Vec<Value>],
        now: i64,
        out: &mut Vec<Option<Vec<Value>>>,
    ) -> Result<(), StoreError> {
        out.clear();
        out.resize(keys.len(), None);
        self.lookup_with(keys, now, |i, row| out[i] = row.map(<[Value]>::to_vec))
    }

    /// Like [`Self::lookup`], handing each answer to `found(position, row)` instead of copying
    /// it: cached answers as they are found (without copying the row), then the store's.
    pub fn lookup_with(
        &mut self,
        keys: &[Vec<Value>],
        now: i64,
        mut found: impl FnMut(usize, Option<&[Value]>),
    ) -> Result<(), StoreError> {
        self.misses.clear();
        self.asked.clear();
        self.miss_at.clear();
        for (i, key) in keys.iter().enumerate() {
            match self.cache.get(key, now) {
                Cached::Row(r) => found(i, Some(r)),
                Cached::Absent => found(i, None),
                Cached::Unknown => {
                    // The same key twice in one batch is asked once.
                    let next = self.misses.len();
                    let j = *self
                        .asked
                        .entry(key.iter().cloned().map(KeyValue).collect())
                        .or_insert(next);
                    if j == next {
                        self.misses.push(key.clone());
                    }
                    self.miss_at.push((i, j));
                }
            }
        }
        if self.misses.is_empty() {
            return Ok(());
        }
        self.answers.clear();
        self.store.lookup(&self.misses, &mut self.answers)?;
        if self.answers.len() != self.misses.len() {
            return Err(StoreError::Rejected {
                store: self.schema.table.clone(),
                reason: format!(
                    "answered {} lookups for {} keys",
                    self.answers.len(),
                    self.misses.len()
                ),
            });
        }
        for &(i, j) in &self.miss_at {
            found(i, self.answers[j].as_deref());
        }
        for (key, row) in self.misses.iter().zip(self.answers.drain(..)) {
            self.cache.put(key, row, now);
        }
        Ok(())
    }

    /// Writes a batch's changes through: `rows` replace the rows with their keys, `deleted`
    /// keys are removed. The cache then remembers what was written; after a failure it forgets
    /// those keys (the store's state is unknown).
    pub fn write_through(
        &mut self,
        rows: &[Vec<Value>],
        deleted: &[Vec<Value>],
        now: i64,
    ) -> Result<(), StoreError> {
        let mut result = Ok(());
        if !rows.is_empty() {
            result = self.store.upsert(rows);
        }
        if result.is_ok() && !deleted.is_empty() {
            result = self.store.delete(deleted);
        }
        let ok = result.is_ok();
        for row in rows {
            let key: Vec<Value> = self.schema.key.iter().map(|&k| row[k].clone()).collect();
            if ok {
                self.cache.put(&key, Some(row.clone()), now);
            } else {
                self.cache.invalidate(&key);
            }
        }
        for key in deleted {
            if ok {
                self.cache.put(key, None, now);
            } else {
                self.cache.invalidate(key);
            }
        }
        result
    }

    /// Writes rows through to the store (and drops their cached keys).
    pub fn upsert(&mut self, rows: &[Vec<Value>]) -> Result<(), StoreError> {
        for row in rows {
            let key: Vec<Value> = self.schema.key.iter().map(|&k| row[k].clone()).collect();
            self.cache.invalidate(&key);
        }
        self.store.upsert(rows)
    }

    pub fn delete(&mut self, keys: &[Vec<Value>]) -> Result<(), StoreError> {
        for key in keys {
            self.cache.invalidate(key);
        }
        self.store.delete(keys)
    }
}

impl Cache {
    /// What the cache holds for `key` at `now`, without counting a hit or a miss or touching the entry.
    pub fn peek(&mut self, key: &[Value], now: i64) -> Cached<'_> {
        let Some(i) = self.find(key) else {
            return Cached::Unknown;
        };
        match &self.slots[i as usize] {
            Some(s) if s.expires > now => match &s.row {
                Some(r) => Cached::Row(r),
                None => Cached::Absent,
            },
            _ => Cached::Unknown,
        }
    }
}

/// Reconnect pacing for a store that went away: the first retry after 100 ms, doubling up to
/// 10 s, reset by a successful call. Wall-clock, since reachability is physical.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
    retry_at: Option<std::time::Instant>,
}

impl Backoff {
    /// Whether a (re)connect may be attempted now.
    pub fn may_try(&self) -> bool {
        self.retry_at.is_none_or(|t| std::time::Instant::now() >= t)
    }

    pub fn failed(&mut self) {
        self.failures = self.failures.saturating_add(1);
        let ms = 100u64.saturating_mul(1 << self.failures.min(7).saturating_sub(1));
        self.retry_at =
            Some(std::time::Instant::now() + std::time::Duration::from_millis(ms.min(10_000)));
    }

    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }

    /// Milliseconds until the next attempt (for error messages).
    pub fn wait_ms(&self) -> u64 {
        self.retry_at.map_or(0, |t| {
            t.saturating_duration_since(std::time::Instant::now())
                .as_millis() as u64
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(i: i64) -> Vec<Value> {
        vec![Value::Long(i)]
    }

    fn cache(policy: CachePolicy, size: usize, ttl: Option<i64>) -> Cache {
        Cache::new(CacheConfig { policy, size, ttl })
    }

    fn has(c: &mut Cache, i: i64) -> bool {
        c.peek(&k(i), 0) != Cached::Unknown
    }

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let mut c = cache(CachePolicy::Lru, 2, None);
        c.put(&k(1), Some(k(10)), 0);
        c.put(&k(2), Some(k(20)), 0);
        assert_eq!(c.get(&k(1), 0), Cached::Row(&k(10)));
        c.put(&k(3), Some(k(30)), 0);
        assert!(has(&mut c, 1) && !has(&mut c, 2) && has(&mut c, 3));
        assert_eq!(c.stats().evictions, 1);
    }

    #[test]
    fn fifo_evicts_the_oldest_insertion_even_if_used() {
        let mut c = cache(CachePolicy::Fifo, 2, None);
        c.put(&k(1), Some(k(10)), 0);
        c.put(&k(2), Some(k(20)), 0);
        c.get(&k(1), 0);
        c.put(&k(3), Some(k(30)), 0);
        assert!(!has(&mut c, 1) && has(&mut c, 2) && has(&mut c, 3));
    }

    #[test]
    fn lfu_evicts_the_least_frequently_used() {
        let mut c = cache(CachePolicy::Lfu, 2, None);
        c.put(&k(1), Some(k(10)), 0);
        c.put(&k(2), Some(k(20)), 0);
        c.get(&k(2), 0);
        c.get(&k(2), 0);
        c.get(&k(1), 0);
        c.put(&k(3), Some(k(30)), 0);
        assert!(!has(&mut c, 1) && has(&mut c, 2) && has(&mut c, 3));
    }

    #[test]
    fn entries_expire_after_the_ttl_on_the_engine_clock() {
        let mut c = cache(CachePolicy::Lru, 10, Some(1_000));
        c.put(&k(1), Some(k(10)), 5_000);
        assert_eq!(c.get(&k(1), 5_999), Cached::Row(&k(10)));
        assert_eq!(c.get(&k(1), 6_000), Cached::Unknown);
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.expirations, s.entries), (1, 1, 1, 0));
    }

    #[test]
    fn misses_are_cached_too() {
        let mut c = cache(CachePolicy::Lru, 10, Some(1_000));
        c.put(&k(7), None, 0);
        assert_eq!(c.get(&k(7), 10), Cached::Absent);
        assert_eq!(c.get(&k(7), 1_000), Cached::Unknown);
    }

    #[test]
    fn size_zero_caches_nothing() {
        let mut c = cache(CachePolicy::Lru, 0, None);
        c.put(&k(1), Some(k(10)), 0);
        assert_eq!(c.get(&k(1), 0), Cached::Unknown);
    }

    /// A store that records its calls.
    struct Recording {
        rows: FxHashMap<i64, Vec<Value>>,
        calls: std::sync::Arc<std::sync::Mutex<Vec<usize>>>,
        down: bool,
    }

    impl ExternalStore for Recording {
        fn lookup(
            &mut self,
            keys: &[Vec<Value>],
            out: &mut Vec<Option<Vec<Value>>>,
        ) -> Result<(), StoreError> {
            if self.down {
                return Err(StoreError::Unavailable {
                    store: "test".into(),
                    reason: "down".into(),
                });
            }
            self.calls.lock().unwrap().push(keys.len());
            for key in keys {
                let id = key[0].as_i64().unwrap_or(-1);
                out.push(self.rows.get(&id).cloned());
            }
            Ok(())
        }
        fn upsert(&mut self, rows: &[Vec<Value>]) -> Result<(), StoreError> {
            for r in rows {
                self.rows.insert(r[0].as_i64().unwrap_or(-1), r.clone());
            }
            Ok(())
        }
        fn delete(&mut self, keys: &[Vec<Value>]) -> Result<(), StoreError> {
            for key in keys {
                self.rows.remove(&key[0].as_i64().unwrap_or(-1));
            }
            Ok(())
        }
        fn scan(&mut self, limit: usize) -> Result<Vec<Vec<Value>>, StoreError> {
            Ok(self.rows.values().take(limit).cloned().collect())
        }
    }

    fn store(down: bool) -> (CachedStore, std::sync::Arc<std::sync::Mutex<Vec<usize>>>) {
        let calls = std::sync::Arc::default();
        let mut rows = FxHashMap::default();
        rows.insert(1, vec![Value::Long(1), Value::string("one")]);
        rows.insert(2, vec![Value::Long(2), Value::string("two")]);
        let s = CachedStore::new(
            Box::new(Recording {
                rows,
                calls: std::sync::Arc::clone(&calls),
                down,
            }),
            StoreSchema {
                table: "T".into(),
                columns: vec![("id".into(), Type::Long), ("name".into(), Type::String)],
                key: vec![0],
            },
            CacheConfig {
                policy: CachePolicy::Lru,
                size: 100,
                ttl: None,
            },
        );
        (s, calls)
    }

    #[test]
    fn one_store_call_per_batch_for_the_misses_in_order() {
        let (mut s, calls) = store(false);
        let mut out = Vec::new();
        s.lookup(&[k(2), k(9), k(1), k(2)], 0, &mut out).unwrap();
        assert_eq!(
            out,
            vec![
                Some(vec![Value::Long(2), Value::string("two")]),
                None,
                Some(vec![Value::Long(1), Value::string("one")]),
                Some(vec![Value::Long(2), Value::string("two")]),
            ]
        );
        assert_eq!(
            *calls.lock().unwrap(),
            vec![3],
            "three distinct misses, one call"
        );
        s.lookup(&[k(1), k(9)], 0, &mut out).unwrap();
        assert_eq!(
            calls.lock().unwrap().len(),
            1,
            "hits and the cached miss: no call"
        );
        assert_eq!(s.cache.stats().hits, 2);
    }

    #[test]
    fn writes_go_through_and_invalidate() {
        let (mut s, _) = store(false);
        let mut out = Vec::new();
        s.lookup(&[k(1)], 0, &mut out).unwrap();
        s.upsert(&[vec![Value::Long(1), Value::string("uno")]])
            .unwrap();
        s.lookup(&[k(1)], 0, &mut out).unwrap();
        assert_eq!(out, vec![Some(vec![Value::Long(1), Value::string("uno")])]);
        s.delete(&[k(1)]).unwrap();
        s.lookup(&[k(1)], 0, &mut out).unwrap();
        assert_eq!(out, vec![None]);
    }

    #[test]
    fn a_down_store_fails_the_batch_and_caches_nothing() {
        let (mut s, _) = store(true);
        let mut out = Vec::new();
        let e = s.lookup(&[k(1)], 0, &mut out).unwrap_err();
        assert!(e.to_string().contains("test is unavailable: down"), "{e}");
        assert_eq!(s.cache.stats().entries, 0);
    }

    #[test]
    fn preload_fills_the_cache_when_the_table_fits() {
        let (mut s, calls) = store(false);
        assert_eq!(s.preload(0).unwrap(), Some(2));
        let mut out = Vec::new();
        s.lookup(&[k(1), k(2)], 0, &mut out).unwrap();
        assert!(calls.lock().unwrap().is_empty());
    }
}
