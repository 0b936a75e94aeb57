//! The pattern automaton (§11). The design — node states, transitions, EVERY, absence and WITHIN
//! timers, bounds — is described in docs/patterns.md.

use crate::batch::{Batch, EventKind};
use crate::compile::{
    compile_expr, compile_predicate, Bindings, CompileError, CompiledExpr, CompiledPredicate,
    EvalCtx,
};
use crate::operators::{BatchOperator, OpCtx};
use crate::value::KeyValue;
use crate::value::Value;
use eventflux_planner::expr::EventPick;
use eventflux_planner::functions::AggregateFn;
use eventflux_planner::pattern::{PatternNode, PatternPlan};
use eventflux_sql::ast::PatternMode;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

/// A bound event's values, shared by every instance that bound it (one allocation).
type Ev = [Value];

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
    /// Where the instance is registered in the routing index.
    leaves: Leaves,
}

/// The leaves an instance waits at, with their correlation keys; stored inline for the common
/// single leaf (no allocation per partial match).
#[derive(Debug, Clone, Default)]
enum Leaves {
    #[default]
    None,
    One([(usize, Option<KeyValue>); 1]),
    Many(Box<[(usize, Option<KeyValue>)]>),
}

impl Leaves {
    fn from_slice(v: &[(usize, Option<KeyValue>)]) -> Leaves {
        match v {
            [] => Leaves::None,
            [one] => Leaves::One([one.clone()]),
            many => Leaves::Many(many.into()),
        }
    }

    fn as_slice(&self) -> &[(usize, Option<KeyValue>)] {
        match self {
            Leaves::None => &[],
            Leaves::One(one) => one,
            Leaves::Many(m) => m,
        }
    }
}

struct SlotView<'a> {
    bindings: &'a [Binding],
}

