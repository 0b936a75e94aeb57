//! Query operators. Each works on whole batches (one dynamic call per batch, not per event);
//! stateless steps are fused into a single loop.

use crate::batch::Batch;
use crate::compile::{
    compile_expr, compile_predicate, CompileError, CompiledExpr, CompiledPredicate, EvalCtx,
};
use crate::partition::{InstanceFactory, Partitioned};
use crate::pattern::Budget;
use crate::select::Selector;
use crate::timer::{TimerOwner, TimerService};
use crate::value::Value;
use crate::window::{build_window, removal_of, Window};
use eventflux_planner::plan::{Operator, QueryPlan, RatePlan, SelectPlan};
use eventflux_planner::window::WindowKind;
use eventflux_sql::ast::{OutputEvents, OutputRateMode, RateUnit};

/// What an operator may use while processing: the clock and the timer service.
pub struct OpCtx<'a> {
    pub now: i64,
    pub query: u32,
    pub operator: u32,
    pub timers: &'a mut TimerService,
    /// Set during `--flush`: periodic work must not reschedule itself.
    pub end_of_time: bool,
    /// Partition instance and stage of the operator being run (0 outside partitions).
    pub instance: u32,
    pub stage: u32,
    /// The stream the batch being processed comes from (queries reading several streams).
    pub stream: usize,
    /// The app's in-memory tables.
    pub tables: &'a mut [crate::store::TableStore],
    /// OR-ed into the tokens of timers scheduled (an operator running several windows, a join,
    /// tags each window's timers with it).
    pub token_tag: u64,
    /// Events that failed on a table's store, handled by the engine after the batch.
    pub failures: &'a mut Vec<EventFailure>,
}

/// An event an operator could not process because a table's store failed (§4): the engine
/// reports, routes or fails it by the query's or the table's `'error.strategy'`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventFailure {
    pub query: u32,
    pub table: usize,
    /// The stream the event came from (its attribute names label the payload).
    pub stream: usize,
    pub ts: i64,
    pub row: Vec<Value>,
    pub error: crate::external::StoreError,
}

impl OpCtx<'_> {
    /// Records that the event `row` failed on table `table`'s store.
    pub fn store_failed(
        &mut self,
        table: usize,
        error: &crate::external::StoreError,
        ts: i64,
        row: &[Value],
    ) {
        if let Some(ext) = self.tables.get_mut(table).and_then(|t| t.external_mut()) {
            ext.failed_events += 1;
        }
        self.failures.push(EventFailure {
            query: self.query,
            table,
            stream: self.stream,
            ts,
            row: row.to_vec(),
            error: error.clone(),
        });
    }

    /// Asks for `on_timer(token)` to be called when the clock reaches `at`.
    pub fn schedule(&mut self, at: i64, token: u64) {
        self.timers.schedule(
            at,
            TimerOwner {
                query: self.query,
                operator: self.operator,
                instance: self.instance,
                stage: self.stage,
                token: token | self.token_tag,
            },
        );
    }
}

pub trait BatchOperator: Send {
    /// Processes `input`, appending result rows to `out`.
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch);
    /// A timer this operator scheduled is due.
    fn on_timer(&mut self, token: u64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let _ = (token, ctx, out);
    }
    /// End of time (`--flush`): emit whatever is still held.
    fn on_flush(&mut self, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let _ = (ctx, out);
    }
    /// The app clock started (patterns arm leading absences).
    fn on_start(&mut self, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let _ = (ctx, out);
    }
    fn output_arity(&self) -> usize;
    /// Events or groups retained (state-size metric).
    fn state_size(&self) -> usize {
        0
    }
    /// Events dropped because a window reached its `window.max_events` bound.
    fn evicted(&self) -> u64 {
        0
    }
    /// Partial matches dropped because a pattern reached `pattern.max_partial_matches`.
    fn dropped_partial_matches(&self) -> u64 {
        0
    }
    /// Whether the operator keeps state between batches (partitions instantiate these per key).
    fn is_stateful(&self) -> bool {
        true
    }
}

