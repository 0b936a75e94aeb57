//! Checking `FROM PATTERN (…)` / `FROM SEQUENCE (…)` (§11) and compiling it into the node tree
//! the runtime automaton interprets (see docs/patterns.md).

use crate::expr::{ColumnSlot, EventPick, TypedExpr, TypedExprKind};
use crate::functions::AggregateFn;
use crate::plan::{Schema, StreamId};
use crate::resolve::{ExprChecker, Scope};
use crate::types::Type;
use eventflux_sql::ast::{self, ColumnRef, EventIndex, Expr, ExprKind, PatternExpr, PatternMode};
use eventflux_sql::{suggestion_suffix, Diagnostic, Span};
use std::fmt::Write as _;

/// An alias of the pattern and the events it binds.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternSlot {
    pub alias: String,
    pub stream: StreamId,
    pub stream_name: String,
    pub schema: Schema,
    /// Bound to several events (a quantifier other than exactly one).
    pub counted: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PatternNode {
    Element {
        slot: usize,
        stream: StreamId,
        filter: Option<TypedExpr>,
        min: u32,
        max: Option<u32>,
    },
    Absent {
        stream: StreamId,
        filter: Option<TypedExpr>,
        duration: Option<i64>,
    },
    Seq(Vec<usize>),
    And(usize, usize),
    Or(usize, usize),
    Every(usize),
}

/// A compiled pattern with its selection.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternPlan {
    pub mode: PatternMode,
    pub nodes: Vec<PatternNode>,
    pub root: usize,
    pub slots: Vec<PatternSlot>,
    pub within: Option<i64>,
    /// Distinct input streams, in order of first appearance.
    pub streams: Vec<StreamId>,
    /// WHERE on complete matches.
    pub condition: Option<TypedExpr>,
    /// Output columns in SELECT order, and the order the target stream wants them in.
    pub outputs: Vec<(String, TypedExpr)>,
    pub emit: Vec<usize>,
    /// `x IN Table` tests of element and absence filters, per input stream: each stream's
    /// events get one BOOL column per test after their attributes before the pattern sees them.
    /// (stream, its arity, its tests)
    pub probes: Vec<(StreamId, usize, Vec<crate::join::TableProbe>)>,
}

