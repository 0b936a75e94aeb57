//! The engine: stream junctions, compiled query pipelines, the clock and the timer service.
//!
//! Processing is single-threaded and synchronous: a batch sent to a stream runs through every
//! query reading that stream (in definition order), and each query's output is delivered to its
//! target stream before the next query runs. Per stream, the rows delivered are the same however
//! the input was chunked into batches.
//!
//! Time: the processing clock is moved by the driver (`advance_to`). Each event-time stream
//! (§3.1) owns a *domain*: its events are buffered and released in timestamp order as its
//! watermark passes, and the queries reading it (or streams derived from it) run on that domain's
//! clock and timers, so their windows close when the watermark passes.

use crate::batch::{Batch, EventKind};
use crate::compile::CompileError;
use crate::operators::{build_pipeline, BatchOperator, OpCtx};
use crate::timer::{TimerOwner, TimerService};
use crate::value::Value;
use eventflux_planner::plan::{AppPlan, ErrorStrategy, QueryTarget, StreamId, TimeDomain};
use eventflux_planner::types::Type;
use eventflux_sql::ast::OutputEvents;
use std::collections::BTreeMap;

/// Receives the rows inserted into the streams it is subscribed to.
pub trait OutputListener: Send {
    /// `now` is the engine time of the emission.
    fn on_rows(&mut self, stream: StreamId, now: i64, rows: &Batch);
    /// Called by [`Engine::flush_listeners`]: write out anything buffered.
    fn flush(&mut self) {}
}

impl<F: FnMut(StreamId, i64, &Batch) + Send> OutputListener for F {
    fn on_rows(&mut self, stream: StreamId, now: i64, rows: &Batch) {
        self(stream, now, rows)
    }
}

struct StreamRuntime {
    name: String,
    types: Vec<Type>,
    attribute_names: Vec<String>,
    /// Queries reading this stream, in definition order.
    readers: Vec<usize>,
    listeners: Vec<usize>,
    /// Rows received, for metrics.
    rows_in: u64,
}

struct QueryRuntime {
    name: String,
    /// The query's `pattern.max_partial_matches` bound (for reports).
    max_partial: usize,
    /// The stream the query inserts into (`None` for table writes).
    target: Option<StreamId>,
    pipeline: Vec<Box<dyn BatchOperator>>,
    /// Output buffer of each operator (reused between batches).
    buffers: Vec<Batch>,
    keep_current: bool,
    keep_expired: bool,
    rows_out: u64,
}

/// Counters the engine keeps (exposed through the embedding API and, later, metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub rows_in: Vec<(String, u64)>,
    pub rows_out: Vec<(String, u64)>,
    pub pending_timers: usize,
    /// Per query: events or groups its operators retain (window contents, partitions, …).
    pub state_sizes: Vec<(String, usize)>,
    /// Per event-time stream: events dropped or routed as late, and events waiting for the
    /// watermark.
    pub late_events: Vec<(String, u64)>,
    pub buffered_events: Vec<(String, usize)>,
    /// Per query: events dropped because a window reached `window.max_events`.
    pub window_evictions: Vec<(String, u64)>,
    /// Per query: partial matches dropped because of `pattern.max_partial_matches`, and that bound.
    pub pattern_drops: Vec<(String, u64, usize)>,
    /// Per table: rows held (external tables: the current batch's view).
    pub table_sizes: Vec<(String, usize)>,
    /// Per external table: cache and connection counters, failed events.
    pub table_stores: Vec<crate::external_table::ExternalTableStats>,
    /// Errors dropped because the driver did not take them ([`Engine::take_errors`]).
    pub errors_dropped: u64,
}

/// The clock, timers and reordering buffer of one event-time domain: one event-time stream, or
/// several read together by a query (merged in timestamp order under the minimum watermark).
#[derive(Default)]
struct DomainClock {
    now: i64,
    timers: TimerService,
    /// Buffered rows by (event time, arrival sequence): ties keep arrival order.
    buffer: BTreeMap<(i64, u64), (StreamId, EventKind, Vec<Value>)>,
    seq: u64,
    /// The event-time streams of the domain.
    members: Vec<StreamId>,
    /// Whether the clock has moved yet: it starts at the domain's first watermark (not at event
    /// time 0), and the domain's queries start then.
    started: bool,
}

