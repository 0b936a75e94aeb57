//! Incremental aggregate functions (§6): one [`Accumulator`] per aggregate call and group.
//!
//! An accumulator sees the rows entering ([`Accumulator::add`]) and leaving
//! ([`Accumulator::remove`]) the window that feeds it, and gives the aggregate over the rows
//! currently present ([`Accumulator::value`]). [`accumulator`] builds a prototype for a checked
//! call (see `eventflux_planner::functions::check_aggregate`); per-group states are cloned from it
//! with [`Accumulator::boxed_clone`].
//!
//! Decisions taken here:
//! - NULL arguments are ignored by every aggregate except `count()`/`count(*)`. A value that is
//!   not of the expected kind (a STRING reaching `sum`, which the planner's casts rule out) is
//!   ignored like a NULL, on `add` and `remove` alike, so the state stays consistent.
//! - Counts are LONG. `sum` of integers wraps on overflow. `sum`/`avg` of floating values use
//!   Neumaier-compensated summation, keep infinities and NaN out of the running sum (counting them
//!   instead, so removing an infinity restores a finite sum) and restart from exactly 0 whenever
//!   the window holds no non-null value, so rounding errors never outlive the values causing them.
//!   Overflow of a finite floating sum follows IEEE.
//! - `stddev` is the population standard deviation (Welford's algorithm, with the inverse update
//!   on removal; a negative variance from rounding reads as 0). It is 0.0 for a single finite
//!   value and NaN while an infinity or NaN is present.
//! - Ordering (`min`, `max`, `*_forever`, `percentile`): integers and strings in their natural
//!   order (strings bytewise), floating values in IEEE total order (`-0.0 < 0.0`) except that every
//!   NaN sorts above every number, as `Value::compare` documents.
//! - `count(DISTINCT x)`/`distinct_count(x)`: floating values are distinct by value with
//!   `-0.0 = 0.0` and all NaNs equal.
//! - `percentile(x, p)` is the nearest-rank percentile, see [`Percentile`].
//! - [`Removal::Fifo`] lets `min`/`max` use a monotonic deque (O(1) amortised per row; the deque
//!   keeps only the rows that can still become the extreme) and `first`/`last` a deque;
//!   [`Removal::Arbitrary`] uses ordered multisets (O(log n)). Both rely on the `seq` of a row
//!   being unique within an accumulator.
//! - Every state is plain data (numbers, `Value`s, std collections) so it can be checkpointed.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use eventflux_planner::functions::AggregateFn;
use eventflux_planner::types::Type;

use crate::value::Value;

/// How rows leave the window feeding an aggregator: in arrival order (length, time, timeLength,
/// externalTime windows — use O(1) amortised structures such as a monotonic deque for min/max), or
/// in any order (sort, unique windows — use ordered multisets, O(log n)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Rows leave in the order they were added (oldest `seq` first).
    Fifo,
    /// Rows leave in any order.
    Arbitrary,
}

/// The incremental state of one aggregate call for one group. Values are already of the
/// aggregate's argument type (the planner inserted casts). NULL arguments are ignored by every
/// aggregate except count()/count(*).
pub trait Accumulator: Send {
    /// A row entered the window (or the group, when there is no window). `seq` increases with
    /// every row of the query (arrival order); `v` is the argument value (Value::Null for
    /// count()/count(*), which count rows whatever the value).
    fn add(&mut self, seq: u64, v: &Value);
    /// A row previously added with the same `seq` and value left the window. Never called for a
    /// row that was not added.
    fn remove(&mut self, seq: u64, v: &Value);
    /// The current result, of the aggregate's result type (NULL when there is nothing to
    /// aggregate, except count → 0 and distinct_count → 0).
    fn value(&self) -> Value;
    /// Empties the state (batch windows start each batch afresh). min_forever/max_forever ignore
    /// reset and remove.
    fn reset(&mut self);
    /// Approximate number of values retained (for state-size metrics); 0 for the aggregates
    /// whose state has a fixed size (count, sum, avg, stddev).
    fn retained(&self) -> usize;
    /// Clone into a fresh box (used to create per-group state from a prototype).
    fn boxed_clone(&self) -> Box<dyn Accumulator>;
}

/// Builds a prototype accumulator. `arg_type` is the (converted) argument type, or None for
/// count()/count(*). `distinct` is count(DISTINCT x). `percentile` is Some(p) (0..=100) for
/// percentile(x, p).
///
/// Errors (which a checked plan never produces): a missing argument, an argument type the
/// aggregate does not take (e.g. BOOL for `sum` or `min`), DISTINCT on another aggregate than
/// count, a missing or out-of-range percentage, or a percentage given to another aggregate.
pub fn accumulator(
    f: AggregateFn,
    arg_type: Option<Type>,
    distinct: bool,
    percentile: Option<f64>,
    removal: Removal,
) -> Result<Box<dyn Accumulator>, String> {
    use AggregateFn as A;
    let name = f.name();
    if distinct && !matches!(f, A::Count | A::DistinctCount) {
        return Err(format!(
            "DISTINCT is only allowed in count(DISTINCT x), not in '{name}'"
        ));
    }
    if percentile.is_some() && f != A::Percentile {
        return Err(format!("aggregate '{name}' takes no percentage"));
    }
    let arg = || arg_type.ok_or_else(|| format!("aggregate '{name}' needs an argument"));
    let numeric = || {
        let t = arg()?;
        if t.is_numeric() || t == Type::Null {
            Ok(t)
        } else {
            Err(format!(
                "aggregate '{name}' expects a numeric argument, found {t}"
            ))
        }
    };
    let ordered = || {
        let t = arg()?;
        if t.is_numeric() || t == Type::String || t == Type::Null {
            Ok(t)
        } else {
            Err(format!(
                "aggregate '{name}' expects a numeric or STRING argument, found {t}"
            ))
        }
    };
    let acc: Box<dyn Accumulator> = match f {
        A::Count => match (arg_type, distinct) {
            (None, true) => return Err("count(DISTINCT) needs an argument".to_string()),
            (None, false) => Box::new(Count {
                counts_rows: true,
                n: 0,
            }),
            (Some(_), true) => Box::new(DistinctCount::default()),
            (Some(_), false) => Box::new(Count {
                counts_rows: false,
                n: 0,
            }),
        },
        A::DistinctCount => {
            arg()?;
            Box::new(DistinctCount::default())
        }
        A::Sum => match numeric()? {
            Type::Float | Type::Double => Box::new(SumDouble::default()),
            _ => Box::new(SumLong::default()),
        },
        A::Avg => {
            numeric()?;
            Box::new(Avg::default())
        }
        A::Stddev => {
            numeric()?;
            Box::new(Stddev::default())
        }
        A::Percentile => {
            numeric()?;
            let p = percentile
                .ok_or_else(|| "aggregate 'percentile' needs a percentage".to_string())?;
            if !(0.0..=100.0).contains(&p) {
                return Err(format!(
                    "aggregate 'percentile' expects a percentage between 0 and 100, found {p}"
                ));
            }
            Box::new(Percentile::new(p))
        }
        A::Min | A::Max => {
            ordered()?;
            let which = if f == A::Min {
                Extreme::Min
            } else {
                Extreme::Max
            };
            match removal {
                Removal::Fifo => Box::new(ExtremeFifo {
                    which,
                    candidates: VecDeque::new(),
                }),
                Removal::Arbitrary => Box::new(ExtremeArbitrary {
                    which,
                    values: Multiset::default(),
                }),
            }
        }
        A::MinForever | A::MaxForever => {
            ordered()?;
            let which = if f == A::MinForever {
                Extreme::Min
            } else {
                Extreme::Max
            };
            Box::new(Forever { which, best: None })
        }
        A::First | A::Last => {
            arg()?;
            let end = if f == A::First { End::First } else { End::Last };
            match removal {
                Removal::Fifo => Box::new(FirstLastFifo {
                    end,
                    rows: VecDeque::new(),
                }),
                Removal::Arbitrary => Box::new(FirstLastArbitrary {
                    end,
                    rows: BTreeMap::new(),
                }),
            }
        }
    };
    Ok(acc)
}

