//! The select step (§7, §8): grouping, incremental aggregation, HAVING, ORDER BY/LIMIT per
//! emission and the output row.
//!
//! Windows drive it through two protocols:
//! - sliding: [`Selector::current`] for each arrival and [`Selector::expired`] for each removal —
//!   one output row per call (for the row's group), aggregates reflecting the window after the
//!   change;
//! - batch: [`Selector::batch_add`] for each row of a batch, then [`Selector::batch_close`],
//!   which emits one row per group in order of first appearance (non-aggregated attributes take
//!   the group's last event), or — without aggregation — every row of the batch in order.
//!
//! The evaluation row is `[input attributes] [output columns] [aggregate results]` (see
//! `SelectPlan`).

use crate::aggregate::{accumulator, Accumulator, Removal};
use crate::batch::{Batch, EventKind};
use crate::compile::{
    compile_expr, compile_predicate, CompileError, CompiledExpr, CompiledPredicate, EvalCtx,
};
use crate::value::{KeyValue, Value};
use eventflux_planner::plan::SelectPlan;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;

/// Where an output column comes from when it is a plain attribute or an aggregate.
#[derive(Debug, Clone, Copy)]
enum Direct {
    Input(usize),
    Aggregate(usize),
}

struct Group {
    key: Vec<KeyValue>,
    accs: Vec<Box<dyn Accumulator>>,
    /// Rows of this group currently in the window (sliding) or in the open batch.
    live: u64,
    /// The latest row of the group (batch emission and snapshots), with its timestamp.
    last: Vec<Value>,
    last_ts: i64,
    /// Batch number in which the group last appeared, and its position in that batch.
    batch: u64,
}

/// Compiled select step.
pub struct Selector {
    input_arity: usize,
    group_by: Vec<CompiledExpr>,
    /// Argument of each aggregate (None: count()/count(*)).
    agg_args: Vec<Option<CompiledExpr>>,
    prototypes: Vec<Box<dyn Accumulator>>,
    outputs: Vec<CompiledExpr>,
    emit: Vec<usize>,
    having: Option<CompiledPredicate>,
    order_by: Vec<(CompiledExpr, bool)>,
    limit: Option<u64>,
    offset: u64,
    aggregating: bool,
    /// Whether expired rows are wanted downstream (otherwise they are not even computed).
    pub keep_expired: bool,
    pub keep_current: bool,

    groups: Vec<Option<Group>>,
    free: Vec<usize>,
    index: FxHashMap<Vec<KeyValue>, usize>,
    /// Groups in order of first appearance in the open batch.
    batch_order: Vec<usize>,
    batch_no: u64,
    /// Scratch buffers reused for every row.
    key: Vec<KeyValue>,
    eval: Vec<Value>,
    /// Set when every output column is an input attribute or an aggregate and nothing else
    /// (HAVING, ORDER BY) needs the evaluation row: outputs are then copied directly.
    direct: Option<Vec<Direct>>,
    /// Groups are kept when emptied (min_forever/max_forever must outlive the window).
    keep_groups: bool,
    /// Keep each group's last row in sliding mode (only OUTPUT SNAPSHOT needs it there).
    pub track_last: bool,
    /// Output rows of the current emission, when ORDER BY / LIMIT / OFFSET need them together.
    pending: Vec<(i64, EventKind, Vec<Value>, Vec<Value>)>,
    buffered: bool,
}