fn agg_value(func: AggregateFn, evs: &[Arc<Ev>], attr: Option<usize>) -> Value {
    if func == AggregateFn::Count {
        let n = match attr {
            None => evs.len(),
            Some(a) => evs.iter().filter(|e| !e[a].is_null()).count(),
        };
        return Value::Long(n as i64);
    }
    let Some(a) = attr else {
        return Value::Null;
    };
    let vals: Vec<&Value> = evs.iter().map(|e| &e[a]).filter(|v| !v.is_null()).collect();
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
        e.and_then(|e| e.get(attr).cloned()).unwrap_or_default()
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

/// The pattern's own deadlines (absence and WITHIN), kept in FIFO queues per delay — deadlines
/// made with the same delay arrive in order, so pushing is O(1) — with a single engine timer for
/// the earliest. The engine's timer heap then holds one entry per pattern, not one per partial
/// match.
/// Deadlines made with one delay: (due, seq, token), sorted by (due, seq).
type DeadlineQueue = VecDeque<(i64, u64, u64)>;

#[derive(Default)]
struct Deadlines {
    /// (delay, its queue).
    queues: Vec<(i64, DeadlineQueue)>,
    seq: u64,
    /// The time the engine timer is set for, if one is pending.
    wake: Option<i64>,
}

/// Engine-timer token of the pattern's wake-up (its deadlines carry their own tokens).
const WAKE: u64 = u64::MAX;
/// Distinct delays given their own queue; others share the last one (sorted insertion).
const MAX_QUEUES: usize = 16;

impl Deadlines {
    fn push(&mut self, ctx: &mut OpCtx<'_>, at: i64, token: u64) {
        self.seq += 1;
        let delay = at.saturating_sub(ctx.now);
        let q = match self.queues.iter().position(|(d, _)| *d == delay) {
            Some(q) => q,
            None if self.queues.len() < MAX_QUEUES => {
                self.queues.push((delay, VecDeque::new()));
                self.queues.len() - 1
            }
            None => self.queues.len() - 1,
        };
        let entry = (at, self.seq, token);
        let queue = &mut self.queues[q].1;
        if queue.back().is_none_or(|b| (b.0, b.1) <= (at, self.seq)) {
            queue.push_back(entry);
        } else {
            let pos = queue.partition_point(|e| (e.0, e.1) <= (at, self.seq));
            queue.insert(pos, entry);
        }
        if self.wake.is_none_or(|w| at < w) {
            self.wake = Some(at);
            ctx.schedule(at, WAKE);
        }
    }

    /// Takes the earliest deadline due at `now`.
    fn pop_due(&mut self, now: i64) -> Option<u64> {
        let q = self
            .queues
            .iter()
            .enumerate()
            .filter_map(|(i, (_, q))| q.front().map(|e| (e.0, e.1, i)))
            .filter(|(at, _, _)| *at <= now)
            .min()?
            .2;
        self.queues[q].1.pop_front().map(|e| e.2)
    }

    fn next(&self) -> Option<i64> {
        self.queues
            .iter()
            .filter_map(|(_, q)| q.front().map(|e| e.0))
            .min()
    }
}

/// Timer tokens: instance id × 2 (+1 for the WITHIN expiry).
fn absence_token(id: u64) -> u64 {
    id * 2
}
fn within_token(id: u64) -> u64 {
    id * 2 + 1
}

impl<'a> Step<'a> {
    fn new(
        stream: usize,
        row: &'a [Value],
        ts: i64,
        now: i64,
        shared: &'a mut Option<Arc<Ev>>,
    ) -> Step<'a> {
        Step {
            stream,
            row,
            ts,
            now,
            shared,
            spawn: false,
            start_every: false,
            armed: Vec::new(),
        }
    }
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

/// The compiled pattern: nodes, state layout and routing information. Immutable while running.
struct Automaton {
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
    /// For leaves (elements and absences) whose filter has `attr = alias.attr`: the event's
    /// attribute, and the bound attribute (slot, pick, attr) — instances waiting there are
    /// indexed by the bound value, so an event only reaches the instances it can match.
    keys: Vec<Option<(usize, usize, EventPick, usize)>>,
    /// Leaf nodes listening to each stream.
    leaves_of_stream: Vec<(usize, Vec<usize>)>,
}

/// Instances waiting at one leaf: all of them, or by correlation key.
enum Waiting {
    Plain(BTreeSet<u64>),
    Keyed(HashMap<KeyValue, Ids>),
}

/// Instance ids under one correlation key, ascending; usually exactly one.
#[derive(Debug, Clone)]
enum Ids {
    One(u64),
    Many(Vec<u64>),
}

impl Ids {
    fn insert(&mut self, id: u64) {
        match self {
            Ids::One(a) if *a == id => {}
            Ids::One(a) => {
                let a = *a;
                *self = Ids::Many(if a < id { vec![a, id] } else { vec![id, a] });
            }
            Ids::Many(v) => {
                if let Err(p) = v.binary_search(&id) {
                    v.insert(p, id);
                }
            }
        }
    }

    /// Removes `id`; true when the set is now empty.
    fn remove(&mut self, id: u64) -> bool {
        match self {
            Ids::One(a) => *a == id,
            Ids::Many(v) => {
                if let Ok(p) = v.binary_search(&id) {
                    v.remove(p);
                }
                match v.as_slice() {
                    [] => true,
                    [only] => {
                        *self = Ids::One(*only);
                        false
                    }
                    _ => false,
                }
            }
        }
    }

    fn as_slice(&self) -> &[u64] {
        match self {
            Ids::One(a) => std::slice::from_ref(a),
            Ids::Many(v) => v,
        }
    }
}

pub struct PatternOperator {
    auto: Automaton,
    condition: Option<CompiledPredicate>,
    outputs: Vec<CompiledExpr>,
    emit: Vec<usize>,
    arity: usize,
    instances: BTreeMap<u64, Instance>,
    /// Per leaf node, the instances that can take an event there.
    waiting: Vec<Option<Waiting>>,
    next_id: u64,
    /// Whether the root instance is live (it does not count against the bound).
    root_live: bool,
    started: bool,
    /// Without EVERY a PATTERN matches once: set after the match.
    finished: bool,
    max_partial: usize,
    deadlines: Deadlines,
    /// Partial matches dropped because of the bound.
    pub dropped: u64,
    out_row: Vec<Value>,
    candidates: Vec<u64>,
    leaves: Vec<(usize, Option<KeyValue>)>,
}

impl PatternOperator {
    /// The bound this operator enforces on live partial matches.
    pub fn max_partial_matches(&self) -> usize {
        self.max_partial
    }

    pub fn new(plan: &PatternPlan, max_partial: usize) -> Result<PatternOperator, CompileError> {
        let auto = Automaton::new(plan)?;
        let waiting = (0..auto.nodes.len())
            .map(|n| match &auto.nodes[n] {
                Node::Element { .. } | Node::Absent { .. } => Some(if auto.keys[n].is_some() {
                    Waiting::Keyed(HashMap::new())
                } else {
                    Waiting::Plain(BTreeSet::new())
                }),
                _ => None,
            })
            .collect();
        let outputs = plan
            .outputs
            .iter()
            .map(|(_, e)| compile_expr(e))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PatternOperator {
            auto,
            condition: plan.condition.as_ref().map(compile_predicate).transpose()?,
            arity: plan.emit.len(),
            outputs,
            emit: plan.emit.clone(),
            instances: BTreeMap::new(),
            waiting,
            next_id: 1,
            root_live: false,
            started: false,
            finished: false,
            max_partial: max_partial.max(1),
            deadlines: Deadlines::default(),
            dropped: 0,
            out_row: Vec::new(),
            candidates: Vec::new(),
            leaves: Vec::new(),
        })
    }
}

