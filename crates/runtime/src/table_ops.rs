//! Operators reading and writing in-memory tables: `x IN Table` tests (§4) and the table writes
//! of §10.

use crate::batch::{Batch, EventKind};
use crate::compile::{
    compile_expr, compile_predicate, CompileError, CompiledExpr, CompiledPredicate, EvalCtx,
};
use crate::external::StoreError;
use crate::operators::{BatchOperator, OpCtx};
use crate::store::{key_is_null, key_of_value, key_value, TableStore};
use crate::value::{KeyValue, Value};
use eventflux_planner::join::{
    TableCondition, TableIndex, TableProbe, TableWritePlan, WriteAction,
};
use eventflux_planner::plan::TableId;

/// Appends one BOOL column per `IN Table` test (NULL when the tested value is NULL).
pub struct TableProbeOp {
    probes: Vec<(TableId, CompiledExpr)>,
    arity: usize,
    row: Vec<Value>,
    keys: Vec<KeyValue>,
}

impl TableProbeOp {
    pub fn new(probes: &[TableProbe], input_arity: usize) -> Result<TableProbeOp, CompileError> {
        Ok(TableProbeOp {
            probes: probes
                .iter()
                .map(|p| Ok((p.table, compile_expr(&p.key)?)))
                .collect::<Result<_, CompileError>>()?,
            arity: input_arity + probes.len(),
            row: Vec::new(),
            keys: Vec::new(),
        })
    }
}

/// The `IN Table` tests of a pattern's filters, per input stream: events of a stream with tests
/// get their BOOL columns after their attributes; other streams' events pass unchanged.
pub struct StreamProbes {
    by_stream: Vec<(usize, TableProbeOp)>,
}

impl StreamProbes {
    /// `probes`: (stream, its arity, its tests).
    pub fn new(probes: &[(usize, usize, Vec<TableProbe>)]) -> Result<StreamProbes, CompileError> {
        Ok(StreamProbes {
            by_stream: probes
                .iter()
                .map(|(s, arity, p)| Ok((*s, TableProbeOp::new(p, *arity)?)))
                .collect::<Result<_, CompileError>>()?,
        })
    }
}

impl BatchOperator for StreamProbes {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        match self.by_stream.iter_mut().find(|(s, _)| *s == ctx.stream) {
            Some((_, op)) => {
                out.reset(op.arity);
                op.process(input, ctx, out);
            }
            None => {
                out.reset(input.arity());
                for r in input.rows() {
                    out.push(r.ts, r.kind, r.values);
                }
            }
        }
    }

    /// Rows differ in width per stream; each batch carries its own.
    fn output_arity(&self) -> usize {
        0
    }

    /// Runs with the pattern (inside a partition's per-key part).
    fn is_stateful(&self) -> bool {
        true
    }
}

/// Makes the keys that `IN Table` tests of external tables will look up for `input` visible
/// (one store round trip per table for the batch's misses). On a store error, every row of the
/// batch is reported as failed and `false` is returned.
pub fn fetch_probe_keys(
    probes: &[(TableId, CompiledExpr)],
    input: &Batch,
    ctx: &mut OpCtx<'_>,
    keys: &mut Vec<KeyValue>,
    begin: bool,
) -> bool {
    let now = ctx.now;
    for (i, (table, key)) in probes.iter().enumerate() {
        if !ctx.tables.get(*table).is_some_and(|t| t.is_external()) {
            continue;
        }
        // The view is reset once per table, before its first probe.
        if begin && !probes[..i].iter().any(|(t, _)| t == table) {
            ctx.tables[*table].begin_batch();
        }
        keys.clear();
        for r in input.rows() {
            let ec = EvalCtx {
                row: r.values,
                ts: r.ts,
                now,
                bindings: None,
            };
            keys.push(key_of_value(key(&ec)));
        }
        if let Err(e) = ctx.tables[*table].fetch(keys, 1, now) {
            for r in input.rows() {
                ctx.store_failed(*table, &e, r.ts, r.values);
            }
            return false;
        }
    }
    true
}