impl PatternPlan {
    /// Whether the pattern has an EVERY anywhere (otherwise it matches once).
    pub fn has_every(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| matches!(n, PatternNode::Every(_)))
    }

    /// Whether the pattern has the two-step shape the runtime runs on its fast path:
    /// `EVERY e1=A[f] -> e2=B[g]` or `EVERY e1=A[f] -> NOT B[g] FOR d` (optional WITHIN), in
    /// PATTERN mode.
    pub fn is_two_step(&self) -> bool {
        if self.mode != PatternMode::Pattern {
            return false;
        }
        let PatternNode::Seq(steps) = &self.nodes[self.root] else {
            return false;
        };
        let [every, second] = steps.as_slice() else {
            return false;
        };
        let first_ok = matches!(&self.nodes[*every], PatternNode::Every(c)
            if matches!(self.nodes[*c], PatternNode::Element { min: 1, max: Some(1), .. }));
        let second_ok = matches!(
            self.nodes[*second],
            PatternNode::Element {
                min: 1,
                max: Some(1),
                ..
            } | PatternNode::Absent {
                duration: Some(_),
                ..
            }
        );
        first_ok && second_ok
    }

    /// The automaton as text, for `eventflux explain`.
    pub fn describe(&self, stream_names: &dyn Fn(StreamId) -> String) -> String {
        let mut out = String::new();
        let mode = match self.mode {
            PatternMode::Pattern => "pattern (relaxed: non-matching events are ignored)",
            PatternMode::Sequence => "sequence (strict: the next event must match the next step)",
        };
        let _ = writeln!(out, "      automaton: {mode}");
        if self.is_two_step() {
            let _ = writeln!(
                out,
                "      runs on the two-step fast path (unless 'pattern.fast_path' = 'false')"
            );
        }
        if let Some(w) = self.within {
            let _ = writeln!(out, "      within {w} ms of the first bound event");
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let root = if i == self.root { " (root)" } else { "" };
            let text = match n {
                PatternNode::Element {
                    slot,
                    stream,
                    filter,
                    min,
                    max,
                } => {
                    let q = match (min, max) {
                        (1, Some(1)) => String::new(),
                        (m, Some(x)) => format!(" {{{m},{x}}}"),
                        (m, None) => format!(" {{{m},}}"),
                    };
                    let f = filter
                        .as_ref()
                        .map(|f| format!(" [{f}]"))
                        .unwrap_or_default();
                    format!(
                        "bind {} = {}{f}{q}",
                        self.slots[*slot].alias,
                        stream_names(*stream)
                    )
                }
                PatternNode::Absent {
                    stream,
                    filter,
                    duration,
                } => {
                    let f = filter
                        .as_ref()
                        .map(|f| format!(" [{f}]"))
                        .unwrap_or_default();
                    match duration {
                        Some(d) => {
                            format!("absent {}{f} for {d} ms (timer)", stream_names(*stream))
                        }
                        None => format!(
                            "absent {}{f} (until the AND completes)",
                            stream_names(*stream)
                        ),
                    }
                }
                PatternNode::Seq(steps) => {
                    let s: Vec<String> = steps.iter().map(|s| format!("s{s}")).collect();
                    format!("sequence {}", s.join(" -> "))
                }
                PatternNode::And(l, r) => format!("all of s{l}, s{r} (any order)"),
                PatternNode::Or(l, r) => format!("first of s{l}, s{r}"),
                PatternNode::Every(n) => {
                    format!("every: each event beginning s{n} starts a new instance")
                }
            };
            let _ = writeln!(out, "      s{i}{root}: {text}");
        }
        out
    }

    /// The automaton as a Graphviz subgraph body.
    pub fn dot(&self, prefix: &str, stream_names: &dyn Fn(StreamId) -> String) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let (label, shape) = match n {
                PatternNode::Element {
                    slot,
                    stream,
                    min,
                    max,
                    ..
                } => {
                    let q = match (min, max) {
                        (1, Some(1)) => String::new(),
                        (m, Some(x)) => format!("{{{m},{x}}}"),
                        (m, None) => format!("{{{m},}}"),
                    };
                    (
                        format!("{}={}{q}", self.slots[*slot].alias, stream_names(*stream)),
                        "box",
                    )
                }
                PatternNode::Absent {
                    stream, duration, ..
                } => (
                    match duration {
                        Some(d) => format!("NOT {} FOR {d}ms", stream_names(*stream)),
                        None => format!("NOT {}", stream_names(*stream)),
                    },
                    "box",
                ),
                PatternNode::Seq(_) => ("->".to_string(), "circle"),
                PatternNode::And(..) => ("AND".to_string(), "diamond"),
                PatternNode::Or(..) => ("OR".to_string(), "diamond"),
                PatternNode::Every(_) => ("EVERY".to_string(), "doublecircle"),
            };
            let _ = writeln!(
                out,
                "    {prefix}n{i} [shape={shape}, label=\"{}\"];",
                label.replace('"', "\\\"")
            );
            let children: Vec<usize> = match n {
                PatternNode::Seq(s) => s.clone(),
                PatternNode::And(l, r) | PatternNode::Or(l, r) => vec![*l, *r],
                PatternNode::Every(c) => vec![*c],
                _ => Vec::new(),
            };
            for (k, c) in children.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    {prefix}n{i} -> {prefix}n{c} [label=\"{}\"];",
                    k + 1
                );
            }
        }
        out
    }
}

/// Streams and schemas the pattern may name.
pub trait StreamLookup {
    fn lookup(&self, name: &ast::Ident) -> Result<(StreamId, String, Schema), Diagnostic>;
}

