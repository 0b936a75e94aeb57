//! The logical plan of an app: its streams and, for each query, a pipeline of operators from an
//! input stream to an output stream. The runtime compiles this plan; `eventflux explain` prints it.

use crate::expr::TypedExpr;
use crate::functions::AggregateFn;
use crate::types::Type;
use crate::window::WindowPlan;
use eventflux_sql::ast::{OutputEvents, OutputRateMode, RateUnit};
use eventflux_sql::Span;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

pub type StreamId = usize;
pub type QueryId = usize;
pub type TableId = usize;

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    pub attributes: Vec<Attribute>,
}

impl Schema {
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.attributes.iter().position(|a| a.name == name)
    }

    pub fn len(&self) -> usize {
        self.attributes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.attributes.iter().map(|a| a.name.as_str())
    }
}

impl std::fmt::Display for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(")?;
        for (i, a) in self.attributes.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {}", a.name, a.ty)?;
        }
        f.write_str(")")
    }
}

/// How a stream came to exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOrigin {
    /// `CREATE STREAM` / `DEFINE STREAM`.
    Declared,
    /// Created by the first `INSERT INTO` that names it.
    Auto,
    /// `CREATE TRIGGER`: a stream `(triggered_time LONG)` driven by the engine clock.
    Trigger(TriggerPlan),
}

/// When a trigger fires (§13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerPlan {
    /// Once, when the app's clock starts.
    Start,
    /// At every multiple of the period (milliseconds) on the app clock.
    Every(i64),
    /// At each firing of a six-field cron expression.
    Cron(String),
}

/// A connector attached to a stream by its WITH options.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorPlan {
    pub extension: String,
    pub format: String,
    /// Every option of the stream, `${ENV}` already substituted.
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StreamIo {
    Internal,
    Source(ConnectorPlan),
    Sink(ConnectorPlan),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamPlan {
    pub name: String,
    pub schema: Schema,
    pub origin: StreamOrigin,
    pub io: StreamIo,
    pub span: Span,
    /// Set for streams declared with a WATERMARK clause (§3.1).
    pub event_time: Option<EventTimePlan>,
    /// Which clock orders this stream's rows and drives time in the queries reading it.
    pub domain: TimeDomain,
}

/// `WATERMARK FOR column AS column - delay` and the stream's event-time options.
#[derive(Debug, Clone, PartialEq)]
pub struct EventTimePlan {
    /// The attribute holding the event time (LONG or TIMESTAMP, epoch ms).
    pub column: usize,
    pub delay: i64,
    /// `'late.stream'`: where events below the watermark go (dropped and counted when unset).
    pub late_stream: Option<StreamId>,
    /// `'watermark.idle'`: after this long without events the stream stops holding back the
    /// watermark of queries reading several streams.
    pub idle: Option<i64>,
}

/// The clock of a stream: the engine's processing clock, or the event time of an event-time
/// stream (the root), whose watermark drives every stream derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeDomain {
    #[default]
    Processing,
    EventTime(StreamId),
}

/// One step of a query's pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    /// Keeps rows whose condition is TRUE.
    Filter(TypedExpr),
    /// Computes the output row, one expression per attribute of the target stream, in its order.
    Project(Vec<(String, TypedExpr)>),
    /// Retains events and emits current (arrival) and expired (removal) rows or batches (§7).
    Window(WindowPlan),
    /// Grouping, aggregation, HAVING, ORDER BY and LIMIT per emission, then the output row (§8).
    Select(SelectPlan),
    /// Output rate limiting (§8).
    Rate(RatePlan),
    /// A pattern or sequence (§11): matches its input streams and produces the output rows.
    Pattern(Box<crate::pattern::PatternPlan>),
    /// A join (§9): the first operator of a join query; emits rows of all sides side by side.
    Join(Box<crate::join::JoinPlan>),
    /// `x [NOT] IN Table`: appends one BOOL column per test to the row (NULL when `x` is NULL),
    /// read by the expressions that contained the test.
    TableProbe(Vec<crate::join::TableProbe>),
    /// Writes each row into a table (§10); the last operator of a table-writing query.
    TableWrite(Box<crate::join::TableWritePlan>),
}

