//! Builds an [`AppPlan`] from a parsed app: declares streams, resolves every query's names and
//! types, infers output schemas and auto-creates streams (§3), and rejects with a clear message
//! every construct whose runtime does not exist yet.

use crate::expr::{ColumnSlot, Constant, TypedExpr, TypedExprKind};
use crate::options::stream_options;
use crate::pattern::{PatternBuilder, PatternPlan, PatternScope, StreamLookup};
use crate::plan::{
    AppPlan, Attribute, ErrorStrategy, EventTimePlan, Operator, PartitionKeyPlan, PartitionPlan,
    QueryPlan, QueryTarget, RatePlan, Schema, SelectPlan, StreamId, StreamIo, StreamOrigin,
    StreamPlan, TimeDomain, TriggerPlan,
};

mod tables;
use crate::resolve::{AggregateSink, ExprChecker, Scope};
use crate::types::Type;
use crate::window::check_window;
use eventflux_sql::ast::{self, ColumnRef, FromClause, QueryOutput, SelectItem, Statement};
use eventflux_sql::{line_col, suggestion_suffix, Diagnostic, Span};
use std::collections::{BTreeMap, HashMap, HashSet};
pub(crate) use tables::{count_expr, ProbeSink};
use tables::{count_in_table, Expansion};

/// Query options accepted in `@option('key', 'value')`.
pub const QUERY_OPTIONS: &[&str] = &[
    "window.max_events",
    "pattern.max_partial_matches",
    "pattern.fast_path",
    "error.strategy",
    "error.stream",
];

/// The stream a query without INSERT INTO writes to.
pub const DEFAULT_OUTPUT: &str = "OutputStream";

/// What a name in FROM or INSERT INTO refers to, other than a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OtherName {
    Table,
    /// Written by a statement that was rejected: errors about it would only repeat that one.
    Poisoned,
}

/// The keys of the PARTITION block being planned.
#[derive(Clone)]
struct PartitionContext {
    block: usize,
    keys: HashMap<StreamId, PartitionKeyPlan>,
    purge_idle: Option<i64>,
}

pub struct Builder<'s> {
    src: &'s str,
    partition: Option<PartitionContext>,
    partition_blocks: usize,
    /// Queries seen so far, for default names (`query-N`, in source order).
    queries_seen: usize,
    plan: AppPlan,
    others: HashMap<String, OtherName>,
    diags: Vec<Diagnostic>,
}

/// Plans an app. `src` is used only to mention line numbers in messages.
pub fn build(app: &ast::App, src: &str) -> Result<AppPlan, Vec<Diagnostic>> {
    let mut b = Builder {
        src,
        partition: None,
        partition_blocks: 0,
        queries_seen: 0,
        plan: AppPlan::default(),
        others: HashMap::new(),
        diags: Vec::new(),
    };
    b.declare_all(&app.statements);
    b.resolve_late_streams(&app.statements);
    b.resolve_table_error_streams();
    b.plan_queries(&app.statements);
    b.check_cycles();
    b.assign_domains();
    if b.diags.is_empty() {
        Ok(b.plan)
    } else {
        b.diags.sort_by_key(|d| d.span.start);
        Err(b.diags)
    }
}