/// Name resolution inside a pattern query: aliases (and stream names standing for them), and,
/// inside an element's filter or an absence, the event being tested.
pub struct PatternScope<'a> {
    pub slots: &'a [PatternSlot],
    /// The element being matched: its slot (None for an absence) and stream schema.
    pub current: Option<(Option<usize>, &'a str, &'a Schema)>,
    /// Where `x IN Table` tests of the current element's filter go.
    pub(crate) probes: Option<&'a crate::builder::ProbeSink>,
}

impl PatternScope<'_> {
    /// The slot an alias or stream name refers to.
    fn slot_of(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.alias == name).or_else(|| {
            let mut by_stream = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.stream_name == name);
            match (by_stream.next(), by_stream.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        })
    }

    fn unknown_alias(&self, q: &ast::Ident) -> Diagnostic {
        let names = self.slots.iter().map(|s| s.alias.as_str());
        Diagnostic::error(
            q.span,
            format!(
                "unknown pattern alias '{}'{}",
                q.name,
                suggestion_suffix(&q.name, names)
            ),
        )
    }

    fn attr_of(&self, slot: usize, name: &ast::Ident) -> Result<(usize, Type), Diagnostic> {
        let s = &self.slots[slot];
        match s.schema.index_of(&name.name) {
            Some(i) => Ok((i, s.schema.attributes[i].ty)),
            None => Err(Diagnostic::error(
                name.span,
                format!(
                    "unknown attribute '{}' in stream '{}' (alias '{}'){}",
                    name.name,
                    s.stream_name,
                    s.alias,
                    suggestion_suffix(&name.name, s.schema.names())
                ),
            )),
        }
    }
}

fn pick(index: Option<EventIndex>) -> EventPick {
    match index {
        None => EventPick::First,
        Some(EventIndex::At(n)) => EventPick::At(n),
        Some(EventIndex::Last) => EventPick::Last,
        Some(EventIndex::FromLast(n)) => EventPick::FromLast(n),
    }
}

