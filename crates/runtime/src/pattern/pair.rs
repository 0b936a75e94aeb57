//! The two-step fast path: `EVERY e1=A[f1] -> e2=B[f2]` and `EVERY e1=A[f1] -> NOT B[f2] FOR d`
//! (each with an optional WITHIN) — the shape of most CEP rules (followed-by with a
//! correlation, and "no follow-up in time"). It keeps exactly the general automaton's
//! semantics (docs/patterns.md), but a partial match here is only "e1 is bound, waiting for
//! step two": a row in a slab (its e1 event, times and creation rank), indexed by the step-two
//! filter's correlation key, with its deadlines in the shared per-delay queues. No node states
//! are interpreted per event and nothing is allocated per partial match beyond the bound event.

use super::automaton::{Automaton, LeafKey, Node};
use super::bindings::{Binding, Ev, SlotView};
use super::deadlines::{absence_token, within_token, Deadlines, WAKE};
use super::routing::{Ordered, RangeIndex};
use super::{Budget, Emitter};
use crate::batch::Batch;
use crate::compile::{compile_expr, CompileError, CompiledExpr, CompiledPredicate, EvalCtx};
use crate::operators::{BatchOperator, OpCtx};
use crate::value::{KeyValue, Value};
use eventflux_planner::expr::TypedExprKind;
use eventflux_planner::pattern::PatternPlan;
use eventflux_planner::plan::PartitionKeyPlan;
use hashbrown::HashTable;
use rustc_hash::{FxHashMap, FxHasher};
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Step two of the pair.
enum Second {
    /// `e2=B[f2]`: completes the match.
    Bind { slot: usize },
    /// `NOT B[f2] FOR d`: a B passing f2 before the deadline kills the match.
    Absent { duration: i64 },
}

/// How waiting matches are found from a B event.
enum Index {
    /// No usable key: every waiting match is offered the event.
    All,
    /// `attr = e1.attr`: by the hash of e1's value (each entry's hash is in its `route`), one
    /// table slot per waiting match — a few bytes each, not a map entry holding the key.
    Equal {
        col: usize,
        attr: usize,
        table: HashTable<u64>,
    },
    /// `attr OP bound(e1)`: by the bound's value, in order (one index per partition key).
    Range { col: usize, below: bool },
}

/// The waiting matches of one partition key (the only one when the query has no PARTITION).
#[derive(Default)]
struct Part {
    /// Ids in creation order (stale ones skipped and compacted lazily): the key's oldest for
    /// the bound, and every match for an event without an index.
    order: VecDeque<u64>,
    range: RangeIndex,
    live: usize,
}

/// How an input stream's events find their partition key.
enum PartKey {
    Column(usize),
    Expr(CompiledExpr),
}

/// A waiting match: e1 is bound (in `binds`, at this entry's stride).
#[derive(Default, Clone, Copy)]
struct Entry {
    /// 0 when the entry is free.
    seq: u64,
    gen: u32,
    /// Partition key (index into `parts`).
    part: u32,
    /// Whether `route` holds the index key: the key's hash (hash index) or its order (range
    /// index; computed once, the bound is an expression).
    routed: bool,
    route: u64,
}

fn hash_key(part: u32, v: &Value) -> u64 {
    let mut h = FxHasher::default();
    part.hash(&mut h);
    KeyValue::from_ref(v).hash(&mut h);
    h.finish()
}

const GEN_MASK: u32 = 0x7FFF_FFFF;

