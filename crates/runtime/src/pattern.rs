//! The pattern automaton (§11). The design — node states, transitions, EVERY, absence and WITHIN
//! timers, bounds — is described in docs/patterns.md.

use crate::batch::{Batch, EventKind};
use crate::compile::{
    compile_expr, compile_predicate, Bindings, CompileError, CompiledExpr, CompiledPredicate,
    EvalCtx,
};
use crate::operators::{BatchOperator, OpCtx};
use crate::value::Value;
use eventflux_planner::expr::EventPick;
use eventflux_planner::functions::AggregateFn;
use eventflux_planner::pattern::{PatternNode, PatternPlan};
use eventflux_sql::ast::PatternMode;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A bound event, shared by every instance that bound it.
#[derive(Debug)]
struct Ev {
    values: Box<[Value]>,
}

#[derive(Debug, Clone, Default)]
enum Binding {
    #[default]
    Empty,
    One(Arc<Ev>),
    Many(Vec<Arc<Ev>>),
}

impl Binding {
    fn events(&self) -> &[Arc<Ev>] {
        match self {
            Binding::Empty => &[],
            Binding::One(e) => std::slice::from_ref(e),
            Binding::Many(v) => v,
        }
    }

    fn push(&mut self, e: Arc<Ev>) {
        *self = match std::mem::take(self) {
            Binding::Empty => Binding::One(e),
            Binding::One(a) => Binding::Many(vec![a, e]),
            Binding::Many(mut v) => {
                v.push(e);
                Binding::Many(v)
            }
        };
    }
}

/// A partial match: node states laid out by node (see `Layout`), bound events per slot.
#[derive(Debug, Clone)]
struct Instance {
    state: Box<[i64]>,
    bindings: Box<[Binding]>,
    /// Time of the first bound event (WITHIN counts from it).
    first_ts: Option<i64>,
    last_ts: i64,
    /// The query's root instance (not dropped by the partial-match bound).
    root: bool,
}

struct SlotView<'a> {
    bindings: &'a [Binding],
}

fn agg_value(func: AggregateFn, evs: &[Arc<Ev>], attr: Option<usize>) -> Value {
    if func == AggregateFn::Count {
        let n = match attr {
            None => evs.len(),
            Some(a) => evs.iter().filter(|e| !e.values[a].is_null()).count(),
        };
        return Value::Long(n as i64);
    }
    let Some(a) = attr else {
        return Value::Null;
    };
    let vals: Vec<&Value> = evs
        .iter()
        .map(|e| &e.values[a])
        .filter(|v| !v.is_null())
        .collect();
    if vals.is_empty() {
        return Value::Null;
    }
    match func {
        AggregateFn::Sum => {
            if vals
                .iter()
                .all(|v| matches!(v, Value::Int(_) | Value::Long(_)))
            {
                Value::Long(
                    vals.iter()
                        .filter_map(|v| v.as_i64())
                        .fold(0i64, |a, b| a.wrapping_add(b)),
                )
            } else {
                Value::Double(vals.iter().filter_map(|v| v.as_f64()).sum())
            }
        }
        AggregateFn::Avg => {
            Value::Double(vals.iter().filter_map(|v| v.as_f64()).sum::<f64>() / vals.len() as f64)
        }
        AggregateFn::Stddev => {
            let xs: Vec<f64> = vals.iter().filter_map(|v| v.as_f64()).collect();
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
            Value::Double(var.max(0.0).sqrt())
        }
        AggregateFn::Min | AggregateFn::MinForever => vals
            .iter()
            .copied()
            .min_by(|a, b| a.compare(b).unwrap_or(std::cmp::Ordering::Equal))
            .cloned()
            .unwrap_or_default(),
        AggregateFn::Max | AggregateFn::MaxForever => vals
            .iter()
            .copied()
            .max_by(|a, b| a.compare(b).unwrap_or(std::cmp::Ordering::Equal))
            .cloned()
            .unwrap_or_default(),
        AggregateFn::First => vals[0].clone(),
        AggregateFn::Last => vals[vals.len() - 1].clone(),
        AggregateFn::DistinctCount => {
            let mut seen: Vec<crate::value::KeyValue> = Vec::new();
            for v in vals {
                let k = crate::value::KeyValue((*v).clone());
                if !seen.contains(&k) {
                    seen.push(k);
                }
            }
            Value::Long(seen.len() as i64)
        }
        AggregateFn::Count | AggregateFn::Percentile => Value::Null,
    }
}