impl Scope for PatternScope<'_> {
    fn in_table(
        &self,
        key: &Expr,
        table: &ast::Ident,
        span: Span,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Result<TypedExpr, crate::resolve::Failed>> {
        let sink = self.probes?;
        let key_scope = PatternScope {
            probes: None,
            ..*self
        };
        // The test runs before the pattern sees the event: its key may use only that event.
        let checked = ExprChecker::new(&key_scope, diags).check(key);
        if let Ok(k) = &checked {
            let mut other = false;
            crate::join::walk(k, &mut |x| {
                other |= matches!(
                    x.kind,
                    TypedExprKind::PatternAttr { .. } | TypedExprKind::PatternAggregate { .. }
                )
            });
            if other {
                diags.push(Diagnostic::error(
                    key.span,
                    "the value tested by IN in a pattern filter may use only the event being matched",
                ));
                return Some(Err(crate::resolve::Failed));
            }
        }
        Some(sink.probe(&key_scope, key, table, span, diags))
    }

    fn resolve_column(&self, col: &ColumnRef) -> Result<(ColumnSlot, Type), Diagnostic> {
        // Only the current event is a plain row; aliases go through `resolve`.
        let Some((_, stream, schema)) = self.current else {
            return Err(Diagnostic::error(col.span, "internal: no current event"));
        };
        match schema.index_of(&col.name.name) {
            Some(i) => Ok((
                ColumnSlot {
                    index: i,
                    display: col.name.name.clone(),
                },
                schema.attributes[i].ty,
            )),
            None => Err(Diagnostic::error(
                col.name.span,
                format!(
                    "unknown attribute '{}' in stream '{stream}'{}",
                    col.name.name,
                    suggestion_suffix(&col.name.name, schema.names())
                ),
            )),
        }
    }

    fn resolve(&self, col: &ColumnRef, span: Span) -> Result<TypedExpr, Diagnostic> {
        let display = expr_display(col);
        let Some(q) = &col.qualifier else {
            if col.index.is_some() {
                return Err(Diagnostic::error(
                    col.span,
                    "indexed access needs an alias: e1[0].x",
                ));
            }
            // Unqualified: the current event, else the only alias having that attribute.
            if let Some((_, _, schema)) = self.current {
                if schema.index_of(&col.name.name).is_some() {
                    let (slot, ty) = self.resolve_column(col)?;
                    return Ok(TypedExpr {
                        kind: TypedExprKind::Column(slot),
                        ty,
                        span,
                    });
                }
            }
            let owners: Vec<usize> = (0..self.slots.len())
                .filter(|&s| self.slots[s].schema.index_of(&col.name.name).is_some())
                .collect();
            return match owners.as_slice() {
                [slot] => {
                    let (attr, ty) = self.attr_of(*slot, &col.name)?;
                    Ok(TypedExpr {
                        kind: TypedExprKind::PatternAttr {
                            slot: *slot,
                            index: EventPick::First,
                            attr,
                            display,
                        },
                        ty,
                        span,
                    })
                }
                [] => {
                    let names = self.slots.iter().flat_map(|s| s.schema.names());
                    Err(Diagnostic::error(
                        col.name.span,
                        format!(
                            "unknown attribute '{}' in this pattern{}",
                            col.name.name,
                            suggestion_suffix(&col.name.name, names)
                        ),
                    ))
                }
                _ => Err(Diagnostic::error(
                    col.name.span,
                    format!(
                        "'{}' is ambiguous here: qualify it with an alias (e1.{})",
                        col.name.name, col.name.name
                    ),
                )),
            };
        };
        // The element's own alias or stream, without an index: the event being tested.
        if let Some((cur_slot, stream, _)) = self.current {
            let own = match cur_slot {
                Some(s) => self.slots[s].alias == q.name || q.name == stream,
                None => q.name == stream,
            };
            if own && col.index.is_none() {
                let (slot, ty) = self.resolve_column(col)?;
                return Ok(TypedExpr {
                    kind: TypedExprKind::Column(slot),
                    ty,
                    span,
                });
            }
        }
        let Some(slot) = self.slot_of(&q.name) else {
            let aliases: Vec<&str> = self
                .slots
                .iter()
                .filter(|s| s.stream_name == q.name)
                .map(|s| s.alias.as_str())
                .collect();
            if aliases.len() > 1 {
                return Err(Diagnostic::error(
                    q.span,
                    format!(
                        "'{}' is ambiguous here: stream '{}' is bound by more than one alias ({}); use the alias",
                        q.name,
                        q.name,
                        aliases.join(", ")
                    ),
                ));
            }
            return Err(self.unknown_alias(q));
        };
        let (attr, ty) = self.attr_of(slot, &col.name)?;
        Ok(TypedExpr {
            kind: TypedExprKind::PatternAttr {
                slot,
                index: pick(col.index),
                attr,
                display,
            },
            ty,
            span,
        })
    }

    fn collection_aggregate(
        &self,
        func: AggregateFn,
        args: &[Expr],
        span: Span,
    ) -> Option<Result<TypedExpr, Diagnostic>> {
        let [arg] = args else {
            return None;
        };
        let ExprKind::Column(col) = &arg.kind else {
            return None;
        };
        let (slot, attr) = match &col.qualifier {
            // count(e1): a bare alias.
            None => (self.slot_of(&col.name.name)?, None),
            Some(q) => (self.slot_of(&q.name)?, Some(&col.name)),
        };
        let attr = match attr {
            None => None,
            Some(name) => match self.attr_of(slot, name) {
                Ok(a) => Some(a),
                Err(d) => return Some(Err(d)),
            },
        };
        let ty = match (func, attr) {
            (AggregateFn::Count, _) => Type::Long,
            (_, None) => {
                return Some(Err(Diagnostic::error(
                    span,
                    format!(
                        "'{}' over a pattern alias needs an attribute: {}(e1.x)",
                        func.name(),
                        func.name()
                    ),
                )))
            }
            (AggregateFn::Sum, Some((_, t))) if t.is_numeric() => {
                if matches!(t, Type::Float | Type::Double) {
                    Type::Double
                } else {
                    Type::Long
                }
            }
            (AggregateFn::Avg | AggregateFn::Stddev, Some((_, t))) if t.is_numeric() => {
                Type::Double
            }
            (
                AggregateFn::Min | AggregateFn::Max | AggregateFn::First | AggregateFn::Last,
                Some((_, t)),
            ) => t,
            (AggregateFn::DistinctCount, Some(_)) => Type::Long,
            (f, Some((_, t))) => {
                return Some(Err(Diagnostic::error(
                    span,
                    format!(
                        "aggregate '{}' is not available over pattern alias attributes of type {t}",
                        f.name()
                    ),
                )))
            }
        };
        let display = format!(
            "{}({})",
            func.name(),
            match &col.qualifier {
                Some(q) => format!("{}.{}", q.name, col.name.name),
                None => col.name.name.clone(),
            }
        );
        Some(Ok(TypedExpr {
            kind: TypedExprKind::PatternAggregate {
                func,
                slot,
                attr: attr.map(|(a, _)| a),
                display,
            },
            ty,
            span,
        }))
    }
}