pub struct PairOperator {
    auto: Automaton,
    first_stream: usize,
    first_slot: usize,
    first_filter: Option<CompiledPredicate>,
    second_stream: usize,
    second_filter: Option<CompiledPredicate>,
    second: Second,
    /// Step two's node (its index key's bound expression lives in `auto.keys`).
    second_node: usize,
    within: Option<i64>,
    index: Index,
    emitter: Emitter,
    arity: usize,
    /// Slab of waiting matches and their bindings (`slots` per entry).
    entries: Vec<Entry>,
    binds: Vec<Binding>,
    slots: usize,
    free: Vec<u32>,
    live: usize,
    next_seq: u64,
    /// Per partition key; `parts[0]` is the only one without PARTITION.
    parts: Vec<Part>,
    /// PARTITION keys handled here (empty without PARTITION): per input stream, and the key
    /// values seen.
    part_keys: Vec<(usize, PartKey)>,
    part_index: FxHashMap<KeyValue, u32>,
    /// Absence deadlines (they emit: the engine timer is set for the earliest exactly) and WITHIN
    /// expiries (they only free: expired matches are freed before each input batch, and by a
    /// timer at most `slack` late when no event comes). One sequence orders ties across both,
    /// as the general automaton's single queue does.
    absences: Deadlines,
    expiries: Deadlines,
    deadline_seq: u64,
    slack: i64,
    wake: Option<i64>,
    max_partial: usize,
    budget: Budget,
    dropped: u64,
    candidates: Vec<u64>,
    /// Bindings of a completed match (e1, e2) while it is emitted.
    scratch: Vec<Binding>,
    /// No bindings at all: what step one's filter sees.
    empty: Vec<Binding>,
    /// Bound-event buffers of freed matches, overwritten by new ones (no allocation per event).
    spare_rows: Vec<Arc<Ev>>,
}

/// Bound-event buffers kept for reuse at most.
const SPARE_ROWS_MAX: usize = 1024;

fn slot_of(id: u64) -> usize {
    (id & 0xFFFF_FFFF) as usize
}

fn gen_of(id: u64) -> u32 {
    (id >> 32) as u32
}

impl PairOperator {
    /// The fast path for `plan` when it has the two-step shape, else `None`.
    pub fn try_new(
        plan: &PatternPlan,
        max_partial: usize,
        budget: Budget,
    ) -> Result<Option<PairOperator>, CompileError> {
        // The planner's shape test (shown by explain) and this one agree by construction;
        // both must hold.
        if !plan.is_two_step() {
            return Ok(None);
        }
        let mut auto = Automaton::new(plan)?;
        let Node::Seq(steps) = &auto.nodes[auto.root] else {
            return Ok(None);
        };
        let &[every, second] = steps.as_slice() else {
            return Ok(None);
        };
        let Node::Every(first) = auto.nodes[every] else {
            return Ok(None);
        };
        let Node::Element {
            slot: first_slot,
            stream: first_stream,
            min: 1,
            max: Some(1),
            ..
        } = auto.nodes[first]
        else {
            return Ok(None);
        };
        let (second_kind, second_stream) = match auto.nodes[second] {
            Node::Element {
                slot,
                stream,
                min: 1,
                max: Some(1),
                ..
            } => (Second::Bind { slot }, stream),
            Node::Absent {
                stream,
                duration: Some(duration),
                ..
            } => (Second::Absent { duration }, stream),
            _ => return Ok(None),
        };
        let index = match &auto.keys[second] {
            None => Index::All,
            Some(LeafKey::Equal {
                col, attr, slot, ..
            }) if *slot == first_slot => Index::Equal {
                col: *col,
                attr: *attr,
                table: HashTable::new(),
            },
            Some(LeafKey::Equal { .. }) => Index::All,
            Some(LeafKey::Range { col, below, .. }) => Index::Range {
                col: *col,
                below: *below,
            },
        };
        let first_filter = match &mut auto.nodes[first] {
            Node::Element { filter, .. } => filter.take(),
            _ => None,
        };
        let second_filter = match &mut auto.nodes[second] {
            Node::Element { filter, .. } | Node::Absent { filter, .. } => filter.take(),
            _ => None,
        };
        let slots = plan.slots.len();
        Ok(Some(PairOperator {
            first_stream,
            first_slot,
            first_filter,
            second_stream,
            second_filter,
            second: second_kind,
            second_node: second,
            within: plan.within,
            index,
            emitter: Emitter::new(plan)?,
            arity: plan.emit.len(),
            entries: Vec::new(),
            binds: Vec::new(),
            slots,
            free: Vec::new(),
            live: 0,
            next_seq: 0,
            parts: vec![Part::default()],
            part_keys: Vec::new(),
            part_index: FxHashMap::default(),
            absences: Deadlines::default(),
            expiries: Deadlines::default(),
            deadline_seq: 0,
            slack: plan.within.map_or(0, |w| w / 8),
            wake: None,
            max_partial: max_partial.max(1),
            budget,
            dropped: 0,
            candidates: Vec::new(),
            scratch: vec![Binding::Empty; slots],
            empty: vec![Binding::Empty; slots],
            spare_rows: Vec::new(),
            auto,
        }))
    }