impl Builder<'_> {
    fn error(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg));
    }

    fn line_of(&self, span: Span) -> usize {
        line_col(self.src, span.start).0
    }

    fn defined_at(&self, name: &str) -> Option<Span> {
        self.plan
            .stream_id(name)
            .map(|id| self.plan.streams[id].span)
    }

    fn name_taken(&mut self, name: &ast::Ident) -> bool {
        if let Some(prev) = self.defined_at(&name.name) {
            let line = self.line_of(prev);
            self.error(
                name.span,
                format!("'{}' is already defined (line {line})", name.name),
            );
            return true;
        }
        if self.others.contains_key(&name.name) {
            self.error(name.span, format!("'{}' is already defined", name.name));
            return true;
        }
        false
    }

    /// First pass: streams, tables and triggers, so queries may refer to them in any order.
    fn declare_all(&mut self, statements: &[Statement]) {
        for st in statements {
            match st {
                Statement::CreateStream(cs) => self.declare_stream(cs),
                Statement::CreateTable(ct) => self.declare_table(ct),
                Statement::CreateTrigger(tr) => self.declare_trigger(tr),
                _ => {}
            }
        }
    }

    fn declare_trigger(&mut self, tr: &ast::CreateTrigger) {
        if self.name_taken(&tr.name) {
            return;
        }
        let plan = match &tr.schedule {
            ast::TriggerSchedule::Start => TriggerPlan::Start,
            ast::TriggerSchedule::Every(d) => {
                if d.millis <= 0 {
                    self.error(d.span, "a trigger period must be positive");
                }
                TriggerPlan::Every(d.millis.max(1))
            }
            ast::TriggerSchedule::Cron { expr, span } => {
                // On error the trigger is still declared, so queries reading it get no
                // follow-on "unknown stream" errors.
                if let Err(e) = crate::cron::CronSchedule::parse(expr) {
                    self.error(*span, format!("invalid cron expression '{expr}': {e}"));
                }
                TriggerPlan::Cron(expr.clone())
            }
        };
        let id = self.plan.streams.len();
        self.plan.streams.push(StreamPlan {
            name: tr.name.name.clone(),
            schema: Schema {
                attributes: vec![Attribute {
                    name: "triggered_time".into(),
                    ty: Type::Long,
                }],
            },
            origin: StreamOrigin::Trigger(plan),
            io: StreamIo::Internal,
            span: tr.name.span,
            event_time: None,
            domain: TimeDomain::Processing,
        });
        self.plan.stream_ids.insert(tr.name.name.clone(), id);
    }

    /// Checks `WATERMARK FOR col AS col - <duration>` and the event-time options.
    fn watermark(
        &mut self,
        wm: &ast::Watermark,
        attrs: &[Attribute],
        options: &[ast::WithOption],
    ) -> Option<EventTimePlan> {
        let Some(column) = attrs.iter().position(|a| a.name == wm.column.name) else {
            let hint = suggestion_suffix(&wm.column.name, attrs.iter().map(|a| a.name.as_str()));
            self.error(
                wm.column.span,
                format!("unknown attribute '{}' in WATERMARK{hint}", wm.column.name),
            );
            return None;
        };
        if !matches!(attrs[column].ty, Type::Long | Type::Timestamp) {
            self.error(
                wm.column.span,
                format!(
                    "the WATERMARK attribute '{}' must be LONG or TIMESTAMP, not {}",
                    wm.column.name, attrs[column].ty
                ),
            );
            return None;
        }
        let is_col = |e: &ast::Expr| matches!(&e.kind, ast::ExprKind::Column(c) if c.qualifier.is_none() && c.index.is_none() && c.name.name == wm.column.name);
        let delay = match &wm.expr.kind {
            _ if is_col(&wm.expr) => Some(0),
            ast::ExprKind::Binary {
                op: ast::BinaryOp::Sub,
                left,
                right,
            } if is_col(left) => match &right.kind {
                ast::ExprKind::Duration(ms) => Some(*ms),
                ast::ExprKind::Literal(ast::Literal::Integer { value, .. }) => Some(*value),
                _ => None,
            },
            _ => None,
        };
        let Some(delay) = delay.filter(|d| *d >= 0) else {
            self.error(
                wm.expr.span,
                format!("the WATERMARK expression must be '{0} - <duration>', e.g. {0} - INTERVAL '5' SECOND", wm.column.name),
            );
            return None;
        };
        let mut idle = None;
        for o in options {
            if o.key.eq_ignore_ascii_case("watermark.idle") {
                match eventflux_sql::parse_duration_text(&o.value.as_text()) {
                    Some(ms) if ms > 0 => idle = Some(ms),
                    _ => self.error(
                        o.value_span,
                        format!("option 'watermark.idle' must be a duration such as '30 sec', found '{}'", o.value.as_text()),
                    ),
                }
            }
        }
        Some(EventTimePlan {
            column,
            delay,
            late_stream: None,
            idle,
        })
    }

    /// Resolves `'late.stream'` options once every stream is declared: a declared late stream
    /// must have the same schema; otherwise it is created.
    fn resolve_late_streams(&mut self, statements: &[Statement]) {
        for st in statements {
            let Statement::CreateStream(cs) = st else {
                continue;
            };
            let Some(opt) = cs
                .options
                .iter()
                .find(|o| o.key.eq_ignore_ascii_case("late.stream"))
            else {
                continue;
            };
            let Some(id) = self.plan.stream_id(&cs.name.name) else {
                continue;
            };
            if self.plan.streams[id].event_time.is_none() {
                continue;
            }
            let name = opt.value.as_text();
            let schema = self.plan.streams[id].schema.clone();
            let late = match self.plan.stream_id(&name) {
                Some(l) if l == id => {
                    self.error(opt.value_span, "'late.stream' cannot be the stream itself");
                    continue;
                }
                Some(l) => {
                    if self.plan.streams[l].schema != schema {
                        self.error(
                            opt.value_span,
                            format!(
                                "late stream '{name}' must have the schema of '{}' {}, found {}",
                                cs.name.name, schema, self.plan.streams[l].schema
                            ),
                        );
                        continue;
                    }
                    l
                }
                None => {
                    if self.others.contains_key(&name) {
                        self.error(opt.value_span, format!("'{name}' is not a stream"));
                        continue;
                    }
                    let l = self.plan.streams.len();
                    self.plan.streams.push(StreamPlan {
                        name: name.clone(),
                        schema,
                        origin: StreamOrigin::Auto,
                        io: StreamIo::Internal,
                        span: opt.value_span,
                        event_time: None,
                        domain: TimeDomain::Processing,
                    });
                    self.plan.stream_ids.insert(name, l);
                    l
                }
            };
            if let Some(et) = self.plan.streams[id].event_time.as_mut() {
                et.late_stream = Some(late);
            }
        }
    }

    /// Event-time streams own their domain; a stream written only by queries reading one
    /// domain inherits it (its rows arrive in that domain's order).
    fn assign_domains(&mut self) {
        // Event-time streams read together by one query share a domain (their events are merged
        // in timestamp order under the minimum of their watermarks): union them.
        let n = self.plan.streams.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(parent: &mut [usize], x: usize) -> usize {
            let mut r = x;
            while parent[r] != r {
                r = parent[r];
            }
            parent[x] = r;
            r
        }
        loop {
            for (id, s) in self.plan.streams.iter_mut().enumerate() {
                s.domain = if s.event_time.is_some() {
                    TimeDomain::EventTime(find(&mut parent, id))
                } else {
                    TimeDomain::Processing
                };
            }
            // Streams written only by queries of one domain inherit it.
            loop {
                let mut changed = false;
                for id in 0..n {
                    if self.plan.streams[id].event_time.is_some() {
                        continue;
                    }
                    let domains: Vec<TimeDomain> = self
                        .plan
                        .queries
                        .iter()
                        .filter(|q| q.target == QueryTarget::Stream(id))
                        .map(|q| query_domain(&self.plan, q))
                        .collect();
                    let Some(&first) = domains.first() else {
                        continue;
                    };
                    let domain = if domains.iter().all(|d| *d == first) {
                        first
                    } else {
                        TimeDomain::Processing
                    };
                    if self.plan.streams[id].domain != domain {
                        self.plan.streams[id].domain = domain;
                        changed = true;
                    }
                }
                if !changed {
                    break;
                }
            }
            let mut merged = false;
            for q in &self.plan.queries {
                let roots: Vec<usize> = q
                    .inputs
                    .iter()
                    .filter_map(|&i| match self.plan.streams[i].domain {
                        TimeDomain::EventTime(r) => Some(r),
                        TimeDomain::Processing => None,
                    })
                    .collect();
                if roots.len() == q.inputs.len() {
                    for w in roots.windows(2) {
                        let (a, b) = (find(&mut parent, w[0]), find(&mut parent, w[1]));
                        if a != b {
                            parent[a.max(b)] = a.min(b);
                            merged = true;
                        }
                    }
                }
            }
            if !merged {
                break;
            }
        }
    }

    fn declare_stream(&mut self, cs: &ast::CreateStream) {
        if self.name_taken(&cs.name) {
            return;
        }
        let mut attributes: Vec<Attribute> = Vec::with_capacity(cs.columns.len());
        for col in &cs.columns {
            if attributes.iter().any(|a| a.name == col.name.name) {
                self.error(
                    col.name.span,
                    format!(
                        "attribute '{}' is defined twice in stream '{}'",
                        col.name.name, cs.name.name
                    ),
                );
                continue;
            }
            let ty = Type::from_kind(col.ty.kind);
            if ty == Type::Object {
                self.error(col.ty.span, "not supported yet: the OBJECT type");
            }
            attributes.push(Attribute {
                name: col.name.name.clone(),
                ty,
            });
        }
        let event_time = cs
            .watermark
            .as_ref()
            .and_then(|wm| self.watermark(wm, &attributes, &cs.options));
        let io = stream_options(&cs.options, cs.watermark.is_some(), &mut self.diags)
            .map(|o| o.io)
            .unwrap_or(StreamIo::Internal);
        let id = self.plan.streams.len();
        self.plan.streams.push(StreamPlan {
            name: cs.name.name.clone(),
            schema: Schema { attributes },
            origin: StreamOrigin::Declared,
            io,
            span: cs.name.span,
            event_time,
            domain: TimeDomain::Processing,
        });
        self.plan.stream_ids.insert(cs.name.name.clone(), id);
    }

    /// Second pass: queries in order. A query reading a stream that a later query auto-creates is
    /// deferred until that stream exists.
    fn plan_queries(&mut self, statements: &[Statement]) {
        let mut pending: Vec<&Statement> = Vec::new();
        for st in statements {
            match st {
                Statement::Query(_)
                | Statement::Update(_)
                | Statement::Delete(_)
                | Statement::Partition(_) => pending.push(st),
                _ => {}
            }
        }
        loop {
            let targets: HashSet<String> = pending.iter().flat_map(|s| targets_of(s)).collect();
            let mut progressed = false;
            let mut still = Vec::new();
            for st in pending {
                let waits = inputs_of(st)
                    .into_iter()
                    .any(|n| !self.is_known(n) && targets.contains(n));
                if waits {
                    still.push(st);
                } else {
                    self.plan_statement(st);
                    progressed = true;
                }
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            if !progressed {
                // A cycle of auto-created streams: plan them anyway, reporting unknown names.
                for st in pending {
                    self.plan_statement(st);
                }
                break;
            }
        }
    }

    fn is_known(&self, name: &str) -> bool {
        self.plan.stream_id(name).is_some() || self.others.contains_key(name)
    }

    fn poison(&mut self, name: Option<String>) {
        if let Some(n) = name {
            if !self.is_known(&n) {
                self.others.insert(n, OtherName::Poisoned);
            }
        }
    }

    fn plan_statement(&mut self, st: &Statement) {
        match st {
            Statement::Query(q) if self.plan_query(q).is_err() => {
                self.poison(target_name(st));
            }
            Statement::Update(u) => {
                let _ = self.plan_update_statement(u);
            }
            Statement::Delete(d) => {
                let _ = self.plan_delete_statement(d);
            }
            Statement::Partition(p) => self.plan_partition(p),
            _ => {}
        }
    }

    fn plan_partition(&mut self, p: &ast::Partition) {
        let before = self.diags.len();
        let mut keys: HashMap<StreamId, PartitionKeyPlan> = HashMap::new();
        for key in &p.keys {
            let (stream, span) = match key {
                ast::PartitionKey::Value { stream, span, .. }
                | ast::PartitionKey::Range { stream, span, .. } => (stream, *span),
            };
            let Ok(id) = self.resolve_input(stream) else {
                continue;
            };
            if keys.contains_key(&id) {
                self.error(
                    span,
                    format!(
                        "stream '{}' is partitioned twice in this PARTITION",
                        stream.name
                    ),
                );
                continue;
            }
            let schema = self.plan.streams[id].schema.clone();
            let scope = StreamScope {
                stream: &stream.name,
                alias: None,
                schema: &schema,
                probes: None,
            };
            let mut diags = std::mem::take(&mut self.diags);
            let plan = match key {
                ast::PartitionKey::Value { expr, .. } => {
                    match ExprChecker::new(&scope, &mut diags)
                        .in_clause("in a partition key")
                        .check(expr)
                    {
                        Ok(e) if e.ty == Type::Object => {
                            diags.push(Diagnostic::error(
                                expr.span,
                                "a partition key cannot be an OBJECT",
                            ));
                            None
                        }
                        Ok(e) => Some(PartitionKeyPlan::Value(e)),
                        Err(_) => None,
                    }
                }
                ast::PartitionKey::Range { ranges, .. } => {
                    let mut cases = Vec::new();
                    let mut ok = true;
                    for r in ranges {
                        if cases
                            .iter()
                            .any(|(_, l): &(TypedExpr, String)| *l == r.label)
                        {
                            diags.push(Diagnostic::error(
                                r.span,
                                format!("range label '{}' is used twice", r.label),
                            ));
                            ok = false;
                        }
                        match ExprChecker::new(&scope, &mut diags)
                            .in_clause("in a partition range")
                            .condition(&r.condition, "partition range")
                        {
                            Ok(c) => cases.push((c, r.label.clone())),
                            Err(_) => ok = false,
                        }
                    }
                    ok.then_some(PartitionKeyPlan::Range(cases))
                }
            };
            self.diags = diags;
            if let Some(plan) = plan {
                keys.insert(id, plan);
            }
        }
        let mut purge_idle = None;
        for o in &p.options {
            if o.key.eq_ignore_ascii_case("purge.idle") {
                match eventflux_sql::parse_duration_text(&o.value.as_text()) {
                    Some(ms) if ms > 0 => purge_idle = Some(ms),
                    _ => self.error(
                        o.value_span,
                        format!(
                            "option 'purge.idle' must be a duration such as '1 hour', found '{}'",
                            o.value.as_text()
                        ),
                    ),
                }
            } else {
                self.error(
                    o.key_span,
                    format!(
                        "unknown PARTITION option '{}'{}; accepted: purge.idle",
                        o.key,
                        suggestion_suffix(&o.key, ["purge.idle"])
                    ),
                );
            }
        }
        let block = self.partition_blocks;
        self.partition_blocks += 1;
        let failed = self.diags.len() > before;
        self.partition = Some(PartitionContext {
            block,
            keys,
            purge_idle,
        });
        for inner in &p.statements {
            match inner {
                Statement::Query(q) if !failed => {
                    if self.plan_query(q).is_err() {
                        self.poison(target_name(inner));
                    }
                }
                Statement::Query(_) => self.poison(target_name(inner)),
                // Tables are shared by every key; a write runs for the events the partition
                // routes (a range partition drops events outside its ranges).
                Statement::Update(u) if !failed => {
                    let _ = self.plan_update_statement(u);
                }
                Statement::Delete(d) if !failed => {
                    let _ = self.plan_delete_statement(d);
                }
                Statement::Update(_) | Statement::Delete(_) => {}
                other => self.error(
                    other.span(),
                    "only queries may appear inside PARTITION … BEGIN … END",
                ),
            }
        }
        self.partition = None;
    }

    /// The partition a query of the current PARTITION block runs in (none outside a block):
    /// every input stream needs a key.
    fn partition_of(
        &mut self,
        inputs: &[StreamId],
        span: Span,
    ) -> Result<Option<PartitionPlan>, ()> {
        let Some(ctx) = &self.partition else {
            return Ok(None);
        };
        let mut keys = Vec::new();
        for &input in inputs {
            match ctx.keys.get(&input) {
                Some(key) => keys.push((input, key.clone())),
                None => {
                    let name = self.plan.streams[input].name.clone();
                    self.error(
                        span,
                        format!(
                            "stream '{name}' has no key in this PARTITION: add '<attribute> OF {name}' to PARTITION WITH (…)"
                        ),
                    );
                    return Err(());
                }
            }
        }
        Ok(Some(PartitionPlan {
            block: ctx.block,
            keys,
            purge_idle: ctx.purge_idle,
        }))
    }

    /// Plans `FROM PATTERN/SEQUENCE (…)`: the automaton, WHERE on matches, SELECT over aliases.
    fn plan_pattern(
        &mut self,
        q: &ast::Query,
        p: &ast::PatternQuery,
    ) -> Result<(Vec<StreamId>, QueryBody), ()> {
        for (span, what) in [(
            q.group_by.first().map(|e| e.span),
            "GROUP BY over pattern matches",
        )] {
            if let Some(span) = span {
                self.error(span, format!("not supported yet: {what}"));
                return Err(());
            }
        }
        let lookup = PlanLookup {
            plan: &self.plan,
            others: &self.others,
        };
        let mut diags = std::mem::take(&mut self.diags);
        let built = {
            let mut b = PatternBuilder::new(&lookup, &mut diags);
            let declared = b.declare_slots(&p.expr);
            // Each stream's IN tests become columns after its attributes.
            for (id, schema, n) in b.in_table_counts(&p.expr) {
                b.probe_sinks
                    .push((id, ProbeSink::new(&self.plan, schema.len(), n)));
            }
            match declared.and_then(|()| b.build(&p.expr)) {
                Ok(root) => b.check_absences(root, p.span).map(|()| {
                    let probes = b.finish_probes();
                    (root, b.nodes, b.slots, b.streams, probes)
                }),
                Err(()) => Err(()),
            }
        };
        let result = built.and_then(|(root, nodes, slots, streams, probes)| {
            let scope = PatternScope {
                slots: &slots,
                current: None,
                probes: None,
            };
            let condition = clause_condition(&scope, &mut diags, q.where_clause.as_ref(), "WHERE")?;
            let columns = pattern_columns(&q.select, &scope, &slots, &mut diags)?;
            // HAVING and ORDER BY see the output columns (by name); they run in a select step
            // after the pattern, per emission (the matches one event completes).
            let outputs = OutputScope { columns: &columns };
            let having = clause_condition(&outputs, &mut diags, q.having.as_ref(), "HAVING")?;
            let mut order_by = Vec::new();
            for o in &q.order_by {
                let e = ExprChecker::new(&outputs, &mut diags)
                    .in_clause("in ORDER BY")
                    .check(&o.expr)
                    .map_err(|_| ())?;
                order_by.push((e, o.descending));
            }
            let rate = q.output_rate.as_ref().map(|r| RatePlan {
                mode: r.mode,
                every: r.every,
            });
            if let Some(r) = &q.output_rate {
                if r.mode == ast::OutputRateMode::Snapshot {
                    diags.push(Diagnostic::error(
                        r.span,
                        "not supported yet: OUTPUT SNAPSHOT over pattern matches",
                    ));
                    return Err(());
                }
            }
            let plan = PatternPlan {
                mode: p.mode,
                nodes,
                root,
                slots,
                within: p.within.map(|d| d.millis),
                streams: streams.clone(),
                condition,
                outputs: Vec::new(),
                emit: Vec::new(),
                probes,
            };
            Ok((
                streams,
                QueryBody {
                    operators: Vec::new(),
                    input_arity: 0,
                    columns,
                    group_by: Vec::new(),
                    aggregates: Vec::new(),
                    having,
                    order_by,
                    limit: q.limit.map(|c| c.value),
                    offset: q.offset.map_or(0, |c| c.value),
                    rate,
                    needs_select: false,
                    pattern: Some(plan),
                },
            ))
        });
        self.diags = diags;
        result
    }

    fn plan_query(&mut self, q: &ast::Query) -> Result<(), ()> {
        let before = self.diags.len();
        self.queries_seen += 1;
        let (name, options) = self.annotations(&q.annotations, self.queries_seen);

        // Where the rows go: a stream, or a table for the write forms (§10).
        let (target_ident, events) = match &q.output {
            QueryOutput::Default => (None, ast::OutputEvents::Current),
            QueryOutput::Insert { events, target } => (Some(target), *events),
            QueryOutput::Upsert { target }
            | QueryOutput::UpdateOrInsert { target, .. }
            | QueryOutput::Update { target, .. }
            | QueryOutput::Delete { target, .. } => (Some(target), ast::OutputEvents::Current),
        };
        let write_table = match (&q.output, target_ident) {
            (QueryOutput::Insert { .. }, Some(t)) => self.plan.table_id(&t.name),
            (QueryOutput::Default | QueryOutput::Insert { .. }, _) => None,
            (_, Some(t)) => Some(self.write_target(t)?),
            (_, None) => None,
        };

        // What it reads.
        let (inputs, mut body) = match &q.from {
            FromClause::Stream(source) => {
                let input = self.resolve_input(&source.name)?;
                if source.unidirectional {
                    self.error(
                        source.span,
                        "UNIDIRECTIONAL only applies to a side of a join",
                    );
                }
                let schema = self.plan.streams[input].schema.clone();
                let stream_name = self.plan.streams[input].name.clone();
                let sink = ProbeSink::new(&self.plan, schema.len(), count_in_table(q));
                let scope = StreamScope {
                    stream: &stream_name,
                    alias: source.alias.as_ref().map(|a| a.name.as_str()),
                    schema: &schema,
                    probes: Some(&sink),
                };
                let expansion = Expansion::single(&stream_name, scope.alias, &schema);
                let mut diags = std::mem::take(&mut self.diags);
                let body = plan_body(
                    q,
                    Some(source),
                    &scope,
                    &expansion,
                    schema.len() + sink.capacity(),
                    &mut diags,
                );
                self.diags = diags;
                let mut body = body?;
                let probes = sink.finish();
                if !probes.is_empty() {
                    body.operators.insert(0, Operator::TableProbe(probes));
                }
                (vec![input], body)
            }
            FromClause::Join(j) => {
                if events == ast::OutputEvents::Expired {
                    self.error(
                        q.span,
                        "a join emits only current rows (one per match when an event arrives): INSERT EXPIRED EVENTS would insert nothing",
                    );
                    return Err(());
                }
                self.plan_join(q, j)?
            }
            FromClause::Pattern(p) => {
                let (inputs, body) = self.plan_pattern(q, p)?;
                (inputs, body)
            }
        };
        let partition = self.partition_of(&inputs, q.from.span())?;
        let input = inputs[0];
        if self.diags.len() > before {
            return Err(());
        }

        if let Some(table) = write_table {
            return self
                .finish_table_write(q, table, body, inputs, name, options, partition, events);
        }

        // Output stream: declared or earlier auto-created streams must match; otherwise create.
        let target_name = target_ident.map_or(DEFAULT_OUTPUT, |t| t.name.as_str());
        let target_span = target_ident.map_or(q.select.span, |t| t.span);
        let order: Vec<usize> = match self.plan.stream_id(target_name) {
            Some(id) if matches!(self.plan.streams[id].origin, StreamOrigin::Trigger(_)) => {
                self.error(
                    target_span,
                    format!("cannot insert into trigger '{target_name}'"),
                );
                return Err(());
            }
            Some(id) => {
                let (tname, tschema) = (
                    self.plan.streams[id].name.clone(),
                    self.plan.streams[id].schema.clone(),
                );
                self.match_schema(
                    &format!("stream '{tname}'"),
                    &tschema,
                    &mut body.columns,
                    target_span,
                )?
            }
            None => {
                for (_, e) in body.columns.iter_mut() {
                    if e.ty == Type::Null {
                        *e = std::mem::replace(
                            e,
                            TypedExpr::constant(Constant::Null, Type::Null, Span::default()),
                        )
                        .cast_to(Type::String);
                    }
                }
                let id = self.plan.streams.len();
                self.plan.streams.push(StreamPlan {
                    name: target_name.to_string(),
                    schema: Schema {
                        attributes: body
                            .columns
                            .iter()
                            .map(|(n, e)| Attribute {
                                name: n.clone(),
                                ty: e.ty,
                            })
                            .collect(),
                    },
                    origin: StreamOrigin::Auto,
                    io: StreamIo::Internal,
                    span: target_span,
                    event_time: None,
                    domain: TimeDomain::Processing,
                });
                self.plan.stream_ids.insert(target_name.to_string(), id);
                self.others.remove(target_name);
                (0..body.columns.len()).collect()
            }
        };
        let target = self.plan.stream_id(target_name).ok_or(())?;
        let operators = finish_operators(body, order);
        self.plan.queries.push(QueryPlan {
            name,
            span: q.span,
            input,
            inputs,
            operators,
            target: QueryTarget::Stream(target),
            events,
            options,
            partition,
        });
        Ok(())
    }

    fn annotations(
        &mut self,
        anns: &[ast::Annotation],
        query_no: usize,
    ) -> (String, BTreeMap<String, String>) {
        let mut name = None;
        let mut options = BTreeMap::new();
        let mut spans: BTreeMap<String, Span> = BTreeMap::new();
        for a in anns {
            match a.name.name.to_ascii_lowercase().as_str() {
                "name" => match a.args.as_slice() {
                    [(n, _)] => {
                        if self.plan.queries.iter().any(|q| &q.name == n) {
                            self.error(a.span, format!("query name '{n}' is used twice"));
                        }
                        name = Some(n.clone());
                    }
                    _ => self.error(a.span, "@name takes one argument: @name('query-name')"),
                },
                "option" => match a.args.as_slice() {
                    [(k, kspan), (v, vspan)] => {
                        if QUERY_OPTIONS.contains(&k.as_str()) {
                            options.insert(k.clone(), v.clone());
                            spans.insert(k.clone(), *vspan);
                        } else {
                            self.error(
                                *kspan,
                                format!(
                                    "unknown query option '{k}'{}; accepted: {}",
                                    suggestion_suffix(k, QUERY_OPTIONS.iter().copied()),
                                    QUERY_OPTIONS.join(", ")
                                ),
                            );
                        }
                    }
                    _ => self.error(
                        a.span,
                        "@option takes two arguments: @option('key', 'value')",
                    ),
                },
                other => self.error(
                    a.name.span,
                    format!(
                        "unknown annotation '@{other}'{}; accepted: @name, @option",
                        suggestion_suffix(other, ["name", "option"])
                    ),
                ),
            }
        }
        if options.contains_key("error.strategy") || options.contains_key("error.stream") {
            let get = |k: &str| {
                options
                    .get(k)
                    .map(|v| (v.clone(), spans.get(k).copied().unwrap_or_default()))
            };
            if let Some(ErrorStrategy::Stream(s)) =
                self.error_strategy(get("error.strategy"), get("error.stream"))
            {
                let span = spans.get("error.stream").copied().unwrap_or_default();
                self.ensure_error_stream(&s, span);
            }
        }
        (name.unwrap_or_else(|| format!("query-{query_no}")), options)
    }

    fn resolve_input(&mut self, name: &ast::Ident) -> Result<StreamId, ()> {
        if let Some(id) = self.plan.stream_id(&name.name) {
            return Ok(id);
        }
        match self.others.get(&name.name) {
            Some(OtherName::Table) => {
                self.error(
                    name.span,
                    format!(
                        "'{0}' is a table: a query reads a table only in a join (FROM S JOIN {0} ON …) or with IN",
                        name.name
                    ),
                );
                return Err(());
            }
            Some(OtherName::Poisoned) => return Err(()),
            None => {}
        }
        let known: Vec<&str> = self
            .plan
            .streams
            .iter()
            .map(|s| s.name.as_str())
            .chain(self.others.keys().map(String::as_str))
            .collect();
        let hint = suggestion_suffix(&name.name, known.iter().copied());
        self.error(name.span, format!("unknown stream '{}'{hint}", name.name));
        Err(())
    }

    /// Maps a query's output columns onto an existing stream's schema by name; INT may widen to
    /// LONG and FLOAT to DOUBLE (the columns are converted in place). Returns, for each attribute
    /// of the stream, the index of the column that fills it.
    fn match_schema(
        &mut self,
        what: &str,
        schema: &Schema,
        columns: &mut [(String, TypedExpr)],
        span: Span,
    ) -> Result<Vec<usize>, ()> {
        let expected: Vec<String> = schema
            .attributes
            .iter()
            .map(|a| format!("{} {}", a.name, a.ty))
            .collect();
        let found: Vec<String> = columns
            .iter()
            .map(|(n, e)| format!("{n} {}", e.ty))
            .collect();
        let kind = what.split(' ').next().unwrap_or("stream");
        let mismatch = |why: String| {
            format!(
                "query output does not match {what}: {why}; the {kind} has ({}), the query produces ({})",
                expected.join(", "),
                found.join(", ")
            )
        };
        if columns.len() != schema.len() {
            let msg = mismatch(format!(
                "{} attributes expected, found {}",
                schema.len(),
                columns.len()
            ));
            self.error(span, msg);
            return Err(());
        }
        let mut order = Vec::with_capacity(columns.len());
        let mut problems = Vec::new();
        for attr in &schema.attributes {
            match columns.iter().position(|(n, _)| *n == attr.name) {
                None => problems.push(format!("attribute '{}' is missing", attr.name)),
                Some(i) => {
                    let e = &columns[i].1;
                    if !e.ty.assignable_to(attr.ty) && !literal_fits(e, attr.ty) {
                        problems.push(format!(
                            "attribute '{}' is {} but the query gives {}",
                            attr.name, attr.ty, e.ty
                        ));
                    } else {
                        order.push((i, attr.ty));
                    }
                }
            }
        }
        if !problems.is_empty() {
            let msg = mismatch(problems.join(", "));
            self.error(span, msg);
            return Err(());
        }
        for &(i, ty) in &order {
            let e = std::mem::replace(
                &mut columns[i].1,
                TypedExpr::constant(Constant::Null, Type::Null, Span::default()),
            );
            columns[i].1 = e.cast_to(ty);
        }
        Ok(order.into_iter().map(|(i, _)| i).collect())
    }

    /// Rejects query graphs where a stream feeds itself (it would loop forever).
    fn check_cycles(&mut self) {
        let n = self.plan.streams.len();
        let mut edges: Vec<Vec<(StreamId, usize)>> = vec![Vec::new(); n];
        for (qi, q) in self.plan.queries.iter().enumerate() {
            for &input in &q.inputs {
                if let QueryTarget::Stream(t) = q.target {
                    edges[input].push((t, qi));
                }
            }
        }
        // Iterative DFS with colours; report the query closing each cycle once.
        let mut colour = vec![0u8; n];
        let mut reported = HashSet::new();
        for start in 0..n {
            if colour[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, 0usize)];
            colour[start] = 1;
            while let Some((node, idx)) = stack.pop() {
                if idx < edges[node].len() {
                    stack.push((node, idx + 1));
                    let (next, qi) = edges[node][idx];
                    if colour[next] == 1 {
                        if reported.insert(qi) {
                            let q = &self.plan.queries[qi];
                            let msg = format!(
                                "query '{}' inserts into '{}', which feeds its own input: the queries would loop forever",
                                q.name, self.plan.streams[next].name
                            );
                            self.diags.push(Diagnostic::error(q.span, msg));
                        }
                    } else if colour[next] == 0 {
                        colour[next] = 1;
                        stack.push((next, 0));
                    }
                } else {
                    colour[node] = 2;
                }
            }
        }
    }
}