/// Watermark and late-event accounting of an event-time stream.
struct EventTimeState {
    column: usize,
    delay: i64,
    late_stream: Option<StreamId>,
    domain: usize,
    max_seen: i64,
    watermark: i64,
    late_events: u64,
    /// `watermark.idle`, and the processing time of the last arrival.
    idle: Option<i64>,
    last_arrival: Option<i64>,
}

/// Builds the operator context of query `$q` on the clock of its time domain.
macro_rules! op_ctx {
    ($eng:ident, $q:expr, $op:expr, $inst:expr, $stage:expr) => {{
        let (now, timers) = match $eng.query_domain[$q] {
            Some(d) => {
                let c = &mut $eng.domains[d];
                (c.now, &mut c.timers)
            }
            None => ($eng.now, &mut $eng.timers),
        };
        OpCtx {
            now,
            query: $q as u32,
            operator: $op as u32,
            timers,
            end_of_time: $eng.flushing,
            instance: $inst,
            stage: $stage,
            stream: $eng.current_stream,
            tables: &mut $eng.tables,
            token_tag: 0,
            failures: &mut $eng.failures,
        }
    }};
}

/// A trigger stream's schedule at run time.
enum TriggerRuntime {
    Start,
    Every(i64),
    Cron(Box<eventflux_planner::cron::CronSchedule>),
}

/// Timer owners with this query index are triggers (the operator index is the trigger's).
const TRIGGER_OWNER: u32 = u32::MAX;

pub struct Engine {
    streams: Vec<StreamRuntime>,
    triggers: Vec<(StreamId, TriggerRuntime)>,
    /// Whether the clock has started (triggers scheduled, AT START fired).
    started: bool,
    /// Inside `flush`: periodic work (triggers, snapshots) is not rescheduled.
    flushing: bool,
    /// Processing time at which the clock started (idle streams count from it).
    start_time: i64,
    queries: Vec<QueryRuntime>,
    listeners: Vec<Box<dyn OutputListener>>,
    timers: TimerService,
    now: i64,
    /// Event-time domains, and for each query / event-time stream the domain it belongs to.
    domains: Vec<DomainClock>,
    query_domain: Vec<Option<usize>>,
    event_time: Vec<Option<EventTimeState>>,
    /// The stream whose rows are being delivered to a query (for queries reading several).
    current_stream: usize,
    /// Tables (§4), read and written by queries through their operator context.
    tables: Vec<crate::store::TableStore>,
    /// Events that failed on a table's store during the current call, and how each query
    /// handles them (`@option('error.strategy', …)`; `None`: the table's strategy).
    failures: Vec<crate::operators::EventFailure>,
    query_errors: Vec<Option<ErrorStrategy>>,
    /// Reported errors not yet taken by the driver ([`Engine::take_errors`]), and those
    /// dropped because nobody took them.
    errors: Vec<String>,
    errors_dropped: u64,
    /// Set by an error under `'error.strategy' = 'fail'`: the app must stop.
    failed: Option<String>,
}

/// Errors kept for the driver at most (older ones are counted, not kept).
const MAX_PENDING_ERRORS: usize = 10_000;

/// Opens the store of an external table (injected by the embedding crate, so the runtime
/// depends on no client library).
pub type StoreOpener<'a> = dyn Fn(
        &eventflux_planner::plan::TablePlan,
        &eventflux_planner::plan::StorePlan,
    ) -> Result<Box<dyn crate::external::ExternalStore>, crate::external::StoreError>
    + 'a;

/// A row that does not fit its stream's schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("stream '{stream}' has {expected} attributes, the row has {found}")]
    Arity {
        stream: String,
        expected: usize,
        found: usize,
    },
    #[error("attribute {index} of stream '{stream}' is {expected}, the row gives {found}")]
    Type {
        stream: String,
        index: usize,
        expected: Type,
        found: &'static str,
    },
}

impl Engine {
    /// Compiles every query of the plan. External tables need [`Engine::with_stores`].
    pub fn new(plan: &AppPlan) -> Result<Engine, CompileError> {
        Engine::with_stores(plan, &|t, s| {
            Err(crate::external::StoreError::Rejected {
                store: format!("{} table '{}'", s.extension, t.name),
                reason: "this engine was built without store connectors (use Engine::with_stores)"
                    .into(),
            })
        })
    }