impl Bindings for SlotView<'_> {
    fn attr(&self, slot: usize, pick: EventPick, attr: usize) -> Value {
        let evs = self.bindings.get(slot).map(Binding::events).unwrap_or(&[]);
        let e = match pick {
            EventPick::First => evs.first(),
            EventPick::At(i) => evs.get(i as usize),
            EventPick::Last => evs.last(),
            EventPick::FromLast(k) => evs
                .len()
                .checked_sub(1 + k as usize)
                .and_then(|i| evs.get(i)),
        };
        e.and_then(|e| e.values.get(attr).cloned())
            .unwrap_or_default()
    }

    fn aggregate(&self, func: AggregateFn, slot: usize, attr: Option<usize>) -> Value {
        let evs = self.bindings.get(slot).map(Binding::events).unwrap_or(&[]);
        agg_value(func, evs, attr)
    }
}

/// Compiled node: the plan's node with filters compiled.
enum Node {
    Element {
        slot: usize,
        stream: usize,
        filter: Option<CompiledPredicate>,
        min: u32,
        max: Option<u32>,
    },
    Absent {
        stream: usize,
        filter: Option<CompiledPredicate>,
        duration: Option<i64>,
    },
    Seq(Vec<usize>),
    And(usize, usize),
    Or(usize, usize),
    Every(usize),
}

/// Result of offering an event to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    Consumed,
    Ignored,
    Failed,
}

/// States of an `Absent` node (first word; the second holds the deadline).
const ABSENT_IDLE: i64 = 0;
const ABSENT_ARMED: i64 = 1;
const ABSENT_DONE: i64 = 2;
/// `Or` state bits.
const OR_LEFT_WON: i64 = 1;
const OR_RIGHT_WON: i64 = 2;
const OR_LEFT_DEAD: i64 = 4;
const OR_RIGHT_DEAD: i64 = 8;

/// Timer tokens: instance id × 2 (+1 for the WITHIN expiry).
fn absence_token(id: u64) -> u64 {
    id * 2
}
fn within_token(id: u64) -> u64 {
    id * 2 + 1
}

/// Everything a transition needs besides the instance.
struct Step<'a> {
    stream: usize,
    row: &'a [Value],
    ts: i64,
    now: i64,
    /// Lazily shared copy of the event, created when something binds it.
    shared: &'a mut Option<Arc<Ev>>,
    /// Set when an unstarted EVERY could begin with this event (the template spawns).
    spawn: bool,
    /// Start the first unstarted EVERY reached (when offering to a clone).
    start_every: bool,
    /// Absence deadlines armed during the transition (to schedule timers).
    armed: Vec<i64>,
}

pub struct PatternOperator {
    nodes: Vec<Node>,
    /// First state word of each node.
    offsets: Vec<usize>,
    words: usize,
    nullable: Vec<bool>,
    slot_of_node: Vec<Vec<usize>>,
    slots: usize,
    root: usize,
    mode: PatternMode,
    within: Option<i64>,
    has_every: bool,
    condition: Option<CompiledPredicate>,
    outputs: Vec<CompiledExpr>,
    emit: Vec<usize>,
    arity: usize,
    instances: BTreeMap<u64, Instance>,
    next_id: u64,
    started: bool,
    /// Without EVERY a PATTERN matches once: set after the match (or when its root died).
    finished: bool,
    max_partial: usize,
    /// Partial matches dropped because of the bound.
    pub dropped: u64,
    out_row: Vec<Value>,
}