fn literal_fits(e: &TypedExpr, ty: Type) -> bool {
    matches!(&e.kind, TypedExprKind::Constant(c) if ty == Type::Int && matches!(c, crate::expr::Constant::Long(v) if i32::try_from(*v).is_ok()))
}

/// The stream or table a statement writes, if any.
fn target_name(st: &Statement) -> Option<String> {
    match st {
        Statement::Query(q) => Some(match &q.output {
            QueryOutput::Default => DEFAULT_OUTPUT.to_string(),
            QueryOutput::Insert { target, .. }
            | QueryOutput::Upsert { target }
            | QueryOutput::UpdateOrInsert { target, .. }
            | QueryOutput::Update { target, .. }
            | QueryOutput::Delete { target, .. } => target.name.clone(),
        }),
        _ => None,
    }
}

/// Every stream a statement (or the queries of a PARTITION block) writes.
fn targets_of(st: &Statement) -> Vec<String> {
    match st {
        Statement::Partition(p) => p.statements.iter().filter_map(target_name).collect(),
        other => target_name(other).into_iter().collect(),
    }
}

/// Every stream a statement (or the queries of a PARTITION block) reads.
fn inputs_of(st: &Statement) -> Vec<&str> {
    match st {
        Statement::Query(q) => input_names(&q.from),
        Statement::Update(u) => vec![u.source.name.name.as_str()],
        Statement::Delete(d) => vec![d.source.name.name.as_str()],
        Statement::Partition(p) => p.statements.iter().flat_map(inputs_of).collect(),
        _ => Vec::new(),
    }
}