impl Automaton {
    fn new(plan: &PatternPlan) -> Result<Automaton, CompileError> {
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
        let keys = plan.nodes.iter().map(correlation_key).collect();
        let mut leaves_of_stream: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            let stream = match n {
                Node::Element { stream, .. } | Node::Absent { stream, .. } => *stream,
                _ => continue,
            };
            match leaves_of_stream.iter_mut().find(|(s, _)| *s == stream) {
                Some((_, v)) => v.push(i),
                None => leaves_of_stream.push((stream, vec![i])),
            }
        }
        Ok(Automaton {
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
            keys,
            leaves_of_stream,
        })
    }

    fn fresh(&self) -> Instance {
        Instance {
            state: vec![0; self.words].into_boxed_slice(),
            bindings: vec![Binding::Empty; self.slots].into_boxed_slice(),
            first_ts: None,
            last_ts: i64::MIN,
            root: false,
            leaves: Leaves::None,
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
            // `NOT B AND e=A` is complete when A arrives (no B before it): the absence side never
            // holds the AND open.
            Node::And(l, r) => [*l, *r].iter().all(|&c| {
                self.full(c, inst) || matches!(self.nodes[c], Node::Absent { duration: None, .. })
            }),
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
                    .get_or_insert_with(|| Arc::<[Value]>::from(st.row))
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

    /// Leaves of node `n` that can take the instance's next event (for routing), with the
    /// correlation key each waits on.
    fn active_leaves(
        &self,
        n: usize,
        inst: &Instance,
        entered: bool,
        out: &mut Vec<(usize, Option<KeyValue>)>,
    ) {
        let o = self.offsets[n];
        match &self.nodes[n] {
            Node::Element { max, .. } => {
                if !entered || !max.is_some_and(|m| inst.state[o] >= m as i64) {
                    out.push((n, self.key_of(n, inst)));
                }
            }
            Node::Absent { duration, .. } => {
                let waiting = match duration {
                    Some(_) => entered && inst.state[o] == ABSENT_ARMED,
                    None => true,
                };
                if waiting {
                    out.push((n, self.key_of(n, inst)));
                }
            }
            Node::Seq(steps) => {
                let start = if entered { inst.state[o] as usize } else { 0 };
                for (k, &c) in steps.iter().enumerate().skip(start) {
                    let is_current = entered && k == start;
                    if !is_current
                        && matches!(
                            self.nodes[c],
                            Node::Absent {
                                duration: Some(_),
                                ..
                            }
                        )
                    {
                        break;
                    }
                    self.active_leaves(c, inst, is_current, out);
                    let passable = if is_current {
                        self.satisfied(c, inst)
                    } else {
                        self.nullable[c]
                    };
                    if !passable {
                        break;
                    }
                }
            }
            Node::And(l, r) => {
                for c in [*l, *r] {
                    if !(entered && self.full(c, inst)) {
                        self.active_leaves(c, inst, entered, out);
                    }
                }
            }
            Node::Or(l, r) => {
                let s = if entered { inst.state[o] } else { 0 };
                if s & OR_LEFT_WON != 0 {
                    self.active_leaves(*l, inst, entered, out);
                } else if s & OR_RIGHT_WON != 0 {
                    self.active_leaves(*r, inst, entered, out);
                } else {
                    if s & OR_LEFT_DEAD == 0 {
                        self.active_leaves(*l, inst, entered, out);
                    }
                    if s & OR_RIGHT_DEAD == 0 {
                        self.active_leaves(*r, inst, entered, out);
                    }
                }
            }
            Node::Every(c) => {
                // Unstarted (a template): the first leaves of the term, for spawning.
                let started = entered && inst.state[o] == 1;
                self.active_leaves(*c, inst, started, out);
            }
        }
    }

    fn key_of(&self, n: usize, inst: &Instance) -> Option<KeyValue> {
        let (_, slot, pick, attr) = self.keys[n]?;
        Some(KeyValue(
            SlotView {
                bindings: &inst.bindings,
            }
            .attr(slot, pick, attr),
        ))
    }
}

/// `attr = alias.attr` (either order, no conversions) among the AND-ed conjuncts of a leaf's
/// filter: the index key of instances waiting there.
fn correlation_key(n: &PatternNode) -> Option<(usize, usize, EventPick, usize)> {
    use eventflux_planner::expr::{TypedExpr, TypedExprKind as K};
    use eventflux_sql::ast::BinaryOp;
    let filter = match n {
        PatternNode::Element { filter, .. } | PatternNode::Absent { filter, .. } => {
            filter.as_ref()?
        }
        _ => return None,
    };
    fn find(e: &TypedExpr) -> Option<(usize, usize, EventPick, usize)> {
        match &e.kind {
            K::Binary {
                op: BinaryOp::And,
                left,
                right,
            } => find(left).or_else(|| find(right)),
            K::Binary {
                op: BinaryOp::Eq,
                left,
                right,
            } => match (&left.kind, &right.kind) {
                (
                    K::Column(c),
                    K::PatternAttr {
                        slot, index, attr, ..
                    },
                )
                | (
                    K::PatternAttr {
                        slot, index, attr, ..
                    },
                    K::Column(c),
                ) if matches!(index, EventPick::First | EventPick::Last) => {
                    Some((c.index, *slot, *index, *attr))
                }
                _ => None,
            },
            _ => None,
        }
    }
    find(filter)
}

impl PatternOperator {
    fn fresh(&self) -> Instance {
        self.auto.fresh()
    }

    /// Updates the routing index for an instance after its state changed.
    fn register(&mut self, id: u64) {
        let Some(inst) = self.instances.get(&id) else {
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
                _ => {}
            }
        }
        if let Some(inst) = self.instances.get_mut(&id) {
            inst.leaves = Leaves::from_slice(&leaves);
        }
        leaves.clear();
        self.leaves = leaves;
    }

    fn instance_leaves_mut(&mut self, id: u64) -> Leaves {
        self.instances
            .get_mut(&id)
            .map(|i| std::mem::take(&mut i.leaves))
            .unwrap_or_default()
    }

    fn unwait(&mut self, leaf: usize, key: Option<&KeyValue>, id: u64) {
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
        }
    }

    /// Removes an instance and its routing entries.
    fn remove(&mut self, id: u64) -> Option<Instance> {
        let inst = self.instances.remove(&id)?;
        if inst.root {
            self.root_live = false;
        }
        for (leaf, key) in inst.leaves.as_slice() {
            self.unwait(*leaf, key.as_ref(), id);
        }
        Some(inst)
    }

    // ---- instances ------------------------------------------------------------------------

    fn insert(&mut self, inst: Instance, armed: &[i64], ctx: &mut OpCtx<'_>) -> u64 {
        // Bound the live partial matches: drop the oldest (never the root) and count it.
        let roots = usize::from(self.root_live);
        if self.instances.len() - roots >= self.max_partial {
            if let Some(oldest) = self
                .instances
                .iter()
                .find(|(_, i)| !i.root)
                .map(|(id, _)| *id)
            {
                self.remove(oldest);
                self.dropped += 1;
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        for &at in armed {
            self.deadlines.push(ctx, at, absence_token(id));
        }
        if let (Some(w), Some(t0)) = (self.auto.within, inst.first_ts) {
            self.deadlines
                .push(ctx, t0.saturating_add(w), within_token(id));
        }
        self.instances.insert(id, inst);
        self.register(id);
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
        self.auto
            .enter(self.auto.root, &mut root, ctx.now, &mut armed);
        let id = self.insert(root, &armed, ctx);
        self.root_live = true;
        id
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

    /// The instances an event can affect, oldest first: those waiting at a leaf of the event's
    /// stream (by correlation key where the leaf has one). A strict SEQUENCE offers every event
    /// to every instance, since an event nobody takes breaks them.
    fn route(&mut self, stream: usize, row: &[Value]) -> Vec<u64> {
        let mut c = std::mem::take(&mut self.candidates);
        c.clear();
        if self.auto.mode == PatternMode::Sequence {
            c.extend(self.instances.keys().copied());
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
                        if let Some((attr, ..)) = self.auto.keys[leaf] {
                            let key = row.get(attr).unwrap_or(&Value::Null);
                            if let Some(ids) = map.get(KeyValue::from_ref(key)) {
                                c.extend_from_slice(ids.as_slice());
                            }
                        }
                    }
                    None => {}
                }
            }
        }
        if c.len() > 1 {
            c.sort_unstable();
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
        let mut completed: Vec<Instance> = Vec::new();
        let mut spawned: Vec<(Instance, Vec<i64>)> = Vec::new();
        // How the root instance ended with this event, if it did.
        let mut root_failed = false;
        let mut root_matched = false;
        for &id in &ids {
            let auto = &self.auto;
            let Some(inst) = self.instances.get_mut(&id) else {
                continue;
            };
            let had_first = inst.first_ts.is_some();
            let mut st = Step::new(stream, row, ts, ctx.now, &mut shared);
            let mut result = auto.feed(auto.root, inst, &mut st);
            let spawn = st.spawn;
            let armed = std::mem::take(&mut st.armed);
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
            if !had_first {
                if let (Some(w), Some(t0)) = (auto.within, inst.first_ts) {
                    self.deadlines
                        .push(ctx, t0.saturating_add(w), within_token(id));
                }
            }
            // The template spawns a new instance for an event that begins an EVERY term.
            if spawn && result == Feed::Ignored {
                let mut clone = Instance {
                    state: inst.state.clone(),
                    bindings: inst.bindings.clone(),
                    first_ts: inst.first_ts,
                    last_ts: inst.last_ts,
                    root: false,
                    leaves: Leaves::None,
                };
                let mut st = Step {
                    start_every: true,
                    ..Step::new(stream, row, ts, ctx.now, &mut shared)
                };
                if auto.feed(auto.root, &mut clone, &mut st) == Feed::Consumed {
                    let armed = std::mem::take(&mut st.armed);
                    spawned.push((clone, armed));
                }
            }
            match result {
                Feed::Failed => {
                    if let Some(inst) = self.remove(id) {
                        root_failed |= inst.root;
                    }
                }
                Feed::Consumed if self.auto.satisfied(self.auto.root, &self.instances[&id]) => {
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
        for inst in completed {
            self.emit(&inst, inst.last_ts.max(ts), ctx.now, out);
        }
        for (inst, armed) in spawned {
            if self.auto.satisfied(self.auto.root, &inst) {
                self.emit(&inst, ts, ctx.now, out);
                continue;
            }
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
        if self.auto.mode == PatternMode::Pattern && matched && !self.auto.has_every {
            self.finished = true;
            return;
        }
        let id = self.new_root(ctx);
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
        let Some(inst) = self.instances.get_mut(&id) else {
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
                let ids: Vec<u64> = self.instances.keys().copied().collect();
                for id in ids {
                    self.remove(id);
                }
                return;
            }
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        if token != WAKE {
            return;
        }
        if self.deadlines.wake.is_some_and(|w| w <= ctx.now) {
            self.deadlines.wake = None;
        }
        while let Some(t) = self.deadlines.pop_due(ctx.now) {
            self.on_deadline(t, ctx, out);
        }
        if let Some(next) = self.deadlines.next() {
            if self.deadlines.wake.is_none_or(|w| next < w) {
                self.deadlines.wake = Some(next);
                ctx.schedule(next, WAKE);
            }
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
                if inst.root {
                    // A root that bound events (a prefix before EVERY) expires too.
                    self.root_gone(false, None, ctx, out);
                }
            }
            return;
        }
        let auto = &self.auto;
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        let mut armed = Vec::new();
        let changed = auto.on_time(auto.root, inst, ctx.now, &mut armed);
        for at in &armed {
            self.deadlines.push(ctx, *at, absence_token(id));
        }
        if !changed {
            return;
        }
        if auto.satisfied(auto.root, inst) {
            if let Some(inst) = self.remove(id) {
                self.emit(&inst, ctx.now, ctx.now, out);
                if inst.root {
                    self.root_gone(true, None, ctx, out);
                }
            }
        } else {
            self.register(id);
        }
    }
}