    /// Compiles every query of the plan, opening external tables' stores with `open`
    /// (connections are made on first use).
    pub fn with_stores(plan: &AppPlan, open: &StoreOpener<'_>) -> Result<Engine, CompileError> {
        let mut tables = Vec::with_capacity(plan.tables.len());
        for t in &plan.tables {
            tables.push(match &t.store {
                None => crate::store::TableStore::new(t),
                Some(spec) => {
                    let store = open(t, spec).map_err(|e| CompileError {
                        message: format!("table '{}': {e}", t.name),
                        span: t.span,
                    })?;
                    crate::store::TableStore::with_external(
                        t,
                        crate::external_table::ExternalTable::new(t, spec, store),
                    )
                }
            });
        }
        let mut streams: Vec<StreamRuntime> = plan
            .streams
            .iter()
            .map(|s| StreamRuntime {
                name: s.name.clone(),
                types: s.schema.attributes.iter().map(|a| a.ty).collect(),
                attribute_names: s.schema.attributes.iter().map(|a| a.name.clone()).collect(),
                readers: Vec::new(),
                listeners: Vec::new(),
                rows_in: 0,
            })
            .collect();
        let mut queries = Vec::with_capacity(plan.queries.len());
        for (qi, q) in plan.queries.iter().enumerate() {
            for &input in &q.inputs {
                streams[input].readers.push(qi);
            }
            let input_arity = plan.streams[q.input].schema.len();
            let target_arity = match q.target {
                QueryTarget::Stream(t) => plan.streams[t].schema.len(),
                QueryTarget::Table(_) => 0,
            };
            let pipeline = build_pipeline(q, input_arity, target_arity)?;
            let buffers = pipeline
                .iter()
                .map(|op| Batch::new(op.output_arity()))
                .collect();
            queries.push(QueryRuntime {
                max_partial: q
                    .options
                    .get("pattern.max_partial_matches")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(crate::operators::DEFAULT_MAX_PARTIAL_MATCHES),
                name: q.name.clone(),
                target: q.target.stream(),
                pipeline,
                buffers,
                keep_current: matches!(q.events, OutputEvents::Current | OutputEvents::All),
                keep_expired: matches!(q.events, OutputEvents::Expired | OutputEvents::All),
                rows_out: 0,
            });
        }
        let mut triggers = Vec::new();
        for (id, s) in plan.streams.iter().enumerate() {
            if let eventflux_planner::plan::StreamOrigin::Trigger(t) = &s.origin {
                let rt = match t {
                    eventflux_planner::plan::TriggerPlan::Start => TriggerRuntime::Start,
                    eventflux_planner::plan::TriggerPlan::Every(ms) => TriggerRuntime::Every(*ms),
                    eventflux_planner::plan::TriggerPlan::Cron(c) => {
                        let schedule =
                            eventflux_planner::cron::CronSchedule::parse(c).map_err(|message| {
                                CompileError {
                                    message,
                                    span: s.span,
                                }
                            })?;
                        TriggerRuntime::Cron(Box::new(schedule))
                    }
                };
                triggers.push((id, rt));
            }
        }
        // One domain per event-time root; queries join the domain all their inputs share.
        let mut domain_of_root: BTreeMap<StreamId, usize> = BTreeMap::new();
        for s in &plan.streams {
            if let (Some(_), TimeDomain::EventTime(root)) = (&s.event_time, s.domain) {
                let n = domain_of_root.len();
                domain_of_root.entry(root).or_insert(n);
            }
        }
        let mut domains: Vec<DomainClock> = (0..domain_of_root.len())
            .map(|_| DomainClock::default())
            .collect();
        let query_domain = plan
            .queries
            .iter()
            .map(
                |q| match eventflux_planner::builder::query_domain(plan, q) {
                    TimeDomain::EventTime(root) => domain_of_root.get(&root).copied(),
                    TimeDomain::Processing => None,
                },
            )
            .collect();
        let event_time = plan
            .streams
            .iter()
            .enumerate()
            .map(|(id, s)| {
                let domain = match s.domain {
                    TimeDomain::EventTime(root) => domain_of_root.get(&root).copied().unwrap_or(0),
                    TimeDomain::Processing => 0,
                };
                s.event_time.as_ref().map(|et| {
                    if let Some(d) = domains.get_mut(domain) {
                        d.members.push(id);
                    }
                    EventTimeState {
                        column: et.column,
                        delay: et.delay,
                        late_stream: et.late_stream,
                        domain,
                        max_seen: i64::MIN,
                        watermark: i64::MIN,
                        late_events: 0,
                        idle: et.idle,
                        last_arrival: None,
                    }
                })
            })
            .collect();
        Ok(Engine {
            streams,
            triggers,
            domains,
            query_domain,
            event_time,
            current_stream: 0,
            tables,
            failures: Vec::new(),
            query_errors: plan
                .queries
                .iter()
                .map(|q| {
                    match q
                        .options
                        .get("error.strategy")
                        .map(|s| s.to_ascii_lowercase())
                    {
                        Some(s) if s == "fail" => Some(ErrorStrategy::Fail),
                        Some(s) if s == "stream" => q
                            .options
                            .get("error.stream")
                            .map(|n| ErrorStrategy::Stream(n.clone())),
                        Some(s) if s == "log" => Some(ErrorStrategy::Log),
                        _ => None,
                    }
                })
                .collect(),
            errors: Vec::new(),
            errors_dropped: 0,
            failed: None,
            started: false,
            flushing: false,
            start_time: 0,
            queries,
            listeners: Vec::new(),
            timers: TimerService::new(),
            now: 0,
        })
    }