    fn get(&self, id: u64) -> Option<&Entry> {
        self.entries
            .get(slot_of(id))
            .filter(|e| e.seq != 0 && e.gen == gen_of(id))
    }

    fn bindings(&self, slot: usize) -> &[Binding] {
        &self.binds[slot * self.slots..(slot + 1) * self.slots]
    }

    /// The bound side of a range index's inequality, for a waiting match.
    fn range_bound(&self, slot: usize) -> Value {
        let Some(LeafKey::Range { bound, .. }) = &self.auto.keys[self.second_node] else {
            return Value::Null;
        };
        bound(&EvalCtx {
            row: &[],
            ts: 0,
            now: 0,
            bindings: Some(&SlotView {
                bindings: self.bindings(slot),
            }),
        })
    }

    fn index_insert(&mut self, id: u64) {
        let s = slot_of(id);
        match &self.index {
            Index::All => {}
            Index::Equal { attr, .. } => {
                let e1 = self.binds[s * self.slots + self.first_slot].events();
                let h = hash_key(
                    self.entries[s].part,
                    e1.first()
                        .and_then(|e| e.get(*attr))
                        .unwrap_or(&Value::Null),
                );
                let entries = &mut self.entries;
                entries[s].routed = true;
                entries[s].route = h;
                if let Index::Equal { table, .. } = &mut self.index {
                    table.insert_unique(h, id, |&x| entries[slot_of(x)].route);
                }
            }
            Index::Range { .. } => {
                // NULL or NaN satisfy no comparison: not indexed.
                if let Some(o) = Ordered::of(&self.range_bound(s)) {
                    let e = &mut self.entries[s];
                    e.routed = true;
                    e.route = o.0 as u64;
                    self.parts[e.part as usize].range.insert(o, id);
                }
            }
        }
    }

    fn index_remove(&mut self, id: u64) {
        let e = self.entries[slot_of(id)];
        if !e.routed {
            return;
        }
        match &mut self.index {
            Index::All => {}
            Index::Equal { table, .. } => {
                if let Ok(found) = table.find_entry(e.route, |&x| x == id) {
                    found.remove();
                }
            }
            Index::Range { .. } => self.parts[e.part as usize]
                .range
                .remove(Ordered(e.route as i64), id),
        }
    }

    /// Frees a waiting match (its bound events are released now).
    fn remove(&mut self, id: u64) -> bool {
        let Some(s) = self.unlink(id) else {
            return false;
        };
        for k in s * self.slots..(s + 1) * self.slots {
            let b = std::mem::take(&mut self.binds[k]);
            self.release(b);
        }
        true
    }

    /// Takes a waiting match out of the index and frees its entry (its bindings stay in
    /// `binds` for the caller to take); its slot, if it was live.
    fn unlink(&mut self, id: u64) -> Option<usize> {
        self.get(id)?;
        self.index_remove(id);
        let s = slot_of(id);
        let e = &mut self.entries[s];
        e.seq = 0;
        e.gen = (e.gen + 1) & GEN_MASK;
        self.parts[e.part as usize].live -= 1;
        self.free.push(s as u32);
        self.live -= 1;
        self.budget.sub(1);
        Some(s)
    }