impl Selector {
    pub fn new(
        plan: &SelectPlan,
        removal: Removal,
        keep_current: bool,
        keep_expired: bool,
    ) -> Result<Selector, CompileError> {
        let compile_all =
            |es: &[eventflux_planner::expr::TypedExpr]| -> Result<Vec<CompiledExpr>, CompileError> {
                es.iter().map(compile_expr).collect()
            };
        let mut agg_args = Vec::new();
        let mut prototypes = Vec::new();
        for call in &plan.aggregates {
            let arg = call.arg.as_ref().map(compile_expr).transpose()?;
            let proto = accumulator(
                call.func,
                call.arg.as_ref().map(|a| a.ty),
                call.distinct,
                call.percentile,
                removal,
            )
            .map_err(|message| CompileError {
                message,
                span: call.arg.as_ref().map(|a| a.span).unwrap_or_default(),
            })?;
            agg_args.push(arg);
            prototypes.push(proto);
        }
        let outputs: Vec<CompiledExpr> = plan
            .outputs
            .iter()
            .map(|(_, e)| compile_expr(e))
            .collect::<Result<_, _>>()?;
        let order_by = plan
            .order_by
            .iter()
            .map(|(e, d)| Ok((compile_expr(e)?, *d)))
            .collect::<Result<Vec<_>, CompileError>>()?;
        let buffered = !order_by.is_empty() || plan.limit.is_some() || plan.offset > 0;
        Ok(Selector {
            input_arity: plan.input_arity,
            group_by: compile_all(&plan.group_by)?,
            agg_args,
            prototypes,
            outputs,
            emit: plan.emit.clone(),
            having: plan.having.as_ref().map(compile_predicate).transpose()?,
            order_by,
            limit: plan.limit,
            offset: plan.offset,
            aggregating: plan.is_aggregating(),
            keep_expired,
            keep_current,
            groups: Vec::new(),
            free: Vec::new(),
            index: FxHashMap::default(),
            batch_order: Vec::new(),
            batch_no: 0,
            key: Vec::new(),
            eval: vec![Value::Null; plan.input_arity + plan.outputs.len() + plan.aggregates.len()],
            track_last: false,
            keep_groups: plan.aggregates.iter().any(|a| {
                matches!(
                    a.func,
                    eventflux_planner::functions::AggregateFn::MinForever
                        | eventflux_planner::functions::AggregateFn::MaxForever
                )
            }),
            direct: direct_outputs(plan),
            pending: Vec::new(),
            buffered,
        })
    }

    pub fn aggregating(&self) -> bool {
        self.aggregating
    }

    /// Number of live groups (state-size metric).
    pub fn group_count(&self) -> usize {
        self.index.len()
    }

    /// The GROUP BY key of a row (session windows without a key attribute use it).
    pub fn group_key(&self, row: &[Value], ts: i64, now: i64, key: &mut Vec<KeyValue>) {
        let ctx = EvalCtx {
            row,
            ts,
            now,
            bindings: None,
        };
        key.clear();
        for g in &self.group_by {
            key.push(KeyValue(g(&ctx)));
        }
    }