/// The names a FROM clause reads.
fn input_names(from: &FromClause) -> Vec<&str> {
    match from {
        FromClause::Stream(s) => vec![s.name.name.as_str()],
        FromClause::Join(j) => std::iter::once(j.left.name.name.as_str())
            .chain(j.steps.iter().map(|s| s.right.name.name.as_str()))
            .collect(),
        FromClause::Pattern(_) => Vec::new(),
    }
}

/// Name scope of a single-stream query: `attr`, `Stream.attr` and `alias.attr`.
struct StreamScope<'a> {
    stream: &'a str,
    alias: Option<&'a str>,
    schema: &'a Schema,
    /// Where `x IN Table` tests go, when the query can run them.
    probes: Option<&'a ProbeSink>,
}

impl Scope for StreamScope<'_> {
    fn resolve_column(&self, col: &ColumnRef) -> Result<(ColumnSlot, Type), Diagnostic> {
        if col.index.is_some() {
            return Err(Diagnostic::error(
                col.span,
                "indexed access like 'e[0].x' is only allowed on pattern aliases",
            ));
        }
        if let Some(q) = &col.qualifier {
            let ok = q.name == self.stream || Some(q.name.as_str()) == self.alias;
            if !ok {
                let names: Vec<&str> = std::iter::once(self.stream).chain(self.alias).collect();
                return Err(Diagnostic::error(
                    q.span,
                    format!(
                        "unknown stream or alias '{}'{} in this query",
                        q.name,
                        suggestion_suffix(&q.name, names.iter().copied())
                    ),
                ));
            }
        }
        match self.schema.index_of(&col.name.name) {
            Some(i) => Ok((
                ColumnSlot {
                    index: i,
                    display: match &col.qualifier {
                        Some(q) => format!("{}.{}", q.name, col.name.name),
                        None => col.name.name.clone(),
                    },
                },
                self.schema.attributes[i].ty,
            )),
            None => Err(Diagnostic::error(
                col.name.span,
                format!(
                    "unknown attribute '{}' in stream '{}'{}",
                    col.name.name,
                    self.stream,
                    suggestion_suffix(&col.name.name, self.schema.names())
                ),
            )),
        }
    }

    fn in_table(
        &self,
        key: &ast::Expr,
        table: &ast::Ident,
        span: Span,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Result<TypedExpr, crate::resolve::Failed>> {
        self.probes
            .map(|sink| sink.probe(self, key, table, span, diags))
    }
}

