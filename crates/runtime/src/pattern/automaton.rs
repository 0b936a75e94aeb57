//! The automaton: compiled nodes, the state of a partial match, and its transitions on events
//! and on the clock (see docs/patterns.md).

use super::bindings::{Binding, Ev, SlotView};
use super::routing::{leaf_key, LeafKeyPlan, Leaves};
use crate::compile::{compile_expr, CompiledExpr};
use crate::compile::{compile_predicate, Bindings, CompileError, CompiledPredicate, EvalCtx};
use crate::value::{KeyValue, Value};
use eventflux_planner::expr::EventPick;
use eventflux_planner::pattern::{PatternNode, PatternPlan};
use eventflux_sql::ast::PatternMode;
use std::sync::Arc;

/// A partial match: node states laid out by node (see `Layout`), bound events per slot.
#[derive(Debug, Clone)]
pub(super) struct Instance {
    pub(super) state: Box<[i64]>,
    pub(super) bindings: Box<[Binding]>,
    /// Time of the first bound event (WITHIN counts from it).
    pub(super) first_ts: Option<i64>,
    pub(super) last_ts: i64,
    /// The query's root instance (not dropped by the partial-match bound).
    pub(super) root: bool,
    /// Where the instance is registered in the routing index.
    pub(super) leaves: Leaves,
    /// Creation rank (set by the store): routing offers events oldest first.
    pub(super) seq: u64,
}

/// How instances waiting at a leaf are indexed (see `routing::LeafKeyPlan`).
pub(super) enum LeafKey {
    Equal {
        col: usize,
        slot: usize,
        pick: EventPick,
        attr: usize,
    },
    Range {
        col: usize,
        below: bool,
        bound: CompiledExpr,
    },
}

/// Compiled node: the plan's node with filters compiled.
pub(super) enum Node {
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
pub(super) enum Feed {
    Consumed,
    Ignored,
    Failed,
}

/// States of an `Absent` node (first word; the second holds the deadline).
pub(super) const ABSENT_IDLE: i64 = 0;
pub(super) const ABSENT_ARMED: i64 = 1;
pub(super) const ABSENT_DONE: i64 = 2;
/// `Or` state bits.
pub(super) const OR_LEFT_WON: i64 = 1;
pub(super) const OR_RIGHT_WON: i64 = 2;
pub(super) const OR_LEFT_DEAD: i64 = 4;
pub(super) const OR_RIGHT_DEAD: i64 = 8;

impl<'a> Step<'a> {
    pub(super) fn new(
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
pub(super) struct Step<'a> {
    pub(super) stream: usize,
    pub(super) row: &'a [Value],
    pub(super) ts: i64,
    pub(super) now: i64,
    /// Lazily shared copy of the event, created when something binds it.
    pub(super) shared: &'a mut Option<Arc<Ev>>,
    /// Set when an unstarted EVERY could begin with this event (the template spawns).
    pub(super) spawn: bool,
    /// Start the first unstarted EVERY reached (when offering to a clone).
    pub(super) start_every: bool,
    /// Absence deadlines armed during the transition (to schedule timers).
    pub(super) armed: Vec<i64>,
}

/// The compiled pattern: nodes, state layout and routing information. Immutable while running.
pub(super) struct Automaton {
    pub(super) nodes: Vec<Node>,
    /// First state word of each node.
    pub(super) offsets: Vec<usize>,
    pub(super) words: usize,
    pub(super) nullable: Vec<bool>,
    pub(super) slot_of_node: Vec<Vec<usize>>,
    pub(super) slots: usize,
    pub(super) root: usize,
    pub(super) mode: PatternMode,
    pub(super) within: Option<i64>,
    pub(super) has_every: bool,
    /// For leaves (elements and absences) whose filter has `attr = alias.attr`: the event's
    /// attribute, and the bound attribute (slot, pick, attr) — instances waiting there are
    /// indexed by the bound value, so an event only reaches the instances it can match.
    pub(super) keys: Vec<Option<LeafKey>>,
    /// Leaf nodes listening to each stream.
    pub(super) leaves_of_stream: Vec<(usize, Vec<usize>)>,
}

impl Automaton {
    pub(super) fn new(plan: &PatternPlan) -> Result<Automaton, CompileError> {
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
        let keys = plan
            .nodes
            .iter()
            .map(|n| {
                Ok(match leaf_key(n) {
                    None => None,
                    Some(LeafKeyPlan::Equal {
                        col,
                        slot,
                        pick,
                        attr,
                    }) => Some(LeafKey::Equal {
                        col,
                        slot,
                        pick,
                        attr,
                    }),
                    Some(LeafKeyPlan::Range { col, below, bound }) => Some(LeafKey::Range {
                        col,
                        below,
                        bound: compile_expr(&bound)?,
                    }),
                })
            })
            .collect::<Result<Vec<_>, CompileError>>()?;
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

    pub(super) fn fresh(&self) -> Instance {
        Instance {
            state: vec![0; self.words].into_boxed_slice(),
            bindings: vec![Binding::Empty; self.slots].into_boxed_slice(),
            first_ts: None,
            last_ts: i64::MIN,
            root: false,
            leaves: Leaves::None,
            seq: 0,
        }
    }

    // ---- node state ---------------------------------------------------------------------

    pub(super) fn enter(&self, n: usize, inst: &mut Instance, step_now: i64, armed: &mut Vec<i64>) {
        let o = self.offsets[n];
        match &self.nodes[n] {
            Node::Element { .. } => inst.state[o] = 0,
            Node::Absent { duration, .. } => match duration {
                Some(d) => {
                    inst.state[o] = ABSENT_ARMED;
                    // A deadline past the end of representable time never comes: it is not armed
                    // (arming it at i64::MAX would fire and re-arm for ever there).
                    inst.state[o + 1] = step_now.checked_add(*d).unwrap_or(i64::MAX);
                    if inst.state[o + 1] != i64::MAX {
                        armed.push(inst.state[o + 1]);
                    }
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

    pub(super) fn satisfied(&self, n: usize, inst: &Instance) -> bool {
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
    pub(super) fn full(&self, n: usize, inst: &Instance) -> bool {
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
    pub(super) fn in_absence(&self, n: usize, inst: &Instance) -> bool {
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

    pub(super) fn test(
        &self,
        filter: &Option<CompiledPredicate>,
        inst: &Instance,
        st: &Step<'_>,
    ) -> bool {
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

    pub(super) fn feed(&self, n: usize, inst: &mut Instance, st: &mut Step<'_>) -> Feed {
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
    pub(super) fn advance_seq(
        &self,
        n: usize,
        inst: &mut Instance,
        now: i64,
        armed: &mut Vec<i64>,
    ) {
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
    pub(super) fn on_time(
        &self,
        n: usize,
        inst: &mut Instance,
        now: i64,
        armed: &mut Vec<i64>,
    ) -> bool {
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
    pub(super) fn active_leaves(
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

    pub(super) fn key_of(&self, n: usize, inst: &Instance) -> Option<KeyValue> {
        let view = SlotView {
            bindings: &inst.bindings,
        };
        match self.keys[n].as_ref()? {
            LeafKey::Equal {
                slot, pick, attr, ..
            } => Some(KeyValue(view.attr(*slot, *pick, *attr))),
            LeafKey::Range { bound, .. } => Some(KeyValue(bound(&EvalCtx {
                row: &[],
                ts: 0,
                now: 0,
                bindings: Some(&view),
            }))),
        }
    }
}