    /// Finds or creates the group of `row`.
    fn group_of(&mut self, row: &[Value], ts: i64, now: i64) -> usize {
        // Without GROUP BY there is one group: skip hashing the empty key.
        if self.group_by.is_empty() {
            if let Some(Some(_)) = self.groups.first() {
                return 0;
            }
        }
        let ctx = EvalCtx {
            row,
            ts,
            now,
            bindings: None,
        };
        self.key.clear();
        for g in &self.group_by {
            self.key.push(KeyValue(g(&ctx)));
        }
        if let Some(&slot) = self.index.get(&self.key[..]) {
            return slot;
        }
        let group = Group {
            key: self.key.clone(),
            accs: self.prototypes.iter().map(|p| p.boxed_clone()).collect(),
            live: 0,
            last: Vec::new(),
            last_ts: ts,
            batch: u64::MAX,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.groups[s] = Some(group);
                s
            }
            None => {
                self.groups.push(Some(group));
                self.groups.len() - 1
            }
        };
        self.index.insert(self.key.clone(), slot);
        slot
    }

    fn drop_group(&mut self, slot: usize) {
        if let Some(g) = self.groups[slot].take() {
            self.index.remove(&g.key[..]);
            self.free.push(slot);
        }
    }

    fn accumulate(&mut self, slot: usize, seq: u64, row: &[Value], ts: i64, now: i64, add: bool) {
        let ctx = EvalCtx {
            row,
            ts,
            now,
            bindings: None,
        };
        let Some(group) = self.groups[slot].as_mut() else {
            return;
        };
        for (acc, arg) in group.accs.iter_mut().zip(&self.agg_args) {
            let v = match arg {
                Some(a) => a(&ctx),
                None => Value::Null,
            };
            if add {
                acc.add(seq, &v);
            } else {
                acc.remove(seq, &v);
            }
        }
        if add {
            group.live += 1;
        } else {
            group.live = group.live.saturating_sub(1);
        }
    }

    /// Computes the output for `row` (with the aggregates of group `slot`, if any) and emits it.
    fn output(
        &mut self,
        slot: Option<usize>,
        row: &[Value],
        ts: i64,
        kind: EventKind,
        now: i64,
        out: &mut Batch,
    ) {
        let n = self.input_arity;
        let m = self.outputs.len();
        if let Some(direct) = &self.direct {
            // Plain attributes and aggregates: no evaluation row needed.
            let group = slot.and_then(|s| self.groups[s].as_ref());
            out.push_iter(
                ts,
                kind,
                self.emit.iter().map(|&i| match direct[i] {
                    Direct::Input(c) => row.get(c).cloned().unwrap_or_default(),
                    Direct::Aggregate(a) => group.map_or(Value::Null, |g| g.accs[a].value()),
                }),
            );
            return;
        }
        self.eval[..n].clone_from_slice(row);
        if let Some(g) = slot.and_then(|s| self.groups[s].as_ref()) {
            for (i, acc) in g.accs.iter().enumerate() {
                self.eval[n + m + i] = acc.value();
            }
        }
        for i in 0..m {
            let v = self.outputs[i](&EvalCtx {
                row: &self.eval,
                ts,
                now,
                bindings: None,
            });
            self.eval[n + i] = v;
        }
        let ctx = EvalCtx {
            row: &self.eval,
            ts,
            now,
            bindings: None,
        };
        if let Some(h) = &self.having {
            if !h(&ctx) {
                return;
            }
        }
        if self.buffered {
            let keys: Vec<Value> = self.order_by.iter().map(|(k, _)| k(&ctx)).collect();
            let vals: Vec<Value> = self
                .emit
                .iter()
                .map(|&i| self.eval[n + i].clone())
                .collect();
            self.pending.push((ts, kind, keys, vals));
        } else {
            out.push_iter(
                ts,
                kind,
                self.emit.iter().map(|&i| self.eval[n + i].clone()),
            );
        }
    }

    /// Emits a row without aggregation (window contents for OUTPUT SNAPSHOT).
    pub fn emit_row(&mut self, row: &[Value], ts: i64, now: i64, out: &mut Batch) {
        self.output(None, row, ts, EventKind::Current, now, out);
    }

    /// Ends one emission: sorts, applies OFFSET/LIMIT and writes the buffered rows.
    pub fn end_emission(&mut self, out: &mut Batch) {
        if !self.buffered || self.pending.is_empty() {
            return;
        }
        let mut rows = std::mem::take(&mut self.pending);
        if !self.order_by.is_empty() {
            let desc: Vec<bool> = self.order_by.iter().map(|(_, d)| *d).collect();
            rows.sort_by(|a, b| {
                for (i, d) in desc.iter().enumerate() {
                    // NULLs sort first ascending (last descending), like Flink.
                    let o = a.2[i].sort_cmp(&b.2[i]);
                    let o = if *d { o.reverse() } else { o };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            });
        }
        let skip = self.offset as usize;
        let take = self.limit.map_or(usize::MAX, |l| l as usize);
        for (ts, kind, _, vals) in rows.drain(..).skip(skip).take(take) {
            out.push_iter(ts, kind, vals);
        }
        self.pending = rows;
    }

    // ---- sliding protocol -------------------------------------------------------------------

    /// A row arrived in the window.
    pub fn current(&mut self, seq: u64, row: &[Value], ts: i64, now: i64, out: &mut Batch) {
        if !self.aggregating {
            if self.keep_current {
                self.output(None, row, ts, EventKind::Current, now, out);
            }
            return;
        }
        let slot = self.group_of(row, ts, now);
        self.accumulate(slot, seq, row, ts, now, true);
        if self.track_last {
            if let Some(g) = self.groups[slot].as_mut() {
                g.last.clear();
                g.last.extend_from_slice(row);
                g.last_ts = ts;
            }
        }
        if self.keep_current {
            self.output(Some(slot), row, ts, EventKind::Current, now, out);
        }
    }

    /// A row left the window. Groups left empty are dropped, so state stays bounded by the
    /// window's contents.
    pub fn expired(&mut self, seq: u64, row: &[Value], ts: i64, now: i64, out: &mut Batch) {
        if !self.aggregating {
            if self.keep_expired {
                self.output(None, row, now, EventKind::Expired, now, out);
            }
            return;
        }
        let slot = self.group_of(row, ts, now);
        self.accumulate(slot, seq, row, ts, now, false);
        if self.keep_expired {
            // An expired row is stamped with the time it expires (Siddhi does the same).
            self.output(Some(slot), row, now, EventKind::Expired, now, out);
        }
        if !self.keep_groups && self.groups[slot].as_ref().is_some_and(|g| g.live == 0) {
            self.drop_group(slot);
        }
    }

    // ---- batch protocol ---------------------------------------------------------------------

    /// Adds a row to the open batch. Without aggregation the row is emitted at once (as part of
    /// the batch's emission, which the caller ends with `batch_close`).
    pub fn batch_add(&mut self, seq: u64, row: &[Value], ts: i64, now: i64, out: &mut Batch) {
        if !self.aggregating {
            if self.keep_current {
                self.output(None, row, ts, EventKind::Current, now, out);
            }
            return;
        }
        let slot = self.group_of(row, ts, now);
        let batch = self.batch_no;
        if let Some(g) = self.groups[slot].as_mut() {
            if g.batch != batch {
                g.batch = batch;
                for acc in &mut g.accs {
                    acc.reset();
                }
                g.live = 0;
                self.batch_order.push(slot);
            }
            g.last.clear();
            g.last.extend_from_slice(row);
            g.last_ts = ts;
        }
        self.accumulate(slot, seq, row, ts, now, true);
    }

    /// Emits a row of the previous batch as expired (non-aggregating batch windows).
    pub fn batch_expired(&mut self, row: &[Value], now: i64, out: &mut Batch) {
        if !self.aggregating && self.keep_expired {
            self.output(None, row, now, EventKind::Expired, now, out);
        }
    }

    /// Closes the open batch: one row per group, in order of first appearance.
    pub fn batch_close(&mut self, now: i64, out: &mut Batch) {
        if self.aggregating {
            let order = std::mem::take(&mut self.batch_order);
            for &slot in &order {
                let Some(g) = self.groups[slot].as_mut() else {
                    continue;
                };
                let last = std::mem::take(&mut g.last);
                if self.keep_current {
                    self.output(Some(slot), &last, now, EventKind::Current, now, out);
                }
                if let Some(g) = self.groups[slot].as_mut() {
                    g.last = last;
                }
            }
            // Groups absent from the next batch emit nothing and hold no state.
            if !self.keep_groups {
                for &slot in &order {
                    self.drop_group(slot);
                }
            }
            self.batch_order = order;
            self.batch_order.clear();
            self.batch_no += 1;
        }
        self.end_emission(out);
    }

    /// `OUTPUT SNAPSHOT`: the current output of every live group.
    pub fn snapshot(&mut self, now: i64, out: &mut Batch) {
        let slots: Vec<usize> = (0..self.groups.len())
            .filter(|&s| self.groups[s].is_some())
            .collect();
        let mut ordered: Vec<(i64, usize)> = slots
            .iter()
            .filter_map(|&s| self.groups[s].as_ref().map(|g| (g.last_ts, s)))
            .collect();
        ordered.sort();
        for (_, slot) in ordered {
            let Some(g) = self.groups[slot].as_mut() else {
                continue;
            };
            let last = std::mem::take(&mut g.last);
            let ts = g.last_ts;
            if !last.is_empty() {
                self.output(Some(slot), &last, ts, EventKind::Current, now, out);
            }
            if let Some(g) = self.groups[slot].as_mut() {
                g.last = last;
            }
        }
        self.end_emission(out);
    }
}

