//! Joins (§9). One operator holds every side of a join query:
//!
//! - a stream side runs its arrivals through its filter and window; what the window holds is
//!   mirrored in a [`JoinBuffer`] hash-indexed by the key its join step probes it with (rows the
//!   window expires are removed from it). A side without a window retains nothing;
//! - a table side is read from the app's tables at lookup time (by primary key or index when ON
//!   allows, else by scanning); it never triggers;
//! - an arrival on a triggering side joins with the current contents of the other sides, left to
//!   right in FROM order, and emits one row per match; an outer side without a match emits one
//!   row padded with NULLs. Only rows containing the arriving event are emitted.
//!
//! Output order (determinism): per arrival, matches follow the left-to-right evaluation, each
//! side's candidates in arrival order (tables: insertion order). One event feeding several sides
//! (self-joins) reaches them in FROM order.

use crate::batch::{Batch, EventKind};
use crate::compile::{
    compile_expr, compile_predicate, CompileError, CompiledExpr, CompiledPredicate, EvalCtx,
};
use crate::external::StoreError;
use crate::operators::{BatchOperator, OpCtx};
use crate::select::Selector;
use crate::store::{key_is_null, key_of_value, JoinBuffer, TableStore};
use crate::value::{KeyValue, Value};
use crate::window::{build_window, removal_of, Window};
use eventflux_planner::expr::{ColumnSlot, TypedExpr, TypedExprKind};
use eventflux_planner::join::{JoinPlan, JoinSource, TableIndex};
use eventflux_planner::plan::SelectPlan;
use eventflux_planner::window::WindowKind;
use eventflux_sql::ast::JoinKind;

/// How a stream side retains rows.
enum Retention {
    /// No window: arrivals probe but are not kept.
    None,
    /// `length`, `time`, `timeLength`: the buffer itself is the window.
    Fifo {
        len: Option<usize>,
        time: Option<i64>,
    },
    /// Any other window: the window runs as for a single-stream query; the rows it emits as
    /// current are arrivals, the rows it emits as expired leave the buffer.
    Window(Box<GenericWindow>),
}

struct GenericWindow {
    window: Box<dyn Window>,
    selector: Selector,
    emitted: Batch,
    holds: Holds,
}

/// What a side with a generic window holds for the other sides to probe.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holds {
    /// The rows the window emitted as current, until it emits them as expired (`lengthBatch`,
    /// `timeBatch`, `sort`, `unique`, `firstUnique`, ...).
    Emitted,
    /// The last batch the window emitted (`sliding`/`hop`, `session`): each emission replaces
    /// the previous one.
    LastBatch,
    /// The rows waiting in the window (`delay`): an event is held from its arrival; when the
    /// window releases it, it leaves the side and probes the other sides.
    Waiting,
}

struct SideRt {
    source: JoinSource,
    offset: usize,
    arity: usize,
    filter: Option<CompiledPredicate>,
    /// `IN Table` tests of the filter (table, key over the side's row); the filter reads their
    /// results after the side's attributes.
    filter_probes: Vec<(usize, CompiledExpr)>,
    triggers: bool,
    /// Whether some other side probes this one (otherwise nothing is retained).
    retain: bool,
    /// Key of a retained row, over the side's own row.
    key: Vec<CompiledExpr>,
    buffer: JoinBuffer,
    retention: Retention,
    max_events: usize,
    evicted: u64,
}

struct StepRt {
    kind: JoinKind,
    /// Over the join row / over the right side's own row.
    left_keys: Vec<CompiledExpr>,
    right_keys: Vec<CompiledExpr>,
    /// Right side is a table: index and probes over the join row.
    table_lookup: Option<(TableIndex, Vec<CompiledExpr>)>,
    /// Left side (the first) is a table: index and probes over the right side's row.
    left_table_lookup: Option<(TableIndex, Vec<CompiledExpr>)>,
    residual: Option<CompiledPredicate>,
}

pub struct JoinOperator {
    sides: Vec<SideRt>,
    steps: Vec<StepRt>,
    arity: usize,
    /// A projection onto plain attributes fused into the join (`SELECT a.x, b.y` with nothing
    /// between the join and the projection): the join row positions emitted, and for each the
    /// side and the attribute within it.
    projection: Option<Vec<usize>>,
    projection_src: Vec<(usize, usize)>,
    /// A projection with expressions fused into the join (evaluated over the join row).
    exprs: Option<Vec<CompiledExpr>>,
    /// For the fused expressions: per output, the (side, attribute) it is when it is a plain
    /// attribute, and the join-row columns the other outputs read.
    expr_outputs: Vec<Option<(usize, usize)>>,
    expr_inputs: Vec<usize>,
    /// Scratch: partial join rows (flat, `arity` values each), one join row, keys and slots.
    comps: Vec<Value>,
    next: Vec<Value>,
    row: Vec<Value>,
    key: Vec<KeyValue>,
    xkey: Vec<KeyValue>,
    slots: Vec<u32>,
    matched: Vec<u32>,
    one: Batch,
    /// Table matches of every row of the batch being processed, looked up ahead (see
    /// `prefetch_table_matches`): per input row, a range of `pre_slots`, and the row being
    /// processed.
    pre_ranges: Vec<(u32, u32)>,
    pre_slots: Vec<u32>,
    pre_row: Option<usize>,
    pre_keys: Vec<KeyValue>,
    pre_hashes: Vec<u64>,
    /// Scratch: a side's row followed by its filter's `IN Table` results.
    filter_row: Vec<Value>,
    /// External tables this join reads (found on the first batch).
    externals: Vec<usize>,
    externals_known: bool,
    /// Mark the rows of each arrival as one emission (an ORDER BY / LIMIT / OFFSET downstream
    /// applies per arrival).
    mark_emissions: bool,
}