fn expr_display(col: &ColumnRef) -> String {
    let mut t = String::new();
    if let Some(q) = &col.qualifier {
        t.push_str(&q.name);
        match col.index {
            None => {}
            Some(EventIndex::At(n)) => t.push_str(&format!("[{n}]")),
            Some(EventIndex::Last) => t.push_str("[last]"),
            Some(EventIndex::FromLast(n)) => t.push_str(&format!("[last-{n}]")),
        }
        t.push('.');
    }
    t.push_str(&col.name.name);
    t
}

/// Builds the pattern tree. Elements are given slots first (so filters may refer to any alias).
pub struct PatternBuilder<'a> {
    pub lookup: &'a dyn StreamLookup,
    pub diags: &'a mut Vec<Diagnostic>,
    pub nodes: Vec<PatternNode>,
    pub slots: Vec<PatternSlot>,
    pub streams: Vec<StreamId>,
    next_element: usize,
    /// Source span of each absence node, for messages.
    absent_spans: Vec<(usize, Span)>,
    /// Per input stream whose filters test `x IN Table`: the tests' collector.
    pub(crate) probe_sinks: Vec<(StreamId, crate::builder::ProbeSink)>,
}

impl<'a> PatternBuilder<'a> {
    pub fn new(lookup: &'a dyn StreamLookup, diags: &'a mut Vec<Diagnostic>) -> Self {
        PatternBuilder {
            lookup,
            diags,
            nodes: Vec::new(),
            slots: Vec::new(),
            streams: Vec::new(),
            next_element: 0,
            absent_spans: Vec::new(),
            probe_sinks: Vec::new(),
        }
    }

    /// The number of `x IN Table` tests in the filters of each input stream's elements and
    /// absences (streams without any are left out).
    pub(crate) fn in_table_counts(&self, e: &PatternExpr) -> Vec<(StreamId, Schema, usize)> {
        let mut filters = Vec::new();
        collect_filters(e, &mut filters);
        let mut counts: Vec<(StreamId, Schema, usize)> = Vec::new();
        for (stream, filter) in filters {
            let n = filter.map_or(0, crate::builder::count_expr);
            let Ok((id, _, schema)) = self.lookup.lookup(stream) else {
                continue;
            };
            match counts.iter_mut().find(|c| c.0 == id) {
                Some(c) => c.2 += n,
                None => counts.push((id, schema, n)),
            }
        }
        counts.retain(|c| c.2 > 0);
        counts
    }

    /// The tests collected per stream, once the tree is built.
    pub(crate) fn finish_probes(&mut self) -> Vec<(StreamId, usize, Vec<crate::join::TableProbe>)> {
        std::mem::take(&mut self.probe_sinks)
            .into_iter()
            .map(|(id, sink)| (id, sink.base(), sink.finish()))
            .collect()
    }