/// Output columns being collected; a name selected twice is an error.
struct Columns<'d> {
    out: Vec<(String, TypedExpr)>,
    ok: bool,
    diags: &'d mut Vec<Diagnostic>,
}

impl Columns<'_> {
    fn push(&mut self, name: String, e: TypedExpr, span: Span) {
        if self.out.iter().any(|(n, _)| *n == name) {
            self.diags.push(Diagnostic::error(
                span,
                format!("output attribute '{name}' is selected twice; rename one with AS"),
            ));
            self.ok = false;
        } else {
            self.out.push((name, e));
        }
    }

    /// Adds `(output name, display, slot, type)` columns (a wildcard's expansion).
    fn all_of(&mut self, cols: &[(String, String, usize, Type)], span: Span) {
        for (name, display, index, ty) in cols {
            let e = TypedExpr {
                kind: TypedExprKind::Column(ColumnSlot {
                    index: *index,
                    display: display.clone(),
                }),
                ty: *ty,
                span,
            };
            self.push(name.clone(), e, span);
        }
    }

    fn fail(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, msg));
        self.ok = false;
    }
}

/// Checks SELECT items and names each output column (§3: alias, else the attribute name).
fn select_columns(
    select: &ast::Select,
    scope: &dyn Scope,
    expansion: &Expansion,
    diags: &mut Vec<Diagnostic>,
    sink: &mut AggregateSink<'_>,
) -> Result<Vec<(String, TypedExpr)>, ()> {
    let mut cols = Columns {
        out: Vec::new(),
        ok: true,
        diags,
    };
    for item in &select.items {
        match item {
            SelectItem::Wildcard(span) => cols.all_of(&expansion.all, *span),
            SelectItem::QualifiedWildcard(q) => match expansion.qualified(&q.name) {
                Some(c) => cols.all_of(c, q.span),
                None => {
                    cols.fail(
                        q.span,
                        format!("unknown stream or alias '{}' in this query", q.name),
                    );
                }
            },
            SelectItem::Expr { expr, alias } => {
                let Ok(e) = ExprChecker::with_aggregates(scope, cols.diags, sink).check(expr)
                else {
                    cols.ok = false;
                    continue;
                };
                let name = match (alias, &expr.kind) {
                    (Some(a), _) => a.name.clone(),
                    (None, ast::ExprKind::Column(c)) => c.name.name.clone(),
                    (None, _) => {
                        cols.fail(
                            expr.span,
                            "this expression needs a name in the output: add AS <name>",
                        );
                        continue;
                    }
                };
                let span = alias.as_ref().map_or(expr.span, |a| a.span);
                cols.push(name, e, span);
            }
        }
    }
    if cols.ok {
        Ok(cols.out)
    } else {
        Err(())
    }
}