    /// A new waiting match with e1 bound to `ev`.
    fn spawn(&mut self, ev: Arc<Ev>, ts: i64, part: u32, ctx: &mut OpCtx<'_>) {
        // Bound the query's live partial matches: drop this key's oldest, or — when this key
        // holds none — the new one, and count it (as the general automaton does).
        if self.budget.used() >= self.max_partial {
            self.dropped += 1;
            let mut freed = false;
            while let Some(oldest) = self.parts[part as usize].order.pop_front() {
                if self.remove(oldest) {
                    freed = true;
                    break;
                }
            }
            if !freed {
                self.release(Binding::One(ev));
                return;
            }
        }
        self.budget.add(1);
        self.next_seq += 1;
        let s = match self.free.pop() {
            Some(s) => s as usize,
            None => {
                self.entries.push(Entry::default());
                self.binds
                    .extend(std::iter::repeat_n(Binding::Empty, self.slots));
                self.entries.len() - 1
            }
        };
        let e = &mut self.entries[s];
        e.seq = self.next_seq;
        e.routed = false;
        e.part = part;
        let id = (u64::from(e.gen) << 32) | s as u64;
        self.binds[s * self.slots + self.first_slot] = Binding::One(ev);
        self.live += 1;
        let p = &mut self.parts[part as usize];
        p.live += 1;
        p.order.push_back(id);
        if p.order.len() > 2 * p.live + 64 {
            let entries = &self.entries;
            p.order.retain(|&id| {
                entries
                    .get(slot_of(id))
                    .is_some_and(|e| e.seq != 0 && e.gen == gen_of(id))
            });
        }
        // Same deadlines, in the same order, as the general automaton: the absence's (armed on
        // entering step two), then WITHIN's.
        if let Second::Absent { duration } = self.second {
            if let Some(at) = ctx.now.checked_add(duration).filter(|&at| at != i64::MAX) {
                self.deadline_seq += 1;
                self.absences
                    .insert(ctx.now, at, self.deadline_seq, absence_token(id));
            }
        }
        if let Some(w) = self.within {
            self.deadline_seq += 1;
            self.expiries.insert(
                ctx.now,
                ts.saturating_add(w),
                self.deadline_seq,
                within_token(id),
            );
        }
        self.arm(ctx);
        self.index_insert(id);
    }

    /// The waiting matches a B event can reach, oldest first.
    fn route(&mut self, row: &[Value], part: u32) {
        let mut c = std::mem::take(&mut self.candidates);
        c.clear();
        let p = &self.parts[part as usize];
        match &self.index {
            Index::All => {
                let entries = &self.entries;
                c.extend(p.order.iter().copied().filter(|&id| {
                    entries
                        .get(slot_of(id))
                        .is_some_and(|e| e.seq != 0 && e.gen == gen_of(id))
                }));
            }
            Index::Equal { col, table, .. } => {
                let h = hash_key(part, row.get(*col).unwrap_or(&Value::Null));
                let entries = &self.entries;
                // Same key and hash only (the filter decides exactly).
                c.extend(table.iter_hash(h).copied().filter(|&id| {
                    let e = &entries[slot_of(id)];
                    e.route == h && e.part == part
                }));
            }
            Index::Range { col, below } => {
                // Inclusive bounds (a superset): the filter decides exactly.
                if let Some(v) = row.get(*col).and_then(Ordered::of) {
                    p.range.collect(v, *below, &mut c);
                }
            }
        }
        if c.len() > 1 && !matches!(self.index, Index::All) {
            let entries = &self.entries;
            c.sort_unstable_by_key(|&id| entries[slot_of(id)].seq);
        }
        self.candidates = c;
    }