    /// The engine clock, in epoch milliseconds (virtual or wall, as the driver moves it).
    pub fn now(&self) -> i64 {
        self.now
    }

    pub fn stream_name(&self, id: StreamId) -> &str {
        &self.streams[id].name
    }

    pub fn stream_types(&self, id: StreamId) -> &[Type] {
        &self.streams[id].types
    }

    /// Registers a listener for the rows inserted into each of `streams`.
    pub fn subscribe(&mut self, streams: &[StreamId], listener: Box<dyn OutputListener>) {
        let id = self.listeners.len();
        self.listeners.push(listener);
        for &s in streams {
            self.streams[s].listeners.push(id);
        }
    }

    pub fn flush_listeners(&mut self) {
        for l in &mut self.listeners {
            l.flush();
        }
    }

    /// Checks that a row fits a stream's schema (arity and value representation per type).
    pub fn check_row(&self, stream: StreamId, values: &[Value]) -> Result<(), RowError> {
        let s = &self.streams[stream];
        if values.len() != s.types.len() {
            return Err(RowError::Arity {
                stream: s.name.clone(),
                expected: s.types.len(),
                found: values.len(),
            });
        }
        for (index, (v, ty)) in values.iter().zip(&s.types).enumerate() {
            let ok = matches!(
                (v, ty),
                (Value::Null, _)
                    | (Value::Bool(_), Type::Bool)
                    | (Value::Int(_), Type::Int)
                    | (Value::Long(_), Type::Long | Type::Timestamp)
                    | (Value::Float(_), Type::Float)
                    | (Value::Double(_), Type::Double)
                    | (Value::String(_), Type::String)
            );
            if !ok {
                return Err(RowError::Type {
                    stream: s.name.clone(),
                    index,
                    expected: *ty,
                    found: value_kind(v),
                });
            }
        }
        Ok(())
    }

    /// Moves the clock to `t` (never backwards), first firing every timer due at or before `t`
    /// at its own time.
    pub fn advance_to(&mut self, t: i64) {
        if !self.started {
            // The clock starts at the first time it is given (the first replay line, the wall
            // clock when live).
            self.now = t;
            self.start();
        }
        while let Some((at, owner)) = self.timers.pop_due(t) {
            self.now = self.now.max(at);
            self.fire(owner);
        }
        self.now = self.now.max(t);
        if !self.domains.is_empty() {
            self.check_idle_domains();
        }
        if !self.failures.is_empty() {
            self.handle_failures();
        }
    }

    /// End of time (replay `--flush`): fires every pending timer, then lets every operator emit
    /// what it still holds (count-based batches, external-time windows), until nothing is left.
    pub fn flush(&mut self) {
        self.flushing = true;
        // Periodic triggers would fire for ever: at the end of time they stop, without moving
        // the clock to their next due time.
        self.timers.retain(|o| o.query != TRIGGER_OWNER);
        loop {
            // Watermarks to the end of time: every buffered event is released in order.
            for d in 0..self.domains.len() {
                self.release(d, i64::MAX);
            }
            for d in 0..self.domains.len() {
                self.advance_domain(d, i64::MAX);
            }
            while let Some(at) = self.timers.next_deadline() {
                self.advance_to(at);
            }
            self.for_each_operator(|op, ctx, out| op.on_flush(ctx, out));
            let pending = !self.timers.is_empty()
                || self.domains.iter().any(|d| !d.timers.is_empty())
                || self.domains.iter().any(|d| !d.buffer.is_empty());
            if !pending {
                break;
            }
        }
        self.flushing = false;
        if !self.failures.is_empty() {
            self.handle_failures();
        }
    }