/// Feeds an operator one event at a time and marks the rows each event (and each timer)
/// produced as one emission, for a select step with ORDER BY / LIMIT / OFFSET after a pattern.
struct EmissionMarker {
    inner: Box<dyn BatchOperator>,
    one: Batch,
}

impl BatchOperator for EmissionMarker {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        for r in input.rows() {
            self.one.reset(input.arity());
            self.one.push(r.ts, r.kind, r.values);
            self.inner.process(&self.one, ctx, out);
            out.mark_emission();
        }
    }
    fn on_timer(&mut self, token: u64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        self.inner.on_timer(token, ctx, out);
        out.mark_emission();
    }
    fn on_flush(&mut self, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        self.inner.on_flush(ctx, out);
        out.mark_emission();
    }
    fn on_start(&mut self, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        self.inner.on_start(ctx, out);
        out.mark_emission();
    }
    fn output_arity(&self) -> usize {
        self.inner.output_arity()
    }
    fn state_size(&self) -> usize {
        self.inner.state_size()
    }
    fn evicted(&self) -> u64 {
        self.inner.evicted()
    }
    fn dropped_partial_matches(&self) -> u64 {
        self.inner.dropped_partial_matches()
    }
    fn is_stateful(&self) -> bool {
        self.inner.is_stateful()
    }
}

/// Filters followed by a projection, fused: one pass over the batch, rows that fail a filter are
/// never copied.
pub struct StatelessStage {
    filters: Vec<CompiledPredicate>,
    projection: Option<Vec<CompiledExpr>>,
    arity: usize,
}

impl BatchOperator for StatelessStage {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let now = ctx.now;
        let mut ends = input.emission_ends().iter().peekable();
        for (i, row) in input.rows().enumerate() {
            let ec = EvalCtx {
                row: row.values,
                ts: row.ts,
                now,
                bindings: None,
            };
            if self.filters.iter().all(|f| f(&ec)) {
                match &self.projection {
                    Some(p) => out.push_iter(row.ts, row.kind, p.iter().map(|e| e(&ec))),
                    None => out.push(row.ts, row.kind, row.values),
                }
            }
            if ends.next_if(|&&e| e as usize == i + 1).is_some() {
                out.mark_emission();
            }
        }
    }

    fn output_arity(&self) -> usize {
        self.arity
    }

    fn is_stateful(&self) -> bool {
        false
    }
}

/// Timer token reserved for `OUTPUT SNAPSHOT` periods.
const SNAPSHOT_TOKEN: u64 = u32::MAX as u64;

/// A window (or none) feeding a select step, plus `OUTPUT SNAPSHOT` when asked for.
pub struct WindowSelect {
    window: Box<dyn Window>,
    selector: Selector,
    snapshot_every: Option<i64>,
    snapshot_pending: bool,
    /// Rows computed but not emitted (everything but snapshots, under OUTPUT SNAPSHOT).
    discard: Batch,
    arity: usize,
}

impl WindowSelect {
    fn schedule_snapshot(&mut self, ctx: &mut OpCtx<'_>) {
        if let (Some(d), false) = (self.snapshot_every, self.snapshot_pending) {
            self.snapshot_pending = true;
            ctx.schedule(crate::timer::next_boundary(ctx.now, d, 0), SNAPSHOT_TOKEN);
        }
    }
}