/// Marks the input columns (positions below `arity`) an expression reads.
fn mark_columns(e: &eventflux_planner::expr::TypedExpr, arity: usize, used: &mut [bool]) {
    use eventflux_planner::expr::TypedExprKind as K;
    match &e.kind {
        K::Column(c) => {
            if c.index < arity {
                used[c.index] = true;
            }
        }
        K::Constant(_)
        | K::EventTime
        | K::Now
        | K::PatternAttr { .. }
        | K::PatternAggregate { .. } => {}
        K::Neg(a) | K::Not(a) | K::Cast(a) => mark_columns(a, arity, used),
        K::IsNull { expr, .. } => mark_columns(expr, arity, used),
        K::Binary { left, right, .. } | K::Concat(left, right) => {
            mark_columns(left, arity, used);
            mark_columns(right, arity, used);
        }
        K::InList { expr, list, .. } => {
            mark_columns(expr, arity, used);
            for i in list {
                mark_columns(i, arity, used);
            }
        }
        K::Between {
            expr, low, high, ..
        } => {
            for x in [expr, low, high] {
                mark_columns(x, arity, used);
            }
        }
        K::Like { expr, pattern, .. } => {
            mark_columns(expr, arity, used);
            mark_columns(pattern, arity, used);
        }
        K::Case { whens, else_result } => {
            for (c, r) in whens {
                mark_columns(c, arity, used);
                mark_columns(r, arity, used);
            }
            if let Some(e) = else_result {
                mark_columns(e, arity, used);
            }
        }
        K::Call { args, .. } => {
            for a in args {
                mark_columns(a, arity, used);
            }
        }
    }
}