    fn note_stream(&mut self, id: StreamId) {
        if !self.streams.contains(&id) {
            self.streams.push(id);
        }
    }

    /// First pass: one slot per element, named by its alias (or its stream when unique).
    pub(crate) fn declare_slots(&mut self, e: &PatternExpr) -> Result<(), ()> {
        let mut ok = true;
        let mut elements = Vec::new();
        collect_elements(e, &mut elements);
        for el in &elements {
            let (id, name, schema) = match self.lookup.lookup(&el.stream) {
                Ok(x) => x,
                Err(d) => {
                    self.diags.push(d);
                    ok = false;
                    continue;
                }
            };
            let counted = el
                .quantifier
                .is_some_and(|q| !(q.min == 1 && q.max == Some(1)));
            let alias = match &el.alias {
                Some(a) => {
                    if self.slots.iter().any(|s| s.alias == a.name) {
                        self.diags.push(Diagnostic::error(
                            a.span,
                            format!("pattern alias '{}' is used twice", a.name),
                        ));
                        ok = false;
                    }
                    a.name.clone()
                }
                None => name.clone(),
            };
            self.slots.push(PatternSlot {
                alias,
                stream: id,
                stream_name: name,
                schema,
                counted,
            });
        }
        if ok {
            Ok(())
        } else {
            Err(())
        }
    }

    fn push(&mut self, n: PatternNode) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn filter(
        &mut self,
        f: Option<&Expr>,
        slot: Option<usize>,
        stream: (StreamId, &str),
        schema: &Schema,
    ) -> Result<Option<TypedExpr>, ()> {
        let Some(f) = f else {
            return Ok(None);
        };
        let slots = self.slots.clone();
        let scope = PatternScope {
            slots: &slots,
            current: Some((slot, stream.1, schema)),
            probes: self
                .probe_sinks
                .iter()
                .find(|(id, _)| *id == stream.0)
                .map(|(_, sink)| sink),
        };
        ExprChecker::new(&scope, self.diags)
            .in_clause("in a pattern filter")
            .condition(f, "pattern filter")
            .map(Some)
            .map_err(|_| ())
    }

    /// Second pass: the node tree. Returns the root node.
    pub(crate) fn build(&mut self, e: &PatternExpr) -> Result<usize, ()> {
        match e {
            PatternExpr::Group(inner, _) => self.build(inner),
            PatternExpr::Every(inner, _) => {
                let c = self.build(inner)?;
                Ok(self.push(PatternNode::Every(c)))
            }
            PatternExpr::FollowedBy(steps, _) => {
                let mut ids = Vec::new();
                let mut failed = false;
                for s in steps {
                    match self.build(s) {
                        Ok(id) => ids.push(id),
                        Err(()) => failed = true,
                    }
                }
                if failed {
                    return Err(());
                }
                Ok(self.push(PatternNode::Seq(ids)))
            }
            PatternExpr::And(l, r, span) | PatternExpr::Or(l, r, span) => {
                let (a, b) = (self.build(l), self.build(r));
                let (a, b) = (a?, b?);
                let is_and = matches!(e, PatternExpr::And(..));
                let bare_absent =
                    |n: &PatternNode| matches!(n, PatternNode::Absent { duration: None, .. });
                if !is_and && (bare_absent(&self.nodes[a]) || bare_absent(&self.nodes[b])) {
                    self.diags.push(Diagnostic::error(
                        *span,
                        "NOT … without FOR can only be combined with AND",
                    ));
                    return Err(());
                }
                if is_and && bare_absent(&self.nodes[a]) && bare_absent(&self.nodes[b]) {
                    self.diags.push(Diagnostic::error(
                        *span,
                        "an AND of two absences never completes: give one a FOR duration",
                    ));
                    return Err(());
                }
                Ok(self.push(if is_and {
                    PatternNode::And(a, b)
                } else {
                    PatternNode::Or(a, b)
                }))
            }
            PatternExpr::Element(el) => {
                let slot = self.next_element;
                self.next_element += 1;
                let s = self.slots.get(slot).cloned().ok_or(())?;
                self.note_stream(s.stream);
                let filter = self.filter(
                    el.filter.as_ref(),
                    Some(slot),
                    (s.stream, &s.stream_name),
                    &s.schema,
                )?;
                let (min, max) = match el.quantifier {
                    None => (1, Some(1)),
                    Some(q) => {
                        if q.max.is_some_and(|m| m < q.min || m == 0) {
                            self.diags.push(Diagnostic::error(
                                q.span,
                                "a quantifier's maximum must be at least 1 and at least its minimum",
                            ));
                            return Err(());
                        }
                        (q.min, q.max)
                    }
                };
                Ok(self.push(PatternNode::Element {
                    slot,
                    stream: s.stream,
                    filter,
                    min,
                    max,
                }))
            }
            PatternExpr::Absent(a) => {
                let (id, name, schema) = self
                    .lookup
                    .lookup(&a.stream)
                    .map_err(|d| self.diags.push(d))?;
                self.note_stream(id);
                let filter = self.filter(a.filter.as_ref(), None, (id, &name), &schema)?;
                if let Some(d) = a.duration {
                    if d.millis <= 0 {
                        self.diags.push(Diagnostic::error(
                            d.span,
                            "an absence needs a positive FOR duration",
                        ));
                        return Err(());
                    }
                }
                let node = self.push(PatternNode::Absent {
                    stream: id,
                    filter,
                    duration: a.duration.map(|d| d.millis),
                });
                self.absent_spans.push((node, a.span));
                Ok(node)
            }
        }
    }