impl BatchOperator for WindowSelect {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        if self.snapshot_every.is_some() {
            // With OUTPUT SNAPSHOT only the periodic snapshots are emitted.
            self.discard.clear();
            self.window
                .process(input, ctx, &mut self.selector, &mut self.discard);
        } else {
            self.window.process(input, ctx, &mut self.selector, out);
        }
        self.schedule_snapshot(ctx);
    }

    fn on_timer(&mut self, token: u64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        if token != SNAPSHOT_TOKEN {
            if self.snapshot_every.is_some() {
                self.discard.clear();
                self.window
                    .on_timer(token, ctx, &mut self.selector, &mut self.discard);
            } else {
                self.window.on_timer(token, ctx, &mut self.selector, out);
            }
            return;
        }
        self.snapshot_pending = false;
        if self.selector.aggregating() {
            self.selector.snapshot(ctx.now, out);
        } else {
            let now = ctx.now;
            let sel = &mut self.selector;
            self.window
                .contents(&mut |row, ts| sel.emit_row(row, ts, now, out));
            sel.end_emission(out);
        }
        if !ctx.end_of_time && (self.window.retained() > 0 || self.selector.group_count() > 0) {
            self.schedule_snapshot(ctx);
        }
    }

    fn on_flush(&mut self, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        self.window.on_flush(ctx, &mut self.selector, out);
    }

    fn output_arity(&self) -> usize {
        self.arity
    }

    fn state_size(&self) -> usize {
        self.window.retained().max(self.selector.group_count())
    }

    fn evicted(&self) -> u64 {
        self.window.evicted()
    }
}

/// `OUTPUT [ALL|FIRST|LAST] EVERY n EVENTS | duration` over the query's output rows.
pub struct RateLimiter {
    mode: OutputRateMode,
    every: RateUnit,
    held: Batch,
    count: u64,
    first_sent: bool,
    timer_pending: bool,
}

impl RateLimiter {
    fn new(plan: &RatePlan, arity: usize) -> RateLimiter {
        RateLimiter {
            mode: plan.mode,
            every: plan.every,
            held: Batch::new(arity),
            count: 0,
            first_sent: false,
            timer_pending: false,
        }
    }

    fn append(from: &Batch, to: &mut Batch) {
        for r in from.rows() {
            to.push(r.ts, r.kind, r.values);
        }
    }
}

impl BatchOperator for RateLimiter {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        match self.every {
            RateUnit::Events(n) => {
                for r in input.rows() {
                    self.count += 1;
                    match self.mode {
                        OutputRateMode::First if self.count == 1 => {
                            out.push(r.ts, r.kind, r.values)
                        }
                        OutputRateMode::All | OutputRateMode::Snapshot => {
                            self.held.push(r.ts, r.kind, r.values)
                        }
                        OutputRateMode::Last if self.count == n => out.push(r.ts, r.kind, r.values),
                        _ => {}
                    }
                    if self.count == n {
                        self.count = 0;
                        Self::append(&self.held, out);
                        self.held.clear();
                    }
                }
            }
            RateUnit::Time(d) => {
                for r in input.rows() {
                    match self.mode {
                        OutputRateMode::First if !self.first_sent => {
                            self.first_sent = true;
                            out.push(r.ts, r.kind, r.values);
                        }
                        OutputRateMode::First => {}
                        OutputRateMode::Last => {
                            self.held.clear();
                            self.held.push(r.ts, r.kind, r.values);
                        }
                        OutputRateMode::All | OutputRateMode::Snapshot => {
                            self.held.push(r.ts, r.kind, r.values)
                        }
                    }
                }
                if !input.is_empty() && !self.timer_pending {
                    self.timer_pending = true;
                    let d = d.millis.max(1);
                    ctx.schedule(crate::timer::next_boundary(ctx.now, d, 0), 0);
                }
            }
        }
    }

    fn on_timer(&mut self, _token: u64, _ctx: &mut OpCtx<'_>, out: &mut Batch) {
        self.timer_pending = false;
        self.first_sent = false;
        Self::append(&self.held, out);
        self.held.clear();
    }

    fn output_arity(&self) -> usize {
        self.held.arity()
    }

    fn state_size(&self) -> usize {
        self.held.len()
    }
}

/// Default bound on a pattern query's live partial matches.
pub const DEFAULT_MAX_PARTIAL_MATCHES: usize = 100_000;

/// Default bound on the events one window may retain (`@option('window.max_events', …)`).
pub const DEFAULT_WINDOW_MAX_EVENTS: usize = 10_000_000;

