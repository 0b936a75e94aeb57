//! The pattern engine (§11): `automaton` (nodes, states, transitions), `bindings` (bound
//! events), `routing` (which partial matches an event reaches), `deadlines` (absence and WITHIN
//! timers), and here the operator that holds the partial matches. Design: docs/patterns.md.

mod automaton;
mod bindings;
mod deadlines;
mod pair;
mod routing;
mod store;

use automaton::{Automaton, Feed, Instance, LeafKey, Node, Step};
use bindings::{Ev, SlotView};
use deadlines::{absence_token, within_token, Deadlines, WAKE};
use routing::{Ids, Leaves, Ordered, Waiting};
use store::{Id, Pool, Store};

pub use pair::PairOperator;

use crate::batch::{Batch, EventKind};
use crate::compile::{
    compile_expr, compile_predicate, CompileError, CompiledExpr, CompiledPredicate, EvalCtx,
};
use crate::operators::{BatchOperator, OpCtx};
use crate::value::{KeyValue, Value};
use eventflux_planner::pattern::PatternPlan;
use eventflux_sql::ast::PatternMode;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// The live partial matches of one query, shared by the operators of all its partition keys so
/// that `pattern.max_partial_matches` bounds the query, not each key. One thread runs a query
/// and its operators, so updates are a plain load and store (no locked read-modify-write per
/// partial match); the atomic only keeps the engine `Send`.
#[derive(Clone, Default)]
pub struct Budget(Arc<std::sync::atomic::AtomicUsize>);

