//! Plans of joins (§9), table lookups (`IN Table`, §4) and table writes (§10).
//!
//! Rows are laid out by position, as everywhere in the plan: a join row is the rows of every
//! side side by side in FROM order; the condition of a table write sees `[event row][table row]`.

use crate::expr::{TypedExpr, TypedExprKind};
use crate::plan::{StreamId, TableId};
use crate::types::Type;
use crate::window::WindowPlan;
use eventflux_sql::ast::{BinaryOp, JoinKind};

/// What a side of a join reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinSource {
    Stream(StreamId),
    Table(TableId),
}

#[derive(Debug, Clone, PartialEq)]
pub struct JoinSide {
    pub source: JoinSource,
    /// The alias (or the stream name), for explain output.
    pub name: String,
    /// First column of this side in the join row.
    pub offset: usize,
    pub arity: usize,
    /// `Stream[cond]`: over the side's own row, applied before its window.
    pub filter: Option<TypedExpr>,
    /// `IN Table` tests of the filter: their results are columns after the side's attributes.
    pub filter_probes: Vec<TableProbe>,
    /// What the side retains; `None`: a stream side retains nothing (its arrivals only probe).
    pub window: Option<WindowPlan>,
    /// Whether the side's arrivals produce output (false for tables and for the other sides of a
    /// UNIDIRECTIONAL join).
    pub triggers: bool,
    /// Columns of the row (over the side's own row) whose values form the hash key the side's
    /// retained rows are indexed by, for the join step that probes it; empty: no index.
    pub key: Vec<TypedExpr>,
}

/// One `JOIN side ON …` step: joins the sides before it with side `step + 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinStep {
    pub kind: JoinKind,
    /// Equalities of ON usable as hash lookups: (expression over the join row, referring to
    /// earlier sides only; expression over the right side's own row). Each pair already has a
    /// common type.
    pub equalities: Vec<(TypedExpr, TypedExpr)>,
    /// When the right side is a table: the index used and, per index column, the probe
    /// expression over the join row.
    pub table_lookup: Option<TableLookup>,
    /// When the left side is a table (the first side): the same, probed from the right side's
    /// row.
    pub left_table_lookup: Option<TableLookup>,
    /// Everything else of ON, over the join row (`None`: TRUE).
    pub residual: Option<TypedExpr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JoinPlan {
    pub sides: Vec<JoinSide>,
    /// `steps[i]` joins sides `0..=i` with side `i + 1`.
    pub steps: Vec<JoinStep>,
    pub arity: usize,
}

impl JoinPlan {
    pub fn describe(&self) -> String {
        let mut text = String::from("join ");
        for (i, side) in self.sides.iter().enumerate() {
            if i > 0 {
                let step = &self.steps[i - 1];
                let kind = match step.kind {
                    JoinKind::Inner => "JOIN",
                    JoinKind::Left => "LEFT JOIN",
                    JoinKind::Right => "RIGHT JOIN",
                    JoinKind::Full => "FULL JOIN",
                };
                text.push_str(&format!(" {kind} "));
            }
            text.push_str(&side.name);
            match side.source {
                JoinSource::Table(_) => text.push_str(" (table)"),
                JoinSource::Stream(_) => match &side.window {
                    Some(w) => text.push_str(&format!(" (window {})", w.kind)),
                    None => text.push_str(" (no window)"),
                },
            }
            if !side.triggers && matches!(side.source, JoinSource::Stream(_)) {
                text.push_str(" (does not trigger)");
            }
            if i > 0 {
                let step = &self.steps[i - 1];
                let mut on = Vec::new();
                if let Some(l) = step
                    .table_lookup
                    .as_ref()
                    .or(step.left_table_lookup.as_ref())
                {
                    on.push(format!("lookup {}", l.describe()));
                } else if !step.equalities.is_empty() {
                    let keys: Vec<String> = step
                        .equalities
                        .iter()
                        .map(|(l, r)| format!("{l} = {r}"))
                        .collect();
                    on.push(format!("hash {}", keys.join(", ")));
                }
                if let Some(r) = &step.residual {
                    on.push(format!("filter {r}"));
                }
                if !on.is_empty() {
                    text.push_str(&format!(" ON {}", on.join(", then ")));
                }
            }
        }
        text
    }
}