/// The clock a query runs on: the event-time domain of its inputs when they all share one,
/// otherwise processing time.
pub fn query_domain(plan: &AppPlan, q: &QueryPlan) -> TimeDomain {
    let first = plan.streams[q.input].domain;
    if q.inputs.iter().all(|&i| plan.streams[i].domain == first) {
        first
    } else {
        TimeDomain::Processing
    }
}

/// Stream lookup for pattern elements, with the same messages as FROM.
struct PlanLookup<'a> {
    plan: &'a AppPlan,
    others: &'a HashMap<String, OtherName>,
}

impl StreamLookup for PlanLookup<'_> {
    fn lookup(&self, name: &ast::Ident) -> Result<(StreamId, String, Schema), Diagnostic> {
        if let Some(id) = self.plan.stream_id(&name.name) {
            let s = &self.plan.streams[id];
            return Ok((id, s.name.clone(), s.schema.clone()));
        }
        let msg = match self.others.get(&name.name) {
            Some(OtherName::Table) => {
                format!("not supported yet: tables in patterns ('{}')", name.name)
            }
            _ => {
                let known = self.plan.streams.iter().map(|s| s.name.as_str());
                format!(
                    "unknown stream '{}'{}",
                    name.name,
                    suggestion_suffix(&name.name, known)
                )
            }
        };
        Err(Diagnostic::error(name.span, msg))
    }
}