    fn on_event(
        &mut self,
        stream: usize,
        row: &[Value],
        ts: i64,
        ctx: &mut OpCtx<'_>,
        out: &mut Batch,
    ) {
        // The event's partition key (without PARTITION: the one part); a stream without a key
        // does not reach a partitioned query.
        let part = if self.part_keys.is_empty() {
            0
        } else {
            match self.part_of(stream, row, ts, ctx.now) {
                Some(p) => p,
                None => return,
            }
        };
        if stream == self.second_stream {
            self.route(row, part);
            let ids = std::mem::take(&mut self.candidates);
            let mut shared: Option<Arc<Ev>> = None;
            for &id in &ids {
                let s = slot_of(id);
                if self.get(id).is_none() {
                    continue;
                }
                let pass = match &self.second_filter {
                    None => true,
                    Some(f) => f(&EvalCtx {
                        row,
                        ts,
                        now: ctx.now,
                        bindings: Some(&SlotView {
                            bindings: self.bindings(s),
                        }),
                    }),
                };
                if !pass {
                    continue;
                }
                match self.second {
                    Second::Bind { slot } => {
                        let ev = shared.get_or_insert_with(|| Arc::from(row)).clone();
                        // Stamped with the completing event (as the general automaton does).
                        self.complete(id, Some((slot, ev)), ts, ctx.now, out);
                    }
                    Second::Absent { .. } => {
                        self.remove(id);
                    }
                }
            }
            self.candidates = ids;
        }
        if stream == self.first_stream {
            let pass = match &self.first_filter {
                None => true,
                Some(f) => f(&EvalCtx {
                    row,
                    ts,
                    now: ctx.now,
                    bindings: Some(&SlotView {
                        bindings: &self.empty,
                    }),
                }),
            };
            if pass {
                let ev = self.bound_row(row);
                self.spawn(ev, ts, part, ctx);
            }
        }
    }

    /// The partition key of an event (created on first sight, as a partition instance is).
    fn part_of(&mut self, stream: usize, row: &[Value], ts: i64, now: i64) -> Option<u32> {
        let (_, key) = self.part_keys.iter().find(|(s, _)| *s == stream)?;
        let owned;
        let key = match key {
            PartKey::Column(c) => KeyValue::from_ref(row.get(*c).unwrap_or(&Value::Null)),
            PartKey::Expr(e) => {
                owned = KeyValue(e(&EvalCtx {
                    row,
                    ts,
                    now,
                    bindings: None,
                }));
                &owned
            }
        };
        if let Some(&p) = self.part_index.get(key) {
            return Some(p);
        }
        // Part 0 was the unpartitioned placeholder: the first key takes it.
        let p = if self.part_index.is_empty() {
            0
        } else {
            self.parts.push(Part::default());
            (self.parts.len() - 1) as u32
        };
        self.part_index.insert(key.clone(), p);
        Some(p)
    }

    /// WITHIN expiries on their exact time (for an operator that sees only some of the
    /// events: it cannot count on the next event to free what expired).
    pub fn exact_expiry(mut self) -> PairOperator {
        self.slack = 0;
        self
    }

    /// Whether [`PairOperator::partitioned`] takes these keys: value keys (`expr OF Stream`)
    /// only; range partitions keep one operator per key.
    pub fn can_partition(keys: &[(usize, PartitionKeyPlan)]) -> bool {
        keys.iter()
            .all(|(_, k)| matches!(k, PartitionKeyPlan::Value(_)))
    }

    /// Runs the query's PARTITION here — the keys' matches kept apart by key, with one deadline
    /// queue and one engine timer for all of them — instead of one operator per key.
    pub fn partitioned(
        mut self,
        keys: &[(usize, PartitionKeyPlan)],
    ) -> Result<PairOperator, CompileError> {
        let mut part_keys = Vec::new();
        for (stream, key) in keys {
            if let PartitionKeyPlan::Value(e) = key {
                part_keys.push((
                    *stream,
                    match &e.kind {
                        TypedExprKind::Column(c) => PartKey::Column(c.index),
                        _ => PartKey::Expr(compile_expr(e)?),
                    },
                ));
            }
        }
        self.part_keys = part_keys;
        Ok(self)
    }