/// One aggregate call of a query, e.g. `avg(price)`.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateCall {
    pub func: AggregateFn,
    /// The argument over the input row (None for `count()` / `count(*)`).
    pub arg: Option<TypedExpr>,
    pub distinct: bool,
    /// The constant percentage of `percentile(x, p)`.
    pub percentile: Option<f64>,
    pub result: Type,
    /// How the call was written, for explain output and de-duplication.
    pub display: String,
}

/// The evaluation row of a select step is laid out as
/// `[input attributes (input_arity)] [output columns] [aggregate results]`:
/// `outputs` are computed over the input attributes and aggregates, then `having` and `order_by`
/// see all three regions (so HAVING and ORDER BY may use output aliases).
#[derive(Debug, Clone, PartialEq)]
pub struct SelectPlan {
    pub input_arity: usize,
    pub group_by: Vec<TypedExpr>,
    pub aggregates: Vec<AggregateCall>,
    /// Output columns in SELECT order (aliases in HAVING/ORDER BY refer to these positions).
    pub outputs: Vec<(String, TypedExpr)>,
    /// The output row: for each attribute of the target stream, the index of its column.
    pub emit: Vec<usize>,
    pub having: Option<TypedExpr>,
    /// (key, descending)
    pub order_by: Vec<(TypedExpr, bool)>,
    pub limit: Option<u64>,
    pub offset: u64,
}

impl SelectPlan {
    /// Where the aggregate results start in the evaluation row.
    pub fn aggregate_base(&self) -> usize {
        self.input_arity + self.outputs.len()
    }