// ---------------------------------------------------------------------------------------------
// Keys and helpers.

fn to_long(n: u64) -> Value {
    Value::Long(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The order of floating values used by every ordered aggregate: IEEE total order, except that
/// all NaNs are equal and above every number.
fn cmp_f64(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.total_cmp(&b),
    }
}

/// Rank of a value's kind, to order values of different kinds (which the planner's casts rule
/// out) consistently.
fn kind_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Int(_) => 2,
        Value::Long(_) => 3,
        Value::Float(_) => 4,
        Value::Double(_) => 5,
        Value::String(_) => 6,
    }
}

/// A total order on values (see the module docs).
fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Long(x), Value::Long(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => cmp_f64(f64::from(*x), f64::from(*y)),
        (Value::Double(x), Value::Double(y)) => cmp_f64(*x, *y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => kind_rank(a).cmp(&kind_rank(b)),
    }
}

/// A value with the total order of [`cmp_values`], for ordered multisets.
#[derive(Debug, Clone)]
struct OrdValue(Value);

impl PartialEq for OrdValue {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for OrdValue {}
impl PartialOrd for OrdValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrdValue {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_values(&self.0, &other.0)
    }
}

/// A float with the total order of [`cmp_f64`].
#[derive(Debug, Clone, Copy)]
struct OrdF64(f64);

impl PartialEq for OrdF64 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for OrdF64 {}
impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_f64(self.0, other.0)
    }
}

/// A hashable form of a value for DISTINCT: floats by their bits, with `-0.0` read as `0.0` and
/// every NaN as the canonical NaN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum DistinctKey {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Float(u32),
    Double(u64),
    String(Arc<str>),
}

impl DistinctKey {
    fn of(v: &Value) -> DistinctKey {
        match v {
            Value::Null => DistinctKey::Null,
            Value::Bool(b) => DistinctKey::Bool(*b),
            Value::Int(x) => DistinctKey::Int(*x),
            Value::Long(x) => DistinctKey::Long(*x),
            Value::Float(x) => DistinctKey::Float(if x.is_nan() {
                f32::NAN.to_bits()
            } else if *x == 0.0 {
                0
            } else {
                x.to_bits()
            }),
            Value::Double(x) => DistinctKey::Double(if x.is_nan() {
                f64::NAN.to_bits()
            } else if *x == 0.0 {
                0
            } else {
                x.to_bits()
            }),
            Value::String(s) => DistinctKey::String(s.clone()),
        }
    }
}

/// A multiset on a `BTreeMap` from element to multiplicity.
#[derive(Debug, Clone)]
struct Multiset<K> {
    counts: BTreeMap<K, u64>,
    len: u64,
}