/// Output columns of a pattern query: aliases' attributes and collection aggregates.
fn pattern_columns(
    select: &ast::Select,
    scope: &PatternScope<'_>,
    slots: &[crate::pattern::PatternSlot],
    diags: &mut Vec<Diagnostic>,
) -> Result<Vec<(String, TypedExpr)>, ()> {
    let mut cols = Columns {
        out: Vec::new(),
        ok: true,
        diags,
    };
    for item in &select.items {
        match item {
            SelectItem::Wildcard(span) => {
                // `*`: every attribute of every alias, named alias_attr when names collide.
                for (si, slot) in slots.iter().enumerate() {
                    for (ai, a) in slot.schema.attributes.iter().enumerate() {
                        let clash = slots
                            .iter()
                            .enumerate()
                            .any(|(o, s)| o != si && s.schema.index_of(&a.name).is_some());
                        let name = if clash {
                            format!("{}_{}", slot.alias, a.name)
                        } else {
                            a.name.clone()
                        };
                        let e = TypedExpr {
                            kind: TypedExprKind::PatternAttr {
                                slot: si,
                                index: crate::expr::EventPick::First,
                                attr: ai,
                                display: format!("{}.{}", slot.alias, a.name),
                            },
                            ty: a.ty,
                            span: *span,
                        };
                        cols.push(name, e, *span);
                    }
                }
            }
            SelectItem::QualifiedWildcard(q) => match slots
                .iter()
                .position(|s| s.alias == q.name || s.stream_name == q.name)
            {
                Some(si) => {
                    for (ai, a) in slots[si].schema.attributes.iter().enumerate() {
                        let e = TypedExpr {
                            kind: TypedExprKind::PatternAttr {
                                slot: si,
                                index: crate::expr::EventPick::First,
                                attr: ai,
                                display: format!("{}.{}", q.name, a.name),
                            },
                            ty: a.ty,
                            span: q.span,
                        };
                        cols.push(a.name.clone(), e, q.span);
                    }
                }
                None => cols.fail(q.span, format!("unknown pattern alias '{}'", q.name)),
            },
            SelectItem::Expr { expr, alias } => {
                let Ok(e) = ExprChecker::new(scope, cols.diags).check(expr) else {
                    cols.ok = false;
                    continue;
                };
                let name = match (alias, &expr.kind) {
                    (Some(a), _) => a.name.clone(),
                    (None, ast::ExprKind::Column(c)) => c.name.name.clone(),
                    (None, _) => {
                        cols.fail(
                            expr.span,
                            "this expression needs a name in the output: add AS <name>",
                        );
                        continue;
                    }
                };
                let span = alias.as_ref().map_or(expr.span, |a| a.span);
                cols.push(name, e, span);
            }
        }
    }
    if cols.ok {
        Ok(cols.out)
    } else {
        Err(())
    }
}

/// Number of output columns a SELECT list produces (wildcards expanded).
fn select_width(select: &ast::Select, expansion: &Expansion) -> usize {
    select
        .items
        .iter()
        .map(|i| match i {
            SelectItem::Wildcard(_) => expansion.all.len(),
            SelectItem::QualifiedWildcard(q) => expansion.qualified(&q.name).map_or(0, <[_]>::len),
            SelectItem::Expr { .. } => 1,
        })
        .sum()
}

/// Output aliases visible in HAVING and ORDER BY, falling back to the input attributes.
/// A clause's condition (`WHERE`, `HAVING`), checked in `scope`, if the query has the clause.
fn clause_condition(
    scope: &dyn Scope,
    diags: &mut Vec<Diagnostic>,
    clause: Option<&ast::Expr>,
    name: &'static str,
) -> Result<Option<TypedExpr>, ()> {
    let context = if name == "WHERE" {
        "in WHERE"
    } else {
        "in HAVING"
    };
    clause
        .map(|e| {
            ExprChecker::new(scope, diags)
                .in_clause(context)
                .condition(e, name)
                .map_err(|_| ())
        })
        .transpose()
}

/// The output columns of a pattern query, by name (for its HAVING and ORDER BY).
struct OutputScope<'a> {
    columns: &'a [(String, TypedExpr)],
}