    /// Fires the timers of an event-time domain up to `to` and moves its clock there.
    fn advance_domain(&mut self, d: usize, to: i64) {
        if !self.domains[d].started {
            self.domains[d].started = true;
            self.domains[d].now = to;
            self.for_each_operator_in(Some(d), |op, ctx, out| op.on_start(ctx, out));
        }
        while let Some((at, owner)) = self.domains[d].timers.pop_due(to) {
            self.domains[d].now = self.domains[d].now.max(at);
            self.fire(owner);
        }
        self.domains[d].now = self.domains[d].now.max(to);
    }

    /// Accepts rows into an event-time stream: late rows are routed or dropped, the rest wait
    /// in the domain's buffer until the domain's watermark passes them.
    fn ingest(&mut self, stream: StreamId, batch: &Batch) {
        let mut late = Batch::new(batch.arity());
        let now = self.now;
        let Some(et) = self.event_time[stream].as_mut() else {
            return;
        };
        let domain = et.domain;
        et.last_arrival = Some(now);
        for r in batch.rows() {
            let t = r.values.get(et.column).and_then(Value::as_i64);
            match t {
                Some(t) if t >= et.watermark => {
                    if let Some(d) = self.domains.get_mut(domain) {
                        d.seq += 1;
                        d.buffer
                            .insert((t, d.seq), (stream, r.kind, r.values.to_vec()));
                    }
                    et.max_seen = et.max_seen.max(t);
                    et.watermark = et.watermark.max(et.max_seen.saturating_sub(et.delay));
                }
                // Below the watermark, or without an event time at all: late.
                _ => {
                    et.late_events += 1;
                    if et.late_stream.is_some() {
                        late.push(r.ts, r.kind, r.values);
                    }
                }
            }
        }
        let late_stream = et.late_stream;
        if let (false, Some(l)) = (late.is_empty(), late_stream) {
            self.deliver(l, &late);
        }
        let wm = self.domain_watermark(domain);
        self.release(domain, wm);
    }

    /// The watermark of a domain: the minimum over its streams, leaving out streams idle for
    /// their `watermark.idle` (if every stream is idle, the maximum).
    fn domain_watermark(&self, domain: usize) -> i64 {
        let Some(d) = self.domains.get(domain) else {
            return i64::MIN;
        };
        let mut min_active: Option<i64> = None;
        let mut max_all = i64::MIN;
        for &s in &d.members {
            let Some(et) = self.event_time[s].as_ref() else {
                continue;
            };
            max_all = max_all.max(et.watermark);
            let idle = match (et.idle, et.last_arrival) {
                (Some(i), Some(last)) => self.now.saturating_sub(last) >= i,
                (Some(i), None) => self.now.saturating_sub(self.start_time) >= i,
                (None, _) => false,
            };
            if !idle {
                min_active = Some(min_active.map_or(et.watermark, |m| m.min(et.watermark)));
            }
        }
        min_active.unwrap_or(max_all)
    }

    /// Releases buffered rows with event time ≤ `up_to`, in order, each at its own time on the
    /// domain's clock (timers due before it fire first).
    fn release(&mut self, domain: usize, up_to: i64) {
        let mut one = Batch::new(0);
        loop {
            let next = self.domains.get_mut(domain).and_then(|d| {
                let (&(t, seq), _) = d.buffer.first_key_value()?;
                if t > up_to {
                    return None;
                }
                d.buffer.remove(&(t, seq)).map(|row| (t, row))
            });
            let Some((t, (stream, kind, values))) = next else {
                break;
            };
            self.advance_domain(domain, t);
            one.reset(values.len());
            one.push(t, kind, &values);
            self.deliver_now(stream, &one);
        }
        if up_to != i64::MIN {
            self.advance_domain(domain, up_to);
        }
    }

    /// The processing clock moved: domains with idle streams may advance.
    fn check_idle_domains(&mut self) {
        for d in 0..self.domains.len() {
            let has_idle = self.domains[d].members.iter().any(|&s| {
                self.event_time[s]
                    .as_ref()
                    .is_some_and(|e| e.idle.is_some())
            });
            if has_idle {
                let wm = self.domain_watermark(d);
                if wm > self.domains[d].now {
                    self.release(d, wm);
                }
            }
        }
    }