/// How the join emits a row: whole, projected onto attributes, or through the fused
/// projection's expressions.
#[derive(Clone, Copy)]
struct Shape<'a> {
    columns: Option<&'a [usize]>,
    exprs: Option<&'a [CompiledExpr]>,
    now: i64,
}

/// Emits a join row, or the fused projection of it.
#[inline]
fn push_projected(out: &mut Batch, ts: i64, row: &[Value], shape: Shape<'_>) {
    match (shape.exprs, shape.columns) {
        (Some(exprs), _) => {
            let ec = EvalCtx {
                row,
                ts,
                now: shape.now,
                bindings: None,
            };
            out.push_iter(ts, EventKind::Current, exprs.iter().map(|e| e(&ec)))
        }
        (None, Some(p)) => out.push_iter(ts, EventKind::Current, p.iter().map(|&i| row[i].clone())),
        (None, None) => out.push(ts, EventKind::Current, row),
    }
}

/// The attribute a key is, when it is exactly one attribute.
fn single_column(key: &[TypedExpr]) -> Option<usize> {
    match key {
        [TypedExpr {
            kind: TypedExprKind::Column(c),
            ..
        }] => Some(c.index),
        _ => None,
    }
}

fn compile_all(es: &[TypedExpr]) -> Result<Vec<CompiledExpr>, CompileError> {
    es.iter().map(compile_expr).collect()
}

/// The timers of a side's window carry the side in the token's high bits (windows allowed on
/// join sides use small tokens).
const SIDE_SHIFT: u32 = 48;

fn side_tag(k: usize) -> u64 {
    (k as u64) << SIDE_SHIFT
}