impl<K> Default for Multiset<K> {
    fn default() -> Self {
        Multiset {
            counts: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<K: Ord + Clone> Multiset<K> {
    fn insert(&mut self, k: K) {
        *self.counts.entry(k).or_insert(0) += 1;
        self.len += 1;
    }

    /// Removes one occurrence of `k`; false if there is none.
    fn remove(&mut self, k: &K) -> bool {
        let Some(c) = self.counts.get_mut(k) else {
            return false;
        };
        if *c > 1 {
            *c -= 1;
        } else {
            self.counts.remove(k);
        }
        self.len -= 1;
        true
    }

    fn first(&self) -> Option<&K> {
        self.counts.keys().next()
    }

    fn last(&self) -> Option<&K> {
        self.counts.keys().next_back()
    }

    fn pop_first(&mut self) -> Option<K> {
        let mut e = self.counts.first_entry()?;
        let k = e.key().clone();
        if *e.get() > 1 {
            *e.get_mut() -= 1;
        } else {
            e.remove();
        }
        self.len -= 1;
        Some(k)
    }

    fn pop_last(&mut self) -> Option<K> {
        let mut e = self.counts.last_entry()?;
        let k = e.key().clone();
        if *e.get() > 1 {
            *e.get_mut() -= 1;
        } else {
            e.remove();
        }
        self.len -= 1;
        Some(k)
    }

    fn clear(&mut self) {
        self.counts.clear();
        self.len = 0;
    }

    /// Number of distinct elements.
    fn distinct(&self) -> usize {
        self.counts.len()
    }
}

// ---------------------------------------------------------------------------------------------
// count, count(DISTINCT), distinct_count.

/// `count()`/`count(*)` (`counts_rows`: every row) and `count(x)` (non-null values).
#[derive(Debug, Clone)]
struct Count {
    counts_rows: bool,
    n: u64,
}

impl Accumulator for Count {
    fn add(&mut self, _seq: u64, v: &Value) {
        if self.counts_rows || !v.is_null() {
            self.n = self.n.saturating_add(1);
        }
    }

    fn remove(&mut self, _seq: u64, v: &Value) {
        if self.counts_rows || !v.is_null() {
            self.n = self.n.saturating_sub(1);
        }
    }

    fn value(&self) -> Value {
        to_long(self.n)
    }

    fn reset(&mut self) {
        self.n = 0;
    }

    fn retained(&self) -> usize {
        0
    }

    fn boxed_clone(&self) -> Box<dyn Accumulator> {
        Box::new(self.clone())
    }
}

/// `count(DISTINCT x)` and `distinct_count(x)`: value → multiplicity.
#[derive(Debug, Clone, Default)]
struct DistinctCount {
    counts: HashMap<DistinctKey, u64>,
}

impl Accumulator for DistinctCount {
    fn add(&mut self, _seq: u64, v: &Value) {
        if !v.is_null() {
            *self.counts.entry(DistinctKey::of(v)).or_insert(0) += 1;
        }
    }

    fn remove(&mut self, _seq: u64, v: &Value) {
        if v.is_null() {
            return;
        }
        let key = DistinctKey::of(v);
        if let Some(c) = self.counts.get_mut(&key) {
            if *c > 1 {
                *c -= 1;
            } else {
                self.counts.remove(&key);
            }
        }
    }

    fn value(&self) -> Value {
        to_long(self.counts.len() as u64)
    }

    fn reset(&mut self) {
        self.counts.clear();
    }

    fn retained(&self) -> usize {
        self.counts.len()
    }

    fn boxed_clone(&self) -> Box<dyn Accumulator> {
        Box::new(self.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// sum, avg.

/// `sum` of INT/LONG/TIMESTAMP values: a wrapping LONG sum.
#[derive(Debug, Clone, Default)]
struct SumLong {
    sum: i64,
    n: u64,
}

impl Accumulator for SumLong {
    fn add(&mut self, _seq: u64, v: &Value) {
        if let Some(x) = v.as_i64() {
            self.sum = self.sum.wrapping_add(x);
            self.n += 1;
        }
    }

    fn remove(&mut self, _seq: u64, v: &Value) {
        if let Some(x) = v.as_i64() {
            self.sum = self.sum.wrapping_sub(x);
            self.n = self.n.saturating_sub(1);
            if self.n == 0 {
                self.sum = 0;
            }
        }
    }

    fn value(&self) -> Value {
        if self.n == 0 {
            Value::Null
        } else {
            Value::Long(self.sum)
        }
    }

    fn reset(&mut self) {
        *self = SumLong::default();
    }

    fn retained(&self) -> usize {
        0
    }

    fn boxed_clone(&self) -> Box<dyn Accumulator> {
        Box::new(self.clone())
    }
}

/// A floating sum that supports removal: Neumaier-compensated over the finite values, with the
/// infinities and NaNs counted apart.
#[derive(Debug, Clone, Default)]
struct FloatSum {
    /// Number of values present (finite or not).
    n: u64,
    sum: f64,
    compensation: f64,
    pos_inf: u64,
    neg_inf: u64,
    nan: u64,
}

impl FloatSum {
    fn accumulate(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn add(&mut self, x: f64) {
        self.n += 1;
        if x.is_nan() {
            self.nan += 1;
        } else if x == f64::INFINITY {
            self.pos_inf += 1;
        } else if x == f64::NEG_INFINITY {
            self.neg_inf += 1;
        } else {
            self.accumulate(x);
        }
    }

    fn remove(&mut self, x: f64) {
        self.n = self.n.saturating_sub(1);
        if self.n == 0 {
            *self = FloatSum::default();
        } else if x.is_nan() {
            self.nan = self.nan.saturating_sub(1);
        } else if x == f64::INFINITY {
            self.pos_inf = self.pos_inf.saturating_sub(1);
        } else if x == f64::NEG_INFINITY {
            self.neg_inf = self.neg_inf.saturating_sub(1);
        } else {
            self.accumulate(-x);
        }
    }

    fn total(&self) -> f64 {
        if self.nan > 0 || (self.pos_inf > 0 && self.neg_inf > 0) {
            f64::NAN
        } else if self.pos_inf > 0 {
            f64::INFINITY
        } else if self.neg_inf > 0 {
            f64::NEG_INFINITY
        } else {
            self.sum + self.compensation
        }
    }
}

/// `sum` of FLOAT/DOUBLE values → DOUBLE.
#[derive(Debug, Clone, Default)]
struct SumDouble {
    sum: FloatSum,
}

impl Accumulator for SumDouble {
    fn add(&mut self, _seq: u64, v: &Value) {
        if let Some(x) = v.as_f64() {
            self.sum.add(x);
        }
    }

    fn remove(&mut self, _seq: u64, v: &Value) {
        if let Some(x) = v.as_f64() {
            self.sum.remove(x);
        }
    }

    fn value(&self) -> Value {
        if self.sum.n == 0 {
            Value::Null
        } else {
            Value::Double(self.sum.total())
        }
    }

    fn reset(&mut self) {
        self.sum = FloatSum::default();
    }

    fn retained(&self) -> usize {
        0
    }

    fn boxed_clone(&self) -> Box<dyn Accumulator> {
        Box::new(self.clone())
    }
}

/// `avg` → DOUBLE: the compensated sum over the number of non-null values.
#[derive(Debug, Clone, Default)]
struct Avg {
    sum: FloatSum,
}

impl Accumulator for Avg {
    fn add(&mut self, _seq: u64, v: &Value) {
        if let Some(x) = v.as_f64() {
            self.sum.add(x);
        }
    }

    fn remove(&mut self, _seq: u64, v: &Value) {
        if let Some(x) = v.as_f64() {
            self.sum.remove(x);
        }
    }

    fn value(&self) -> Value {
        if self.sum.n == 0 {
            Value::Null
        } else {
            Value::Double(self.sum.total() / self.sum.n as f64)
        }
    }

    fn reset(&mut self) {
        self.sum = FloatSum::default();
    }

    fn retained(&self) -> usize {
        0
    }

    fn boxed_clone(&self) -> Box<dyn Accumulator> {
        Box::new(self.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// stddev.

/// `stddev` → DOUBLE: population standard deviation by Welford's algorithm over the finite
/// values, with the non-finite ones counted apart (any of them makes the result NaN).
#[derive(Debug, Clone, Default)]
struct Stddev {
    /// Number of finite values present.
    n: u64,
    mean: f64,
    /// Sum of squared deviations from the mean.
    m2: f64,
    non_finite: u64,
}

impl Accumulator for Stddev {
    fn add(&mut self, _seq: u64, v: &Value) {
        let Some(x) = v.as_f64() else {
            return;
        };
        if !x.is_finite() {
            self.non_finite += 1;
            return;
        }
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    fn remove(&mut self, _seq: u64, v: &Value) {
        let Some(x) = v.as_f64() else {
            return;
        };
        if !x.is_finite() {
            self.non_finite = self.non_finite.saturating_sub(1);
            return;
        }
        match self.n {
            0 => {}
            1 => {
                self.n = 0;
                self.mean = 0.0;
                self.m2 = 0.0;
            }
            n => {
                self.n = n - 1;
                let d = x - self.mean;
                self.mean -= d / self.n as f64;
                if self.n == 1 {
                    // One value left: its deviation is exactly 0.
                    self.m2 = 0.0;
                } else {
                    self.m2 -= d * (x - self.mean);
                }
            }
        }
    }

    fn value(&self) -> Value {
        if self.non_finite > 0 {
            Value::Double(f64::NAN)
        } else if self.n == 0 {
            Value::Null
        } else if self.n == 1 {
            Value::Double(0.0)
        } else {
            Value::Double((self.m2.max(0.0) / self.n as f64).sqrt())
        }
    }

    fn reset(&mut self) {
        *self = Stddev::default();
    }

    fn retained(&self) -> usize {
        0
    }

    fn boxed_clone(&self) -> Box<dyn Accumulator> {
        Box::new(self.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// min, max, min_forever, max_forever.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extreme {
    Min,
    Max,
}

impl Extreme {
    /// Whether `a` is strictly better than `b` (smaller for min, larger for max).
    fn better(self, a: &Value, b: &Value) -> bool {
        let o = cmp_values(a, b);
        match self {
            Extreme::Min => o == Ordering::Less,
            Extreme::Max => o == Ordering::Greater,
        }
    }
}

/// `min`/`max` over a FIFO window: a monotonic deque of `(seq, value)`, strictly improving from
/// back to front. A row dominated by a later, at least as good row can never be the extreme again
/// (it leaves first), so it is dropped when that row arrives; the front is the extreme.
#[derive(Debug, Clone)]
struct ExtremeFifo {
    which: Extreme,
    candidates: VecDeque<(u64, Value)>,
}

impl Accumulator for ExtremeFifo {
    fn add(&mut self, seq: u64, v: &Value) {
        if v.is_null() {
            return;
        }
        while let Some((_, back)) = self.candidates.back() {
            if self.which.better(back, v) {
                break;
            }
            self.candidates.pop_back();
        }
        self.candidates.push_back((seq, v.clone()));
    }

    fn remove(&mut self, seq: u64, v: &Value) {
        if v.is_null() {
            return;
        }
        // Rows leave oldest first, so the row is either the front or was already dropped.
        while let Some(&(front, _)) = self.candidates.front() {
            if front > seq {
                break;
            }
            self.candidates.pop_front();
        }
    }

    fn value(&self) -> Value {
        self.candidates
            .front()
            .map_or(Value::Null, |(_, v)| v.clone())
    }

    fn reset(&mut self) {
        self.candidates.clear();
    }

    fn retained(&self) -> usize {
        self.candidates.len()
    }

    fn boxed_clone(&self) -> Box<dyn Accumulator> {
        Box::new(self.clone())
    }
}

/// `min`/`max` when rows leave in any order: an ordered multiset of the values present.
#[derive(Debug, Clone)]
struct ExtremeArbitrary {
    which: Extreme,
    values: Multiset<OrdValue>,
}

impl Accumulator for ExtremeArbitrary {
    fn add(&mut self, _seq: u64, v: &Value) {
        if !v.is_null() {
            self.values.insert(OrdValue(v.clone()));
        }
    }

    fn remove(&mut self, _seq: u64, v: &Value) {
        if !v.is_null() {
            self.values.remove(&OrdValue(v.clone()));
        }
    }

    fn value(&self) -> Value {
        let k = match self.which {
            Extreme::Min => self.values.first(),
            Extreme::Max => self.values.last(),
        };
        k.map_or(Value::Null, |k| k.0.clone())
    }

    fn reset(&mut self) {
        self.values.clear();
    }

    fn retained(&self) -> usize {
        self.values.distinct()
    }

    fn boxed_clone(&self) -> Box<dyn Accumulator> {
        Box::new(self.clone())
    }
}

/// `min_forever`/`max_forever`: the extreme of every value ever added; `remove` and `reset` do
/// nothing.
#[derive(Debug, Clone)]
struct Forever {
    which: Extreme,
    best: Option<Value>,
}

impl Accumulator for Forever {
    fn add(&mut self, _seq: u64, v: &Value) {
        if v.is_null() {
            return;
        }
        let replace = match &self.best {
            None => true,
            Some(b) => self.which.better(v, b),
        };
        if replace {
            self.best = Some(v.clone());
        }
    }

    fn remove(&mut self, _seq: u64, _v: &Value) {}

    fn value(&self) -> Value {
        self.best.clone().unwrap_or(Value::Null)
    }

    fn reset(&mut self) {}

    fn retained(&self) -> usize {
        usize::from(self.best.is_some())
    }

    fn boxed_clone(&self) -> Box<dyn Accumulator> {
        Box::new(self.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// first, last.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    First,
    Last,
}

/// `first`/`last` over a FIFO window: the non-null rows present, ordered by `seq`. Removal pops
/// the front; a row leaving out of order is still found (binary search, O(n) removal).
#[derive(Debug, Clone)]
struct FirstLastFifo {
    end: End,
    rows: VecDeque<(u64, Value)>,
}

impl Accumulator for FirstLastFifo {
    fn add(&mut self, seq: u64, v: &Value) {
        if v.is_null() {
            return;
        }
        match self.rows.back() {
            Some(&(last, _)) if last > seq => {
                let i = self.rows.partition_point(|&(s, _)| s <= seq);
                self.rows.insert(i, (seq, v.clone()));
            }
            _ => self.rows.push_back((seq, v.clone())),
        }
    }

    fn remove(&mut self, seq: u64, v: &Value) {
        if v.is_null() {
            return;
        }
        match self.rows.front() {
            Some(&(first, _)) if first == seq => {
                self.rows.pop_front();
            }
            _ => {
                let i = self.rows.partition_point(|&(s, _)| s < seq);
                if self.rows.get(i).is_some_and(|&(s, _)| s == seq) {
                    self.rows.remove(i);
                }
            }
        }
    }

    fn value(&self) -> Value {
        let row = match self.end {
            End::First => self.rows.front(),
            End::Last => self.rows.back(),
        };
        row.map_or(Value::Null, |(_, v)| v.clone())
    }

    fn reset(&mut self) {
        self.rows.clear();
    }

    fn retained(&self) -> usize {
        self.rows.len()
    }

    fn boxed_clone(&self) -> Box<dyn Accumulator> {
        Box::new(self.clone())
    }
}

/// `first`/`last` when rows leave in any order: the non-null rows present by `seq`.
#[derive(Debug, Clone)]
struct FirstLastArbitrary {
    end: End,
    rows: BTreeMap<u64, Value>,
}

impl Accumulator for FirstLastArbitrary {
    fn add(&mut self, seq: u64, v: &Value) {
        if !v.is_null() {
            self.rows.insert(seq, v.clone());
        }
    }

    fn remove(&mut self, seq: u64, v: &Value) {
        if !v.is_null() {
            self.rows.remove(&seq);
        }
    }

    fn value(&self) -> Value {
        let row = match self.end {
            End::First => self.rows.first_key_value(),
            End::Last => self.rows.last_key_value(),
        };
        row.map_or(Value::Null, |(_, v)| v.clone())
    }

    fn reset(&mut self) {
        self.rows.clear();
    }

    fn retained(&self) -> usize {
        self.rows.len()
    }

    fn boxed_clone(&self) -> Box<dyn Accumulator> {
        Box::new(self.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// percentile.

/// The 1-based nearest rank of the `p`-th percentile among `n` values:
/// `max(1, ceil(p/100 · n))`, with a tolerance of 1e-9 for the rounding of `p·n/100` (so that
/// `p = 95, n = 20` is rank 19, not 20). 0 when `n` is 0.
fn nearest_rank(p: f64, n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let x = p * n as f64 / 100.0;
    let nearest = x.round();
    let rank = if (x - nearest).abs() <= 1e-9 * nearest.max(1.0) {
        nearest
    } else {
        x.ceil()
    };
    // `as` saturates (NaN gives 0); the clamp keeps the rank within 1..=n.
    (rank as u64).clamp(1, n)
}

/// `percentile(x, p)` → DOUBLE: the exact nearest-rank percentile of the non-null values present.
///
/// With the n values sorted ascending (NaN above every number), the result is the value at
/// 1-based position `max(1, ceil(p/100 · n))`: `p = 0` gives the minimum, `p = 100` the maximum,
/// `p = 50` the lower median; no interpolation, so the result is always one of the values. NULL
/// when there is no value.
///
/// The values are split into two ordered multisets: `low` holds the `rank` smallest values and
/// `high` the rest, so the percentile is the largest element of `low`. Adding or removing a value
/// changes the rank by at most one, and rebalancing moves at most a few boundary elements: every
/// operation, `value()` included, is O(log n).
#[derive(Debug, Clone)]
struct Percentile {
    p: f64,
    low: Multiset<OrdF64>,
    high: Multiset<OrdF64>,
}

impl Percentile {
    fn new(p: f64) -> Percentile {
        Percentile {
            p,
            low: Multiset::default(),
            high: Multiset::default(),
        }
    }

    fn rebalance(&mut self) {
        let target = nearest_rank(self.p, self.low.len + self.high.len);
        while self.low.len > target {
            match self.low.pop_last() {
                Some(k) => self.high.insert(k),
                None => break,
            }
        }
        while self.low.len < target {
            match self.high.pop_first() {
                Some(k) => self.low.insert(k),
                None => break,
            }
        }
    }
}

impl Accumulator for Percentile {
    fn add(&mut self, _seq: u64, v: &Value) {
        let Some(x) = v.as_f64() else {
            return;
        };
        let k = OrdF64(x);
        match self.low.last() {
            Some(max_low) if k <= *max_low => self.low.insert(k),
            _ => self.high.insert(k),
        }
        self.rebalance();
    }

    fn remove(&mut self, _seq: u64, v: &Value) {
        let Some(x) = v.as_f64() else {
            return;
        };
        let k = OrdF64(x);
        // Every element of `low` is <= every element of `high`, so a value present in both is
        // the boundary value and either copy may go.
        if self.low.remove(&k) || self.high.remove(&k) {
            self.rebalance();
        }
    }

    fn value(&self) -> Value {
        self.low.last().map_or(Value::Null, |k| Value::Double(k.0))
    }

    fn reset(&mut self) {
        self.low.clear();
        self.high.clear();
    }

    fn retained(&self) -> usize {
        self.low.distinct() + self.high.distinct()
    }

    fn boxed_clone(&self) -> Box<dyn Accumulator> {
        Box::new(self.clone())
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use AggregateFn as A;

    fn acc(f: AggregateFn, t: Option<Type>, removal: Removal) -> Box<dyn Accumulator> {
        accumulator(f, t, false, None, removal).unwrap()
    }

    fn pct(t: Type, p: f64) -> Box<dyn Accumulator> {
        accumulator(A::Percentile, Some(t), false, Some(p), Removal::Arbitrary).unwrap()
    }

    fn d(x: f64) -> Value {
        Value::Double(x)
    }

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    /// Adds the values with seq 1, 2, …
    fn feed(a: &mut dyn Accumulator, vals: &[Value]) {
        for (i, v) in vals.iter().enumerate() {
            a.add(i as u64 + 1, v);
        }
    }

    const BOTH: [Removal; 2] = [Removal::Fifo, Removal::Arbitrary];

    #[test]
    fn count_star_counts_every_row() {
        let mut a = acc(A::Count, None, Removal::Fifo);
        assert_eq!(a.value(), Value::Long(0));
        feed(&mut *a, &[Value::Null, Value::Null, Value::Int(1)]);
        assert_eq!(a.value(), Value::Long(3));
        a.remove(1, &Value::Null);
        assert_eq!(a.value(), Value::Long(2));
        a.reset();
        assert_eq!(a.value(), Value::Long(0));
        assert_eq!(a.retained(), 0);
    }

    #[test]
    fn count_x_ignores_nulls() {
        let mut a = acc(A::Count, Some(Type::Int), Removal::Fifo);
        feed(&mut *a, &[Value::Null, Value::Int(3), Value::Int(3)]);
        assert_eq!(a.value(), Value::Long(2));
        a.remove(1, &Value::Null);
        assert_eq!(a.value(), Value::Long(2));
        a.remove(2, &Value::Int(3));
        assert_eq!(a.value(), Value::Long(1));
        // count(NULL): nothing is ever counted.
        let mut a = acc(A::Count, Some(Type::Null), Removal::Fifo);
        feed(&mut *a, &[Value::Null]);
        assert_eq!(a.value(), Value::Long(0));
    }

    #[test]
    fn distinct_counts() {
        for (f, distinct) in [(A::Count, true), (A::DistinctCount, false)] {
            let mut a = accumulator(f, Some(Type::String), distinct, None, Removal::Fifo).unwrap();
            assert_eq!(a.value(), Value::Long(0));
            feed(&mut *a, &[s("a"), s("b"), s("a"), Value::Null]);
            assert_eq!(a.value(), Value::Long(2));
            assert_eq!(a.retained(), 2);
            a.remove(1, &s("a"));
            assert_eq!(a.value(), Value::Long(2));
            a.remove(3, &s("a"));
            assert_eq!(a.value(), Value::Long(1));
            a.remove(4, &Value::Null);
            assert_eq!(a.value(), Value::Long(1));
            a.reset();
            assert_eq!(a.value(), Value::Long(0));
        }
        // Floats: -0.0 = 0.0, all NaNs are one value.
        let mut a = accumulator(
            A::DistinctCount,
            Some(Type::Double),
            false,
            None,
            Removal::Fifo,
        )
        .unwrap();
        let neg_nan = f64::from_bits(f64::NAN.to_bits() | (1 << 63));
        feed(&mut *a, &[d(0.0), d(-0.0), d(f64::NAN), d(neg_nan), d(1.5)]);
        assert_eq!(a.value(), Value::Long(3));
        a.remove(1, &d(0.0));
        a.remove(3, &d(f64::NAN));
        assert_eq!(a.value(), Value::Long(3));
        a.remove(2, &d(-0.0));
        assert_eq!(a.value(), Value::Long(2));
        let mut a = accumulator(A::Count, Some(Type::Float), true, None, Removal::Fifo).unwrap();
        feed(
            &mut *a,
            &[Value::Float(0.0), Value::Float(-0.0), Value::Float(2.0)],
        );
        assert_eq!(a.value(), Value::Long(2));
    }

    #[test]
    fn sum_of_integers_is_long_and_wraps() {
        let mut a = acc(A::Sum, Some(Type::Long), Removal::Fifo);
        assert_eq!(a.value(), Value::Null);
        feed(&mut *a, &[Value::Null]);
        assert_eq!(a.value(), Value::Null);
        a.add(2, &Value::Long(i64::MAX));
        a.add(3, &Value::Long(1));
        assert_eq!(a.value(), Value::Long(i64::MIN));
        a.remove(2, &Value::Long(i64::MAX));
        assert_eq!(a.value(), Value::Long(1));
        a.remove(3, &Value::Long(1));
        assert_eq!(a.value(), Value::Null);
        // INT values (unconverted) still give a LONG.
        let mut a = acc(A::Sum, Some(Type::Int), Removal::Fifo);
        feed(&mut *a, &[Value::Int(i32::MAX), Value::Int(i32::MAX)]);
        assert_eq!(a.value(), Value::Long(2 * i32::MAX as i64));
        a.reset();
        assert_eq!(a.value(), Value::Null);
    }

    #[test]
    fn sum_of_floats_is_double_without_drift() {
        for t in [Type::Float, Type::Double] {
            let mut a = acc(A::Sum, Some(t), Removal::Fifo);
            assert_eq!(a.value(), Value::Null);
            feed(&mut *a, &[d(0.1), d(0.2), Value::Null]);
            assert_eq!(a.value(), d(0.1 + 0.2));
            a.remove(1, &d(0.1));
            a.remove(2, &d(0.2));
            assert_eq!(a.value(), Value::Null);
            a.add(4, &d(0.3));
            assert_eq!(a.value(), d(0.3));
        }
        // Compensation: 1e16 + 1 + 1 - 1e16 is 2, not 0 or 4.
        let mut a = acc(A::Sum, Some(Type::Double), Removal::Fifo);
        feed(&mut *a, &[d(1e16), d(1.0), d(1.0)]);
        a.remove(1, &d(1e16));
        assert_eq!(a.value(), d(2.0));
    }

    #[test]
    fn sum_recovers_from_infinities_and_nan() {
        let mut a = acc(A::Sum, Some(Type::Double), Removal::Arbitrary);
        feed(
            &mut *a,
            &[d(1.0), d(f64::INFINITY), d(f64::NEG_INFINITY), d(f64::NAN)],
        );
        assert!(matches!(a.value(), Value::Double(x) if x.is_nan()));
        a.remove(4, &d(f64::NAN));
        assert!(matches!(a.value(), Value::Double(x) if x.is_nan()));
        a.remove(3, &d(f64::NEG_INFINITY));
        assert_eq!(a.value(), d(f64::INFINITY));
        a.remove(2, &d(f64::INFINITY));
        assert_eq!(a.value(), d(1.0));
    }

    #[test]
    fn avg_is_double() {
        let mut a = acc(A::Avg, Some(Type::Double), Removal::Fifo);
        assert_eq!(a.value(), Value::Null);
        feed(&mut *a, &[d(1.0), Value::Null, d(2.0), d(6.0)]);
        assert_eq!(a.value(), d(3.0));
        a.remove(1, &d(1.0));
        a.remove(2, &Value::Null);
        assert_eq!(a.value(), d(4.0));
        a.remove(3, &d(2.0));
        a.remove(4, &d(6.0));
        assert_eq!(a.value(), Value::Null);
        let mut a = acc(A::Avg, Some(Type::Int), Removal::Fifo);
        feed(&mut *a, &[Value::Int(1), Value::Int(2)]);
        assert_eq!(a.value(), d(1.5));
        a.reset();
        assert_eq!(a.value(), Value::Null);
    }

    #[test]
    fn min_max_keep_the_input_type() {
        for removal in BOTH {
            let mut min = acc(A::Min, Some(Type::Int), removal);
            let mut max = acc(A::Max, Some(Type::Int), removal);
            assert_eq!(min.value(), Value::Null);
            let vals = [
                Value::Int(5),
                Value::Null,
                Value::Int(3),
                Value::Int(8),
                Value::Int(3),
            ];
            feed(&mut *min, &vals);
            feed(&mut *max, &vals);
            assert_eq!(min.value(), Value::Int(3));
            assert_eq!(max.value(), Value::Int(8));
            for (i, v) in vals.iter().enumerate().take(3) {
                min.remove(i as u64 + 1, v);
                max.remove(i as u64 + 1, v);
            }
            assert_eq!(min.value(), Value::Int(3));
            assert_eq!(max.value(), Value::Int(8));
            min.remove(4, &Value::Int(8));
            max.remove(4, &Value::Int(8));
            assert_eq!(min.value(), Value::Int(3));
            assert_eq!(max.value(), Value::Int(3));
            min.reset();
            max.reset();
            assert_eq!(min.value(), Value::Null);
            assert_eq!(max.value(), Value::Null);

            let mut min = acc(A::Min, Some(Type::String), removal);
            let mut max = acc(A::Max, Some(Type::String), removal);
            let vals = [s("pear"), s("apple"), s("zebra"), Value::Null];
            feed(&mut *min, &vals);
            feed(&mut *max, &vals);
            assert_eq!(min.value(), s("apple"));
            assert_eq!(max.value(), s("zebra"));

            let mut min = acc(A::Min, Some(Type::Double), removal);
            let mut max = acc(A::Max, Some(Type::Double), removal);
            let vals = [d(0.0), d(f64::NAN), d(-0.0), d(-1.5)];
            feed(&mut *min, &vals);
            feed(&mut *max, &vals);
            assert_eq!(min.value(), d(-1.5));
            assert!(matches!(max.value(), Value::Double(x) if x.is_nan()));
            min.remove(1, &d(0.0));
            max.remove(1, &d(0.0));
            max.remove(2, &d(f64::NAN));
            assert!(matches!(max.value(), Value::Double(x) if x == 0.0 && x.is_sign_negative()));

            let mut min = acc(A::Min, Some(Type::Float), removal);
            let mut max = acc(A::Max, Some(Type::Float), removal);
            let vals = [Value::Float(1.5), Value::Float(-2.0), Value::Null];
            feed(&mut *min, &vals);
            feed(&mut *max, &vals);
            assert_eq!(min.value(), Value::Float(-2.0));
            assert_eq!(max.value(), Value::Float(1.5));

            let mut a = acc(A::Max, Some(Type::Timestamp), removal);
            feed(&mut *a, &[Value::Long(1_700_000_000_000), Value::Long(5)]);
            assert_eq!(a.value(), Value::Long(1_700_000_000_000));
        }
    }

    #[test]
    fn fifo_min_max_retain_only_candidates() {
        let mut max = acc(A::Max, Some(Type::Long), Removal::Fifo);
        let mut min = acc(A::Min, Some(Type::Long), Removal::Fifo);
        for i in 0..1000u64 {
            max.add(i, &Value::Long(i as i64));
            min.add(i, &Value::Long(i as i64));
            if i >= 10 {
                max.remove(i - 10, &Value::Long(i as i64 - 10));
                min.remove(i - 10, &Value::Long(i as i64 - 10));
            }
        }
        assert_eq!(max.value(), Value::Long(999));
        assert_eq!(max.retained(), 1);
        assert_eq!(min.value(), Value::Long(990));
        assert_eq!(min.retained(), 10);
    }

    #[test]
    fn first_last_skip_nulls() {
        for removal in BOTH {
            let mut first = acc(A::First, Some(Type::Bool), removal);
            let mut last = acc(A::Last, Some(Type::Bool), removal);
            assert_eq!(first.value(), Value::Null);
            let vals = [
                Value::Null,
                Value::Bool(true),
                Value::Bool(false),
                Value::Null,
            ];
            feed(&mut *first, &vals);
            feed(&mut *last, &vals);
            assert_eq!(first.value(), Value::Bool(true));
            assert_eq!(last.value(), Value::Bool(false));
            first.remove(1, &Value::Null);
            first.remove(2, &Value::Bool(true));
            assert_eq!(first.value(), Value::Bool(false));
            first.remove(3, &Value::Bool(false));
            assert_eq!(first.value(), Value::Null);
            last.reset();
            assert_eq!(last.value(), Value::Null);
        }
        let mut last = acc(A::Last, Some(Type::String), Removal::Arbitrary);
        feed(&mut *last, &[s("a"), s("b"), s("c")]);
        last.remove(3, &s("c"));
        assert_eq!(last.value(), s("b"));
        // Out-of-order removal still works on the FIFO variant.
        let mut last = acc(A::Last, Some(Type::String), Removal::Fifo);
        feed(&mut *last, &[s("a"), s("b"), s("c")]);
        last.remove(3, &s("c"));
        assert_eq!(last.value(), s("b"));
        assert_eq!(last.retained(), 2);
    }

    #[test]
    fn forever_ignores_remove_and_reset() {
        for removal in BOTH {
            let mut min = acc(A::MinForever, Some(Type::Int), removal);
            let mut max = acc(A::MaxForever, Some(Type::Int), removal);
            assert_eq!(min.value(), Value::Null);
            let vals = [Value::Int(4), Value::Null, Value::Int(-2), Value::Int(9)];
            feed(&mut *min, &vals);
            feed(&mut *max, &vals);
            for (i, v) in vals.iter().enumerate() {
                min.remove(i as u64 + 1, v);
                max.remove(i as u64 + 1, v);
            }
            min.reset();
            max.reset();
            assert_eq!(min.value(), Value::Int(-2));
            assert_eq!(max.value(), Value::Int(9));
            assert_eq!(max.retained(), 1);
        }
        let mut a = acc(A::MaxForever, Some(Type::String), Removal::Fifo);
        feed(&mut *a, &[s("b"), s("c"), s("a")]);
        assert_eq!(a.value(), s("c"));
    }

    #[test]
    fn stddev_is_population() {
        let mut a = acc(A::Stddev, Some(Type::Double), Removal::Fifo);
        assert_eq!(a.value(), Value::Null);
        a.add(0, &d(7.0));
        assert_eq!(a.value(), d(0.0));
        a.remove(0, &d(7.0));
        assert_eq!(a.value(), Value::Null);
        let vals: Vec<Value> = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
            .into_iter()
            .map(d)
            .collect();
        feed(&mut *a, &vals);
        a.add(100, &Value::Null);
        assert_eq!(a.value(), d(2.0));
        // Remove all but {5, 7, 9}: stddev sqrt(8/3).
        for (i, v) in vals.iter().enumerate().take(5) {
            a.remove(i as u64 + 1, v);
        }
        match a.value() {
            Value::Double(x) => assert!((x - (8.0f64 / 3.0).sqrt()).abs() < 1e-12),
            v => panic!("{v:?}"),
        }
        a.remove(6, &d(5.0));
        a.remove(7, &d(7.0));
        assert_eq!(a.value(), d(0.0));
        a.add(200, &d(f64::INFINITY));
        assert!(matches!(a.value(), Value::Double(x) if x.is_nan()));
        a.remove(200, &d(f64::INFINITY));
        assert_eq!(a.value(), d(0.0));
        a.reset();
        assert_eq!(a.value(), Value::Null);
        // Constant values never give a negative variance.
        let mut a = acc(A::Stddev, Some(Type::Double), Removal::Fifo);
        for i in 0..100 {
            a.add(i, &d(0.1));
        }
        assert!(matches!(a.value(), Value::Double(x) if (0.0..1e-12).contains(&x)));
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let a = pct(Type::Double, 50.0);
        assert_eq!(a.value(), Value::Null);
        // The textbook example: 15, 20, 35, 40, 50.
        let vals: Vec<Value> = [50.0, 15.0, 40.0, 20.0, 35.0].into_iter().map(d).collect();
        for (p, want) in [
            (0.0, 15.0),
            (5.0, 15.0),
            (30.0, 20.0),
            (40.0, 20.0),
            (50.0, 35.0),
            (100.0, 50.0),
        ] {
            let mut a = pct(Type::Double, p);
            feed(&mut *a, &vals);
            a.add(99, &Value::Null);
            assert_eq!(a.value(), d(want), "p = {p}");
        }
        // 1..=20 at p = 95 is 19 (rank exactly 19 despite 0.95 not being representable).
        let mut a = pct(Type::Double, 95.0);
        for i in 1..=20 {
            a.add(i, &d(i as f64));
        }
        assert_eq!(a.value(), d(19.0));
        a.remove(20, &d(20.0));
        a.remove(1, &d(1.0));
        // 2..=19 (18 values): rank ceil(17.1) = 18.
        assert_eq!(a.value(), d(19.0));
        a.reset();
        assert_eq!(a.value(), Value::Null);
        // Integer input, duplicates.
        let mut a = pct(Type::Int, 50.0);
        feed(
            &mut *a,
            &[Value::Int(3), Value::Int(3), Value::Int(1), Value::Int(3)],
        );
        assert_eq!(a.value(), d(3.0));
        a.remove(1, &Value::Int(3));
        a.remove(2, &Value::Int(3));
        assert_eq!(a.value(), d(1.0));
        assert_eq!(a.retained(), 2);
    }

    #[test]
    fn nearest_rank_edges() {
        assert_eq!(nearest_rank(50.0, 0), 0);
        assert_eq!(nearest_rank(0.0, 7), 1);
        assert_eq!(nearest_rank(100.0, 7), 7);
        assert_eq!(nearest_rank(50.0, 4), 2);
        assert_eq!(nearest_rank(50.0, 5), 3);
        assert_eq!(nearest_rank(99.9, 1000), 999);
        assert_eq!(nearest_rank(0.1, 1000), 1);
        assert_eq!(nearest_rank(0.1, 1001), 2);
    }

    #[test]
    fn boxed_clone_is_independent() {
        let proto = acc(A::Sum, Some(Type::Long), Removal::Fifo);
        let mut g1 = proto.boxed_clone();
        let mut g2 = proto.boxed_clone();
        g1.add(1, &Value::Long(5));
        g2.add(2, &Value::Long(7));
        assert_eq!(g1.value(), Value::Long(5));
        assert_eq!(g2.value(), Value::Long(7));
        assert_eq!(proto.value(), Value::Null);
        let copy = g1.boxed_clone();
        g1.add(3, &Value::Long(1));
        assert_eq!(copy.value(), Value::Long(5));
    }

    #[test]
    fn builder_errors() {
        let e = |f, t, distinct, p| match accumulator(f, t, distinct, p, Removal::Fifo) {
            Ok(_) => panic!("{f:?} {t:?} should fail"),
            Err(e) => e,
        };
        assert!(e(A::Sum, Some(Type::String), false, None).contains("numeric"));
        assert!(e(A::Avg, Some(Type::Bool), false, None).contains("numeric"));
        assert!(e(A::Min, Some(Type::Bool), false, None).contains("numeric or STRING"));
        assert!(e(A::MaxForever, Some(Type::Bool), false, None).contains("numeric or STRING"));
        assert!(e(A::Sum, None, false, None).contains("needs an argument"));
        assert!(e(A::First, None, false, None).contains("needs an argument"));
        assert!(e(A::Count, None, true, None).contains("DISTINCT"));
        assert!(e(A::Sum, Some(Type::Long), true, None).contains("DISTINCT"));
        assert!(e(A::Percentile, Some(Type::Double), false, None).contains("percentage"));
        assert!(e(A::Percentile, Some(Type::Double), false, Some(101.0)).contains("between"));
        assert!(e(A::Percentile, Some(Type::Double), false, Some(f64::NAN)).contains("between"));
        assert!(e(A::Sum, Some(Type::Double), false, Some(5.0)).contains("no percentage"));
        // Accepted: NULL-typed arguments and TIMESTAMP.
        for f in [A::Sum, A::Avg, A::Min, A::MaxForever, A::Stddev] {
            assert!(accumulator(f, Some(Type::Null), false, None, Removal::Fifo).is_ok());
            assert!(accumulator(f, Some(Type::Timestamp), false, None, Removal::Fifo).is_ok());
        }
        let mut a = acc(A::Min, Some(Type::Null), Removal::Fifo);
        a.add(1, &Value::Null);
        assert_eq!(a.value(), Value::Null);
    }

    // -----------------------------------------------------------------------------------------
    // Property tests against a naive reference.

    #[derive(Debug, Clone)]
    enum Op {
        Add(Value),
        /// Remove a present row: the oldest (FIFO) or the one at this index modulo their number.
        Remove(usize),
        Reset,
    }

    fn ops(values: BoxedStrategy<Value>) -> impl Strategy<Value = Vec<Op>> {
        prop::collection::vec(
            prop_oneof![
                6 => values.prop_map(Op::Add),
                4 => any::<usize>().prop_map(Op::Remove),
                1 => Just(Op::Reset),
            ],
            0..120,
        )
    }

    fn int_values() -> BoxedStrategy<Value> {
        prop_oneof![
            1 => Just(Value::Null),
            6 => (-20i32..20).prop_map(Value::Int),
            2 => any::<i32>().prop_map(Value::Int),
        ]
        .boxed()
    }

    fn double_values() -> BoxedStrategy<Value> {
        prop_oneof![
            1 => Just(Value::Null),
            4 => (-20i32..20).prop_map(|x| d(f64::from(x) / 2.0)),
            4 => (-1e6f64..1e6).prop_map(d),
            1 => prop::sample::select(vec![
                0.0,
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                1e-300,
            ])
            .prop_map(d),
        ]
        .boxed()
    }

    /// Doubles without infinities and NaN (for the specials-free checks of sum/avg/stddev).
    fn finite_double_values() -> BoxedStrategy<Value> {
        prop_oneof![
            1 => Just(Value::Null),
            4 => (-20i32..20).prop_map(|x| d(f64::from(x) / 2.0)),
            4 => (-1e6f64..1e6).prop_map(d),
        ]
        .boxed()
    }

    fn string_values() -> BoxedStrategy<Value> {
        prop_oneof![
            1 => Just(Value::Null),
            6 => "[a-c]{0,3}".prop_map(Value::from),
        ]
        .boxed()
    }

    /// One aggregate call to check.
    #[derive(Debug, Clone, Copy)]
    struct Spec {
        f: AggregateFn,
        arg: Option<Type>,
        distinct: bool,
        /// Percentile as `k / 2` percent.
        half_percent: Option<u32>,
    }

    fn spec(f: AggregateFn, arg: Option<Type>) -> Spec {
        Spec {
            f,
            arg,
            distinct: false,
            half_percent: None,
        }
    }

    fn specs(t: Type, half_percent: u32) -> Vec<Spec> {
        let mut out = vec![
            spec(A::Count, None),
            spec(A::Count, Some(t)),
            Spec {
                distinct: true,
                ..spec(A::Count, Some(t))
            },
            spec(A::DistinctCount, Some(t)),
            spec(A::Min, Some(t)),
            spec(A::Max, Some(t)),
            spec(A::First, Some(t)),
            spec(A::Last, Some(t)),
            spec(A::MinForever, Some(t)),
            spec(A::MaxForever, Some(t)),
        ];
        if t != Type::String {
            out.extend([
                spec(A::Sum, Some(t)),
                spec(A::Avg, Some(t)),
                spec(A::Stddev, Some(t)),
                Spec {
                    half_percent: Some(half_percent),
                    ..spec(A::Percentile, Some(t))
                },
            ]);
        }
        out
    }

    fn naive_eq(a: &Value, b: &Value) -> bool {
        match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) if matches!(a, Value::Double(_)) => {
                x == y || (x.is_nan() && y.is_nan())
            }
            _ => a == b,
        }
    }

    /// The order of the reference: numbers with NaN above all, strings bytewise.
    fn naive_cmp(a: &Value, b: &Value) -> Ordering {
        match (a, b) {
            (Value::Double(x), Value::Double(y)) => {
                if x.is_nan() || y.is_nan() {
                    x.is_nan().cmp(&y.is_nan())
                } else {
                    x.total_cmp(y)
                }
            }
            _ => a.compare(b).unwrap_or(Ordering::Equal),
        }
    }

    /// Recomputes the aggregate from the values present (in seq order) and all values ever added.
    fn reference(sp: &Spec, present: &[Value], ever: &[Value]) -> Value {
        let vals: Vec<&Value> = present.iter().filter(|v| !v.is_null()).collect();
        let floats: Vec<f64> = vals.iter().filter_map(|v| v.as_f64()).collect();
        let extreme = |vs: &[&Value], max: bool| {
            vs.iter()
                .copied()
                .reduce(|a, b| {
                    let o = naive_cmp(b, a);
                    if (max && o == Ordering::Greater) || (!max && o == Ordering::Less) {
                        b
                    } else {
                        a
                    }
                })
                .cloned()
                .unwrap_or(Value::Null)
        };
        let distinct = || {
            let mut seen: Vec<&Value> = Vec::new();
            for v in &vals {
                if !seen.iter().any(|s| naive_eq(s, v)) {
                    seen.push(v);
                }
            }
            Value::Long(seen.len() as i64)
        };
        match sp.f {
            A::Count if sp.arg.is_none() => Value::Long(present.len() as i64),
            A::Count if sp.distinct => distinct(),
            A::Count => Value::Long(vals.len() as i64),
            A::DistinctCount => distinct(),
            _ if vals.is_empty() && !matches!(sp.f, A::MinForever | A::MaxForever) => Value::Null,
            A::Sum if sp.arg.is_some_and(Type::is_integer) => Value::Long(
                vals.iter()
                    .filter_map(|v| v.as_i64())
                    .fold(0i64, i64::wrapping_add),
            ),
            A::Sum => d(floats.iter().sum()),
            A::Avg => d(floats.iter().sum::<f64>() / floats.len() as f64),
            A::Stddev => {
                if floats.iter().any(|x| !x.is_finite()) {
                    d(f64::NAN)
                } else if floats.len() == 1 {
                    d(0.0)
                } else {
                    let n = floats.len() as f64;
                    let mean = floats.iter().sum::<f64>() / n;
                    d((floats.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt())
                }
            }
            A::Percentile => {
                let mut sorted = floats.clone();
                sorted.sort_by(|a, b| naive_cmp(&d(*a), &d(*b)));
                let k = u64::from(sp.half_percent.unwrap_or(0));
                let n = sorted.len() as u64;
                // rank = ceil(k/2 · n / 100) = ceil(k·n / 200), at least 1.
                let rank = ((k * n).div_ceil(200)).max(1);
                d(sorted[rank as usize - 1])
            }
            A::Min => extreme(&vals, false),
            A::Max => extreme(&vals, true),
            A::First => vals[0].clone(),
            A::Last => vals[vals.len() - 1].clone(),
            A::MinForever | A::MaxForever => {
                let all: Vec<&Value> = ever.iter().filter(|v| !v.is_null()).collect();
                extreme(&all, sp.f == A::MaxForever)
            }
        }
    }

    /// Whether `got` matches `want`: floating results within `tolerance` (absolute), others
    /// exactly (floats bit for bit, any NaN matching any NaN).
    fn matches_value(got: &Value, want: &Value, tolerance: Option<f64>) -> bool {
        match (got, want) {
            (Value::Double(x), Value::Double(y)) => {
                if x.is_nan() || y.is_nan() {
                    x.is_nan() && y.is_nan()
                } else if let (Some(tol), true) = (tolerance, x.is_finite() && y.is_finite()) {
                    (x - y).abs() <= tol
                } else {
                    x.to_bits() == y.to_bits()
                }
            }
            _ => got == want,
        }
    }

    fn run(sp: &Spec, removal: Removal, ops: &[Op]) -> Result<(), TestCaseError> {
        let p = sp.half_percent.map(|k| f64::from(k) / 2.0);
        let mut acc = accumulator(sp.f, sp.arg, sp.distinct, p, removal)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut present: Vec<(u64, Value)> = Vec::new();
        let mut ever: Vec<Value> = Vec::new();
        // Largest magnitude added since the window was last empty: rounding errors scale with it.
        let mut scale = 1.0f64;
        let mut seq = 0u64;
        for (step, op) in ops.iter().enumerate() {
            match op {
                Op::Add(v) => {
                    seq += 1;
                    acc.add(seq, v);
                    present.push((seq, v.clone()));
                    ever.push(v.clone());
                    if let Some(x) = v.as_f64().filter(|x| x.is_finite()) {
                        scale = scale.max(x.abs());
                    }
                }
                Op::Remove(i) => {
                    if present.is_empty() {
                        continue;
                    }
                    let idx = match removal {
                        Removal::Fifo => 0,
                        Removal::Arbitrary => i % present.len(),
                    };
                    let (s, v) = present.remove(idx);
                    acc.remove(s, &v);
                }
                Op::Reset => {
                    acc.reset();
                    present.clear();
                }
            }
            if present.iter().all(|(_, v)| v.is_null()) {
                scale = 1.0;
                for (_, v) in &present {
                    if let Some(x) = v.as_f64().filter(|x| x.is_finite()) {
                        scale = scale.max(x.abs());
                    }
                }
            }
            let values: Vec<Value> = present.iter().map(|(_, v)| v.clone()).collect();
            let want = reference(sp, &values, &ever);
            let got = acc.value();
            let tolerance = match sp.f {
                A::Sum | A::Avg => Some(1e-9 * scale),
                A::Stddev => Some(1e-5 * scale),
                _ => None,
            };
            prop_assert!(
                matches_value(&got, &want, tolerance),
                "{:?} {:?} step {}: got {:?}, want {:?}",
                sp,
                removal,
                step,
                got,
                want
            );
            let copy = acc.boxed_clone();
            prop_assert!(matches_value(&copy.value(), &got, None));
        }
        Ok(())
    }

    fn run_all(t: Type, half_percent: u32, ops: &[Op]) -> Result<(), TestCaseError> {
        for sp in specs(t, half_percent) {
            for removal in BOTH {
                run(&sp, removal, ops)?;
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn int_aggregates_match_reference(ops in ops(int_values()), k in 0u32..=200) {
            run_all(Type::Int, k, &ops)?;
        }

        #[test]
        fn long_aggregates_match_reference(
            ops in ops(int_values().prop_map(|v| v.as_i64().into()).boxed()),
            k in 0u32..=200,
        ) {
            run_all(Type::Long, k, &ops)?;
        }

        #[test]
        fn double_aggregates_match_reference(ops in ops(double_values()), k in 0u32..=200) {
            run_all(Type::Double, k, &ops)?;
        }

        #[test]
        fn finite_double_aggregates_match_reference(
            ops in ops(finite_double_values()),
            k in 0u32..=200,
        ) {
            run_all(Type::Double, k, &ops)?;
        }

        #[test]
        fn string_aggregates_match_reference(ops in ops(string_values())) {
            run_all(Type::String, 0, &ops)?;
        }
    }
}