/// Which index of a table a lookup uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableIndex {
    PrimaryKey,
    /// `indexes[i]` of the table.
    Secondary(usize),
}

/// A hash lookup in a table: one probe expression per column of the index.
#[derive(Debug, Clone, PartialEq)]
pub struct TableLookup {
    pub index: TableIndex,
    pub probes: Vec<TypedExpr>,
    /// The index's columns, for explain output.
    pub columns: Vec<String>,
}

impl TableLookup {
    pub fn describe(&self) -> String {
        let probes: Vec<String> = self.probes.iter().map(|p| p.to_string()).collect();
        let by = match self.index {
            TableIndex::PrimaryKey => "primary key",
            TableIndex::Secondary(_) => "index",
        };
        format!(
            "by {by} ({}) = ({})",
            self.columns.join(", "),
            probes.join(", ")
        )
    }
}

/// `key IN table`: the table's single-column primary key is looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct TableProbe {
    pub table: TableId,
    pub table_name: String,
    pub key: TypedExpr,
}

/// A table write (§10). Conditions and SET values see `[event row][table row]`, where the event
/// row is the row reaching the write (the query's output, or the source stream's row for the
/// `UPDATE … FROM` / `DELETE … USING` statements).
#[derive(Debug, Clone, PartialEq)]
pub struct TableWritePlan {
    pub table: TableId,
    pub table_name: String,
    pub event_arity: usize,
    pub table_arity: usize,
    /// Column names, for explain output.
    pub table_columns: Vec<String>,
    pub action: WriteAction,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteAction {
    /// `INSERT INTO` / `UPSERT INTO`: the event row is a table row (columns in table order);
    /// a row whose primary key exists replaces it.
    Insert,
    /// `UPDATE … SET … ON …`: every matching row is updated.
    Update {
        set: Vec<(usize, TypedExpr)>,
        on: TableCondition,
    },
    /// `UPDATE OR INSERT`: as Update; when nothing matches, `insert` (one expression per table
    /// column, over the event row followed by a NULL table row) is inserted.
    UpdateOrInsert {
        set: Vec<(usize, TypedExpr)>,
        on: TableCondition,
        insert: Vec<TypedExpr>,
    },
    /// `DELETE … ON …`: every matching row is deleted.
    Delete { on: TableCondition },
}

/// Which rows of a table a write touches: a hash lookup when ON has equalities on the primary
/// key or an index, then the rest of ON.
#[derive(Debug, Clone, PartialEq)]
pub struct TableCondition {
    pub lookup: Option<TableLookup>,
    pub residual: Option<TypedExpr>,
}

impl TableWritePlan {
    pub fn describe(&self) -> String {
        let cond = |c: &TableCondition| {
            let mut parts = Vec::new();
            match &c.lookup {
                Some(l) => parts.push(format!("lookup {}", l.describe())),
                None => parts.push("scan".to_string()),
            }
            if let Some(r) = &c.residual {
                parts.push(format!("filter {r}"));
            }
            parts.join(", then ")
        };
        let sets = |s: &[(usize, TypedExpr)]| {
            s.iter()
                .map(|(c, e)| {
                    let name = self.table_columns.get(*c).map_or("?", String::as_str);
                    format!("{name} = {e}")
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &self.action {
            WriteAction::Insert => {
                format!("insert into table {} (replace on key)", self.table_name)
            }
            WriteAction::Update { set, on } => {
                format!(
                    "update table {} set {} on {}",
                    self.table_name,
                    sets(set),
                    cond(on)
                )
            }
            WriteAction::UpdateOrInsert { set, on, .. } => format!(
                "update or insert table {} set {} on {}",
                self.table_name,
                sets(set),
                cond(on)
            ),
            WriteAction::Delete { on } => {
                format!("delete from table {} on {}", self.table_name, cond(on))
            }
        }
    }
}

/// Splits a condition into its AND-ed terms.
pub fn conjuncts(e: TypedExpr, out: &mut Vec<TypedExpr>) {
    match e.kind {
        TypedExprKind::Binary {
            op: BinaryOp::And,
            left,
            right,
        } => {
            conjuncts(*left, out);
            conjuncts(*right, out);
        }
        kind => out.push(TypedExpr { kind, ..e }),
    }
}

/// AND-s terms back together (`None` for no terms).
pub fn conjoin(terms: Vec<TypedExpr>) -> Option<TypedExpr> {
    terms.into_iter().reduce(|a, b| {
        let span = a.span;
        TypedExpr {
            kind: TypedExprKind::Binary {
                op: BinaryOp::And,
                left: Box::new(a),
                right: Box::new(b),
            },
            ty: Type::Bool,
            span,
        }
    })
}

/// Every column position an expression reads; `false` when it also reads something that is not
/// a column of the row (the clock, pattern bindings).
pub fn columns_of(e: &TypedExpr, out: &mut Vec<usize>) -> bool {
    let mut pure = true;
    walk(e, &mut |x| match &x.kind {
        TypedExprKind::Column(c) => out.push(c.index),
        TypedExprKind::Now
        | TypedExprKind::PatternAttr { .. }
        | TypedExprKind::PatternAggregate { .. } => pure = false,
        TypedExprKind::Call { func, .. } if !func.is_pure() => pure = false,
        _ => {}
    });
    pure
}

/// Visits every node of an expression.
pub fn walk(e: &TypedExpr, f: &mut dyn FnMut(&TypedExpr)) {
    f(e);
    match &e.kind {
        TypedExprKind::Constant(_)
        | TypedExprKind::Column(_)
        | TypedExprKind::EventTime
        | TypedExprKind::Now
        | TypedExprKind::PatternAttr { .. }
        | TypedExprKind::PatternAggregate { .. } => {}
        TypedExprKind::Neg(a) | TypedExprKind::Not(a) | TypedExprKind::Cast(a) => walk(a, f),
        TypedExprKind::IsNull { expr, .. } => walk(expr, f),
        TypedExprKind::Binary { left, right, .. } | TypedExprKind::Concat(left, right) => {
            walk(left, f);
            walk(right, f);
        }
        TypedExprKind::InList { expr, list, .. } => {
            walk(expr, f);
            list.iter().for_each(|i| walk(i, f));
        }
        TypedExprKind::Between {
            expr, low, high, ..
        } => {
            walk(expr, f);
            walk(low, f);
            walk(high, f);
        }
        TypedExprKind::Like { expr, pattern, .. } => {
            walk(expr, f);
            walk(pattern, f);
        }
        TypedExprKind::Case { whens, else_result } => {
            for (c, r) in whens {
                walk(c, f);
                walk(r, f);
            }
            if let Some(e) = else_result {
                walk(e, f);
            }
        }
        TypedExprKind::Call { args, .. } => args.iter().for_each(|a| walk(a, f)),
    }
}

/// Moves every column reference by `-by` (an expression over a join row becomes one over a
/// side's own row).
pub fn rebase(e: &mut TypedExpr, by: usize) {
    walk_mut(e, &mut |x| {
        if let TypedExprKind::Column(c) = &mut x.kind {
            c.index -= by;
        }
    });
}

fn walk_mut(e: &mut TypedExpr, f: &mut dyn FnMut(&mut TypedExpr)) {
    f(e);
    match &mut e.kind {
        TypedExprKind::Constant(_)
        | TypedExprKind::Column(_)
        | TypedExprKind::EventTime
        | TypedExprKind::Now
        | TypedExprKind::PatternAttr { .. }
        | TypedExprKind::PatternAggregate { .. } => {}
        TypedExprKind::Neg(a) | TypedExprKind::Not(a) | TypedExprKind::Cast(a) => walk_mut(a, f),
        TypedExprKind::IsNull { expr, .. } => walk_mut(expr, f),
        TypedExprKind::Binary { left, right, .. } | TypedExprKind::Concat(left, right) => {
            walk_mut(left, f);
            walk_mut(right, f);
        }
        TypedExprKind::InList { expr, list, .. } => {
            walk_mut(expr, f);
            list.iter_mut().for_each(|i| walk_mut(i, f));
        }
        TypedExprKind::Between {
            expr, low, high, ..
        } => {
            walk_mut(expr, f);
            walk_mut(low, f);
            walk_mut(high, f);
        }
        TypedExprKind::Like { expr, pattern, .. } => {
            walk_mut(expr, f);
            walk_mut(pattern, f);
        }
        TypedExprKind::Case { whens, else_result } => {
            for (c, r) in whens {
                walk_mut(c, f);
                walk_mut(r, f);
            }
            if let Some(e) = else_result {
                walk_mut(e, f);
            }
        }
        TypedExprKind::Call { args, .. } => args.iter_mut().for_each(|a| walk_mut(a, f)),
    }
}

/// Hash keys compare values of one family: integers (INT, LONG, TIMESTAMP) as LONG, floating
/// numbers as DOUBLE. An equality can use a hash index only when both sides are of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    Integer,
    Floating,
    String,
    Bool,
    Other,
}

pub fn key_family(t: Type) -> KeyFamily {
    match t {
        Type::Int | Type::Long | Type::Timestamp => KeyFamily::Integer,
        Type::Float | Type::Double => KeyFamily::Floating,
        Type::String => KeyFamily::String,
        Type::Bool => KeyFamily::Bool,
        _ => KeyFamily::Other,
    }
}

/// If `e` is a column (possibly converted within its key family), that column.
pub fn plain_column(e: &TypedExpr) -> Option<usize> {
    match &e.kind {
        TypedExprKind::Column(c) => Some(c.index),
        TypedExprKind::Cast(inner) if key_family(inner.ty) == key_family(e.ty) => {
            plain_column(inner)
        }
        _ => None,
    }
}

/// Strips conversions within one key family (hash keys are normalised by family anyway).
pub fn strip_family_cast(e: TypedExpr) -> TypedExpr {
    match e.kind {
        TypedExprKind::Cast(inner) if key_family(inner.ty) == key_family(e.ty) => {
            strip_family_cast(*inner)
        }
        kind => TypedExpr { kind, ..e },
    }
}

/// Chooses a table index for equalities `table column = probe`: the primary key when every key
/// column has one, else the first secondary index covered. Returns the lookup and which pairs it
/// used.
pub fn choose_lookup(
    table: &crate::plan::TablePlan,
    pairs: &[(usize, TypedExpr)],
) -> Option<(TableLookup, Vec<usize>)> {
    let (primary_key, indexes) = (&table.primary_key, &table.indexes);
    let cover = |cols: &[usize]| -> Option<Vec<usize>> {
        if cols.is_empty() {
            return None;
        }
        cols.iter()
            .map(|c| pairs.iter().position(|(pc, _)| pc == c))
            .collect()
    };
    let (index, used, cols) = match cover(primary_key) {
        Some(used) => (TableIndex::PrimaryKey, used, primary_key),
        None => indexes
            .iter()
            .enumerate()
            .find_map(|(i, ix)| cover(ix).map(|u| (TableIndex::Secondary(i), u, ix)))?,
    };
    let probes = used
        .iter()
        .map(|&p| strip_family_cast(pairs[p].1.clone()))
        .collect();
    let columns = cols
        .iter()
        .map(|&c| table.schema.attributes[c].name.clone())
        .collect();
    Some((
        TableLookup {
            index,
            probes,
            columns,
        },
        used,
    ))
}