/// The input columns a window must keep for the rows it later hands back as expired: the group
/// keys and aggregate arguments, plus everything the output reads when expired rows (or window
/// contents, for snapshots) are emitted.
pub fn retained_columns(plan: &SelectPlan, keep_expired: bool, snapshot: bool) -> Vec<usize> {
    let n = plan.input_arity;
    let mut used = vec![false; n];
    for g in &plan.group_by {
        mark_columns(g, n, &mut used);
    }
    for a in plan.aggregates.iter().filter_map(|a| a.arg.as_ref()) {
        mark_columns(a, n, &mut used);
    }
    if keep_expired || snapshot {
        for (_, e) in &plan.outputs {
            mark_columns(e, n, &mut used);
        }
        if let Some(h) = &plan.having {
            mark_columns(h, n, &mut used);
        }
        for (e, _) in &plan.order_by {
            mark_columns(e, n, &mut used);
        }
    }
    (0..n).filter(|&i| used[i]).collect()
}

/// The direct sources of the output columns, if they are all plain attributes or aggregates and
/// the query has no HAVING or ORDER BY/LIMIT/OFFSET.
fn direct_outputs(plan: &SelectPlan) -> Option<Vec<Direct>> {
    use eventflux_planner::expr::TypedExprKind as K;
    if plan.having.is_some() || !plan.order_by.is_empty() || plan.limit.is_some() || plan.offset > 0
    {
        return None;
    }
    let base = plan.aggregate_base();
    plan.outputs
        .iter()
        .map(|(_, e)| match &e.kind {
            K::Column(c) if c.index < plan.input_arity => Some(Direct::Input(c.index)),
            K::Column(c) if c.index >= base && c.index - base < plan.aggregates.len() => {
                // The aggregate's result must already have the output's type (no conversion).
                (plan.aggregates[c.index - base].result == e.ty)
                    .then_some(Direct::Aggregate(c.index - base))
            }
            _ => None,
        })
        .collect()
}

fn uses_event_time(e: &eventflux_planner::expr::TypedExpr) -> bool {
    use eventflux_planner::expr::TypedExprKind as K;
    match &e.kind {
        K::EventTime => true,
        K::Column(_)
        | K::Constant(_)
        | K::Now
        | K::PatternAttr { .. }
        | K::PatternAggregate { .. } => false,
        K::Neg(a) | K::Not(a) | K::Cast(a) => uses_event_time(a),
        K::IsNull { expr, .. } => uses_event_time(expr),
        K::Binary { left, right, .. } | K::Concat(left, right) => {
            uses_event_time(left) || uses_event_time(right)
        }
        K::InList { expr, list, .. } => uses_event_time(expr) || list.iter().any(uses_event_time),
        K::Between {
            expr, low, high, ..
        } => uses_event_time(expr) || uses_event_time(low) || uses_event_time(high),
        K::Like { expr, pattern, .. } => uses_event_time(expr) || uses_event_time(pattern),
        K::Case { whens, else_result } => {
            whens
                .iter()
                .any(|(c, r)| uses_event_time(c) || uses_event_time(r))
                || else_result.as_deref().is_some_and(uses_event_time)
        }
        K::Call { args, .. } => args.iter().any(uses_event_time),
    }
}

/// Whether group keys or aggregate arguments read `event_time()` (then windows must keep each
/// row's timestamp for its removal).
pub fn reads_event_time(plan: &SelectPlan) -> bool {
    plan.group_by.iter().any(uses_event_time)
        || plan
            .aggregates
            .iter()
            .filter_map(|a| a.arg.as_ref())
            .any(uses_event_time)
}
