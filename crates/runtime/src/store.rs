//! Row storage shared by in-memory tables (§4) and the retained rows of join sides (§9).
//!
//! Everything here is plain data (values, slot numbers, hash maps of keys): no closures, so the
//! state can be serialised later. Rows live in a slab (`RowStore`) threaded by an
//! insertion-order list, so inserting, removing and visiting by slot are O(1) and scans visit
//! rows in insertion order. Hash keys are normalised by family (integers as LONG, floating
//! numbers as DOUBLE), so `INT = LONG` equalities hit the same key.

use crate::value::{KeyValue, Value};
use eventflux_planner::join::TableIndex;
use eventflux_planner::plan::TablePlan;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

const NIL: u32 = u32::MAX;

/// The hash-key form of a value: INT → LONG, FLOAT → DOUBLE, others unchanged.
#[inline]
pub fn key_value(v: &Value) -> KeyValue {
    match v {
        Value::Int(x) => KeyValue(Value::Long(*x as i64)),
        Value::Float(x) => KeyValue(Value::Double(*x as f64)),
        other => KeyValue(other.clone()),
    }
}

/// [`key_value`] of an owned value (no clone).
#[inline]
pub fn key_of_value(v: Value) -> KeyValue {
    match v {
        Value::Int(x) => KeyValue(Value::Long(x as i64)),
        Value::Float(x) => KeyValue(Value::Double(x as f64)),
        other => KeyValue(other),
    }
}

/// Whether a key can match anything (SQL: NULL equals nothing).
#[inline]
pub fn key_is_null(key: &[KeyValue]) -> bool {
    key.iter().any(|k| k.0.is_null())
}

/// A hash map from keys to `V`. Single-column keys (the common case) are stored inline, so a
/// lookup does not follow a pointer to a boxed key.
#[derive(Debug, Clone)]
pub enum KeyMap<V> {
    One(FxHashMap<KeyValue, V>),
    Many(FxHashMap<Box<[KeyValue]>, V>),
}

impl<V> KeyMap<V> {
    pub fn new(width: usize) -> KeyMap<V> {
        if width == 1 {
            KeyMap::One(FxHashMap::default())
        } else {
            KeyMap::Many(FxHashMap::default())
        }
    }

    #[inline]
    pub fn get(&self, key: &[KeyValue]) -> Option<&V> {
        match (self, key) {
            (KeyMap::One(m), [k]) => m.get(k),
            (KeyMap::Many(m), _) => m.get(key),
            _ => None,
        }
    }

    #[inline]
    pub fn get_mut(&mut self, key: &[KeyValue]) -> Option<&mut V> {
        match (self, key) {
            (KeyMap::One(m), [k]) => m.get_mut(k),
            (KeyMap::Many(m), _) => m.get_mut(key),
            _ => None,
        }
    }

    pub fn insert(&mut self, key: &[KeyValue], v: V) {
        match (self, key) {
            (KeyMap::One(m), [k]) => {
                m.insert(k.clone(), v);
            }
            (KeyMap::Many(m), _) => {
                m.insert(key.to_vec().into_boxed_slice(), v);
            }
            _ => {}
        }
    }

    pub fn remove(&mut self, key: &[KeyValue]) -> Option<V> {
        match (self, key) {
            (KeyMap::One(m), [k]) => m.remove(k),
            (KeyMap::Many(m), _) => m.remove(key),
            _ => None,
        }
    }

    pub fn contains_key(&self, key: &[KeyValue]) -> bool {
        self.get(key).is_some()
    }

    pub fn len(&self) -> usize {
        match self {
            KeyMap::One(m) => m.len(),
            KeyMap::Many(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        match self {
            KeyMap::One(m) => m.clear(),
            KeyMap::Many(m) => m.clear(),
        }
    }

    pub fn retain(&mut self, mut f: impl FnMut(&V) -> bool) {
        match self {
            KeyMap::One(m) => m.retain(|_, v| f(v)),
            KeyMap::Many(m) => m.retain(|_, v| f(v)),
        }
    }
}

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap::new(1)
    }
}

/// Rows in a slab, in insertion order.
#[derive(Debug, Clone, Default)]
pub struct RowStore {
    arity: usize,
    values: Vec<Value>,
    ts: Vec<i64>,
    /// Insertion number of the row in each slot (scan order).
    seq: Vec<u64>,
    prev: Vec<u32>,
    next: Vec<u32>,
    live: Vec<bool>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
    len: usize,
    next_seq: u64,
}