/// Compiles a query's operators into a pipeline: consecutive filters and a plain projection fuse
/// into one stateless stage; a window and the select step after it fuse into one operator.
pub fn build_pipeline(
    q: &QueryPlan,
    input_arity: usize,
    target_arity: usize,
) -> Result<Vec<Box<dyn BatchOperator>>, CompileError> {
    build_pipeline_in(q, input_arity, target_arity, &Budget::default(), false)
}

/// [`build_pipeline`] with the query's partial-match budget (shared by its partition keys);
/// `per_key` when building one partition key's operators (they see only that key's events).
fn build_pipeline_in(
    q: &QueryPlan,
    input_arity: usize,
    target_arity: usize,
    budget: &Budget,
    per_key: bool,
) -> Result<Vec<Box<dyn BatchOperator>>, CompileError> {
    let err = |message: String| CompileError {
        message,
        span: q.span,
    };
    let max_events = match q.options.get("window.max_events") {
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                err(format!(
                    "option 'window.max_events' must be a positive integer, found '{v}'"
                ))
            })?,
        None => DEFAULT_WINDOW_MAX_EVENTS,
    };
    let keep_current = matches!(q.events, OutputEvents::Current | OutputEvents::All);
    let keep_expired = matches!(q.events, OutputEvents::Expired | OutputEvents::All);
    let snapshot = q.operators.iter().find_map(|op| match op {
        Operator::Rate(RatePlan {
            mode: OutputRateMode::Snapshot,
            every: RateUnit::Time(d),
        }) => Some(d.millis.max(1)),
        _ => None,
    });

    let mut pipeline: Vec<Box<dyn BatchOperator>> = Vec::new();
    let mut stage = StatelessStage {
        filters: Vec::new(),
        projection: None,
        arity: input_arity,
    };
    let mut window: Option<&WindowKind> = None;
    let mut windowed = false;
    let mut arity = input_arity;
    // Width of the rows the select step reads: a join makes them wider, as do `IN Table` tests.
    let mut row_arity = input_arity;
    // Where a projection runs before a stateful operator (only ahead of a rate limiter).
    let mut projecting_stage: Option<usize> = None;
    // Whether an operator keeps the partition keys apart itself.
    let mut partition_handled = false;
    let mut fused_projection = false;
    // ORDER BY / LIMIT / OFFSET apply per emission: a join or pattern before such a select
    // marks where its emissions end.
    let per_emission = q.operators.iter().any(|op| {
        matches!(op, Operator::Select(p)
            if !p.order_by.is_empty() || p.limit.is_some() || p.offset > 0)
    });
    for (i, op) in q.operators.iter().enumerate() {
        if fused_projection {
            fused_projection = false;
            continue;
        }
        match op {
            Operator::Join(j) => {
                // A projection onto plain attributes right after the join is done by the join.
                let columns: Option<Vec<usize>> = match q.operators.get(i + 1) {
                    Some(Operator::Project(cols)) if snapshot.is_none() => cols
                        .iter()
                        .map(|(_, e)| match &e.kind {
                            eventflux_planner::expr::TypedExprKind::Column(c) => Some(c.index),
                            _ => None,
                        })
                        .collect(),
                    _ => None,
                };
                // Otherwise a projection with expressions is evaluated by the join too.
                let exprs = match (&columns, q.operators.get(i + 1)) {
                    (None, Some(Operator::Project(cols))) if snapshot.is_none() => {
                        Some(cols.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>())
                    }
                    _ => None,
                };
                let width = match (&columns, &exprs) {
                    (Some(c), _) => c.len(),
                    (None, Some(e)) => e.len(),
                    (None, None) => j.arity,
                };
                fused_projection = columns.is_some() || exprs.is_some();
                pipeline.push(Box::new(
                    crate::join::JoinOperator::new(j, max_events, columns, exprs)?
                        .with_emission_marks(per_emission),
                ));
                row_arity = width;
                arity = width;
                stage.arity = width;
            }
            Operator::TableProbe(p) => {
                if !stage.filters.is_empty() || stage.projection.is_some() {
                    push_stage(&mut pipeline, &mut stage);
                }
                pipeline.push(Box::new(crate::table_ops::TableProbeOp::new(p, row_arity)?));
                row_arity += p.len();
                arity = row_arity;
                stage.arity = row_arity;
            }
            Operator::TableWrite(w) => {
                push_stage(&mut pipeline, &mut stage);
                pipeline.push(Box::new(crate::table_ops::TableWriteOp::new(
                    w,
                    w.table_arity,
                    keep_current,
                    keep_expired,
                )?));
                arity = 0;
            }
            Operator::Filter(e) => stage.filters.push(compile_predicate(e)?),
            Operator::Window(w) => {
                window = Some(&w.kind);
                windowed = true;
            }
            Operator::Project(cols) if !windowed && snapshot.is_none() => {
                let exprs = cols
                    .iter()
                    .map(|(_, e)| compile_expr(e))
                    .collect::<Result<Vec<_>, _>>()?;
                stage.arity = exprs.len();
                arity = exprs.len();
                stage.projection = Some(exprs);
            }
            Operator::Project(cols) => {
                let plan = SelectPlan {
                    input_arity: row_arity,
                    group_by: Vec::new(),
                    aggregates: Vec::new(),
                    outputs: cols.clone(),
                    emit: (0..cols.len()).collect(),
                    having: None,
                    order_by: Vec::new(),
                    limit: None,
                    offset: 0,
                };
                arity = cols.len();
                push_stage(&mut pipeline, &mut stage);
                pipeline.push(
                    window_select(
                        &plan,
                        window,
                        row_arity,
                        max_events,
                        keep_current,
                        keep_expired,
                        snapshot,
                    )
                    .map_err(err)?,
                );
            }
            Operator::Select(plan) => {
                arity = plan.emit.len();
                push_stage(&mut pipeline, &mut stage);
                pipeline.push(
                    window_select(
                        plan,
                        window,
                        row_arity,
                        max_events,
                        keep_current,
                        keep_expired,
                        snapshot,
                    )
                    .map_err(err)?,
                );
            }
            Operator::Pattern(p) => {
                let max = match q.options.get("pattern.max_partial_matches") {
                    Some(v) => v.trim().parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        err(format!("option 'pattern.max_partial_matches' must be a positive integer, found '{v}'"))
                    })?,
                    None => DEFAULT_MAX_PARTIAL_MATCHES,
                };
                arity = p.emit.len();
                if !p.probes.is_empty() {
                    pipeline.push(Box::new(crate::table_ops::StreamProbes::new(&p.probes)?));
                }
                // The common two-step shape runs on its fast path (same semantics);
                // 'pattern.fast_path' = 'false' keeps it on the general automaton.
                let fast = match q.options.get("pattern.fast_path").map(|v| v.trim()) {
                    None | Some("true") => true,
                    Some("false") => false,
                    Some(v) => {
                        return Err(err(format!(
                            "option 'pattern.fast_path' must be 'true' or 'false', found '{v}'"
                        )))
                    }
                };
                match crate::pattern::PairOperator::try_new(p, max, budget.clone())? {
                    Some(pair) if fast => {
                        // A partitioned query made of the pattern alone keeps its keys apart
                        // inside the fast path (one operator, one timer) when it can.
                        let keyed = q.partition.as_ref().filter(|part| {
                            q.operators.len() == 1
                                && part.purge_idle.is_none()
                                && crate::pattern::PairOperator::can_partition(&part.keys)
                        });
                        match keyed {
                            Some(part) => {
                                partition_handled = true;
                                pipeline.push(Box::new(pair.partitioned(&part.keys)?));
                            }
                            // One key's operator sees only its key's events: it cannot free
                            // expired matches on other keys' events, so its timer is exact.
                            None if per_key => pipeline.push(Box::new(pair.exact_expiry())),
                            None => pipeline.push(Box::new(pair)),
                        }
                    }
                    _ => pipeline.push(Box::new(crate::pattern::PatternOperator::new(
                        p,
                        max,
                        budget.clone(),
                    )?)),
                }
                if per_emission {
                    if let Some(inner) = pipeline.pop() {
                        pipeline.push(Box::new(EmissionMarker {
                            inner,
                            one: Batch::new(0),
                        }));
                    }
                }
            }
            Operator::Rate(r) if r.mode == OutputRateMode::Snapshot => {}
            Operator::Rate(r) => {
                // The pending filters/projection run first: the limiter counts output rows.
                if stage.projection.is_some() {
                    projecting_stage.get_or_insert(pipeline.len());
                }
                push_stage(&mut pipeline, &mut stage);
                pipeline.push(Box::new(RateLimiter::new(r, arity)));
            }
        }
    }
    push_stage(&mut pipeline, &mut stage);
    debug_assert_eq!(arity, target_arity);
    if let Some(part) = q.partition.as_ref().filter(|_| !partition_handled) {
        // A range partition drops events outside its ranges, so even a stateless query runs
        // behind the partition's routing.
        let ranged = part
            .keys
            .iter()
            .any(|(_, k)| matches!(k, eventflux_planner::plan::PartitionKeyPlan::Range(_)));
        let first_stateful = pipeline
            .iter()
            .position(|op| op.is_stateful())
            .or(ranged.then_some(0));
        if let Some(stateful) = first_stateful {
            // Partition keys read the query's input rows: a projection ahead of the first
            // stateful operator moves into the per-key part with it.
            let first = projecting_stage.map_or(stateful, |p| p.min(stateful));
            let tail_input = if first == 0 {
                input_arity
            } else {
                pipeline[first - 1].output_arity()
            };
            let mut unpartitioned = q.clone();
            unpartitioned.partition = None;
            let budget = budget.clone();
            let factory: InstanceFactory = Box::new(move || {
                let mut ops =
                    build_pipeline_in(&unpartitioned, input_arity, target_arity, &budget, true)?;
                Ok(ops.split_off(first))
            });
            pipeline.truncate(first);
            pipeline.push(Box::new(Partitioned::new(
                &part.keys,
                part.purge_idle,
                tail_input,
                target_arity,
                factory,
            )?));
        }
    }
    Ok(pipeline)
}