    /// Handles every deadline due by now, absences and expiries merged in (time, sequence) order.
    fn run_due(&mut self, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        loop {
            let a = self.absences.peek_due(ctx.now);
            let e = self.expiries.peek_due(ctx.now);
            let token = match (a, e) {
                (Some(a), Some(e)) if (a.0, a.1) <= (e.0, e.1) => self.absences.pop_queue(a.2),
                (_, Some(e)) => self.expiries.pop_queue(e.2),
                (Some(a), None) => self.absences.pop_queue(a.2),
                (None, None) => None,
            };
            let Some(token) = token else {
                return;
            };
            self.on_deadline(token, ctx, out);
        }
    }

    /// Sets the engine timer for the next deadline: an absence's exactly, an expiry's up to
    /// `slack` later (an event before then frees it on time anyway).
    fn arm(&mut self, ctx: &mut OpCtx<'_>) {
        let expiry = self
            .expiries
            .next()
            .map(|t| match t.saturating_add(self.slack) {
                i64::MAX => t,
                late => late,
            });
        let next = match (self.absences.next(), expiry) {
            (Some(a), Some(e)) => Some(a.min(e)),
            (a, e) => a.or(e),
        };
        if let Some(next) = next {
            if self.wake.is_none_or(|w| next < w) {
                self.wake = Some(next);
                ctx.schedule(next, WAKE);
            }
        }
    }

    /// A shared copy of `row`, in a reused buffer when one is free.
    fn bound_row(&mut self, row: &[Value]) -> Arc<Ev> {
        while let Some(mut spare) = self.spare_rows.pop() {
            if let Some(buf) = Arc::get_mut(&mut spare).filter(|b| b.len() == row.len()) {
                buf.clone_from_slice(row);
                return spare;
            }
        }
        Arc::from(row)
    }

    /// An absence deadline or a WITHIN expiry is due.
    fn on_deadline(&mut self, token: u64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let id = token / 2;
        if token % 2 == 1 {
            self.remove(id);
            return;
        }
        if self.get(id).is_none() {
            return;
        }
        // The absence held for its whole duration: the match is complete.
        self.complete(id, None, ctx.now, ctx.now, out);
    }

    /// Emits waiting match `id` (with e2 bound when step two binds one) and frees it.
    fn complete(
        &mut self,
        id: u64,
        e2: Option<(usize, Arc<Ev>)>,
        ts: i64,
        now: i64,
        out: &mut Batch,
    ) {
        let Some(s) = self.unlink(id) else {
            return;
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.swap_with_slice(&mut self.binds[s * self.slots..(s + 1) * self.slots]);
        if let Some((slot, ev)) = e2 {
            scratch[slot] = Binding::One(ev);
        }
        self.emitter.emit(&scratch, ts, now, out);
        for b in &mut scratch {
            self.release(std::mem::take(b));
        }
        self.scratch = scratch;
    }

    /// Drops a binding, keeping its event buffer for reuse when nothing else holds it.
    fn release(&mut self, b: Binding) {
        if let Binding::One(row) = b {
            if Arc::strong_count(&row) == 1 && self.spare_rows.len() < SPARE_ROWS_MAX {
                self.spare_rows.push(row);
            }
        }
    }
}

impl Drop for PairOperator {
    /// A purged partition key's matches leave the query's budget.
    fn drop(&mut self) {
        self.budget.sub(self.live);
    }
}

impl BatchOperator for PairOperator {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        // WITHIN expiries due by now go first (their timer may be set a little later).
        self.run_due(ctx, out);
        let stream = ctx.stream;
        for r in input.rows() {
            self.on_event(stream, r.values, r.ts, ctx, out);
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        if token != WAKE {
            return;
        }
        if self.wake.is_some_and(|w| w <= ctx.now) {
            self.wake = None;
        }
        self.run_due(ctx, out);
        self.arm(ctx);
    }

    fn output_arity(&self) -> usize {
        self.arity
    }

    /// Waiting matches plus the template that starts them, per partition key seen (as the
    /// general automaton under per-key operators counts).
    fn state_size(&self) -> usize {
        let templates = if self.part_keys.is_empty() {
            1
        } else {
            self.part_index.len()
        };
        self.live + templates
    }

    fn dropped_partial_matches(&self) -> u64 {
        self.dropped
    }
}