impl RowStore {
    pub fn new(arity: usize) -> RowStore {
        RowStore {
            arity,
            head: NIL,
            tail: NIL,
            ..RowStore::default()
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a row at the end of the order; returns its slot.
    pub fn insert(&mut self, ts: i64, row: &[Value]) -> u32 {
        debug_assert_eq!(row.len(), self.arity);
        let slot = match self.free.pop() {
            Some(s) => {
                let base = s as usize * self.arity;
                self.values[base..base + self.arity].clone_from_slice(row);
                s
            }
            None => {
                let s = self.live.len() as u32;
                self.values.extend_from_slice(row);
                self.ts.push(0);
                self.seq.push(0);
                self.prev.push(NIL);
                self.next.push(NIL);
                self.live.push(false);
                s
            }
        };
        let i = slot as usize;
        self.ts[i] = ts;
        self.seq[i] = self.next_seq;
        self.next_seq += 1;
        self.live[i] = true;
        self.prev[i] = self.tail;
        self.next[i] = NIL;
        if self.tail != NIL {
            self.next[self.tail as usize] = slot;
        } else {
            self.head = slot;
        }
        self.tail = slot;
        self.len += 1;
        slot
    }

    /// Removes a live row (its values are dropped now, so shared strings are released).
    pub fn remove(&mut self, slot: u32) {
        let i = slot as usize;
        if !self.live.get(i).copied().unwrap_or(false) {
            return;
        }
        self.unlink(slot);
        self.live[i] = false;
        for v in &mut self.values[i * self.arity..(i + 1) * self.arity] {
            *v = Value::Null;
        }
        self.free.push(slot);
        self.len -= 1;
    }

    pub fn is_live(&self, slot: u32) -> bool {
        self.live.get(slot as usize).copied().unwrap_or(false)
    }

    pub fn row(&self, slot: u32) -> &[Value] {
        let i = slot as usize * self.arity;
        &self.values[i..i + self.arity]
    }

    pub fn row_mut(&mut self, slot: u32) -> &mut [Value] {
        let i = slot as usize * self.arity;
        &mut self.values[i..i + self.arity]
    }

    pub fn ts(&self, slot: u32) -> i64 {
        self.ts[slot as usize]
    }

    pub fn seq(&self, slot: u32) -> u64 {
        self.seq[slot as usize]
    }

    /// The oldest row.
    pub fn front(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// Takes a slot out of the order list.
    fn unlink(&mut self, slot: u32) {
        let i = slot as usize;
        let (p, n) = (self.prev[i], self.next[i]);
        if p != NIL {
            self.next[p as usize] = n;
        } else {
            self.head = n;
        }
        if n != NIL {
            self.prev[n as usize] = p;
        } else {
            self.tail = p;
        }
    }

    /// Moves a live row to the end of the order.
    pub fn move_to_back(&mut self, slot: u32) {
        let i = slot as usize;
        if !self.live.get(i).copied().unwrap_or(false) || self.tail == slot {
            return;
        }
        self.unlink(slot);
        self.prev[i] = self.tail;
        self.next[i] = NIL;
        self.next[self.tail as usize] = slot;
        self.tail = slot;
    }

    /// Slots in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let mut cur = self.head;
        std::iter::from_fn(move || {
            if cur == NIL {
                return None;
            }
            let s = cur;
            cur = self.next[s as usize];
            Some(s)
        })
    }

    /// Removes every row, keeping the allocated capacity.
    pub fn clear(&mut self) {
        self.values.clear();
        self.ts.clear();
        self.seq.clear();
        self.prev.clear();
        self.next.clear();
        self.live.clear();
        self.free.clear();
        self.head = NIL;
        self.tail = NIL;
        self.len = 0;
    }
}

/// Hints the CPU to load the cache line at `p` (never dereferenced here).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is only a hint and never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Prefetches a row's values: its first and last cache lines (a row of three or more values
/// spans two).
#[inline(always)]
fn prefetch_values(row: &[Value]) {
    prefetch(row.as_ptr());
    if let Some(last) = row.last() {
        prefetch(last as *const Value);
    }
}

/// A well-mixed hash of a key value (Fx, then a final avalanche so that every bit of the
/// result depends on every bit of the key).
#[inline]
fn hash_key(k: &KeyValue) -> u64 {
    use std::hash::BuildHasher;
    let mut h = rustc_hash::FxBuildHasher.hash_one(k);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

const FREE: u32 = u32::MAX;

/// A unique hash index over one attribute of the rows of a [`RowStore`]: open addressing with
/// linear probing; an entry is only `(hash, slot)` — the key is read from the row. Compact, and
/// its buckets can be prefetched, so a batch of lookups overlaps its cache misses.
#[derive(Debug, Clone, Default)]
struct SlotIndex {
    col: usize,
    entries: Vec<(u64, u32)>,
    len: usize,
}

impl SlotIndex {
    fn new(col: usize) -> SlotIndex {
        SlotIndex {
            col,
            entries: vec![(0, FREE); 16],
            len: 0,
        }
    }

    fn mask(&self) -> usize {
        self.entries.len() - 1
    }

    fn matches(&self, rows: &RowStore, slot: u32, key: &KeyValue) -> bool {
        *key_ref(&rows.row(slot)[self.col]) == *key
    }

    fn get(&self, rows: &RowStore, key: &KeyValue) -> Option<u32> {
        self.get_hashed(rows, key, hash_key(key))
    }

    fn get_hashed(&self, rows: &RowStore, key: &KeyValue, h: u64) -> Option<u32> {
        let mut i = h as usize & self.mask();
        loop {
            let (eh, slot) = self.entries[i];
            if slot == FREE {
                return None;
            }
            if eh == h && self.matches(rows, slot, key) {
                return Some(slot);
            }
            i = (i + 1) & self.mask();
        }
    }

    /// The first slot whose entry has hash `h` (the caller checks the key).
    fn candidate(&self, h: u64) -> Option<u32> {
        let mut i = h as usize & self.mask();
        loop {
            let (eh, slot) = self.entries[i];
            if slot == FREE {
                return None;
            }
            if eh == h {
                return Some(slot);
            }
            i = (i + 1) & self.mask();
        }
    }

    fn prefetch(&self, h: u64) {
        prefetch(&self.entries[h as usize & self.mask()]);
    }

    /// Adds `slot` under `key` (not present yet).
    fn insert(&mut self, key: &KeyValue, slot: u32) {
        if (self.len + 1) * 2 > self.entries.len() {
            let doubled = vec![(0, FREE); self.entries.len() * 2];
            let old = std::mem::replace(&mut self.entries, doubled);
            for (h, s) in old {
                if s != FREE {
                    self.place(h, s);
                }
            }
        }
        self.place(hash_key(key), slot);
        self.len += 1;
    }

    fn place(&mut self, h: u64, slot: u32) {
        let mut i = h as usize & self.mask();
        while self.entries[i].1 != FREE {
            i = (i + 1) & self.mask();
        }
        self.entries[i] = (h, slot);
    }

    /// Removes the entry of `slot` (keyed `key`), shifting later entries of the probe run back.
    fn remove(&mut self, key: &KeyValue, slot: u32) {
        let h = hash_key(key);
        let mask = self.mask();
        let mut i = h as usize & mask;
        loop {
            let (_, s) = self.entries[i];
            if s == FREE {
                return;
            }
            if s == slot {
                break;
            }
            i = (i + 1) & mask;
        }
        self.len -= 1;
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let (eh, s) = self.entries[j];
            if s == FREE {
                break;
            }
            let home = eh as usize & mask;
            // Move the entry into the hole unless its home lies cyclically in (hole, j].
            let stays = if hole <= j {
                home > hole && home <= j
            } else {
                home > hole || home <= j
            };
            if !stays {
                self.entries[hole] = self.entries[j];
                hole = j;
            }
        }
        self.entries[hole] = (0, FREE);
    }
}

/// The primary-key index of a table: compact open addressing for a one-attribute key, a map of
/// key tuples otherwise.
#[derive(Debug, Clone)]
enum PkIndex {
    None,
    One(SlotIndex),
    Many(KeyMap<u32>),
}

impl PkIndex {
    fn get(&self, rows: &RowStore, key: &[KeyValue]) -> Option<u32> {
        match (self, key) {
            (PkIndex::One(ix), [k]) => ix.get(rows, k),
            (PkIndex::Many(m), _) => m.get(key).copied(),
            _ => None,
        }
    }

    fn insert(&mut self, key: &[KeyValue], slot: u32) {
        match (self, key) {
            (PkIndex::One(ix), [k]) => ix.insert(k, slot),
            (PkIndex::Many(m), _) => m.insert(key, slot),
            _ => {}
        }
    }

    fn remove(&mut self, rows: &RowStore, key: &[KeyValue], slot: u32) {
        if self.get(rows, key) != Some(slot) {
            return;
        }
        match (self, key) {
            (PkIndex::One(ix), [k]) => ix.remove(k, slot),
            (PkIndex::Many(m), _) => {
                m.remove(key);
            }
            _ => {}
        }
    }
}

/// Builds the key of `row` over `cols` into `buf`.
fn key_of(row: &[Value], cols: &[usize], buf: &mut Vec<KeyValue>) {
    buf.clear();
    buf.extend(cols.iter().map(|&c| key_value(&row[c])));
}

/// An in-memory table: rows in insertion order, a unique hash index on the primary key and
/// non-unique hash indexes on the INDEX columns.
#[derive(Debug)]
pub struct TableStore {
    pub name: String,
    rows: RowStore,
    pub(crate) pk: Vec<usize>,
    pk_map: PkIndex,
    /// (columns, key → slots in the order they entered the bucket)
    indexes: Vec<(Vec<usize>, KeyMap<Vec<u32>>)>,
    max_size: Option<usize>,
    key: Vec<KeyValue>,
    /// Set for a table kept in an external store: the rows here are then only the current
    /// batch's view of it (see `external_table`).
    pub(crate) external: Option<Box<crate::external_table::ExternalTable>>,
}

impl TableStore {
    pub fn new(plan: &TablePlan) -> TableStore {
        TableStore {
            name: plan.name.clone(),
            rows: RowStore::new(plan.schema.len()),
            pk: plan.primary_key.clone(),
            pk_map: match plan.primary_key.as_slice() {
                [] => PkIndex::None,
                [c] => PkIndex::One(SlotIndex::new(*c)),
                _ => PkIndex::Many(KeyMap::new(plan.primary_key.len())),
            },
            indexes: plan
                .indexes
                .iter()
                .map(|cols| (cols.clone(), KeyMap::new(cols.len())))
                .collect(),
            max_size: plan.max_size,
            key: Vec::new(),
            external: None,
        }
    }

    /// A table kept in an external store.
    pub fn with_external(
        plan: &TablePlan,
        external: crate::external_table::ExternalTable,
    ) -> TableStore {
        TableStore {
            external: Some(Box::new(external)),
            ..TableStore::new(plan)
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Columns per row.
    pub fn arity(&self) -> usize {
        self.rows.arity
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn row(&self, slot: u32) -> &[Value] {
        self.rows.row(slot)
    }

    pub fn is_live(&self, slot: u32) -> bool {
        self.rows.is_live(slot)
    }

    /// Every row, in insertion order.
    pub fn scan(&self, out: &mut Vec<u32>) {
        out.clear();
        out.extend(self.rows.iter());
    }

    /// Inserts a row; a row with the same primary key is replaced in place (it keeps its
    /// position in scans). A bounded (`cache`) table evicts its oldest row when full.
    pub fn insert(&mut self, row: &[Value]) {
        self.insert_slot(row);
    }

    /// [`Self::insert`], returning the row's slot.
    pub(crate) fn insert_slot(&mut self, row: &[Value]) -> u32 {
        if !self.pk.is_empty() {
            let mut key = std::mem::take(&mut self.key);
            key_of(row, &self.pk, &mut key);
            let existing = self.pk_map.get(&self.rows, &key);
            self.key = key;
            if let Some(slot) = existing {
                self.update(slot, row);
                return slot;
            }
        }
        if let Some(max) = self.max_size {
            while self.rows.len() >= max {
                match self.rows.front() {
                    Some(oldest) => self.remove(oldest),
                    None => break,
                }
            }
        }
        let slot = self.rows.insert(0, row);
        self.add_keys(slot);
        slot
    }

    /// The oldest row (insertion order; external tables: eviction order).
    pub(crate) fn front(&self) -> Option<u32> {
        self.rows.front()
    }

    /// Moves a row to the end of the order (a second chance before eviction).
    pub(crate) fn move_to_back(&mut self, slot: u32) {
        self.rows.move_to_back(slot);
    }

    /// The slot of the row with this primary key (hash-key form).
    pub(crate) fn slot_of(&self, key: &[KeyValue]) -> Option<u32> {
        self.pk_map.get(&self.rows, key)
    }

    fn add_keys(&mut self, slot: u32) {
        let mut key = std::mem::take(&mut self.key);
        if let Some(ext) = self.external.as_deref_mut() {
            ext.wrote(&self.pk, self.rows.row(slot));
        }
        if !self.pk.is_empty() {
            key_of(self.rows.row(slot), &self.pk, &mut key);
            self.pk_map.insert(&key, slot);
        }
        for (cols, map) in &mut self.indexes {
            key_of(self.rows.row(slot), cols, &mut key);
            match map.get_mut(&key[..]) {
                Some(bucket) => bucket.push(slot),
                None => map.insert(&key, vec![slot]),
            }
        }
        self.key = key;
    }

    fn drop_keys(&mut self, slot: u32) {
        let mut key = std::mem::take(&mut self.key);
        if let Some(ext) = self.external.as_deref_mut() {
            ext.wrote(&self.pk, self.rows.row(slot));
        }
        if !self.pk.is_empty() {
            key_of(self.rows.row(slot), &self.pk, &mut key);
            self.pk_map.remove(&self.rows, &key, slot);
        }
        for (cols, map) in &mut self.indexes {
            key_of(self.rows.row(slot), cols, &mut key);
            if let Some(bucket) = map.get_mut(&key[..]) {
                if let Some(p) = bucket.iter().position(|&s| s == slot) {
                    bucket.remove(p);
                }
                if bucket.is_empty() {
                    map.remove(&key[..]);
                }
            }
        }
        self.key = key;
    }

    pub fn remove(&mut self, slot: u32) {
        if !self.rows.is_live(slot) {
            return;
        }
        self.drop_keys(slot);
        self.rows.remove(slot);
    }

    /// Replaces the values of a row. When the primary key changes and another row has the new
    /// key, that other row is removed (the updated row replaces it).
    pub fn update(&mut self, slot: u32, row: &[Value]) {
        if !self.rows.is_live(slot) {
            return;
        }
        self.drop_keys(slot);
        if !self.pk.is_empty() {
            let mut key = std::mem::take(&mut self.key);
            key_of(row, &self.pk, &mut key);
            let clash = self.pk_map.get(&self.rows, &key);
            self.key = key;
            if let Some(other) = clash.filter(|&o| o != slot) {
                self.remove(other);
            }
        }
        self.rows.row_mut(slot).clone_from_slice(row);
        self.add_keys(slot);
    }

    /// Rows whose index columns equal `key` (already in hash-key form), in insertion order.
    pub fn lookup(&self, index: TableIndex, key: &[KeyValue], out: &mut Vec<u32>) {
        out.clear();
        if key_is_null(key) {
            return;
        }
        match index {
            TableIndex::PrimaryKey => out.extend(self.pk_map.get(&self.rows, key)),
            TableIndex::Secondary(i) => {
                if let Some(bucket) = self.indexes.get(i).and_then(|(_, m)| m.get(key)) {
                    out.extend_from_slice(bucket);
                    if out.len() > 1 {
                        // Updates move rows between buckets: restore insertion order.
                        out.sort_by_key(|&s| self.rows.seq(s));
                    }
                }
            }
        }
    }

    /// Like [`Self::lookup`], appending to `out`.
    pub fn lookup_append(&self, index: TableIndex, key: &[KeyValue], out: &mut Vec<u32>) {
        if key_is_null(key) {
            return;
        }
        let start = out.len();
        match index {
            TableIndex::PrimaryKey => out.extend(self.pk_map.get(&self.rows, key)),
            TableIndex::Secondary(i) => {
                if let Some(bucket) = self.indexes.get(i).and_then(|(_, m)| m.get(key)) {
                    out.extend_from_slice(bucket);
                    if out.len() - start > 1 {
                        out[start..].sort_by_key(|&s| self.rows.seq(s));
                    }
                }
            }
        }
    }

    /// Asks the CPU to start loading a row and the strings it points to, so that lookups of a
    /// whole batch overlap their memory latency instead of paying it one after the other.
    pub fn prefetch_row(&self, slot: u32) {
        prefetch_values(self.rows.row(slot));
    }

    pub fn prefetch_strings(&self, slot: u32) {
        for v in self.rows.row(slot) {
            if let Value::String(s) = v {
                // The reference counts sit just before the text.
                prefetch(s.as_ptr().wrapping_sub(16));
            }
        }
    }

    /// Whether a row has this single-column primary key (`x IN Table`).
    pub fn contains_key(&self, key: &KeyValue) -> bool {
        match &self.pk_map {
            PkIndex::One(ix) => ix.get(&self.rows, key).is_some(),
            _ => false,
        }
    }

    /// Looks up `keys` (`width` values each) in `index`, appending each key's matches to
    /// `slots` and its range of `slots` to `ranges`. Primary-key lookups of a one-attribute key
    /// are pipelined: every bucket is prefetched, then every candidate row, and only then are
    /// keys compared — the cache misses of the batch overlap.
    pub fn lookup_many(
        &self,
        index: TableIndex,
        keys: &[KeyValue],
        width: usize,
        ranges: &mut Vec<(u32, u32)>,
        slots: &mut Vec<u32>,
        hashes: &mut Vec<u64>,
    ) {
        let (TableIndex::PrimaryKey, PkIndex::One(ix), 1) = (index, &self.pk_map, width) else {
            for key in keys.chunks_exact(width.max(1)) {
                let from = slots.len() as u32;
                self.lookup_append(index, key, slots);
                ranges.push((from, slots.len() as u32));
            }
            return;
        };
        // Software pipelining: a bucket is requested AHEAD keys before it is probed (a
        // processor keeps only a few dozen misses in flight, so requesting all at once would
        // lose most), and each candidate row is requested as soon as its slot is known.
        const AHEAD: usize = 16;
        hashes.clear();
        hashes.extend(keys.iter().map(hash_key));
        for &h in hashes.iter().take(AHEAD) {
            ix.prefetch(h);
        }
        let base = slots.len();
        for (i, (k, &h)) in keys.iter().zip(hashes.iter()).enumerate() {
            if let Some(&ahead) = hashes.get(i + AHEAD) {
                ix.prefetch(ahead);
            }
            let c = if k.0.is_null() { None } else { ix.candidate(h) };
            slots.push(c.unwrap_or(FREE));
            if let Some(s) = c {
                prefetch_values(self.rows.row(s));
            }
        }
        for (i, (k, &h)) in keys.iter().zip(hashes.iter()).enumerate() {
            let s = slots[base + i];
            if s != FREE && !ix.matches(&self.rows, s, k) {
                // Another key with the same 64-bit hash came first in the probe run.
                slots[base + i] = ix.get_hashed(&self.rows, k, h).unwrap_or(FREE);
            }
        }
        // Compact: one range per key, empty when nothing matched.
        let mut w = base;
        for i in base..slots.len() {
            let s = slots[i];
            let from = w as u32;
            if s != FREE {
                slots[w] = s;
                w += 1;
            }
            ranges.push((from, w as u32));
        }
        slots.truncate(w);
    }
}

/// The rows a join side retains (its window's contents), in arrival order, hash-indexed by the
/// key the join probes it with.
///
/// When the key is one attribute of the row (`key_col`), keys are read from the stored rows and
/// looked up by reference: no key values are copied per event.
#[derive(Debug, Clone, Default)]
pub struct JoinBuffer {
    rows: RowStore,
    key_width: usize,
    key_col: Option<usize>,
    /// The key of the row in each slot (`key_width` values per slot), unless `key_col` is set.
    keys: Vec<KeyValue>,
    index: KeyMap<VecDeque<u32>>,
    /// Buckets left empty (kept to avoid re-allocating them for recurring keys; pruned when
    /// they outnumber the rows).
    empty_buckets: usize,
    scratch: Vec<KeyValue>,
}

/// A value as a hash key without copying it, when it needs no normalisation.
#[inline]
fn key_ref(v: &Value) -> std::borrow::Cow<'_, KeyValue> {
    match v {
        Value::Int(_) | Value::Float(_) => std::borrow::Cow::Owned(key_value(v)),
        other => std::borrow::Cow::Borrowed(KeyValue::from_ref(other)),
    }
}

impl JoinBuffer {
    /// `key_width` computed key values per row, or (`key_col`) the row's attribute `c`.
    pub fn new(arity: usize, key_width: usize, key_col: Option<usize>) -> JoinBuffer {
        let key_width = if key_col.is_some() { 1 } else { key_width };
        JoinBuffer {
            rows: RowStore::new(arity),
            key_width,
            key_col,
            index: KeyMap::new(key_width),
            ..JoinBuffer::default()
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn is_indexed(&self) -> bool {
        self.key_width > 0
    }

    /// The attribute the rows are keyed by, when the key is one attribute.
    pub fn key_col(&self) -> Option<usize> {
        self.key_col
    }

    pub fn row(&self, slot: u32) -> &[Value] {
        self.rows.row(slot)
    }

    pub fn ts(&self, slot: u32) -> i64 {
        self.rows.ts(slot)
    }

    pub fn front(&self) -> Option<u32> {
        self.rows.front()
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.rows.iter()
    }

    fn bucket_mut(&mut self, slot: u32) -> Option<&mut VecDeque<u32>> {
        match self.key_col {
            Some(c) => {
                // Borrowed from the stored row: no copy of the key.
                let k = key_ref(&self.rows.row(slot)[c]);
                match &mut self.index {
                    KeyMap::One(m) => m.get_mut(&*k),
                    KeyMap::Many(_) => None,
                }
            }
            None => {
                let base = slot as usize * self.key_width;
                self.index.get_mut(&self.keys[base..base + self.key_width])
            }
        }
    }

    /// Retains a row; `key` (hash-key form) is ignored when the buffer reads keys from rows.
    pub fn insert(&mut self, ts: i64, row: &[Value], key: &[KeyValue]) -> u32 {
        let slot = self.rows.insert(ts, row);
        if self.key_width == 0 {
            return slot;
        }
        if self.key_col.is_none() {
            let base = slot as usize * self.key_width;
            if self.keys.len() < base + self.key_width {
                self.keys
                    .resize(base + self.key_width, KeyValue(Value::Null));
            }
            self.keys[base..base + self.key_width].clone_from_slice(key);
        }
        match self.bucket_mut(slot) {
            Some(bucket) => {
                let was_empty = bucket.is_empty();
                bucket.push_back(slot);
                if was_empty {
                    self.empty_buckets -= 1;
                }
            }
            None => {
                let mut bucket = VecDeque::with_capacity(4);
                bucket.push_back(slot);
                match self.key_col {
                    Some(c) => {
                        let k = key_value(&self.rows.row(slot)[c]);
                        self.index.insert(std::slice::from_ref(&k), bucket);
                    }
                    None => self.index.insert(key, bucket),
                }
            }
        }
        slot
    }

    pub fn remove(&mut self, slot: u32) {
        if !self.rows.is_live(slot) {
            return;
        }
        if self.key_width > 0 {
            let mut emptied = false;
            if let Some(bucket) = self.bucket_mut(slot) {
                if bucket.front() == Some(&slot) {
                    bucket.pop_front();
                } else if let Some(p) = bucket.iter().position(|&s| s == slot) {
                    bucket.remove(p);
                }
                emptied = bucket.is_empty();
            }
            if emptied {
                self.empty_buckets += 1;
            }
            if self.key_col.is_none() {
                let base = slot as usize * self.key_width;
                for k in &mut self.keys[base..base + self.key_width] {
                    *k = KeyValue(Value::Null);
                }
            }
        }
        self.rows.remove(slot);
        if self.empty_buckets > 1024 && self.empty_buckets > self.rows.len() {
            self.index.retain(|b| !b.is_empty());
            self.empty_buckets = 0;
        }
    }

    /// Removes the oldest retained row equal to `row` (a row its window expired); true if found.
    pub fn remove_matching(&mut self, row: &[Value]) -> bool {
        let same = |a: &[Value]| {
            a.iter()
                .zip(row)
                .all(|(x, y)| KeyValue::from_ref(x) == KeyValue::from_ref(y))
        };
        // Windows mostly expire their oldest row.
        let found = match self.rows.front() {
            Some(f) if same(self.rows.row(f)) => Some(f),
            _ => self.rows.iter().find(|&s| same(self.rows.row(s))),
        };
        match found {
            Some(s) => {
                self.remove(s);
                true
            }
            None => false,
        }
    }

    /// Rows whose key equals `key` (hash-key form), oldest first.
    pub fn lookup(&self, key: &[KeyValue]) -> impl Iterator<Item = u32> + '_ {
        let bucket = if key_is_null(key) {
            None
        } else {
            self.index.get(key)
        };
        bucket.into_iter().flat_map(|b| b.iter().copied())
    }

    /// Rows whose (single-value) key equals `v`, oldest first, without copying `v`.
    pub fn lookup_value(&self, v: &Value) -> impl Iterator<Item = u32> + '_ {
        let bucket = match (&self.index, v) {
            (_, Value::Null) => None,
            (KeyMap::One(m), v) => m.get(&*key_ref(v)),
            (KeyMap::Many(_), _) => None,
        };
        bucket.into_iter().flat_map(|b| b.iter().copied())
    }

    /// Scratch space for building keys without allocating.
    pub fn take_scratch(&mut self) -> Vec<KeyValue> {
        std::mem::take(&mut self.scratch)
    }

    pub fn put_scratch(&mut self, s: Vec<KeyValue>) {
        self.scratch = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventflux_planner::plan::{Attribute, Schema};
    use eventflux_planner::types::Type;

    fn table(pk: Vec<usize>, indexes: Vec<Vec<usize>>, max: Option<usize>) -> TableStore {
        TableStore::new(&TablePlan {
            name: "T".into(),
            schema: Schema {
                attributes: vec![
                    Attribute {
                        name: "id".into(),
                        ty: Type::Int,
                    },
                    Attribute {
                        name: "v".into(),
                        ty: Type::String,
                    },
                ],
            },
            primary_key: pk,
            indexes,
            max_size: max,
            store: None,
            span: Default::default(),
        })
    }

    fn rows(t: &TableStore) -> Vec<Vec<Value>> {
        let mut s = Vec::new();
        t.scan(&mut s);
        s.iter().map(|&x| t.row(x).to_vec()).collect()
    }

    #[test]
    fn primary_key_replaces_in_place() {
        let mut t = table(vec![0], vec![vec![1]], None);
        t.insert(&[Value::Int(1), Value::from("a")]);
        t.insert(&[Value::Int(2), Value::from("b")]);
        t.insert(&[Value::Int(1), Value::from("c")]);
        assert_eq!(
            rows(&t),
            vec![
                vec![Value::Int(1), Value::from("c")],
                vec![Value::Int(2), Value::from("b")]
            ]
        );
        // INT keys are found with LONG probes.
        assert!(t.contains_key(&key_value(&Value::Long(2))));
        let mut out = Vec::new();
        t.lookup(
            TableIndex::Secondary(0),
            &[key_value(&Value::from("a"))],
            &mut out,
        );
        assert!(out.is_empty());
        t.lookup(
            TableIndex::Secondary(0),
            &[key_value(&Value::from("c"))],
            &mut out,
        );
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn update_onto_another_key_replaces_it() {
        let mut t = table(vec![0], vec![], None);
        t.insert(&[Value::Int(1), Value::from("a")]);
        t.insert(&[Value::Int(2), Value::from("b")]);
        let mut s = Vec::new();
        t.lookup(TableIndex::PrimaryKey, &[key_value(&Value::Int(1))], &mut s);
        t.update(s[0], &[Value::Int(2), Value::from("a2")]);
        assert_eq!(rows(&t), vec![vec![Value::Int(2), Value::from("a2")]]);
        assert!(!t.contains_key(&key_value(&Value::Int(1))));
    }

    #[test]
    fn cache_evicts_oldest() {
        let mut t = table(vec![], vec![], Some(2));
        for i in 0..4 {
            t.insert(&[Value::Int(i), Value::Null]);
        }
        assert_eq!(
            rows(&t),
            vec![
                vec![Value::Int(2), Value::Null],
                vec![Value::Int(3), Value::Null]
            ]
        );
    }

    #[test]
    fn join_buffer_index_follows_removals() {
        let mut b = JoinBuffer::new(1, 1, None);
        let k = |v: i64| vec![key_value(&Value::Long(v))];
        let s1 = b.insert(0, &[Value::Long(1)], &k(1));
        b.insert(0, &[Value::Long(2)], &k(2));
        b.insert(0, &[Value::Long(1)], &k(1));
        assert_eq!(b.lookup(&k(1)).count(), 2);
        b.remove(s1);
        assert_eq!(b.lookup(&k(1)).count(), 1);
        assert!(b.remove_matching(&[Value::Long(2)]));
        assert_eq!(b.lookup(&k(2)).count(), 0);
        assert_eq!(b.len(), 1);
        assert_eq!(b.lookup(&[KeyValue(Value::Null)]).count(), 0);
    }

    #[test]
    fn slot_index_matches_a_map_model() {
        // Random inserts, replacements and deletes against a HashMap model (exercises growth
        // and the backward shift of deletion).
        let mut t = table(vec![0], vec![], None);
        let mut model: std::collections::HashMap<i32, String> = Default::default();
        let mut x: u64 = 7;
        for step in 0u32..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = (x % 500) as i32;
            if x.is_multiple_of(3) {
                let mut s = Vec::new();
                t.lookup(
                    TableIndex::PrimaryKey,
                    &[key_value(&Value::Int(id))],
                    &mut s,
                );
                for slot in s {
                    t.remove(slot);
                }
                model.remove(&id);
            } else {
                let v = format!("v{step}");
                t.insert(&[Value::Int(id), Value::from(v.as_str())]);
                model.insert(id, v);
            }
            if step.is_multiple_of(1000) {
                assert_eq!(t.len(), model.len());
                for id in 0..500 {
                    let mut s = Vec::new();
                    t.lookup(
                        TableIndex::PrimaryKey,
                        &[key_value(&Value::Int(id))],
                        &mut s,
                    );
                    let got = s.first().map(|&slot| t.row(slot)[1].to_string());
                    assert_eq!(got.as_ref(), model.get(&id), "id {id} at step {step}");
                }
            }
        }
        // Batched lookups agree with single ones.
        let keys: Vec<KeyValue> = (0..600).map(|i| key_value(&Value::Long(i))).collect();
        let (mut ranges, mut slots, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
        t.lookup_many(
            TableIndex::PrimaryKey,
            &keys,
            1,
            &mut ranges,
            &mut slots,
            &mut hashes,
        );
        for (i, &(from, to)) in ranges.iter().enumerate() {
            let mut s = Vec::new();
            t.lookup(TableIndex::PrimaryKey, &keys[i..i + 1], &mut s);
            assert_eq!(&slots[from as usize..to as usize], &s[..]);
        }
    }

    #[test]
    fn join_buffer_keyed_by_column() {
        let mut b = JoinBuffer::new(2, 1, Some(1));
        let s1 = b.insert(0, &[Value::Long(1), Value::Int(7)], &[]);
        b.insert(0, &[Value::Long(2), Value::Int(7)], &[]);
        b.insert(0, &[Value::Long(3), Value::from("x")], &[]);
        assert_eq!(b.lookup_value(&Value::Int(7)).count(), 2);
        assert_eq!(b.lookup_value(&Value::Long(7)).count(), 2);
        assert_eq!(b.lookup(&[key_value(&Value::from("x"))]).count(), 1);
        b.remove(s1);
        assert_eq!(b.lookup_value(&Value::Int(7)).collect::<Vec<_>>().len(), 1);
        assert!(b.remove_matching(&[Value::Long(3), Value::from("x")]));
        assert_eq!(b.lookup_value(&Value::from("x")).count(), 0);
    }
}