impl Scope for OutputScope<'_> {
    fn resolve_column(&self, col: &ColumnRef) -> Result<(ColumnSlot, Type), Diagnostic> {
        let names = || self.columns.iter().map(|(n, _)| n.as_str());
        if col.qualifier.is_some() || col.index.is_some() {
            return Err(Diagnostic::error(
                col.span,
                format!(
                    "HAVING and ORDER BY of a pattern query use its output columns ({}); select '{}' with an alias and use the alias",
                    names().collect::<Vec<_>>().join(", "),
                    match &col.qualifier {
                        Some(q) => format!("{}.{}", q.name, col.name.name),
                        None => col.name.name.clone(),
                    }
                ),
            ));
        }
        match self.columns.iter().position(|(n, _)| *n == col.name.name) {
            Some(i) => Ok((
                ColumnSlot {
                    index: i,
                    display: col.name.name.clone(),
                },
                self.columns[i].1.ty,
            )),
            None => Err(Diagnostic::error(
                col.span,
                format!(
                    "unknown output column '{}'{}; HAVING and ORDER BY of a pattern query use its output columns ({})",
                    col.name.name,
                    suggestion_suffix(&col.name.name, names()),
                    names().collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }
}

struct AliasScope<'a> {
    base: &'a dyn Scope,
    /// Input attribute names, for suggestions.
    base_names: Vec<String>,
    /// (name, slot, type)
    aliases: Vec<(String, usize, Type)>,
}

impl Scope for AliasScope<'_> {
    fn resolve_column(&self, col: &ColumnRef) -> Result<(ColumnSlot, Type), Diagnostic> {
        if col.qualifier.is_none() {
            if let Some((name, slot, ty)) =
                self.aliases.iter().find(|(n, _, _)| *n == col.name.name)
            {
                return Ok((
                    ColumnSlot {
                        index: *slot,
                        display: name.clone(),
                    },
                    *ty,
                ));
            }
        }
        self.base.resolve_column(col).map_err(|mut d| {
            if col.qualifier.is_none() {
                let names = self
                    .aliases
                    .iter()
                    .map(|(n, _, _)| n.as_str())
                    .chain(self.base_names.iter().map(String::as_str));
                let hint = suggestion_suffix(&col.name.name, names);
                if !d.message.starts_with("ambiguous") {
                    d.message = format!(
                        "unknown attribute or output alias '{}'{hint}",
                        col.name.name
                    );
                }
            }
            d
        })
    }

    fn in_table(
        &self,
        key: &ast::Expr,
        table: &ast::Ident,
        span: Span,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Result<TypedExpr, crate::resolve::Failed>> {
        self.base.in_table(key, table, span, diags)
    }
}

/// Everything of a query between its input and its output stream.
struct QueryBody {
    operators: Vec<Operator>,
    /// Width of the rows the select step reads (input attributes and IN-table columns).
    input_arity: usize,
    columns: Vec<(String, TypedExpr)>,
    group_by: Vec<TypedExpr>,
    aggregates: Vec<crate::plan::AggregateCall>,
    having: Option<TypedExpr>,
    order_by: Vec<(TypedExpr, bool)>,
    limit: Option<u64>,
    offset: u64,
    rate: Option<RatePlan>,
    /// Grouping, aggregation, HAVING, ORDER BY or LIMIT need a select step; otherwise a plain
    /// projection does.
    needs_select: bool,
    /// Set for pattern queries: the compiled pattern (its outputs are filled in last).
    pattern: Option<PatternPlan>,
}

fn plan_body(
    q: &ast::Query,
    source: Option<&ast::StreamRef>,
    scope: &StreamScope<'_>,
    expansion: &Expansion,
    input_arity: usize,
    diags: &mut Vec<Diagnostic>,
) -> Result<QueryBody, ()> {
    plan_body_in(
        q,
        source.map(|s| (s, scope.schema, scope.stream)),
        scope,
        expansion,
        input_arity,
        diags,
    )
}

/// Plans WHERE, the window of `source` (single-stream queries), GROUP BY, SELECT, HAVING,
/// ORDER BY, LIMIT and OUTPUT over rows of `input_arity` columns resolved by `scope`.
fn plan_body_in(
    q: &ast::Query,
    source: Option<(&ast::StreamRef, &Schema, &str)>,
    scope: &dyn Scope,
    expansion: &Expansion,
    input_arity: usize,
    diags: &mut Vec<Diagnostic>,
) -> Result<QueryBody, ()> {
    let before = diags.len();
    let mut operators = Vec::new();
    {
        if let Some(f) = source.and_then(|s| s.0.filter.as_ref()) {
            if let Ok(e) = ExprChecker::new(scope, diags)
                .in_clause("in a stream filter")
                .condition(f, "filter")
            {
                operators.push(Operator::Filter(e));
            }
        }
        if let Some(w) = &q.where_clause {
            if let Ok(e) = ExprChecker::new(scope, diags)
                .in_clause("in WHERE")
                .condition(w, "WHERE")
            {
                operators.push(Operator::Filter(e));
            }
        }
    }
    if let Some((src, schema, stream)) = source {
        if let Some(w) = &src.window {
            if let Some(plan) = check_window(w, schema, stream, diags) {
                operators.push(Operator::Window(plan));
            }
        }
    }
    let mut group_by = Vec::new();
    for g in &q.group_by {
        if let Ok(e) = ExprChecker::new(scope, diags)
            .in_clause("in GROUP BY")
            .check(g)
        {
            group_by.push(e);
        }
    }
    let width = select_width(&q.select, expansion);
    let mut sink = AggregateSink {
        arg_scope: scope,
        base: input_arity + width,
        calls: Vec::new(),
    };
    let columns = select_columns(&q.select, scope, expansion, diags, &mut sink);
    let columns = columns?;
    let alias_scope = AliasScope {
        base: scope,
        base_names: expansion.all.iter().map(|c| c.0.clone()).collect(),
        aliases: columns
            .iter()
            .enumerate()
            .map(|(i, (n, e))| (n.clone(), input_arity + i, e.ty))
            .collect(),
    };
    let having = match &q.having {
        Some(h) => ExprChecker::with_aggregates(&alias_scope, diags, &mut sink)
            .condition(h, "HAVING")
            .ok(),
        None => None,
    };
    let mut order_by = Vec::new();
    for o in &q.order_by {
        if let Ok(e) = ExprChecker::with_aggregates(&alias_scope, diags, &mut sink).check(&o.expr) {
            if e.ty == Type::Object {
                diags.push(Diagnostic::error(o.span, "OBJECT values cannot be ordered"));
            }
            order_by.push((e, o.descending));
        }
    }
    let rate = q.output_rate.as_ref().map(|r| {
        if let ast::RateUnit::Events(0) = r.every {
            diags.push(Diagnostic::error(
                r.span,
                "OUTPUT EVERY needs a positive number of events",
            ));
        }
        RatePlan {
            mode: r.mode,
            every: r.every,
        }
    });
    if let Some(r) = &q.output_rate {
        if r.mode == ast::OutputRateMode::Snapshot && matches!(r.every, ast::RateUnit::Events(_)) {
            diags.push(Diagnostic::error(
                r.span,
                "OUTPUT SNAPSHOT takes a duration: OUTPUT SNAPSHOT EVERY 5 sec",
            ));
        }
    }
    if diags.len() > before {
        return Err(());
    }
    let aggregates = sink.calls;
    let needs_select = !aggregates.is_empty()
        || !group_by.is_empty()
        || having.is_some()
        || !order_by.is_empty()
        || q.limit.is_some()
        || q.offset.is_some();
    Ok(QueryBody {
        operators,
        input_arity,
        columns,
        group_by,
        aggregates,
        having,
        order_by,
        limit: q.limit.map(|c| c.value),
        offset: q.offset.map_or(0, |c| c.value),
        rate,
        needs_select,
        pattern: None,
    })
}

/// The operators of a query after its input: the pattern, select step or projection (with the
/// target's attribute `order`) and the rate limiter.
fn finish_operators(mut body: QueryBody, order: Vec<usize>) -> Vec<Operator> {
    let mut operators = std::mem::take(&mut body.operators);
    if let Some(mut pattern) = body.pattern.take() {
        let per_emission = body.having.is_some()
            || !body.order_by.is_empty()
            || body.limit.is_some()
            || body.offset > 0;
        if per_emission {
            // The pattern emits every column; a select step filters, sorts and cuts each
            // emission, then puts the columns in the target's order.
            let n = body.columns.len();
            let outputs = body
                .columns
                .iter()
                .enumerate()
                .map(|(i, (name, e))| {
                    let col = TypedExpr {
                        kind: TypedExprKind::Column(crate::expr::ColumnSlot {
                            index: i,
                            display: name.clone(),
                        }),
                        ty: e.ty,
                        span: e.span,
                    };
                    (name.clone(), col)
                })
                .collect();
            pattern.outputs = body.columns;
            pattern.emit = (0..n).collect();
            operators.push(Operator::Pattern(Box::new(pattern)));
            operators.push(Operator::Select(SelectPlan {
                input_arity: n,
                group_by: Vec::new(),
                aggregates: Vec::new(),
                outputs,
                emit: order,
                having: body.having,
                order_by: body.order_by,
                limit: body.limit,
                offset: body.offset,
            }));
        } else {
            pattern.outputs = body.columns;
            pattern.emit = order;
            operators.push(Operator::Pattern(Box::new(pattern)));
        }
    } else if body.needs_select {
        operators.push(Operator::Select(SelectPlan {
            input_arity: body.input_arity,
            group_by: body.group_by,
            aggregates: body.aggregates,
            outputs: body.columns,
            emit: order,
            having: body.having,
            order_by: body.order_by,
            limit: body.limit,
            offset: body.offset,
        }));
    } else {
        let mut cols: Vec<Option<(String, TypedExpr)>> =
            body.columns.into_iter().map(Some).collect();
        let projection = order.iter().filter_map(|&i| cols[i].take()).collect();
        operators.push(Operator::Project(projection));
    }
    if let Some(rate) = body.rate {
        operators.push(Operator::Rate(rate));
    }
    operators
}