impl JoinOperator {
    /// `projection`: join row positions to emit instead of the whole row; `exprs`: expressions
    /// over the join row to emit instead.
    pub fn new(
        plan: &JoinPlan,
        max_events: usize,
        projection: Option<Vec<usize>>,
        exprs: Option<Vec<TypedExpr>>,
    ) -> Result<JoinOperator, CompileError> {
        let side_of = |i: usize| {
            let s = plan.sides.iter().rposition(|s| s.offset <= i).unwrap_or(0);
            (s, i - plan.sides[s].offset)
        };
        let mut expr_outputs = Vec::new();
        let mut expr_inputs = Vec::new();
        for e in exprs.iter().flatten() {
            match &e.kind {
                TypedExprKind::Column(c) => expr_outputs.push(Some(side_of(c.index))),
                _ => {
                    expr_outputs.push(None);
                    eventflux_planner::join::columns_of(e, &mut expr_inputs);
                }
            }
        }
        expr_inputs.sort_unstable();
        expr_inputs.dedup();
        let exprs = exprs.as_deref().map(compile_all).transpose()?;
        let n = plan.sides.len();
        let mut sides = Vec::with_capacity(n);
        for (i, s) in plan.sides.iter().enumerate() {
            let probed = plan
                .sides
                .iter()
                .enumerate()
                .any(|(o, other)| o != i && other.triggers);
            let retention = match &s.window {
                None => Retention::None,
                Some(w) => match &w.kind {
                    WindowKind::Length(l) => Retention::Fifo {
                        len: Some(*l),
                        time: None,
                    },
                    WindowKind::Time(d) => Retention::Fifo {
                        len: None,
                        time: Some(*d),
                    },
                    WindowKind::TimeLength { time, n } => Retention::Fifo {
                        len: Some(*n),
                        time: Some(*time),
                    },
                    kind => {
                        // A selector that passes every row through unchanged, current and
                        // expired.
                        let outputs: Vec<(String, TypedExpr)> = (0..s.arity)
                            .map(|c| {
                                (
                                    format!("c{c}"),
                                    TypedExpr {
                                        kind: TypedExprKind::Column(ColumnSlot {
                                            index: c,
                                            display: format!("c{c}"),
                                        }),
                                        ty: eventflux_planner::types::Type::Null,
                                        span: Default::default(),
                                    },
                                )
                            })
                            .collect();
                        let sel_plan = SelectPlan {
                            input_arity: s.arity,
                            group_by: Vec::new(),
                            aggregates: Vec::new(),
                            outputs,
                            emit: (0..s.arity).collect(),
                            having: None,
                            order_by: Vec::new(),
                            limit: None,
                            offset: 0,
                        };
                        let selector =
                            Selector::new(&sel_plan, removal_of(Some(kind)), true, true)?;
                        let window = build_window(
                            Some(kind),
                            s.arity,
                            max_events,
                            &selector,
                            (0..s.arity).collect(),
                            true,
                        )
                        .map_err(|message| CompileError {
                            message,
                            span: w.span,
                        })?;
                        let holds = match kind {
                            WindowKind::Sliding { .. } | WindowKind::Session { .. } => {
                                Holds::LastBatch
                            }
                            WindowKind::Delay(_) => Holds::Waiting,
                            _ => Holds::Emitted,
                        };
                        Retention::Window(Box::new(GenericWindow {
                            window,
                            selector,
                            emitted: Batch::new(s.arity),
                            holds,
                        }))
                    }
                },
            };
            sides.push(SideRt {
                source: s.source,
                offset: s.offset,
                arity: s.arity,
                filter: s.filter.as_ref().map(compile_predicate).transpose()?,
                filter_probes: s
                    .filter_probes
                    .iter()
                    .map(|p| Ok((p.table, compile_expr(&p.key)?)))
                    .collect::<Result<_, CompileError>>()?,
                triggers: s.triggers,
                retain: probed && s.window.is_some(),
                key: compile_all(&s.key)?,
                buffer: JoinBuffer::new(s.arity, s.key.len(), single_column(&s.key)),
                retention,
                max_events,
                evicted: 0,
            });
        }
        let lookup = |l: &Option<eventflux_planner::join::TableLookup>| -> Result<_, CompileError> {
            Ok(match l {
                Some(l) => Some((l.index, compile_all(&l.probes)?)),
                None => None,
            })
        };
        let steps = plan
            .steps
            .iter()
            .map(|st| {
                let (l, r): (Vec<TypedExpr>, Vec<TypedExpr>) =
                    st.equalities.iter().cloned().unzip();
                Ok(StepRt {
                    kind: st.kind,
                    left_keys: compile_all(&l)?,
                    right_keys: compile_all(&r)?,
                    table_lookup: lookup(&st.table_lookup)?,
                    left_table_lookup: lookup(&st.left_table_lookup)?,
                    residual: st.residual.as_ref().map(compile_predicate).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, CompileError>>()?;
        let projection_src = projection.iter().flatten().map(|&i| side_of(i)).collect();
        Ok(JoinOperator {
            sides,
            steps,
            arity: plan.arity,
            projection,
            projection_src,
            exprs,
            expr_outputs,
            expr_inputs,
            comps: Vec::new(),
            next: Vec::new(),
            row: vec![Value::Null; plan.arity],
            key: Vec::new(),
            xkey: Vec::new(),
            slots: Vec::new(),
            matched: Vec::new(),
            one: Batch::new(0),
            pre_ranges: Vec::new(),
            pre_slots: Vec::new(),
            pre_row: None,
            pre_keys: Vec::new(),
            pre_hashes: Vec::new(),
            filter_row: Vec::new(),
            externals: Vec::new(),
            externals_known: false,
            mark_emissions: false,
        })
    }

    /// Marks the rows of each arrival (and of each window firing) as one emission.
    pub fn with_emission_marks(mut self, on: bool) -> JoinOperator {
        self.mark_emissions = on;
        self
    }

    /// An event reached side `k` (after its filter).
    fn arrive(&mut self, k: usize, x: &[Value], ts: i64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        match &mut self.sides[k].retention {
            Retention::None => self.emit_for(k, x, ts, ctx, out),
            Retention::Fifo { time, len, .. } => {
                let (time, len) = (*time, *len);
                if let Some(d) = time {
                    self.expire(k, ts, d);
                }
                let side = &mut self.sides[k];
                if let Some(n) = len {
                    while side.buffer.len() >= n {
                        match side.buffer.front() {
                            Some(f) => side.buffer.remove(f),
                            None => break,
                        }
                    }
                }
                while side.retain && side.buffer.len() >= side.max_events {
                    side.evicted += 1;
                    match side.buffer.front() {
                        Some(f) => side.buffer.remove(f),
                        None => break,
                    }
                }
                self.emit_for(k, x, ts, ctx, out);
                self.retain(k, x, ts, ctx);
            }
            Retention::Window(g) => {
                if g.holds == Holds::Waiting {
                    self.retain(k, x, ts, ctx);
                }
                let mut one = std::mem::take(&mut self.one);
                one.reset(x.len());
                one.push(ts, EventKind::Current, x);
                ctx.token_tag = side_tag(k);
                if let Retention::Window(g) = &mut self.sides[k].retention {
                    g.emitted.clear();
                    g.window.process(&one, ctx, &mut g.selector, &mut g.emitted);
                }
                ctx.token_tag = 0;
                self.one = one;
                self.handle_emitted(k, ctx, out);
            }
        }
    }

    /// Rows a generic window emitted: current rows arrive, expired rows leave the buffer.
    fn handle_emitted(&mut self, k: usize, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let Retention::Window(g) = &mut self.sides[k].retention else {
            return;
        };
        let holds = g.holds;
        let batch = std::mem::take(&mut g.emitted);
        if holds == Holds::LastBatch && batch.rows().any(|r| r.kind == EventKind::Current) {
            let side = &mut self.sides[k];
            while let Some(f) = side.buffer.front() {
                side.buffer.remove(f);
            }
        }
        for r in batch.rows() {
            match r.kind {
                EventKind::Current if holds == Holds::Waiting => {
                    let side = &mut self.sides[k];
                    if side.retain {
                        side.buffer.remove_matching(r.values);
                    }
                    self.emit_for(k, r.values, r.ts, ctx, out);
                }
                EventKind::Current => {
                    self.emit_for(k, r.values, r.ts, ctx, out);
                    self.retain(k, r.values, r.ts, ctx);
                }
                EventKind::Expired => {
                    let side = &mut self.sides[k];
                    if side.retain {
                        side.buffer.remove_matching(r.values);
                    }
                }
            }
        }
        if let Retention::Window(g) = &mut self.sides[k].retention {
            g.emitted = batch;
        }
    }

    fn retain(&mut self, k: usize, x: &[Value], ts: i64, ctx: &OpCtx<'_>) {
        let side = &mut self.sides[k];
        if !side.retain {
            return;
        }
        // `window.max_events` bounds every side, whatever its window (the oldest row goes).
        while side.buffer.len() >= side.max_events {
            match side.buffer.front() {
                Some(f) => {
                    side.buffer.remove(f);
                    side.evicted += 1;
                }
                None => break,
            }
        }
        if side.buffer.key_col().is_some() {
            side.buffer.insert(ts, x, &[]);
            return;
        }
        let ec = EvalCtx {
            row: x,
            ts,
            now: ctx.now,
            bindings: None,
        };
        let mut key = side.buffer.take_scratch();
        key.clear();
        key.extend(side.key.iter().map(|e| key_of_value(e(&ec))));
        side.buffer.insert(ts, x, &key);
        side.buffer.put_scratch(key);
    }

    /// Drops the rows of side `k` whose time is up at `now` (time ≤ now − d).
    fn expire(&mut self, k: usize, now: i64, d: i64) {
        let side = &mut self.sides[k];
        while let Some(f) = side.buffer.front() {
            if now < side.buffer.ts(f).saturating_add(d) {
                break;
            }
            side.buffer.remove(f);
        }
    }

    /// Time windows of a join expire lazily: a row that left its window is only observable
    /// when the join probes that side, so every time-bounded side drops its old rows when an
    /// event reaches the join (no timer per row).
    fn expire_all(&mut self, now: i64) {
        for k in 0..self.sides.len() {
            if let Retention::Fifo { time: Some(d), .. } = self.sides[k].retention {
                self.expire(k, now, d);
            }
        }
    }

    /// Evaluates the join for an arrival `x` on side `k`, appending result rows to `out`.
    fn emit_for(&mut self, k: usize, x: &[Value], ts: i64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        if !self.sides[k].triggers {
            return;
        }
        let a = self.arity;
        let now = ctx.now;
        if self.steps.len() == 1 {
            // An external table not looked up ahead for this row: fetch its key now.
            if self.pre_row.is_none() {
                if let Err((t, e)) = self.fetch_for_arrival(k, x, ts, ctx) {
                    ctx.store_failed(t, &e, ts, x);
                    return;
                }
            }
            self.emit_two(k, x, ts, now, ctx.tables, out);
            return;
        }
        if k == 1 {
            if let Err((t, e)) = self.fetch_for_arrival(k, x, ts, ctx) {
                ctx.store_failed(t, &e, ts, x);
                return;
            }
        }
        let tables: &[TableStore] = ctx.tables;
        let mut comps = std::mem::take(&mut self.comps);
        let mut next = std::mem::take(&mut self.next);
        comps.clear();
        let first_step;
        if k == 0 {
            self.fill_row(0, x);
            comps.extend_from_slice(&self.row);
            first_step = 0;
        } else if k == 1 {
            self.start_with_right(x, ts, now, tables, &mut comps);
            first_step = 1;
        } else {
            self.side_rows(0, tables, |row| {
                comps.extend_from_slice(row);
            });
            first_step = 0;
        }
        for i in first_step..self.steps.len() {
            let right = i + 1;
            next.clear();
            if right == k {
                self.step_onto_arrival(i, x, ts, now, &comps, &mut next);
            } else {
                if let Err((t, e)) = self.fetch_for_step(i, ts, &comps, ctx) {
                    ctx.store_failed(t, &e, ts, x);
                    self.comps = comps;
                    self.next = next;
                    return;
                }
                self.step_onto_side(i, k, ts, now, ctx.tables, &comps, &mut next);
            }
            // No early exit on an empty set: a later RIGHT/FULL step still pads its own rows.
            std::mem::swap(&mut comps, &mut next);
        }
        for row in comps.chunks_exact(a.max(1)) {
            push_projected(out, ts, &row[..a], self.shape(now));
        }
        self.comps = comps;
        self.next = next;
    }

    /// External tables: fetches the key the arrival on side `k` looks up in a table at the
    /// other end of step 0 (side 1's arrival probing side 0, or side 0's probing side 1).
    fn fetch_for_arrival(
        &mut self,
        k: usize,
        x: &[Value],
        ts: i64,
        ctx: &mut OpCtx<'_>,
    ) -> Result<(), (usize, StoreError)> {
        let (other, lookup) = match k {
            0 => (1, &self.steps[0].table_lookup),
            1 => (0, &self.steps[0].left_table_lookup),
            _ => return Ok(()),
        };
        let JoinSource::Table(t) = self.sides[other].source else {
            return Ok(());
        };
        let (Some((_, probes)), Some(table)) = (lookup, ctx.tables.get_mut(t)) else {
            return Ok(());
        };
        if !table.is_external() {
            return Ok(());
        }
        let ec = EvalCtx {
            row: x,
            ts,
            now: ctx.now,
            bindings: None,
        };
        self.xkey.clear();
        self.xkey
            .extend(probes.iter().map(|e| key_of_value(e(&ec))));
        table
            .fetch(&self.xkey, probes.len(), ctx.now)
            .map_err(|e| (t, e))
    }

    /// External tables: fetches every key step `i` will look up in its right side (a table)
    /// for the partial rows `comps`, in one call.
    fn fetch_for_step(
        &mut self,
        i: usize,
        ts: i64,
        comps: &[Value],
        ctx: &mut OpCtx<'_>,
    ) -> Result<(), (usize, StoreError)> {
        let JoinSource::Table(t) = self.sides[i + 1].source else {
            return Ok(());
        };
        let (Some((_, probes)), Some(table)) = (&self.steps[i].table_lookup, ctx.tables.get_mut(t))
        else {
            return Ok(());
        };
        if !table.is_external() {
            return Ok(());
        }
        self.xkey.clear();
        for c in comps.chunks_exact(self.arity.max(1)) {
            let ec = EvalCtx {
                row: c,
                ts,
                now: ctx.now,
                bindings: None,
            };
            self.xkey
                .extend(probes.iter().map(|e| key_of_value(e(&ec))));
        }
        table
            .fetch(&self.xkey, probes.len(), ctx.now)
            .map_err(|e| (t, e))
    }

    /// Two sides (the common case): the arrival probes the other side and each match is written
    /// straight to `out`, without intermediate rows.
    fn emit_two(
        &mut self,
        k: usize,
        x: &[Value],
        ts: i64,
        now: i64,
        tables: &[TableStore],
        out: &mut Batch,
    ) {
        let other = 1 - k;
        let step = &self.steps[0];
        // Side 0 sits at the start of the join row, so expressions over the join row that read
        // only side 0 (left keys, table probes) evaluate on its own row.
        let xec = EvalCtx {
            row: x,
            ts,
            now,
            bindings: None,
        };
        let mut slots = std::mem::take(&mut self.slots);
        slots.clear();
        let (key_exprs, table_lookup) = if k == 0 {
            (&step.left_keys, &step.table_lookup)
        } else {
            (&step.right_keys, &step.left_table_lookup)
        };
        match self.sides[other].source {
            JoinSource::Stream(_) => {
                let buf = &self.sides[other].buffer;
                match (buf.is_indexed(), self.sides[k].buffer.key_col()) {
                    // The arrival's key is one of its attributes (its own buffer is keyed by
                    // the same expression): look it up without copying it.
                    (true, Some(c)) => slots.extend(buf.lookup_value(&x[c])),
                    (true, None) => {
                        self.key.clear();
                        self.key
                            .extend(key_exprs.iter().map(|e| key_of_value(e(&xec))));
                        slots.extend(buf.lookup(&self.key));
                    }
                    (false, _) => slots.extend(buf.iter()),
                }
            }
            JoinSource::Table(t) => match self.pre_row.and_then(|i| self.pre_ranges.get(i)) {
                Some(&(from, to)) => {
                    slots.extend_from_slice(&self.pre_slots[from as usize..to as usize])
                }
                None => {
                    if let Some(table) = tables.get(t) {
                        match table_lookup {
                            Some((index, probes)) => {
                                self.key.clear();
                                self.key
                                    .extend(probes.iter().map(|e| key_of_value(e(&xec))));
                                table.lookup(*index, &self.key, &mut slots);
                            }
                            None => table.scan(&mut slots),
                        }
                    }
                }
            },
        }
        let residual = &self.steps[0].residual;
        let (x_off, o_off) = (self.sides[k].offset, self.sides[other].offset);
        let mut any = false;
        for &slot in &slots {
            let orow: &[Value] = match self.sides[other].source {
                JoinSource::Stream(_) => self.sides[other].buffer.row(slot),
                JoinSource::Table(t) => match tables.get(t) {
                    Some(table) => table.row(slot),
                    None => continue,
                },
            };
            match residual {
                None if self.exprs.is_some() => {
                    // Only the columns computed outputs read are copied into the join row;
                    // outputs that are plain attributes are cloned once, straight from their
                    // side (a shared string's count is touched once, not three times).
                    for &c in &self.expr_inputs {
                        self.row[c].clone_from(if (x_off..x_off + x.len()).contains(&c) {
                            &x[c - x_off]
                        } else {
                            &orow[c - o_off]
                        });
                    }
                    let ec = EvalCtx {
                        row: &self.row,
                        ts,
                        now,
                        bindings: None,
                    };
                    let exprs = self.exprs.as_deref().unwrap_or_default();
                    out.push_iter(
                        ts,
                        EventKind::Current,
                        self.expr_outputs.iter().zip(exprs).map(|(o, e)| match *o {
                            Some((s, c)) if s == k => x[c].clone(),
                            Some((_, c)) => orow[c].clone(),
                            None => e(&ec),
                        }),
                    );
                    any = true;
                }
                None => {
                    if self.projection.is_some() {
                        out.push_iter(
                            ts,
                            EventKind::Current,
                            self.projection_src.iter().map(|&(s, c)| {
                                if s == k {
                                    x[c].clone()
                                } else {
                                    orow[c].clone()
                                }
                            }),
                        );
                    } else {
                        let (first, second) = if k == 0 { (x, orow) } else { (orow, x) };
                        out.push_iter(ts, EventKind::Current, first.iter().chain(second).cloned());
                    }
                    any = true;
                }
                Some(r) => {
                    self.row[x_off..x_off + x.len()].clone_from_slice(x);
                    self.row[o_off..o_off + orow.len()].clone_from_slice(orow);
                    let ec = EvalCtx {
                        row: &self.row,
                        ts,
                        now,
                        bindings: None,
                    };
                    if r(&ec) {
                        push_projected(out, ts, &self.row, self.shape(now));
                        any = true;
                    }
                }
            }
        }
        self.slots = slots;
        let outer = matches!(
            (k, self.steps[0].kind),
            (_, JoinKind::Full) | (0, JoinKind::Left) | (1, JoinKind::Right)
        );
        if !any && outer {
            self.fill_row(k, x);
            push_projected(out, ts, &self.row, self.shape(now));
        }
    }

    fn shape(&self, now: i64) -> Shape<'_> {
        Shape {
            columns: self.projection.as_deref(),
            exprs: self.exprs.as_deref(),
            now,
        }
    }

    /// Sets the scratch row to all NULLs except side `s`, which gets `values`.
    fn fill_row(&mut self, s: usize, values: &[Value]) {
        for v in self.row.iter_mut() {
            *v = Value::Null;
        }
        let off = self.sides[s].offset;
        self.row[off..off + values.len()].clone_from_slice(values);
    }

    /// Every row of side `s` (retained rows, or a table's rows) padded into a join row.
    fn side_rows(&mut self, s: usize, tables: &[TableStore], mut f: impl FnMut(&[Value])) {
        let mut slots = std::mem::take(&mut self.slots);
        match self.sides[s].source {
            JoinSource::Stream(_) => {
                slots.clear();
                slots.extend(self.sides[s].buffer.iter());
                for &slot in &slots {
                    let values = self.sides[s].buffer.row(slot).to_vec();
                    self.fill_row(s, &values);
                    f(&self.row);
                }
            }
            JoinSource::Table(t) => {
                if let Some(table) = tables.get(t) {
                    table.scan(&mut slots);
                    for &slot in &slots {
                        self.fill_row(s, table.row(slot));
                        f(&self.row);
                    }
                }
            }
        }
        self.slots = slots;
    }

    /// Step 0 when the arrival is on side 1: side 0's matching rows (by its index or the
    /// table's), then ON.
    fn start_with_right(
        &mut self,
        x: &[Value],
        ts: i64,
        now: i64,
        tables: &[TableStore],
        comps: &mut Vec<Value>,
    ) {
        let off1 = self.sides[1].offset;
        let xec = EvalCtx {
            row: x,
            ts,
            now,
            bindings: None,
        };
        let mut slots = std::mem::take(&mut self.slots);
        slots.clear();
        let step = &self.steps[0];
        let mut null_key = false;
        match self.sides[0].source {
            JoinSource::Stream(_) => {
                let buf = &self.sides[0].buffer;
                if buf.is_indexed() {
                    self.xkey.clear();
                    self.xkey
                        .extend(step.right_keys.iter().map(|e| key_of_value(e(&xec))));
                    slots.extend(buf.lookup(&self.xkey));
                } else {
                    slots.extend(buf.iter());
                }
            }
            JoinSource::Table(t) => {
                if let Some(table) = tables.get(t) {
                    match &step.left_table_lookup {
                        Some((index, probes)) => {
                            self.xkey.clear();
                            self.xkey
                                .extend(probes.iter().map(|e| key_of_value(e(&xec))));
                            null_key = key_is_null(&self.xkey);
                            table.lookup(*index, &self.xkey, &mut slots);
                        }
                        None => table.scan(&mut slots),
                    }
                }
            }
        }
        let _ = null_key;
        let mut any = false;
        for &slot in &slots {
            for v in self.row.iter_mut() {
                *v = Value::Null;
            }
            let side0: &[Value] = match self.sides[0].source {
                JoinSource::Stream(_) => self.sides[0].buffer.row(slot),
                JoinSource::Table(t) => match tables.get(t) {
                    Some(table) => table.row(slot),
                    None => continue,
                },
            };
            self.row[..side0.len()].clone_from_slice(side0);
            self.row[off1..off1 + x.len()].clone_from_slice(x);
            let ec = EvalCtx {
                row: &self.row,
                ts,
                now,
                bindings: None,
            };
            if self.steps[0].residual.as_ref().is_none_or(|r| r(&ec)) {
                comps.extend_from_slice(&self.row);
                any = true;
            }
        }
        self.slots = slots;
        if !any && matches!(self.steps[0].kind, JoinKind::Right | JoinKind::Full) {
            self.fill_row(1, x);
            comps.extend_from_slice(&self.row);
        }
    }

    /// Step `i` whose right side holds the arrival `x`.
    fn step_onto_arrival(
        &mut self,
        i: usize,
        x: &[Value],
        ts: i64,
        now: i64,
        comps: &[Value],
        next: &mut Vec<Value>,
    ) {
        let a = self.arity;
        let right = i + 1;
        let off = self.sides[right].offset;
        let step = &self.steps[i];
        let xec = EvalCtx {
            row: x,
            ts,
            now,
            bindings: None,
        };
        self.xkey.clear();
        self.xkey
            .extend(step.right_keys.iter().map(|e| key_of_value(e(&xec))));
        let mut any = false;
        if !key_is_null(&self.xkey) {
            for c in comps.chunks_exact(a.max(1)) {
                self.row.clone_from_slice(&c[..a]);
                self.row[off..off + x.len()].clone_from_slice(x);
                let ec = EvalCtx {
                    row: &self.row,
                    ts,
                    now,
                    bindings: None,
                };
                if !step.left_keys.is_empty() {
                    self.key.clear();
                    self.key
                        .extend(step.left_keys.iter().map(|e| key_of_value(e(&ec))));
                    if self.key != self.xkey {
                        continue;
                    }
                }
                if step.residual.as_ref().is_none_or(|r| r(&ec)) {
                    next.extend_from_slice(&self.row);
                    any = true;
                }
            }
        }
        if !any && matches!(step.kind, JoinKind::Right | JoinKind::Full) {
            self.fill_row(right, x);
            next.extend_from_slice(&self.row);
        }
    }

    /// Step `i` whose right side is retained rows or a table (the arrival is on side `k`).
    #[allow(clippy::too_many_arguments)]
    fn step_onto_side(
        &mut self,
        i: usize,
        k: usize,
        ts: i64,
        now: i64,
        tables: &[TableStore],
        comps: &[Value],
        next: &mut Vec<Value>,
    ) {
        let a = self.arity;
        let right = i + 1;
        let off = self.sides[right].offset;
        let r_arity = self.sides[right].arity;
        let kind = self.steps[i].kind;
        let track = matches!(kind, JoinKind::Right | JoinKind::Full) && k > right;
        self.matched.clear();
        let mut slots = std::mem::take(&mut self.slots);
        for c in comps.chunks_exact(a.max(1)) {
            let cec = EvalCtx {
                row: &c[..a],
                ts,
                now,
                bindings: None,
            };
            let step = &self.steps[i];
            slots.clear();
            match self.sides[right].source {
                JoinSource::Stream(_) => {
                    let buf = &self.sides[right].buffer;
                    if buf.is_indexed() {
                        self.key.clear();
                        self.key
                            .extend(step.left_keys.iter().map(|e| key_of_value(e(&cec))));
                        slots.extend(buf.lookup(&self.key));
                    } else {
                        slots.extend(buf.iter());
                    }
                }
                JoinSource::Table(t) => {
                    if let Some(table) = tables.get(t) {
                        match &step.table_lookup {
                            Some((index, probes)) => {
                                self.key.clear();
                                self.key
                                    .extend(probes.iter().map(|e| key_of_value(e(&cec))));
                                table.lookup(*index, &self.key, &mut slots);
                            }
                            None => table.scan(&mut slots),
                        }
                    }
                }
            }
            let mut any = false;
            for &slot in &slots {
                let rrow: &[Value] = match self.sides[right].source {
                    JoinSource::Stream(_) => self.sides[right].buffer.row(slot),
                    JoinSource::Table(t) => match tables.get(t) {
                        Some(table) => table.row(slot),
                        None => continue,
                    },
                };
                self.row.clone_from_slice(&c[..a]);
                self.row[off..off + r_arity].clone_from_slice(rrow);
                let ec = EvalCtx {
                    row: &self.row,
                    ts,
                    now,
                    bindings: None,
                };
                if self.steps[i].residual.as_ref().is_none_or(|r| r(&ec)) {
                    next.extend_from_slice(&self.row);
                    any = true;
                    if track {
                        self.matched.push(slot);
                    }
                }
            }
            if !any && matches!(kind, JoinKind::Left | JoinKind::Full) {
                self.row.clone_from_slice(&c[..a]);
                for v in &mut self.row[off..off + r_arity] {
                    *v = Value::Null;
                }
                next.extend_from_slice(&self.row);
            }
        }
        self.slots = slots;
        if track {
            // Right rows no left row matched, padded on the left (they may still meet the
            // arrival in a later step).
            let mut matched = std::mem::take(&mut self.matched);
            matched.sort_unstable();
            let mut unmatched = Vec::new();
            self.side_rows_slots(right, tables, &mut unmatched);
            for slot in unmatched {
                if matched.binary_search(&slot).is_ok() {
                    continue;
                }
                let values = match self.sides[right].source {
                    JoinSource::Stream(_) => self.sides[right].buffer.row(slot).to_vec(),
                    JoinSource::Table(t) => match tables.get(t) {
                        Some(table) => table.row(slot).to_vec(),
                        None => continue,
                    },
                };
                self.fill_row(right, &values);
                next.extend_from_slice(&self.row);
            }
            self.matched = matched;
        }
    }

    fn side_rows_slots(&self, s: usize, tables: &[TableStore], out: &mut Vec<u32>) {
        out.clear();
        match self.sides[s].source {
            JoinSource::Stream(_) => out.extend(self.sides[s].buffer.iter()),
            JoinSource::Table(t) => {
                if let Some(table) = tables.get(t) {
                    table.scan(out);
                }
            }
        }
    }
}

impl JoinOperator {
    /// Two sides, a stream and a table looked up by key: a table does not change while one
    /// batch is joined, so the lookups of the whole batch are done first, then the rows found
    /// are prefetched, and only then joined — the cache misses of a large table overlap.
    fn prefetch_table_matches(
        &mut self,
        input: &Batch,
        ctx: &mut OpCtx<'_>,
    ) -> Result<(), (usize, StoreError)> {
        self.pre_ranges.clear();
        self.pre_slots.clear();
        if self.steps.len() != 1 || (input.len() < 2 && self.externals.is_empty()) {
            return Ok(());
        }
        let stream = JoinSource::Stream(ctx.stream);
        let (k, t) = match (self.sides[0].source, self.sides[1].source) {
            (s, JoinSource::Table(t)) if s == stream => (0, t),
            (JoinSource::Table(t), s) if s == stream => (1, t),
            _ => return Ok(()),
        };
        // Only when the stream side's rows join as they arrive (a batch window would join them
        // later, outside this batch).
        if matches!(self.sides[k].retention, Retention::Window(_)) {
            return Ok(());
        }
        let lookup = if k == 0 {
            &self.steps[0].table_lookup
        } else {
            &self.steps[0].left_table_lookup
        };
        let (Some((index, probes)), Some(table)) = (lookup, ctx.tables.get_mut(t)) else {
            return Ok(());
        };
        let width = probes.len();
        self.pre_keys.clear();
        for r in input.rows() {
            let ec = EvalCtx {
                row: r.values,
                ts: r.ts,
                now: ctx.now,
                bindings: None,
            };
            self.pre_keys
                .extend(probes.iter().map(|e| key_of_value(e(&ec))));
        }
        // An external table's view gets the batch's keys first (one store call for the misses).
        table
            .fetch(&self.pre_keys, width, ctx.now)
            .map_err(|e| (t, e))?;
        let table: &TableStore = table;
        table.lookup_many(
            *index,
            &self.pre_keys,
            width,
            &mut self.pre_ranges,
            &mut self.pre_slots,
            &mut self.pre_hashes,
        );
        for &s in &self.pre_slots {
            table.prefetch_strings(s);
        }
        Ok(())
    }

    /// External tables read by this join (sides and `IN` tests), found on the first batch.
    fn find_externals(&mut self, tables: &[TableStore]) {
        let mut ids: Vec<usize> = Vec::new();
        for side in &self.sides {
            if let JoinSource::Table(t) = side.source {
                ids.push(t);
            }
            ids.extend(side.filter_probes.iter().map(|(t, _)| *t));
        }
        ids.sort_unstable();
        ids.dedup();
        ids.retain(|&t| tables.get(t).is_some_and(|t| t.is_external()));
        self.externals = ids;
        self.externals_known = true;
    }

    /// Rows a window emits on a timer join with fresh views of the external tables.
    fn begin_external_views(&mut self, ctx: &mut OpCtx<'_>) {
        for &t in &self.externals {
            ctx.tables[t].begin_batch();
        }
    }

    /// External tables: starts their views for this batch and fetches what the batch's filters'
    /// `IN` tests and its table lookups need. On a store error every row of the batch fails.
    fn fetch_batch(&mut self, input: &Batch, ctx: &mut OpCtx<'_>) -> bool {
        for &t in &self.externals {
            ctx.tables[t].begin_batch();
        }
        for k in 0..self.sides.len() {
            if self.sides[k].source != JoinSource::Stream(ctx.stream)
                || self.sides[k].filter_probes.is_empty()
            {
                continue;
            }
            let probes = std::mem::take(&mut self.sides[k].filter_probes);
            let ok =
                crate::table_ops::fetch_probe_keys(&probes, input, ctx, &mut self.pre_keys, false);
            self.sides[k].filter_probes = probes;
            if !ok {
                return false;
            }
        }
        true
    }
}

impl BatchOperator for JoinOperator {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let stream = ctx.stream;
        if !self.externals_known {
            self.find_externals(ctx.tables);
        }
        if !self.externals.is_empty() && !self.fetch_batch(input, ctx) {
            return;
        }
        if let Err((t, e)) = self.prefetch_table_matches(input, ctx) {
            for r in input.rows() {
                ctx.store_failed(t, &e, r.ts, r.values);
            }
            self.pre_ranges.clear();
            return;
        }
        self.expire_all(ctx.now);
        for (i, r) in input.rows().enumerate() {
            self.pre_row = (!self.pre_ranges.is_empty()).then_some(i);
            for k in 0..self.sides.len() {
                if self.sides[k].source != JoinSource::Stream(stream) {
                    continue;
                }
                if let Some(f) = &self.sides[k].filter {
                    let side = &self.sides[k];
                    let ec = EvalCtx {
                        row: r.values,
                        ts: r.ts,
                        now: ctx.now,
                        bindings: None,
                    };
                    let pass =
                        if side.filter_probes.is_empty() {
                            f(&ec)
                        } else {
                            // The row followed by the IN tests' results.
                            let row = &mut self.filter_row;
                            row.clear();
                            row.extend_from_slice(r.values);
                            for (table, key) in &side.filter_probes {
                                let k = key(&ec);
                                row.push(if k.is_null() {
                                    Value::Null
                                } else {
                                    Value::Bool(ctx.tables.get(*table).is_some_and(|t| {
                                        t.contains_key(&crate::store::key_value(&k))
                                    }))
                                });
                            }
                            f(&EvalCtx { row, ..ec })
                        };
                    if !pass {
                        continue;
                    }
                }
                self.arrive(k, r.values, r.ts, ctx, out);
            }
            if self.mark_emissions {
                out.mark_emission();
            }
        }
        self.pre_row = None;
        self.pre_ranges.clear();
    }

    fn on_timer(&mut self, token: u64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        self.begin_external_views(ctx);
        let k = (token >> SIDE_SHIFT) as usize;
        let token = token & ((1 << SIDE_SHIFT) - 1);
        if k >= self.sides.len() {
            return;
        }
        if let Retention::Window(g) = &mut self.sides[k].retention {
            g.emitted.clear();
            ctx.token_tag = side_tag(k);
            g.window
                .on_timer(token, ctx, &mut g.selector, &mut g.emitted);
            ctx.token_tag = 0;
            self.expire_all(ctx.now);
            self.handle_emitted(k, ctx, out);
            if self.mark_emissions {
                out.mark_emission();
            }
        }
    }

    fn on_flush(&mut self, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        self.begin_external_views(ctx);
        for k in 0..self.sides.len() {
            if let Retention::Window(g) = &mut self.sides[k].retention {
                g.emitted.clear();
                ctx.token_tag = side_tag(k);
                g.window.on_flush(ctx, &mut g.selector, &mut g.emitted);
                ctx.token_tag = 0;
                self.handle_emitted(k, ctx, out);
                if self.mark_emissions {
                    out.mark_emission();
                }
            }
        }
    }

    fn output_arity(&self) -> usize {
        match (&self.exprs, &self.projection) {
            (Some(e), _) => e.len(),
            (None, Some(p)) => p.len(),
            (None, None) => self.arity,
        }
    }

    fn state_size(&self) -> usize {
        self.sides
            .iter()
            .map(|s| {
                let window = match &s.retention {
                    Retention::Window(g) => g.window.retained(),
                    _ => 0,
                };
                s.buffer.len().max(window)
            })
            .sum()
    }

    fn evicted(&self) -> u64 {
        self.sides
            .iter()
            .map(|s| {
                s.evicted
                    + match &s.retention {
                        Retention::Window(g) => g.window.evicted(),
                        _ => 0,
                    }
            })
            .sum()
    }
}