    pub fn next_deadline(&self) -> Option<i64> {
        self.timers.next_deadline()
    }

    /// Calls `f` on every operator of every query (in order), running the rest of each query's
    /// pipeline on what it emits.
    fn for_each_operator(
        &mut self,
        f: impl Fn(&mut dyn BatchOperator, &mut OpCtx<'_>, &mut Batch),
    ) {
        for q in 0..self.queries.len() {
            self.for_each_operator_of(q, &f);
        }
    }

    /// [`Self::for_each_operator`] restricted to the queries of one time domain (`None`: the
    /// processing-time queries).
    fn for_each_operator_in(
        &mut self,
        domain: Option<usize>,
        f: impl Fn(&mut dyn BatchOperator, &mut OpCtx<'_>, &mut Batch),
    ) {
        for q in 0..self.queries.len() {
            if self.query_domain[q] == domain {
                self.for_each_operator_of(q, &f);
            }
        }
    }

    fn for_each_operator_of(
        &mut self,
        q: usize,
        f: &impl Fn(&mut dyn BatchOperator, &mut OpCtx<'_>, &mut Batch),
    ) {
        for op in 0..self.queries[q].pipeline.len() {
            let query = &mut self.queries[q];
            let mut out = std::mem::take(&mut query.buffers[op]);
            out.clear();
            let mut ctx = op_ctx!(self, q, op, 0, 0);
            f(query.pipeline[op].as_mut(), &mut ctx, &mut out);
            self.continue_from(q, op + 1, out, op);
        }
    }

    /// Starts the clock: AT START triggers fire now, periodic and cron triggers are scheduled.
    /// Errors reported since the last call (store failures under the `log` strategy, failed
    /// preloads), oldest first.
    pub fn take_errors(&mut self) -> Vec<String> {
        std::mem::take(&mut self.errors)
    }

    /// Set once an error happened under `'error.strategy' = 'fail'`: the app must stop.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    fn report(&mut self, message: String) {
        if self.errors.len() >= MAX_PENDING_ERRORS {
            self.errors.remove(0);
            self.errors_dropped += 1;
        }
        self.errors.push(message);
    }

    /// `cache.preload`: external tables that ask for it fill their cache at start.
    fn preload_tables(&mut self) {
        for i in 0..self.tables.len() {
            let now = self.now;
            let table = &mut self.tables[i];
            let name = table.name.clone();
            let fail = table
                .external()
                .is_some_and(|e| e.on_error == ErrorStrategy::Fail);
            match table.preload(now) {
                Ok(Some(_)) => {}
                Ok(None) => self.report(format!(
                    "table '{name}': not preloaded: the table has more rows than 'cache.size'"
                )),
                Err(e) => {
                    let msg = format!("table '{name}': preload failed: {e}");
                    if fail {
                        self.failed.get_or_insert(msg);
                    } else {
                        self.report(msg);
                    }
                }
            }
        }
    }

    /// Handles the events that failed on a table's store by the query's (else the table's)
    /// `'error.strategy'`: report and drop, route to the error stream, or fail the app.
    fn handle_failures(&mut self) {
        let mut round = 0;
        while !self.failures.is_empty() {
            round += 1;
            let failures = std::mem::take(&mut self.failures);
            let mut routed: Vec<(StreamId, Batch)> = Vec::new();
            for f in failures {
                let q = f.query as usize;
                let table = self.tables.get(f.table);
                let strategy = self
                    .query_errors
                    .get(q)
                    .cloned()
                    .flatten()
                    .or_else(|| table.and_then(|t| t.external()).map(|e| e.on_error.clone()))
                    .unwrap_or_default();
                let query = self.queries.get(q).map_or("", |q| q.name.as_str());
                let table = table.map_or("", |t| t.name.as_str());
                let reason = format!("query '{query}': table '{table}': {}", f.error);
                let payload = self.render_event(f.stream, &f.row);
                let target = match &strategy {
                    ErrorStrategy::Stream(name) if round == 1 => {
                        self.streams.iter().position(|s| s.name == *name)
                    }
                    _ => None,
                };
                match (strategy, target) {
                    (ErrorStrategy::Fail, _) => {
                        self.failed
                            .get_or_insert_with(|| format!("{reason}; event {payload}"));
                    }
                    (_, Some(id)) => {
                        let at = match routed.iter().position(|(s, _)| *s == id) {
                            Some(at) => at,
                            None => {
                                routed.push((id, Batch::new(2)));
                                routed.len() - 1
                            }
                        };
                        routed[at].1.push_iter(
                            f.ts,
                            EventKind::Current,
                            [Value::string(&payload), Value::string(&reason)],
                        );
                    }
                    (ErrorStrategy::Stream(_), None) => self.report(format!(
                        "{reason}; event dropped (raised while routing errors): {payload}"
                    )),
                    (ErrorStrategy::Log, _) => {
                        self.report(format!("{reason}; event dropped: {payload}"))
                    }
                }
            }
            for (id, batch) in routed {
                self.deliver(id, &batch);
            }
        }
    }

    /// An event as a JSON object labelled with its stream's attribute names (an array when the
    /// row is not one of the stream's).
    fn render_event(&self, stream: usize, row: &[Value]) -> String {
        use std::fmt::Write as _;
        let names = self
            .streams
            .get(stream)
            .filter(|s| s.types.len() == row.len())
            .map(|s| &s.attribute_names);
        let mut out = String::new();
        out.push(if names.is_some() { '{' } else { '[' });
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if let Some(names) = names {
                write_json_string(&mut out, &names[i]);
                out.push_str(": ");
            }
            match v {
                Value::Null => out.push_str("null"),
                Value::String(s) => write_json_string(&mut out, s),
                Value::Float(x) if !x.is_finite() => out.push_str("null"),
                Value::Double(x) if !x.is_finite() => out.push_str("null"),
                other => {
                    let _ = write!(out, "{other}");
                }
            }
        }
        out.push(if names.is_some() { '}' } else { ']' });
        out
    }

    fn start(&mut self) {
        self.started = true;
        self.start_time = self.now;
        self.preload_tables();
        // Event-time queries start with their domain's clock (at its first watermark).
        self.for_each_operator_in(None, |op, ctx, out| op.on_start(ctx, out));
        for i in 0..self.triggers.len() {
            match &self.triggers[i].1 {
                TriggerRuntime::Start => self.fire_trigger(i),
                _ => self.schedule_trigger(i),
            }
        }
    }

    fn schedule_trigger(&mut self, i: usize) {
        let next = match &self.triggers[i].1 {
            TriggerRuntime::Start => None,
            TriggerRuntime::Every(p) => Some(crate::timer::next_boundary(self.now, *p, 0)),
            TriggerRuntime::Cron(c) => c.next_after(self.now),
        };
        if let Some(at) = next {
            self.timers.schedule(
                at,
                TimerOwner {
                    query: TRIGGER_OWNER,
                    operator: i as u32,
                    instance: 0,
                    stage: 0,
                    token: 0,
                },
            );
        }
    }

    fn fire_trigger(&mut self, i: usize) {
        let stream = self.triggers[i].0;
        let mut batch = Batch::new(1);
        batch.push(self.now, EventKind::Current, &[Value::Long(self.now)]);
        self.deliver(stream, &batch);
    }

    fn fire(&mut self, owner: TimerOwner) {
        if owner.query == TRIGGER_OWNER {
            // At the end of time a periodic trigger would fire forever: it stops instead.
            if !self.flushing {
                let i = owner.operator as usize;
                self.fire_trigger(i);
                self.schedule_trigger(i);
            }
            return;
        }
        let (q, op) = (owner.query as usize, owner.operator as usize);
        if q >= self.queries.len() {
            return;
        }
        let query = &mut self.queries[q];
        let mut out = std::mem::take(&mut query.buffers[op]);
        out.clear();
        let mut ctx = op_ctx!(self, q, op, owner.instance, owner.stage);
        query.pipeline[op].on_timer(owner.token, &mut ctx, &mut out);
        self.continue_from(q, op + 1, out, op);
    }

    /// Sends a batch of events into a stream at the current engine time.
    pub fn send(&mut self, stream: StreamId, batch: &Batch) {
        if batch.is_empty() {
            return;
        }
        if !self.started {
            self.start();
        }
        self.deliver(stream, batch);
        if !self.failures.is_empty() {
            self.handle_failures();
        }
    }

    /// Delivers rows to a stream: event-time streams reorder them first.
    fn deliver(&mut self, stream: StreamId, batch: &Batch) {
        if self.event_time[stream].is_some() {
            self.ingest(stream, batch);
        } else {
            self.deliver_now(stream, batch);
        }
    }

    /// Delivers rows to a stream's listeners and then to every query reading it.
    fn deliver_now(&mut self, stream: StreamId, batch: &Batch) {
        let s = &mut self.streams[stream];
        s.rows_in += batch.len() as u64;
        for &l in &s.listeners {
            self.listeners[l].on_rows(stream, self.now, batch);
        }
        for k in 0..self.streams[stream].readers.len() {
            let q = self.streams[stream].readers[k];
            self.current_stream = stream;
            self.run_query(q, batch);
        }
    }

    fn run_query(&mut self, q: usize, input: &Batch) {
        let query = &mut self.queries[q];
        let mut out = std::mem::take(&mut query.buffers[0]);
        out.clear();
        let mut ctx = op_ctx!(self, q, 0, 0, 0);
        query.pipeline[0].process(input, &mut ctx, &mut out);
        self.continue_from(q, 1, out, 0);
    }

    /// Runs the rest of a query's pipeline on `batch` (the output of operator `slot`), then
    /// inserts the result into the target stream.
    fn continue_from(&mut self, q: usize, first: usize, mut batch: Batch, slot: usize) {
        let mut slot = slot;
        for op in first..self.queries[q].pipeline.len() {
            if batch.is_empty() {
                break;
            }
            let query = &mut self.queries[q];
            let mut out = std::mem::take(&mut query.buffers[op]);
            out.clear();
            let mut ctx = op_ctx!(self, q, op, 0, 0);
            query.pipeline[op].process(&batch, &mut ctx, &mut out);
            query.buffers[slot] = batch;
            batch = out;
            slot = op;
        }
        let query = &mut self.queries[q];
        if !(query.keep_current && query.keep_expired) {
            let keep = if query.keep_current {
                EventKind::Current
            } else {
                EventKind::Expired
            };
            batch.retain_kind(keep);
        }
        if !batch.is_empty() {
            query.rows_out += batch.len() as u64;
            if let Some(target) = query.target {
                self.deliver(target, &batch);
            }
        }
        self.queries[q].buffers[slot] = batch;
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            rows_in: self
                .streams
                .iter()
                .map(|s| (s.name.clone(), s.rows_in))
                .collect(),
            rows_out: self
                .queries
                .iter()
                .map(|q| (q.name.clone(), q.rows_out))
                .collect(),
            pending_timers: self.timers.len()
                + self.domains.iter().map(|d| d.timers.len()).sum::<usize>(),
            state_sizes: self
                .queries
                .iter()
                .map(|q| {
                    (
                        q.name.clone(),
                        q.pipeline.iter().map(|o| o.state_size()).sum(),
                    )
                })
                .collect(),
            pattern_drops: self
                .queries
                .iter()
                .map(|q| {
                    (
                        q.name.clone(),
                        q.pipeline.iter().map(|o| o.dropped_partial_matches()).sum(),
                        q.max_partial,
                    )
                })
                .collect(),
            window_evictions: self
                .queries
                .iter()
                .map(|q| (q.name.clone(), q.pipeline.iter().map(|o| o.evicted()).sum()))
                .collect(),
            table_sizes: self
                .tables
                .iter()
                .map(|t| (t.name.clone(), t.len()))
                .collect(),
            table_stores: self
                .tables
                .iter()
                .filter_map(|t| t.external().map(|e| e.stats()))
                .collect(),
            errors_dropped: self.errors_dropped,
            late_events: self
                .event_time
                .iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    e.as_ref()
                        .map(|e| (self.streams[i].name.clone(), e.late_events))
                })
                .collect(),
            buffered_events: self
                .event_time
                .iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    e.as_ref().map(|e| {
                        let n = self
                            .domains
                            .get(e.domain)
                            .map_or(0, |d| d.buffer.values().filter(|r| r.0 == i).count());
                        (self.streams[i].name.clone(), n)
                    })
                })
                .collect(),
        }
    }
}

/// Appends `s` as a JSON string literal.
fn write_json_string(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Bool(_) => "BOOL",
        Value::Int(_) => "INT",
        Value::Long(_) => "LONG",
        Value::Float(_) => "FLOAT",
        Value::Double(_) => "DOUBLE",
        Value::String(_) => "STRING",
    }
}