/// Adds the stateless stage if it does anything (or if the pipeline would otherwise be empty).
fn push_stage(pipeline: &mut Vec<Box<dyn BatchOperator>>, stage: &mut StatelessStage) {
    if !stage.filters.is_empty() || stage.projection.is_some() || pipeline.is_empty() {
        let arity = stage.arity;
        let taken = std::mem::replace(
            stage,
            StatelessStage {
                filters: Vec::new(),
                projection: None,
                arity,
            },
        );
        // An empty stage is only kept when it is the whole pipeline; after a window it is dropped.
        if !taken.filters.is_empty() || taken.projection.is_some() || pipeline.is_empty() {
            pipeline.push(Box::new(taken));
        }
    }
}

fn window_select(
    plan: &SelectPlan,
    window: Option<&WindowKind>,
    input_arity: usize,
    max_events: usize,
    keep_current: bool,
    keep_expired: bool,
    snapshot: Option<i64>,
) -> Result<Box<dyn BatchOperator>, String> {
    let mut selector = Selector::new(plan, removal_of(window), keep_current, keep_expired)
        .map_err(|e| e.message)?;
    selector.track_last = snapshot.is_some();
    let retained = crate::select::retained_columns(plan, keep_expired, snapshot.is_some());
    let need_ts = keep_expired || snapshot.is_some() || crate::select::reads_event_time(plan);
    let window = build_window(
        window,
        input_arity,
        max_events,
        &selector,
        retained,
        need_ts,
    )?;
    Ok(Box::new(WindowSelect {
        window,
        selector,
        snapshot_every: snapshot,
        snapshot_pending: false,
        discard: Batch::new(plan.emit.len()),
        arity: plan.emit.len(),
    }))
}