    pub fn is_aggregating(&self) -> bool {
        !self.aggregates.is_empty() || !self.group_by.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RatePlan {
    pub mode: OutputRateMode,
    pub every: RateUnit,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryPlan {
    pub name: String,
    pub span: Span,
    /// The stream read (the first one, for patterns).
    pub input: StreamId,
    /// Every stream read (patterns read several).
    pub inputs: Vec<StreamId>,
    pub operators: Vec<Operator>,
    pub target: QueryTarget,
    pub events: OutputEvents,
    /// `@option('key', 'value')` settings.
    pub options: BTreeMap<String, String>,
    /// Set for queries inside a PARTITION block: their state is kept per key (§12).
    pub partition: Option<PartitionPlan>,
}

/// Where a query's rows go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryTarget {
    Stream(StreamId),
    /// Table writes: the query's last operator writes the table and nothing is emitted.
    Table(TableId),
}

impl QueryTarget {
    pub fn stream(self) -> Option<StreamId> {
        match self {
            QueryTarget::Stream(s) => Some(s),
            QueryTarget::Table(_) => None,
        }
    }
}

/// An in-memory table (§4).
#[derive(Debug, Clone, PartialEq)]
pub struct TablePlan {
    pub name: String,
    pub schema: Schema,
    /// Primary-key columns (empty: rows kept in insertion order, no replacement).
    pub primary_key: Vec<usize>,
    /// Secondary hash indexes, each over one or more columns.
    pub indexes: Vec<Vec<usize>>,
    /// `extension = 'cache'` with `max_size`: at most this many rows (FIFO eviction).
    pub max_size: Option<usize>,
    /// Set for tables kept in an external store (`postgres`, `mysql`, `redis`).
    pub store: Option<StorePlan>,
    pub span: Span,
}

impl TablePlan {
    /// The primary-key columns' names, comma-separated (for messages).
    pub fn key_names(&self) -> String {
        let names: Vec<&str> = self
            .primary_key
            .iter()
            .map(|&c| self.schema.attributes[c].name.as_str())
            .collect();
        names.join(", ")
    }
}

/// An external table's store, cache and error handling (§4).
#[derive(Debug, Clone, PartialEq)]
pub struct StorePlan {
    /// `postgres`, `mysql` or `redis`.
    pub extension: String,
    /// The connector's own keys (`postgres.url`, …), `${ENV}` already substituted.
    pub options: BTreeMap<String, String>,
    /// `LRU`, `LFU` or `FIFO`.
    pub cache_policy: String,
    /// Rows (and remembered misses) the cache keeps; 0: no cache.
    pub cache_size: usize,
    /// Milliseconds a cached row or miss stays valid.
    pub cache_ttl: Option<i64>,
    /// `cache.preload = 'true'`: load the whole table at start when it fits the cache.
    pub preload: bool,
    /// What happens to an event whose store access fails (a query's own
    /// `@option('error.strategy', …)` takes precedence).
    pub on_error: ErrorStrategy,
}

/// `'error.strategy'` (§3.2): what happens to an event that cannot be processed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ErrorStrategy {
    /// Report it on the engine's error channel, count it and drop it.
    #[default]
    Log,
    /// Route it to this stream as `(payload STRING, error STRING)`.
    Stream(String),
    /// Stop the app with the error.
    Fail,
}

/// How a query inside a PARTITION block splits its state.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionPlan {
    /// Which PARTITION block (0-based, in source order).
    pub block: usize,
    /// The key of each input stream of the query.
    pub keys: Vec<(StreamId, PartitionKeyPlan)>,
    /// `'purge.idle'`: state of keys without events for this long is dropped (milliseconds).
    pub purge_idle: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PartitionKeyPlan {
    /// `expr OF Stream`: one partition per distinct value.
    Value(TypedExpr),
    /// `cond AS 'label' OR …`: an event goes to the partition of every condition it satisfies
    /// (events matching none are dropped).
    Range(Vec<(TypedExpr, String)>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppPlan {
    pub streams: Vec<StreamPlan>,
    pub queries: Vec<QueryPlan>,
    pub stream_ids: HashMap<String, StreamId>,
    pub tables: Vec<TablePlan>,
    pub table_ids: HashMap<String, TableId>,
}

impl AppPlan {
    pub fn stream_id(&self, name: &str) -> Option<StreamId> {
        self.stream_ids.get(name).copied()
    }

    pub fn stream(&self, id: StreamId) -> &StreamPlan {
        &self.streams[id]
    }

    /// Queries reading `id`, in definition order.
    pub fn readers(&self, id: StreamId) -> impl Iterator<Item = QueryId> + '_ {
        self.queries
            .iter()
            .enumerate()
            .filter(move |(_, q)| q.inputs.contains(&id))
            .map(|(i, _)| i)
    }

    pub fn is_written(&self, id: StreamId) -> bool {
        self.queries
            .iter()
            .any(|q| q.target == QueryTarget::Stream(id))
    }

    pub fn table_id(&self, name: &str) -> Option<TableId> {
        self.table_ids.get(name).copied()
    }

    /// Streams whose rows the command line prints: read by no query and consumed by no sink
    /// (§15) — outputs of queries, late-event streams, and inputs nothing reads.
    pub fn is_terminal(&self, id: StreamId) -> bool {
        self.readers(id).next().is_none() && !matches!(self.streams[id].io, StreamIo::Sink(_))
    }

    /// The only stream that receives events from outside, if there is exactly one.
    pub fn single_input(&self) -> Option<StreamId> {
        let mut inputs = (0..self.streams.len()).filter(|&id| self.is_external_input(id));
        let first = inputs.next()?;
        inputs.next().is_none().then_some(first)
    }

    /// A declared stream that no query writes and that is not a sink or a trigger: fed from
    /// outside.
    pub fn is_external_input(&self, id: StreamId) -> bool {
        let s = &self.streams[id];
        s.origin == StreamOrigin::Declared
            && !self.is_written(id)
            && !matches!(s.io, StreamIo::Sink(_))
    }

    /// The operator graph as text, for `eventflux explain`.
    pub fn explain(&self) -> String {
        let mut out = String::from("streams:\n");
        for (id, s) in self.streams.iter().enumerate() {
            let mut tags = Vec::new();
            match &s.origin {
                StreamOrigin::Auto => tags.push("auto-created".to_string()),
                StreamOrigin::Trigger(t) => tags.push(match t {
                    TriggerPlan::Start => "trigger at start".to_string(),
                    TriggerPlan::Every(ms) => format!("trigger every {ms} ms"),
                    TriggerPlan::Cron(c) => format!("trigger cron '{c}'"),
                }),
                StreamOrigin::Declared => {}
            }
            match &s.io {
                StreamIo::Internal => {}
                StreamIo::Source(c) => tags.push(format!("source {}/{}", c.extension, c.format)),
                StreamIo::Sink(c) => tags.push(format!("sink {}/{}", c.extension, c.format)),
            }
            if let Some(et) = &s.event_time {
                let mut t = format!("event time #{} - {} ms", et.column, et.delay);
                if let Some(l) = et.late_stream {
                    t.push_str(&format!(", late -> {}", self.streams[l].name));
                }
                tags.push(t);
            } else if let TimeDomain::EventTime(root) = s.domain {
                tags.push(format!("event time of {}", self.streams[root].name));
            }
            if self.is_external_input(id) {
                tags.push("input".into());
            }
            if self.is_terminal(id) {
                tags.push("printed".into());
            }
            let tags = if tags.is_empty() {
                String::new()
            } else {
                format!("  [{}]", tags.join(", "))
            };
            let _ = writeln!(out, "  {} {}{tags}", s.name, s.schema);
        }
        if !self.tables.is_empty() {
            out.push_str("tables:\n");
            for t in &self.tables {
                let mut tags = Vec::new();
                if !t.primary_key.is_empty() {
                    tags.push(format!("primary key ({})", t.key_names()));
                }
                if let Some(s) = &t.store {
                    let mut cache = match s.cache_size {
                        0 => "no cache".to_string(),
                        n => format!("cache {} {n} rows", s.cache_policy),
                    };
                    if let (Some(ttl), true) = (s.cache_ttl, s.cache_size > 0) {
                        cache.push_str(&format!(" ttl {ttl} ms"));
                    }
                    if s.preload {
                        cache.push_str(" preloaded");
                    }
                    let on_error = match &s.on_error {
                        ErrorStrategy::Log => "log".to_string(),
                        ErrorStrategy::Stream(name) => format!("stream to {name}"),
                        ErrorStrategy::Fail => "fail".to_string(),
                    };
                    tags.push(format!(
                        "{} store, {cache}, errors: {on_error}",
                        s.extension
                    ));
                }
                for ix in &t.indexes {
                    let cols: Vec<&str> = ix
                        .iter()
                        .map(|&c| t.schema.attributes[c].name.as_str())
                        .collect();
                    tags.push(format!("index ({})", cols.join(", ")));
                }
                if let Some(n) = t.max_size {
                    tags.push(format!("max {n} rows, FIFO"));
                }
                let tags = if tags.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", tags.join(", "))
                };
                let _ = writeln!(out, "  {} {}{tags}", t.name, t.schema);
            }
        }
        out.push_str("queries:\n");
        for q in &self.queries {
            let _ = writeln!(out, "  query '{}'", q.name);
            let inputs: Vec<&str> = q
                .inputs
                .iter()
                .map(|&i| self.streams[i].name.as_str())
                .collect();
            let _ = writeln!(out, "    from {}", inputs.join(", "));
            if let Some(p) = &q.partition {
                let keys: Vec<String> = p
                    .keys
                    .iter()
                    .map(|(s, k)| match k {
                        PartitionKeyPlan::Value(e) => format!("{e} OF {}", self.streams[*s].name),
                        PartitionKeyPlan::Range(r) => {
                            let cases: Vec<String> =
                                r.iter().map(|(c, l)| format!("{c} AS '{l}'")).collect();
                            format!("{} OF {}", cases.join(" OR "), self.streams[*s].name)
                        }
                    })
                    .collect();
                let key = format!("by {}", keys.join(", "));
                let purge = p
                    .purge_idle
                    .map(|ms| format!(", purge idle after {ms} ms"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    -> partition #{} {key}{purge} (state per key)",
                    p.block
                );
            }
            for op in &q.operators {
                let _ = writeln!(out, "    -> {}", describe_operator(op));
                if let Operator::Pattern(p) = op {
                    out.push_str(&p.describe(&|s| self.streams[s].name.clone()));
                }
            }
            let events = match q.events {
                OutputEvents::Current => "current",
                OutputEvents::Expired => "expired",
                OutputEvents::All => "all",
            };
            match q.target {
                QueryTarget::Stream(t) => {
                    let _ = writeln!(
                        out,
                        "    -> insert {events} events into {}",
                        self.streams[t].name
                    );
                }
                QueryTarget::Table(t) => {
                    let _ = writeln!(out, "    -> write table {}", self.tables[t].name);
                }
            }
        }
        out
    }
}

/// One line describing an operator, for explain output.
pub fn describe_operator(op: &Operator) -> String {
    let list = |cols: &[(String, TypedExpr)]| {
        cols.iter()
            .map(|(n, e)| format!("{e} AS {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match op {
        Operator::Filter(e) => format!("filter {e}"),
        Operator::Project(cols) => format!("project {}", list(cols)),
        Operator::Window(w) => format!(
            "window {} ({})",
            w.kind,
            if w.kind.is_batch() {
                "batch"
            } else {
                "sliding"
            }
        ),
        Operator::Select(s) => {
            let mut text = String::from("select");
            if !s.group_by.is_empty() {
                let keys: Vec<String> = s.group_by.iter().map(|e| e.to_string()).collect();
                text.push_str(&format!(" group by {}", keys.join(", ")));
            }
            if !s.aggregates.is_empty() {
                let aggs: Vec<&str> = s.aggregates.iter().map(|a| a.display.as_str()).collect();
                text.push_str(&format!(" aggregates [{}]", aggs.join(", ")));
            }
            text.push_str(&format!(" -> {}", list(&s.outputs)));
            if let Some(h) = &s.having {
                text.push_str(&format!(" having {h}"));
            }
            if !s.order_by.is_empty() {
                let keys: Vec<String> = s
                    .order_by
                    .iter()
                    .map(|(e, d)| format!("{e}{}", if *d { " DESC" } else { "" }))
                    .collect();
                text.push_str(&format!(" order by {}", keys.join(", ")));
            }
            if let Some(l) = s.limit {
                text.push_str(&format!(" limit {l}"));
            }
            if s.offset > 0 {
                text.push_str(&format!(" offset {}", s.offset));
            }
            text
        }
        Operator::Pattern(p) => {
            let mode = match p.mode {
                eventflux_sql::ast::PatternMode::Pattern => "pattern",
                eventflux_sql::ast::PatternMode::Sequence => "sequence",
            };
            let mut text = format!("{mode} -> {}", list(&p.outputs));
            if let Some(c) = &p.condition {
                text.push_str(&format!(" where {c}"));
            }
            text
        }
        Operator::Join(j) => j.describe(),
        Operator::TableProbe(p) => {
            let tests: Vec<String> = p
                .iter()
                .map(|t| format!("{} IN {}", t.key, t.table_name))
                .collect();
            format!("table lookup {}", tests.join(", "))
        }
        Operator::TableWrite(w) => w.describe(),
        Operator::Rate(r) => {
            let mode = match r.mode {
                OutputRateMode::All => "all",
                OutputRateMode::First => "first",
                OutputRateMode::Last => "last",
                OutputRateMode::Snapshot => "snapshot",
            };
            match r.every {
                RateUnit::Events(n) => format!("output {mode} every {n} events"),
                RateUnit::Time(d) => format!("output {mode} every {} ms", d.millis),
            }
        }
    }
}
