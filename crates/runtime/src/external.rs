//! Tables kept outside the engine (§4: `extension = 'postgres' | 'mysql' | 'redis'`): the
//! [`ExternalStore`] interface the connectors implement, and the cache settings. The runtime
//! only sees this interface; the `eventflux` crate opens stores through the connectors, so
//! lower crates never depend on client libraries. The cache itself is the external table's
//! in-engine rows (see `external_table`).

use crate::value::Value;
use eventflux_planner::types::Type;

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