impl BatchOperator for TableProbeOp {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        if !fetch_probe_keys(&self.probes, input, ctx, &mut self.keys, true) {
            return;
        }
        let mut ends = input.emission_ends().iter().peekable();
        for (i, r) in input.rows().enumerate() {
            self.row.clear();
            self.row.extend_from_slice(r.values);
            let ec = EvalCtx {
                row: r.values,
                ts: r.ts,
                now: ctx.now,
                bindings: None,
            };
            for (table, key) in &self.probes {
                let k = key(&ec);
                let v = if k.is_null() {
                    Value::Null
                } else {
                    Value::Bool(
                        ctx.tables
                            .get(*table)
                            .is_some_and(|t| t.contains_key(&key_value(&k))),
                    )
                };
                self.row.push(v);
            }
            out.push_vec(r.ts, r.kind, &mut self.row);
            // One output row per input row: the emissions stay as they were.
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

/// A compiled `ON`: hash lookup probes (over the event row) and the residual condition (over
/// `[event row][table row]`).
struct Condition {
    lookup: Option<(TableIndex, Vec<CompiledExpr>)>,
    residual: Option<CompiledPredicate>,
}

impl Condition {
    fn new(c: &TableCondition) -> Result<Condition, CompileError> {
        Ok(Condition {
            lookup: match &c.lookup {
                Some(l) => Some((
                    l.index,
                    l.probes
                        .iter()
                        .map(compile_expr)
                        .collect::<Result<_, _>>()?,
                )),
                None => None,
            },
            residual: c.residual.as_ref().map(compile_predicate).transpose()?,
        })
    }
}

enum Action {
    Insert,
    Update(Vec<(usize, CompiledExpr)>, Condition),
    UpdateOrInsert(Vec<(usize, CompiledExpr)>, Condition, Vec<CompiledExpr>),
    Delete(Condition),
}

/// Writes every row reaching it into a table; emits nothing.
pub struct TableWriteOp {
    table: TableId,
    event_arity: usize,
    action: Action,
    keep_current: bool,
    keep_expired: bool,
    /// `[event row][table row]`, reused for every candidate row.
    combined: Vec<Value>,
    slots: Vec<u32>,
    key: Vec<KeyValue>,
    new_row: Vec<Value>,
}

impl TableWriteOp {
    pub fn new(
        plan: &TableWritePlan,
        table_arity: usize,
        keep_current: bool,
        keep_expired: bool,
    ) -> Result<TableWriteOp, CompileError> {
        let sets = |s: &[(usize, eventflux_planner::expr::TypedExpr)]| {
            s.iter()
                .map(|(c, e)| Ok((*c, compile_expr(e)?)))
                .collect::<Result<Vec<_>, CompileError>>()
        };
        let action = match &plan.action {
            WriteAction::Insert => Action::Insert,
            WriteAction::Update { set, on } => Action::Update(sets(set)?, Condition::new(on)?),
            WriteAction::UpdateOrInsert { set, on, insert } => Action::UpdateOrInsert(
                sets(set)?,
                Condition::new(on)?,
                insert.iter().map(compile_expr).collect::<Result<_, _>>()?,
            ),
            WriteAction::Delete { on } => Action::Delete(Condition::new(on)?),
        };
        Ok(TableWriteOp {
            table: plan.table,
            event_arity: plan.event_arity,
            action,
            keep_current,
            keep_expired,
            combined: vec![Value::Null; plan.event_arity + table_arity],
            slots: Vec::new(),
            key: Vec::new(),
            new_row: Vec::new(),
        })
    }

    /// Fills `self.slots` with the rows `cond` selects for the event in `combined[..n]`.
    fn matches(&mut self, cond: &Condition, table: &TableStore, ts: i64, now: i64) {
        let n = self.event_arity;
        match &cond.lookup {
            Some((index, probes)) => {
                let ec = EvalCtx {
                    row: &self.combined[..n],
                    ts,
                    now,
                    bindings: None,
                };
                self.key.clear();
                self.key.extend(probes.iter().map(|p| key_of_value(p(&ec))));
                if key_is_null(&self.key) {
                    self.slots.clear();
                    return;
                }
                table.lookup(*index, &self.key, &mut self.slots);
            }
            None => table.scan(&mut self.slots),
        }
        if let Some(residual) = &cond.residual {
            let combined = &mut self.combined;
            self.slots.retain(|&s| {
                combined[n..].clone_from_slice(table.row(s));
                residual(&EvalCtx {
                    row: combined,
                    ts,
                    now,
                    bindings: None,
                })
            });
        }
    }

    /// Updates the matched rows: SET values are computed from each row's old values.
    fn update(&mut self, set: &[(usize, CompiledExpr)], table: &mut TableStore, ts: i64, now: i64) {
        let n = self.event_arity;
        for i in 0..self.slots.len() {
            let s = self.slots[i];
            // An earlier update in this batch may have replaced the row (primary key moved).
            if !table.is_live(s) {
                continue;
            }
            self.combined[n..].clone_from_slice(table.row(s));
            self.new_row.clear();
            self.new_row.extend_from_slice(table.row(s));
            let ec = EvalCtx {
                row: &self.combined,
                ts,
                now,
                bindings: None,
            };
            for (c, e) in set {
                self.new_row[*c] = e(&ec);
            }
            table.update(s, &self.new_row);
        }
    }
}

impl TableWriteOp {
    /// Whether a row of this kind is written.
    fn wanted(&self, kind: EventKind) -> bool {
        match kind {
            EventKind::Current => self.keep_current,
            EventKind::Expired => self.keep_expired,
        }
    }

    /// External tables: starts the batch's view and fetches the rows its ON looks up.
    fn fetch_batch(&mut self, input: &Batch, ctx: &mut OpCtx<'_>) -> Result<(), StoreError> {
        let now = ctx.now;
        let Some(table) = ctx.tables.get_mut(self.table) else {
            return Ok(());
        };
        table.begin_batch();
        let cond = match &self.action {
            Action::Insert => return Ok(()),
            Action::Update(_, on) | Action::UpdateOrInsert(_, on, _) | Action::Delete(on) => on,
        };
        let Some((_, probes)) = &cond.lookup else {
            return Ok(());
        };
        self.key.clear();
        for r in input.rows() {
            if !self.wanted(r.kind) {
                continue;
            }
            let ec = EvalCtx {
                row: r.values,
                ts: r.ts,
                now,
                bindings: None,
            };
            self.key.extend(probes.iter().map(|p| key_of_value(p(&ec))));
        }
        table.fetch(&self.key, probes.len(), now)
    }

    fn fail_batch(&self, input: &Batch, ctx: &mut OpCtx<'_>, e: &StoreError) {
        for r in input.rows() {
            if self.wanted(r.kind) {
                ctx.store_failed(self.table, e, r.ts, r.values);
            }
        }
    }
}

impl BatchOperator for TableWriteOp {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, _out: &mut Batch) {
        let external = ctx.tables.get(self.table).is_some_and(|t| t.is_external());
        if external {
            if let Err(e) = self.fetch_batch(input, ctx) {
                self.fail_batch(input, ctx, &e);
                return;
            }
        }
        self.write_rows(input, ctx);
        if external {
            let now = ctx.now;
            if let Some(Err(e)) = ctx.tables.get_mut(self.table).map(|t| t.flush_writes(now)) {
                self.fail_batch(input, ctx, &e);
            }
        }
    }

    fn output_arity(&self) -> usize {
        0
    }

    fn is_stateful(&self) -> bool {
        false
    }
}

impl TableWriteOp {
    fn write_rows(&mut self, input: &Batch, ctx: &mut OpCtx<'_>) {
        let Some(table) = ctx.tables.get_mut(self.table) else {
            return;
        };
        let now = ctx.now;
        let n = self.event_arity;
        let action = std::mem::replace(&mut self.action, Action::Insert);
        for r in input.rows() {
            let wanted = match r.kind {
                EventKind::Current => self.keep_current,
                EventKind::Expired => self.keep_expired,
            };
            if !wanted {
                continue;
            }
            match &action {
                Action::Insert => table.insert(r.values),
                Action::Update(set, on) => {
                    self.combined[..n].clone_from_slice(r.values);
                    self.matches(on, table, r.ts, now);
                    self.update(set, table, r.ts, now);
                }
                Action::UpdateOrInsert(set, on, insert) => {
                    self.combined[..n].clone_from_slice(r.values);
                    self.matches(on, table, r.ts, now);
                    if self.slots.is_empty() {
                        for v in &mut self.combined[n..] {
                            *v = Value::Null;
                        }
                        let ec = EvalCtx {
                            row: &self.combined,
                            ts: r.ts,
                            now,
                            bindings: None,
                        };
                        self.new_row.clear();
                        self.new_row.extend(insert.iter().map(|e| e(&ec)));
                        table.insert(&self.new_row);
                    } else {
                        self.update(set, table, r.ts, now);
                    }
                }
                Action::Delete(on) => {
                    self.combined[..n].clone_from_slice(r.values);
                    self.matches(on, table, r.ts, now);
                    for &s in &self.slots {
                        table.remove(s);
                    }
                }
            }
        }
        self.action = action;
    }
}
