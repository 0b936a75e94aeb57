//! Batches of events stored flat: one `Vec<Value>` for all rows, so moving rows between
//! operators reuses buffers instead of allocating per event.

use crate::value::Value;

/// Whether a row is an arrival (current) or a removal from a window (expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EventKind {
    #[default]
    Current,
    Expired,
}

/// Rows of one schema. Row `i` is `values[i * arity .. (i + 1) * arity]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    arity: usize,
    values: Vec<Value>,
    timestamps: Vec<i64>,
    kinds: Vec<EventKind>,
    /// Where emissions end (row counts), when the producer marks them: a join marks the rows
    /// of one arrival, a pattern the matches of one event, so that ORDER BY / LIMIT / OFFSET
    /// downstream apply per emission (§8). Empty: every row is its own emission.
    ends: Vec<u32>,
}

/// A borrowed view of one row of a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row<'a> {
    pub ts: i64,
    pub kind: EventKind,
    pub values: &'a [Value],
}

impl Batch {
    pub fn new(arity: usize) -> Batch {
        Batch {
            arity,
            ..Batch::default()
        }
    }

    pub fn with_capacity(arity: usize, rows: usize) -> Batch {
        Batch {
            arity,
            values: Vec::with_capacity(arity * rows),
            timestamps: Vec::with_capacity(rows),
            kinds: Vec::with_capacity(rows),
            ends: Vec::new(),
        }
    }

    pub fn arity(&self) -> usize {
        self.arity
    }

    /// Changes the arity of an empty batch (buffers are reused across schemas).
    pub fn reset(&mut self, arity: usize) {
        self.clear();
        self.arity = arity;
    }

    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// Removes every row, keeping the allocated capacity.
    pub fn clear(&mut self) {
        self.values.clear();
        self.timestamps.clear();
        self.kinds.clear();
        self.ends.clear();
    }

    /// Marks the rows pushed since the previous mark as one emission (nothing when none were).
    pub fn mark_emission(&mut self) {
        let n = self.len() as u32;
        if self.ends.last().map_or(n > 0, |&e| e < n) {
            self.ends.push(n);
        }
    }

    /// The marked ends of emissions (row counts), in order; empty when rows are not marked.
    pub fn emission_ends(&self) -> &[u32] {
        &self.ends
    }

    /// Appends a row by cloning `values`, which must hold exactly `arity` values.
    pub fn push(&mut self, ts: i64, kind: EventKind, values: &[Value]) {
        debug_assert_eq!(values.len(), self.arity);
        self.values.extend_from_slice(values);
        self.timestamps.push(ts);
        self.kinds.push(kind);
    }

    /// Appends a row whose values come from an iterator yielding exactly `arity` values.
    pub fn push_iter(&mut self, ts: i64, kind: EventKind, values: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(values);
        debug_assert_eq!(self.values.len() - before, self.arity);
        self.timestamps.push(ts);
        self.kinds.push(kind);
    }

    /// Appends a row by moving values out of `values` (which is left empty).
    pub fn push_vec(&mut self, ts: i64, kind: EventKind, values: &mut Vec<Value>) {
        debug_assert_eq!(values.len(), self.arity);
        self.values.append(values);
        self.timestamps.push(ts);
        self.kinds.push(kind);
    }

    /// Keeps the first `rows` rows.
    pub fn truncate(&mut self, rows: usize) {
        self.values.truncate(rows * self.arity);
        self.timestamps.truncate(rows);
        self.kinds.truncate(rows);
        self.ends.retain(|&e| e as usize <= rows);
    }

    /// Keeps only the rows of one kind, in order.
    pub fn retain_kind(&mut self, keep: EventKind) {
        if self.kinds.iter().all(|k| *k == keep) {
            return;
        }
        let mut w = 0;
        for r in 0..self.len() {
            if self.kinds[r] != keep {
                continue;
            }
            if w != r {
                for a in 0..self.arity {
                    self.values.swap(w * self.arity + a, r * self.arity + a);
                }
                self.timestamps[w] = self.timestamps[r];
                self.kinds[w] = self.kinds[r];
            }
            w += 1;
        }
        self.values.truncate(w * self.arity);
        self.timestamps.truncate(w);
        self.kinds.truncate(w);
        self.ends.clear();
    }

    pub fn row(&self, i: usize) -> Row<'_> {
        Row {
            ts: self.timestamps[i],
            kind: self.kinds[i],
            values: &self.values[i * self.arity..(i + 1) * self.arity],
        }
    }

    pub fn rows(&self) -> impl ExactSizeIterator<Item = Row<'_>> + '_ {
        (0..self.len()).map(move |i| self.row(i))
    }

    pub fn timestamps(&self) -> &[i64] {
        &self.timestamps
    }

    /// Row timestamps, for drivers that restamp prepared batches.
    pub fn timestamps_mut(&mut self) -> &mut [i64] {
        &mut self.timestamps
    }

    pub fn kinds(&self) -> &[EventKind] {
        &self.kinds
    }

    pub fn values(&self) -> &[Value] {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_sliced_by_arity() {
        let mut b = Batch::new(2);
        b.push(1, EventKind::Current, &[Value::Int(1), Value::string("a")]);
        b.push_iter(2, EventKind::Expired, [Value::Int(2), Value::Null]);
        assert_eq!(b.len(), 2);
        let r = b.row(1);
        assert_eq!(r.ts, 2);
        assert_eq!(r.kind, EventKind::Expired);
        assert_eq!(r.values, &[Value::Int(2), Value::Null]);
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn retain_kind_keeps_order() {
        let mut b = Batch::new(1);
        for i in 0..5 {
            let kind = if i % 2 == 0 {
                EventKind::Current
            } else {
                EventKind::Expired
            };
            b.push(i, kind, &[Value::Long(i)]);
        }
        b.retain_kind(EventKind::Current);
        assert_eq!(b.timestamps(), &[0, 2, 4]);
        assert_eq!(
            b.values(),
            &[Value::Long(0), Value::Long(2), Value::Long(4)]
        );
    }

    #[test]
    fn emission_marks_skip_empty_emissions() {
        let mut b = Batch::new(1);
        b.mark_emission();
        b.push(1, EventKind::Current, &[Value::Long(1)]);
        b.push(1, EventKind::Current, &[Value::Long(2)]);
        b.mark_emission();
        b.mark_emission();
        b.push(2, EventKind::Current, &[Value::Long(3)]);
        b.mark_emission();
        assert_eq!(b.emission_ends(), &[2, 3]);
        b.truncate(2);
        assert_eq!(b.emission_ends(), &[2]);
        b.clear();
        assert!(b.emission_ends().is_empty());
    }

    #[test]
    fn zero_arity_rows_are_counted() {
        let mut b = Batch::new(0);
        b.push(5, EventKind::Current, &[]);
        assert_eq!(b.len(), 1);
        assert!(b.row(0).values.is_empty());
    }
}