impl PatternOperator {
    pub fn new(plan: &PatternPlan, max_partial: usize) -> Result<PatternOperator, CompileError> {
        let mut nodes = Vec::with_capacity(plan.nodes.len());
        let mut offsets = Vec::with_capacity(plan.nodes.len());
        let mut words = 0;
        for n in &plan.nodes {
            offsets.push(words);
            let (node, w) = match n {
                PatternNode::Element {
                    slot,
                    stream,
                    filter,
                    min,
                    max,
                } => (
                    Node::Element {
                        slot: *slot,
                        stream: *stream,
                        filter: filter.as_ref().map(compile_predicate).transpose()?,
                        min: *min,
                        max: *max,
                    },
                    1,
                ),
                PatternNode::Absent {
                    stream,
                    filter,
                    duration,
                } => (
                    Node::Absent {
                        stream: *stream,
                        filter: filter.as_ref().map(compile_predicate).transpose()?,
                        duration: *duration,
                    },
                    2,
                ),
                PatternNode::Seq(s) => (Node::Seq(s.clone()), 1),
                PatternNode::And(l, r) => (Node::And(*l, *r), 1),
                PatternNode::Or(l, r) => (Node::Or(*l, *r), 1),
                PatternNode::Every(c) => (Node::Every(*c), 1),
            };
            nodes.push(node);
            words += w;
        }
        // Nullable: satisfied as soon as entered, without any event.
        let mut nullable = vec![false; nodes.len()];
        for i in 0..nodes.len() {
            // Children have smaller indices than their parents (built bottom-up).
            nullable[i] = match &nodes[i] {
                Node::Element { min, .. } => *min == 0,
                Node::Absent { duration, .. } => duration.is_none(),
                Node::Seq(s) => s.iter().all(|c| nullable[*c]),
                Node::And(l, r) => nullable[*l] && nullable[*r],
                Node::Or(l, r) => nullable[*l] || nullable[*r],
                Node::Every(_) => false,
            };
        }
        // Slots bound under each node (cleared when an OR's other side wins).
        let mut slot_of_node: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for i in 0..nodes.len() {
            slot_of_node[i] = match &nodes[i] {
                Node::Element { slot, .. } => vec![*slot],
                Node::Absent { .. } => Vec::new(),
                Node::Seq(s) => s.iter().flat_map(|c| slot_of_node[*c].clone()).collect(),
                Node::And(l, r) | Node::Or(l, r) => {
                    let mut v = slot_of_node[*l].clone();
                    v.extend(slot_of_node[*r].iter().copied());
                    v
                }
                Node::Every(c) => slot_of_node[*c].clone(),
            };
        }
        let outputs = plan
            .outputs
            .iter()
            .map(|(_, e)| compile_expr(e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PatternOperator {
            nodes,
            offsets,
            words,
            nullable,
            slot_of_node,
            slots: plan.slots.len(),
            root: plan.root,
            mode: plan.mode,
            within: plan.within,
            has_every: plan.has_every(),
            condition: plan.condition.as_ref().map(compile_predicate).transpose()?,
            arity: plan.emit.len(),
            outputs,
            emit: plan.emit.clone(),
            instances: BTreeMap::new(),
            next_id: 1,
            started: false,
            finished: false,
            max_partial: max_partial.max(1),
            dropped: 0,
            out_row: Vec::new(),
        })
    }

    fn fresh(&self) -> Instance {
        Instance {
            state: vec![0; self.words].into_boxed_slice(),
            bindings: vec![Binding::Empty; self.slots].into_boxed_slice(),
            first_ts: None,
            last_ts: i64::MIN,
            root: false,
        }
    }

    // ---- node state ---------------------------------------------------------------------

    fn enter(&self, n: usize, inst: &mut Instance, step_now: i64, armed: &mut Vec<i64>) {
        let o = self.offsets[n];
        match &self.nodes[n] {
            Node::Element { .. } => inst.state[o] = 0,
            Node::Absent { duration, .. } => match duration {
                Some(d) => {
                    inst.state[o] = ABSENT_ARMED;
                    inst.state[o + 1] = step_now.saturating_add(*d);
                    armed.push(inst.state[o + 1]);
                }
                None => inst.state[o] = ABSENT_IDLE,
            },
            Node::Seq(steps) => {
                inst.state[o] = 0;
                if let Some(&first) = steps.first() {
                    self.enter(first, inst, step_now, armed);
                }
            }
            Node::And(l, r) | Node::Or(l, r) => {
                inst.state[o] = 0;
                self.enter(*l, inst, step_now, armed);
                self.enter(*r, inst, step_now, armed);
            }
            Node::Every(_) => inst.state[o] = 0,
        }
    }

    fn satisfied(&self, n: usize, inst: &Instance) -> bool {
        let o = self.offsets[n];
        match &self.nodes[n] {
            Node::Element { min, .. } => inst.state[o] >= *min as i64,
            Node::Absent { duration, .. } => duration.is_none() || inst.state[o] == ABSENT_DONE,
            Node::Seq(steps) => {
                let i = inst.state[o] as usize;
                steps.get(i).is_some_and(|&c| self.satisfied(c, inst))
                    && steps[i + 1..].iter().all(|c| self.nullable[*c])
            }
            Node::And(l, r) => self.satisfied(*l, inst) && self.satisfied(*r, inst),
            Node::Or(l, r) => {
                let s = inst.state[o];
                (s & OR_LEFT_WON != 0)
                    || (s & OR_RIGHT_WON != 0)
                    || self.satisfied(*l, inst)
                    || self.satisfied(*r, inst)
            }
            Node::Every(c) => inst.state[o] == 1 && self.satisfied(*c, inst),
        }
    }

    /// Satisfied and unable to take another event (a step that must be left).
    fn full(&self, n: usize, inst: &Instance) -> bool {
        let o = self.offsets[n];
        match &self.nodes[n] {
            Node::Element { max, .. } => max.is_some_and(|m| inst.state[o] >= m as i64),
            Node::Absent { duration, .. } => duration.is_some() && inst.state[o] == ABSENT_DONE,
            Node::Seq(steps) => {
                let i = inst.state[o] as usize;
                i + 1 == steps.len() && self.full(steps[i], inst)
            }
            Node::And(l, r) => self.full(*l, inst) && self.full(*r, inst),
            Node::Or(l, r) => {
                let s = inst.state[o];
                (s & OR_LEFT_WON != 0 && self.full(*l, inst))
                    || (s & OR_RIGHT_WON != 0 && self.full(*r, inst))
            }
            Node::Every(c) => inst.state[o] == 1 && self.full(*c, inst),
        }
    }

    /// Whether the instance is waiting inside an armed absence (strict sequences let events pass).
    fn in_absence(&self, n: usize, inst: &Instance) -> bool {
        let o = self.offsets[n];
        match &self.nodes[n] {
            Node::Absent {
                duration: Some(_), ..
            } => inst.state[o] == ABSENT_ARMED,
            Node::Seq(steps) => steps
                .get(inst.state[o] as usize)
                .is_some_and(|&c| self.in_absence(c, inst)),
            Node::And(l, r) | Node::Or(l, r) => {
                self.in_absence(*l, inst) || self.in_absence(*r, inst)
            }
            Node::Every(c) => inst.state[o] == 1 && self.in_absence(*c, inst),
            _ => false,
        }
    }

    fn test(&self, filter: &Option<CompiledPredicate>, inst: &Instance, st: &Step<'_>) -> bool {
        match filter {
            None => true,
            Some(f) => f(&EvalCtx {
                row: st.row,
                ts: st.ts,
                now: st.now,
                bindings: Some(&SlotView {
                    bindings: &inst.bindings,
                }),
            }),
        }
    }

    fn feed(&self, n: usize, inst: &mut Instance, st: &mut Step<'_>) -> Feed {
        let o = self.offsets[n];
        match &self.nodes[n] {
            Node::Element {
                slot,
                stream,
                filter,
                max,
                ..
            } => {
                if *stream != st.stream
                    || max.is_some_and(|m| inst.state[o] >= m as i64)
                    || !self.test(filter, inst, st)
                {
                    return Feed::Ignored;
                }
                let ev = st
                    .shared
                    .get_or_insert_with(|| {
                        Arc::new(Ev {
                            values: st.row.to_vec().into_boxed_slice(),
                        })
                    })
                    .clone();
                inst.bindings[*slot].push(ev);
                inst.state[o] += 1;
                inst.first_ts.get_or_insert(st.ts);
                inst.last_ts = st.ts;
                Feed::Consumed
            }
            Node::Absent {
                stream,
                filter,
                duration,
            } => {
                let active = match duration {
                    Some(_) => inst.state[o] == ABSENT_ARMED,
                    None => true,
                };
                if active && *stream == st.stream && self.test(filter, inst, st) {
                    Feed::Failed
                } else {
                    Feed::Ignored
                }
            }
            Node::Seq(steps) => {
                let i = inst.state[o] as usize;
                let Some(&cur) = steps.get(i) else {
                    return Feed::Ignored;
                };
                match self.feed(cur, inst, st) {
                    Feed::Consumed => {
                        self.advance_seq(n, inst, st.now, &mut st.armed);
                        Feed::Consumed
                    }
                    Feed::Failed => Feed::Failed,
                    Feed::Ignored => {
                        // A satisfied step may be left for a later one that takes the event.
                        if !self.satisfied(cur, inst) {
                            return Feed::Ignored;
                        }
                        let mut j = i + 1;
                        while let Some(&next) = steps.get(j) {
                            if matches!(
                                self.nodes[next],
                                Node::Absent {
                                    duration: Some(_),
                                    ..
                                }
                            ) {
                                // Absences are entered when the previous step completes, not by
                                // skipping ahead.
                                return Feed::Ignored;
                            }
                            let saved = inst.clone();
                            let mut armed = Vec::new();
                            self.enter(next, inst, st.now, &mut armed);
                            match self.feed(next, inst, st) {
                                Feed::Consumed => {
                                    inst.state[o] = j as i64;
                                    st.armed.extend(armed);
                                    self.advance_seq(n, inst, st.now, &mut st.armed);
                                    return Feed::Consumed;
                                }
                                _ => {
                                    let nullable = self.nullable[next];
                                    *inst = saved;
                                    if !nullable {
                                        return Feed::Ignored;
                                    }
                                }
                            }
                            j += 1;
                        }
                        Feed::Ignored
                    }
                }
            }
            Node::And(l, r) => {
                for side in [*l, *r] {
                    if self.full(side, inst) {
                        continue;
                    }
                    match self.feed(side, inst, st) {
                        Feed::Ignored => continue,
                        other => return other,
                    }
                }
                Feed::Ignored
            }
            Node::Or(l, r) => {
                let s = inst.state[o];
                let sides = [
                    (*l, OR_LEFT_WON, OR_LEFT_DEAD, *r),
                    (*r, OR_RIGHT_WON, OR_RIGHT_DEAD, *l),
                ];
                if s & (OR_LEFT_WON | OR_RIGHT_WON) != 0 {
                    let winner = if s & OR_LEFT_WON != 0 { *l } else { *r };
                    return self.feed(winner, inst, st);
                }
                for (side, won, dead, other) in sides {
                    if s & dead != 0 {
                        continue;
                    }
                    match self.feed(side, inst, st) {
                        Feed::Consumed => {
                            if self.satisfied(side, inst) {
                                inst.state[o] |= won;
                                for &slot in &self.slot_of_node[other] {
                                    inst.bindings[slot] = Binding::Empty;
                                }
                            }
                            return Feed::Consumed;
                        }
                        Feed::Failed => {
                            inst.state[o] |= dead;
                            if inst.state[o] & (OR_LEFT_DEAD | OR_RIGHT_DEAD)
                                == OR_LEFT_DEAD | OR_RIGHT_DEAD
                            {
                                return Feed::Failed;
                            }
                        }
                        Feed::Ignored => {}
                    }
                }
                Feed::Ignored
            }
            Node::Every(c) => {
                if inst.state[o] == 1 {
                    return self.feed(*c, inst, st);
                }
                if st.start_every {
                    st.start_every = false;
                    inst.state[o] = 1;
                    self.enter(*c, inst, st.now, &mut st.armed);
                    return self.feed(*c, inst, st);
                }
                st.spawn = true;
                Feed::Ignored
            }
        }
    }

    /// After a step consumed an event: move past every step that is now full.
    fn advance_seq(&self, n: usize, inst: &mut Instance, now: i64, armed: &mut Vec<i64>) {
        let Node::Seq(steps) = &self.nodes[n] else {
            return;
        };
        let o = self.offsets[n];
        loop {
            let i = inst.state[o] as usize;
            if i + 1 >= steps.len() || !self.full(steps[i], inst) {
                return;
            }
            inst.state[o] = (i + 1) as i64;
            self.enter(steps[i + 1], inst, now, armed);
        }
    }

    /// The clock reached `now`: elapsed absences are satisfied. Returns whether anything changed.
    fn on_time(&self, n: usize, inst: &mut Instance, now: i64, armed: &mut Vec<i64>) -> bool {
        let o = self.offsets[n];
        match &self.nodes[n] {
            Node::Absent {
                duration: Some(_), ..
            } => {
                if inst.state[o] == ABSENT_ARMED && inst.state[o + 1] <= now {
                    inst.state[o] = ABSENT_DONE;
                    return true;
                }
                false
            }
            Node::Seq(steps) => {
                let i = inst.state[o] as usize;
                let Some(&cur) = steps.get(i) else {
                    return false;
                };
                if !self.on_time(cur, inst, now, armed) {
                    return false;
                }
                // The absence's deadline is the time the next step starts.
                let deadline = match &self.nodes[cur] {
                    Node::Absent { .. } => inst.state[self.offsets[cur] + 1],
                    _ => now,
                };
                let before = inst.state[o];
                self.advance_seq(n, inst, deadline, armed);
                if inst.state[o] != before {
                    // A newly entered absence may already be due.
                    self.on_time(n, inst, now, armed);
                }
                true
            }
            Node::And(l, r) => {
                let a = self.on_time(*l, inst, now, armed);
                let b = self.on_time(*r, inst, now, armed);
                a || b
            }
            Node::Or(l, r) => {
                if inst.state[o] & (OR_LEFT_WON | OR_RIGHT_WON) != 0 {
                    let w = if inst.state[o] & OR_LEFT_WON != 0 {
                        *l
                    } else {
                        *r
                    };
                    return self.on_time(w, inst, now, armed);
                }
                let a = self.on_time(*l, inst, now, armed);
                if a && self.satisfied(*l, inst) {
                    inst.state[o] |= OR_LEFT_WON;
                    for &slot in &self.slot_of_node[*r] {
                        inst.bindings[slot] = Binding::Empty;
                    }
                    return true;
                }
                let b = self.on_time(*r, inst, now, armed);
                if b && self.satisfied(*r, inst) {
                    inst.state[o] |= OR_RIGHT_WON;
                    for &slot in &self.slot_of_node[*l] {
                        inst.bindings[slot] = Binding::Empty;
                    }
                }
                a || b
            }
            Node::Every(c) => inst.state[o] == 1 && self.on_time(*c, inst, now, armed),
            _ => false,
        }
    }

    // ---- instances ------------------------------------------------------------------------

    fn insert(&mut self, inst: Instance, armed: &[i64], ctx: &mut OpCtx<'_>) -> u64 {
        // Bound the live partial matches: drop the oldest (never the root) and count it.
        if self.instances.len() >= self.max_partial {
            if let Some(&oldest) = self
                .instances
                .iter()
                .find(|(_, i)| !i.root)
                .map(|(id, _)| id)
            {
                self.instances.remove(&oldest);
                self.dropped += 1;
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        for &at in armed {
            ctx.schedule(at, absence_token(id));
        }
        if let (Some(w), Some(t0)) = (self.within, inst.first_ts) {
            ctx.schedule(t0.saturating_add(w), within_token(id));
        }
        self.instances.insert(id, inst);
        id
    }

    fn start(&mut self, ctx: &mut OpCtx<'_>) {
        if self.started {
            return;
        }
        self.started = true;
        self.new_root(ctx);
    }

    fn new_root(&mut self, ctx: &mut OpCtx<'_>) -> u64 {
        let mut root = self.fresh();
        root.root = true;
        let mut armed = Vec::new();
        self.enter(self.root, &mut root, ctx.now, &mut armed);
        self.insert(root, &armed, ctx)
    }

    /// Emits a complete match (if WHERE passes).
    fn emit(&mut self, inst: &Instance, ts: i64, now: i64, out: &mut Batch) {
        let view = SlotView {
            bindings: &inst.bindings,
        };
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

    /// Offers one event to every instance, oldest first.
    fn on_event(
        &mut self,
        stream: usize,
        row: &[Value],
        ts: i64,
        ctx: &mut OpCtx<'_>,
        out: &mut Batch,
    ) {
        let mut shared: Option<Arc<Ev>> = None;
        let ids: Vec<u64> = self.instances.keys().copied().collect();
        let mut completed: Vec<(u64, Instance)> = Vec::new();
        let mut spawned: Vec<(Instance, Vec<i64>)> = Vec::new();
        // How the root instance ended with this event, if it did.
        let mut root_failed = false;
        let mut root_matched = false;
        for id in ids {
            let Some(mut inst) = self.instances.remove(&id) else {
                continue;
            };
            let mut st = Step {
                stream,
                row,
                ts,
                now: ctx.now,
                shared: &mut shared,
                spawn: false,
                start_every: false,
                armed: Vec::new(),
            };
            let before = inst.clone();
            let mut result = self.feed(self.root, &mut inst, &mut st);
            let spawn = st.spawn;
            let armed = std::mem::take(&mut st.armed);
            if result == Feed::Ignored
                && self.mode == PatternMode::Sequence
                && !spawn
                && !self.in_absence(self.root, &inst)
            {
                // Strict contiguity: an event the instance does not take breaks it.
                result = Feed::Failed;
            }
            for at in &armed {
                ctx.schedule(*at, absence_token(id));
            }
            if before.first_ts.is_none() {
                if let (Some(w), Some(t0)) = (self.within, inst.first_ts) {
                    ctx.schedule(t0.saturating_add(w), within_token(id));
                }
            }
            match result {
                Feed::Failed => {
                    if inst.root {
                        root_failed = true;
                    }
                }
                Feed::Consumed if self.satisfied(self.root, &inst) => completed.push((id, inst)),
                _ => {
                    self.instances.insert(id, inst);
                }
            }
            // The template spawns a new instance for an event that begins an EVERY term.
            if spawn && result == Feed::Ignored {
                let mut clone = before;
                clone.root = false;
                let mut st = Step {
                    stream,
                    row,
                    ts,
                    now: ctx.now,
                    shared: &mut shared,
                    spawn: false,
                    start_every: true,
                    armed: Vec::new(),
                };
                if self.feed(self.root, &mut clone, &mut st) == Feed::Consumed {
                    let armed = std::mem::take(&mut st.armed);
                    spawned.push((clone, armed));
                }
            }
        }
        for (_, inst) in completed {
            self.emit(&inst, inst.last_ts.max(ts), ctx.now, out);
            if inst.root {
                root_matched = true;
            }
        }
        for (mut inst, armed) in spawned {
            if self.satisfied(self.root, &inst) {
                self.emit(&inst, ts, ctx.now, out);
                continue;
            }
            inst.root = false;
            self.insert(inst, &armed, ctx);
        }
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
        if self.mode == PatternMode::Pattern && matched && !self.has_every {
            self.finished = true;
            return;
        }
        let id = self.new_root(ctx);
        let event = if self.mode == PatternMode::Sequence {
            event
        } else {
            None
        };
        if let Some((stream, row, ts)) = event {
            let Some(mut inst) = self.instances.remove(&id) else {
                return;
            };
            let mut shared = None;
            let mut st = Step {
                stream,
                row,
                ts,
                now: ctx.now,
                shared: &mut shared,
                spawn: false,
                start_every: false,
                armed: Vec::new(),
            };
            let r = self.feed(self.root, &mut inst, &mut st);
            let armed = std::mem::take(&mut st.armed);
            for at in &armed {
                ctx.schedule(*at, absence_token(id));
            }
            match r {
                Feed::Consumed if self.satisfied(self.root, &inst) => {
                    self.emit(&inst, ts, ctx.now, out);
                    // Matched at once: start again, without re-offering the event.
                    self.root_gone(true, None, ctx, out);
                }
                Feed::Consumed => {
                    if let (Some(w), Some(t0)) = (self.within, inst.first_ts) {
                        ctx.schedule(t0.saturating_add(w), within_token(id));
                    }
                    self.instances.insert(id, inst);
                }
                // The new root does not take it either: it waits for the next event.
                _ => {
                    self.instances.insert(id, inst);
                }
            }
        }
    }

    pub fn live_partial_matches(&self) -> usize {
        self.instances.len()
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
                self.instances.clear();
                return;
            }
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let id = token / 2;
        if token % 2 == 1 {
            // WITHIN elapsed: the partial match can no longer complete.
            if let Some(inst) = self.instances.get(&id) {
                if inst.root {
                    // A root that bound events (a prefix before EVERY) expires too.
                    self.instances.remove(&id);
                    self.root_gone(false, None, ctx, out);
                } else {
                    self.instances.remove(&id);
                }
            }
            return;
        }
        let Some(mut inst) = self.instances.remove(&id) else {
            return;
        };
        let mut armed = Vec::new();
        let changed = self.on_time(self.root, &mut inst, ctx.now, &mut armed);
        for at in &armed {
            ctx.schedule(*at, absence_token(id));
        }
        if changed && self.satisfied(self.root, &inst) {
            self.emit(&inst, ctx.now, ctx.now, out);
            if inst.root {
                self.root_gone(true, None, ctx, out);
                if self.finished {
                    self.instances.clear();
                }
            }
        } else {
            self.instances.insert(id, inst);
        }
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

    fn evicted(&self) -> u64 {
        self.dropped
    }
}