impl Budget {
    fn used(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
    fn add(&self, n: usize) {
        self.0.store(
            self.used().wrapping_add(n),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
    fn sub(&self, n: usize) {
        self.0.store(
            self.used().saturating_sub(n),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

/// What a complete match emits: WHERE, then the SELECT list in the target's column order.
pub(crate) struct Emitter {
    condition: Option<CompiledPredicate>,
    outputs: Vec<CompiledExpr>,
    emit: Vec<usize>,
    out_row: Vec<Value>,
}

impl Emitter {
    fn new(plan: &PatternPlan) -> Result<Emitter, CompileError> {
        Ok(Emitter {
            condition: plan.condition.as_ref().map(compile_predicate).transpose()?,
            outputs: plan
                .outputs
                .iter()
                .map(|(_, e)| compile_expr(e))
                .collect::<Result<Vec<_>, _>>()?,
            emit: plan.emit.clone(),
            out_row: Vec::new(),
        })
    }

    /// Emits the match with these bindings (if WHERE passes).
    fn emit(&mut self, bindings: &[bindings::Binding], ts: i64, now: i64, out: &mut Batch) {
        let view = SlotView { bindings };
        let ctx = EvalCtx {
            row: &[],
            ts,
            now,
            bindings: Some(&view),
        };
        if let Some(c) = &self.condition {
            if !c(&ctx) {
                return;
            }
        }
        self.out_row.clear();
        for o in &self.outputs {
            self.out_row.push(o(&ctx));
        }
        let row = &self.out_row;
        out.push_iter(
            ts,
            EventKind::Current,
            self.emit.iter().map(|&i| row[i].clone()),
        );
    }
}

pub struct PatternOperator {
    auto: Automaton,
    emitter: Emitter,
    arity: usize,
    instances: Store,
    pool: Pool,
    /// Per leaf node, the instances that can take an event there.
    waiting: Vec<Option<Waiting>>,
    /// Whether the root instance is live (it does not count against the bound).
    root_live: bool,
    started: bool,
    /// Without EVERY a PATTERN matches once: set after the match.
    finished: bool,
    max_partial: usize,
    budget: Budget,
    deadlines: Deadlines,
    /// Partial matches dropped because of the bound.
    pub dropped: u64,
    candidates: Vec<Id>,
    leaves: Vec<(usize, Option<KeyValue>)>,
    /// Per-event scratch (kept to avoid allocating per event): matches completed by the
    /// event, instances it spawned (with their armed deadlines in `spawn_armed`), deadlines
    /// armed by one transition.
    completed: Vec<Instance>,
    spawned: Vec<(Instance, std::ops::Range<usize>)>,
    spawn_armed: Vec<i64>,
    armed: Vec<i64>,
}

impl PatternOperator {
    /// The bound this operator enforces on live partial matches.
    pub fn max_partial_matches(&self) -> usize {
        self.max_partial
    }

    pub fn new(
        plan: &PatternPlan,
        max_partial: usize,
        budget: Budget,
    ) -> Result<PatternOperator, CompileError> {
        let auto = Automaton::new(plan)?;
        let waiting = (0..auto.nodes.len())
            .map(|n| match &auto.nodes[n] {
                Node::Element { .. } | Node::Absent { .. } => Some(match &auto.keys[n] {
                    Some(LeafKey::Equal { .. }) => Waiting::Keyed(HashMap::new()),
                    Some(LeafKey::Range { .. }) => Waiting::Ranged(BTreeMap::new()),
                    None => Waiting::Plain(BTreeSet::new()),
                }),
                _ => None,
            })
            .collect();
        Ok(PatternOperator {
            auto,
            emitter: Emitter::new(plan)?,
            arity: plan.emit.len(),
            instances: Store::default(),
            pool: Pool::default(),
            waiting,
            root_live: false,
            started: false,
            finished: false,
            max_partial: max_partial.max(1),
            budget,
            deadlines: Deadlines::default(),
            dropped: 0,
            candidates: Vec::new(),
            leaves: Vec::new(),
            completed: Vec::new(),
            spawned: Vec::new(),
            spawn_armed: Vec::new(),
            armed: Vec::new(),
        })
    }
}

impl PatternOperator {
    fn fresh(&mut self) -> Instance {
        self.pool.fresh(&self.auto)
    }

    /// Updates the routing index for an instance after its state changed.
    fn register(&mut self, id: Id) {
        let Some(inst) = self.instances.get(id) else {
            return;
        };
        let mut leaves = std::mem::take(&mut self.leaves);
        leaves.clear();
        self.auto
            .active_leaves(self.auto.root, inst, true, &mut leaves);
        let old = std::mem::take(&mut self.instance_leaves_mut(id));
        for (leaf, key) in old.as_slice() {
            self.unwait(*leaf, key.as_ref(), id);
        }
        for (leaf, key) in &leaves {
            match (&mut self.waiting[*leaf], key) {
                (Some(Waiting::Plain(set)), _) => {
                    set.insert(id);
                }
                (Some(Waiting::Keyed(map)), Some(k)) => match map.get_mut(k) {
                    Some(ids) => ids.insert(id),
                    None => {
                        map.insert(k.clone(), Ids::One(id));
                    }
                },
                // NULL or NaN bound values satisfy no comparison: not indexed.
                (Some(Waiting::Ranged(tree)), Some(k)) => {
                    if let Some(o) = Ordered::of(&k.0) {
                        match tree.get_mut(&o) {
                            Some(ids) => ids.insert(id),
                            None => {
                                tree.insert(o, Ids::One(id));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(inst) = self.instances.get_mut(id) {
            inst.leaves = Leaves::from_slice(&leaves);
        }
        leaves.clear();
        self.leaves = leaves;
    }

    fn instance_leaves_mut(&mut self, id: Id) -> Leaves {
        self.instances
            .get_mut(id)
            .map(|i| std::mem::take(&mut i.leaves))
            .unwrap_or_default()
    }

    fn unwait(&mut self, leaf: usize, key: Option<&KeyValue>, id: Id) {
        let Some(waiting) = self.waiting[leaf].as_mut() else {
            return;
        };
        match waiting {
            Waiting::Plain(set) => {
                set.remove(&id);
            }
            Waiting::Keyed(map) => {
                let Some(k) = key else {
                    return;
                };
                let emptied = map.get_mut(k).is_some_and(|ids| ids.remove(id));
                if emptied {
                    map.remove(k);
                }
            }
            Waiting::Ranged(tree) => {
                let Some(o) = key.and_then(|k| Ordered::of(&k.0)) else {
                    return;
                };
                let emptied = tree.get_mut(&o).is_some_and(|ids| ids.remove(id));
                if emptied {
                    tree.remove(&o);
                }
            }
        }
    }

    /// Removes an instance and its routing entries (give it back to the pool when done).
    fn remove(&mut self, id: Id) -> Option<Instance> {
        let inst = self.instances.take(id)?;
        if inst.root {
            self.root_live = false;
        } else {
            self.budget.sub(1);
        }
        for (leaf, key) in inst.leaves.as_slice() {
            self.unwait(*leaf, key.as_ref(), id);
        }
        Some(inst)
    }

    // ---- instances ------------------------------------------------------------------------

    fn insert(&mut self, inst: Instance, armed: &[i64], ctx: &mut OpCtx<'_>) -> Option<Id> {
        if !inst.root {
            // Bound the query's live partial matches (roots do not count): drop this key's
            // oldest, or — when this key holds none — the new one, and count it.
            if self.budget.used() >= self.max_partial {
                self.dropped += 1;
                match self.instances.oldest_non_root() {
                    Some(oldest) => {
                        if let Some(gone) = self.remove(oldest) {
                            self.pool.recycle(gone);
                        }
                    }
                    None => {
                        self.pool.recycle(inst);
                        return None;
                    }
                }
            }
            self.budget.add(1);
        }
        let first_ts = inst.first_ts;
        let id = self.instances.insert(inst);
        for &at in armed {
            self.deadlines.push(ctx, at, absence_token(id));
        }
        if let (Some(w), Some(t0)) = (self.auto.within, first_ts) {
            self.deadlines
                .push(ctx, t0.saturating_add(w), within_token(id));
        }
        self.register(id);
        Some(id)
    }

    fn start(&mut self, ctx: &mut OpCtx<'_>) {
        if self.started {
            return;
        }
        self.started = true;
        self.new_root(ctx);
    }

    fn new_root(&mut self, ctx: &mut OpCtx<'_>) -> Option<Id> {
        let mut root = self.fresh();
        root.root = true;
        let mut armed = Vec::new();
        self.auto
            .enter(self.auto.root, &mut root, ctx.now, &mut armed);
        let id = self.insert(root, &armed, ctx);
        self.root_live = true;
        id
    }

    /// Emits a complete match (if WHERE passes).
    fn emit(&mut self, inst: &Instance, ts: i64, now: i64, out: &mut Batch) {
        self.emitter.emit(&inst.bindings, ts, now, out);
    }

    /// The instances an event can affect, oldest first: those waiting at a leaf of the event's
    /// stream (by correlation key where the leaf has one). A strict SEQUENCE offers every event
    /// to every instance, since an event nobody takes breaks them.
    fn route(&mut self, stream: usize, row: &[Value]) -> Vec<Id> {
        let mut c = std::mem::take(&mut self.candidates);
        c.clear();
        if self.auto.mode == PatternMode::Sequence {
            self.instances.ids_in_order(&mut c);
            return c;
        }
        if let Some((_, leaves)) = self
            .auto
            .leaves_of_stream
            .iter()
            .find(|(s, _)| *s == stream)
        {
            for &leaf in leaves {
                match &self.waiting[leaf] {
                    Some(Waiting::Plain(set)) => c.extend(set.iter().copied()),
                    Some(Waiting::Keyed(map)) => {
                        if let Some(LeafKey::Equal { col, .. }) = &self.auto.keys[leaf] {
                            let key = row.get(*col).unwrap_or(&Value::Null);
                            if let Some(ids) = map.get(KeyValue::from_ref(key)) {
                                c.extend_from_slice(ids.as_slice());
                            }
                        }
                    }
                    Some(Waiting::Ranged(tree)) => {
                        // Bounds are inclusive (a superset): the filter decides exactly.
                        if let Some(LeafKey::Range { col, below, .. }) = &self.auto.keys[leaf] {
                            if let Some(p) = row.get(*col).and_then(Ordered::of) {
                                if *below {
                                    for ids in tree.range(..=p).map(|(_, ids)| ids) {
                                        c.extend_from_slice(ids.as_slice());
                                    }
                                } else {
                                    for ids in tree.range(p..).map(|(_, ids)| ids) {
                                        c.extend_from_slice(ids.as_slice());
                                    }
                                }
                            }
                        }
                    }
                    None => {}
                }
            }
        }
        if c.len() > 1 {
            let store = &self.instances;
            c.sort_unstable_by_key(|&id| store.seq(id));
            c.dedup();
        }
        c
    }

    /// Offers one event to the instances it can affect, oldest first.
    fn on_event(
        &mut self,
        stream: usize,
        row: &[Value],
        ts: i64,
        ctx: &mut OpCtx<'_>,
        out: &mut Batch,
    ) {
        let mut shared: Option<Arc<Ev>> = None;
        let ids = self.route(stream, row);
        let mut completed = std::mem::take(&mut self.completed);
        let mut spawned = std::mem::take(&mut self.spawned);
        let mut spawn_armed = std::mem::take(&mut self.spawn_armed);
        spawn_armed.clear();
        // How the root instance ended with this event, if it did.
        let mut root_failed = false;
        let mut root_matched = false;
        for &id in &ids {
            let auto = &self.auto;
            let Some(inst) = self.instances.get_mut(id) else {
                continue;
            };
            let had_first = inst.first_ts.is_some();
            let mut st = Step::new(stream, row, ts, ctx.now, &mut shared);
            st.armed = std::mem::take(&mut self.armed);
            let mut result = auto.feed(auto.root, inst, &mut st);
            let spawn = st.spawn;
            let mut armed = std::mem::take(&mut st.armed);
            if result == Feed::Ignored
                && auto.mode == PatternMode::Sequence
                && !spawn
                && !auto.in_absence(auto.root, inst)
            {
                // Strict contiguity: an event the instance does not take breaks it.
                result = Feed::Failed;
            }
            for at in &armed {
                self.deadlines.push(ctx, *at, absence_token(id));
            }
            armed.clear();
            if !had_first {
                if let (Some(w), Some(t0)) = (auto.within, inst.first_ts) {
                    self.deadlines
                        .push(ctx, t0.saturating_add(w), within_token(id));
                }
            }
            // The template spawns a new instance for an event that begins an EVERY term.
            if spawn && result == Feed::Ignored {
                let mut clone = self.pool.copy_of(inst, auto);
                let mut st = Step {
                    start_every: true,
                    ..Step::new(stream, row, ts, ctx.now, &mut shared)
                };
                st.armed = armed;
                if auto.feed(auto.root, &mut clone, &mut st) == Feed::Consumed {
                    let from = spawn_armed.len();
                    spawn_armed.extend_from_slice(&st.armed);
                    spawned.push((clone, from..spawn_armed.len()));
                } else {
                    self.pool.recycle(clone);
                }
                armed = std::mem::take(&mut st.armed);
                armed.clear();
            }
            self.armed = armed;
            match result {
                Feed::Failed => {
                    if let Some(inst) = self.remove(id) {
                        root_failed |= inst.root;
                        self.pool.recycle(inst);
                    }
                }
                Feed::Consumed
                    if self
                        .instances
                        .get(id)
                        .is_some_and(|i| self.auto.satisfied(self.auto.root, i)) =>
                {
                    if let Some(inst) = self.remove(id) {
                        root_matched |= inst.root;
                        completed.push(inst);
                    }
                }
                Feed::Consumed => self.register(id),
                Feed::Ignored => {}
            }
        }
        self.candidates = ids;
        for inst in completed.drain(..) {
            self.emit(&inst, inst.last_ts.max(ts), ctx.now, out);
            self.pool.recycle(inst);
        }
        self.completed = completed;
        for (inst, armed) in spawned.drain(..) {
            if self.auto.satisfied(self.auto.root, &inst) {
                self.emit(&inst, ts, ctx.now, out);
                self.pool.recycle(inst);
                continue;
            }
            self.insert(inst, &spawn_armed[armed], ctx);
        }
        self.spawned = spawned;
        self.spawn_armed = spawn_armed;
        if root_matched {
            self.root_gone(true, None, ctx, out);
        } else if root_failed {
            self.root_gone(false, Some((stream, row, ts)), ctx, out);
        }
    }

    /// The root instance matched, failed or expired. A PATTERN without EVERY that matched is
    /// finished (one match at most); otherwise a new root starts, and a SEQUENCE offers it the
    /// event that broke the old one.
    fn root_gone(
        &mut self,
        matched: bool,
        event: Option<(usize, &[Value], i64)>,
        ctx: &mut OpCtx<'_>,
        out: &mut Batch,
    ) {
        if self.auto.mode == PatternMode::Pattern && matched && !self.auto.has_every {
            self.finished = true;
            return;
        }
        if ctx.end_of_time {
            // At the end of time no event can come: a fresh root would only re-arm its
            // absences for ever.
            return;
        }
        let Some(id) = self.new_root(ctx) else {
            return;
        };
        let event = if self.auto.mode == PatternMode::Sequence {
            event
        } else {
            None
        };
        let Some((stream, row, ts)) = event else {
            return;
        };
        let mut shared = None;
        let auto = &self.auto;
        let Some(inst) = self.instances.get_mut(id) else {
            return;
        };
        let mut st = Step::new(stream, row, ts, ctx.now, &mut shared);
        let r = auto.feed(auto.root, inst, &mut st);
        let armed = std::mem::take(&mut st.armed);
        for at in &armed {
            self.deadlines.push(ctx, *at, absence_token(id));
        }
        if r != Feed::Consumed {
            // The new root does not take it either: it waits for the next event.
            return;
        }
        if let (Some(w), Some(t0)) = (auto.within, inst.first_ts) {
            self.deadlines
                .push(ctx, t0.saturating_add(w), within_token(id));
        }
        if auto.satisfied(auto.root, inst) {
            if let Some(inst) = self.remove(id) {
                self.emit(&inst, ts, ctx.now, out);
                self.pool.recycle(inst);
            }
            // Matched at once: start again, without re-offering the event.
            self.root_gone(true, None, ctx, out);
        } else {
            self.register(id);
        }
    }

    pub fn live_partial_matches(&self) -> usize {
        self.instances.len()
    }
}

impl Drop for PatternOperator {
    /// A purged partition key's matches leave the query's budget.
    fn drop(&mut self) {
        self.budget
            .sub(self.instances.len() - usize::from(self.root_live));
    }
}

impl BatchOperator for PatternOperator {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        self.start(ctx);
        if self.finished {
            return;
        }
        let stream = ctx.stream;
        for r in input.rows() {
            self.on_event(stream, r.values, r.ts, ctx, out);
            if self.finished {
                let mut ids = Vec::new();
                self.instances.ids_in_order(&mut ids);
                for id in ids {
                    if let Some(inst) = self.remove(id) {
                        self.pool.recycle(inst);
                    }
                }
                return;
            }
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        if token != WAKE {
            return;
        }
        self.deadlines.woken(ctx.now);
        while let Some(t) = self.deadlines.pop_due(ctx.now) {
            self.on_deadline(t, ctx, out);
        }
        self.deadlines.rearm(ctx);
    }

    fn on_start(&mut self, ctx: &mut OpCtx<'_>, _out: &mut Batch) {
        self.start(ctx);
    }

    fn output_arity(&self) -> usize {
        self.arity
    }

    fn state_size(&self) -> usize {
        self.instances.len()
    }

    fn dropped_partial_matches(&self) -> u64 {
        self.dropped
    }
}

impl PatternOperator {
    /// An absence deadline or a WITHIN expiry of one partial match is due.
    fn on_deadline(&mut self, token: u64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let id = token / 2;
        if token % 2 == 1 {
            // WITHIN elapsed: the partial match can no longer complete.
            if let Some(inst) = self.remove(id) {
                let root = inst.root;
                self.pool.recycle(inst);
                if root {
                    // A root that bound events (a prefix before EVERY) expires too.
                    self.root_gone(false, None, ctx, out);
                }
            }
            return;
        }
        let auto = &self.auto;
        let Some(inst) = self.instances.get_mut(id) else {
            return;
        };
        let mut armed = std::mem::take(&mut self.armed);
        let changed = auto.on_time(auto.root, inst, ctx.now, &mut armed);
        for at in &armed {
            self.deadlines.push(ctx, *at, absence_token(id));
        }
        armed.clear();
        self.armed = armed;
        if !changed {
            return;
        }
        if auto.satisfied(auto.root, inst) {
            if let Some(inst) = self.remove(id) {
                self.emit(&inst, ctx.now, ctx.now, out);
                let root = inst.root;
                self.pool.recycle(inst);
                if root {
                    self.root_gone(true, None, ctx, out);
                }
            }
        } else {
            self.register(id);
        }
    }
}