    /// Checks rules that need the whole tree: an absence without FOR only inside an AND.
    pub(crate) fn check_absences(&mut self, root: usize, span: Span) -> Result<(), ()> {
        let mut in_and = vec![false; self.nodes.len()];
        for n in &self.nodes {
            if let PatternNode::And(l, r) = n {
                in_and[*l] = true;
                in_and[*r] = true;
            }
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if let PatternNode::Absent { duration: None, .. } = n {
                if !in_and[i] {
                    let span = self
                        .absent_spans
                        .iter()
                        .find(|(n, _)| *n == i)
                        .map_or(span, |(_, s)| *s);
                    self.diags.push(Diagnostic::error(
                        span,
                        "NOT … needs FOR <duration>, unless it is combined with AND (NOT B AND e2=C)",
                    ));
                    return Err(());
                }
            }
        }
        if let PatternNode::Absent { duration: None, .. } = self.nodes[root] {
            return Err(());
        }
        Ok(())
    }
}

/// The stream and filter of every element and absence.
fn collect_filters<'e>(e: &'e PatternExpr, out: &mut Vec<(&'e ast::Ident, Option<&'e Expr>)>) {
    match e {
        PatternExpr::FollowedBy(steps, _) => steps.iter().for_each(|s| collect_filters(s, out)),
        PatternExpr::Every(i, _) | PatternExpr::Group(i, _) => collect_filters(i, out),
        PatternExpr::And(l, r, _) | PatternExpr::Or(l, r, _) => {
            collect_filters(l, out);
            collect_filters(r, out);
        }
        PatternExpr::Element(el) => out.push((&el.stream, el.filter.as_ref())),
        PatternExpr::Absent(a) => out.push((&a.stream, a.filter.as_ref())),
    }
}

fn collect_elements<'e>(e: &'e PatternExpr, out: &mut Vec<&'e ast::PatternElement>) {
    match e {
        PatternExpr::FollowedBy(steps, _) => steps.iter().for_each(|s| collect_elements(s, out)),
        PatternExpr::Every(i, _) | PatternExpr::Group(i, _) => collect_elements(i, out),
        PatternExpr::And(l, r, _) | PatternExpr::Or(l, r, _) => {
            collect_elements(l, out);
            collect_elements(r, out);
        }
        PatternExpr::Element(el) => out.push(el),
        PatternExpr::Absent(_) => {}
    }
}
