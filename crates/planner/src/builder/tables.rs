//! Planning of tables (§4), `IN Table` tests, table writes (§10) and joins (§9).

use super::{
    finish_operators, plan_body_in, Builder, OtherName, QueryBody, StreamScope, DEFAULT_OUTPUT,
};
use crate::expr::{ColumnSlot, Constant, TypedExpr, TypedExprKind};
use crate::join::{
    choose_lookup, columns_of, conjoin, conjuncts, key_family, plain_column, rebase,
    strip_family_cast, JoinPlan, JoinSide, JoinSource, JoinStep, KeyFamily, TableCondition,
    TableIndex, TableProbe, TableWritePlan, WriteAction,
};
use crate::plan::{
    AppPlan, Attribute, ErrorStrategy, Operator, QueryPlan, QueryTarget, Schema, StorePlan,
    StreamId, StreamIo, StreamOrigin, StreamPlan, TableId, TablePlan, TimeDomain,
};
use crate::resolve::{ExprChecker, Failed, Scope};
use crate::types::Type;
use crate::window::check_window;
use eventflux_sql::ast::{self, ColumnRef, Expr, ExprKind, QueryOutput};
use eventflux_sql::{suggestion_suffix, Diagnostic, Span};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// Table stores of §4 and whether they exist yet.
const TABLE_STORES: &[&str] = &["memory", "inMemory", "cache", "postgres", "mysql", "redis"];

/// Options of an in-memory table.
const TABLE_KEYS: &[&str] = &["extension", "max_size"];
/// Keys every external table accepts besides its connector's own.
const EXTERNAL_TABLE_KEYS: &[&str] = &[
    "cache.policy",
    "cache.size",
    "cache.ttl",
    "cache.preload",
    "error.strategy",
    "error.stream",
];
/// Whether a table lookup goes by the whole primary key.
fn by_primary_key(lookup: Option<&crate::join::TableLookup>) -> bool {
    matches!(lookup.map(|l| l.index), Some(TableIndex::PrimaryKey))
}

/// Whether a store URL has the scheme its client expects (PostgreSQL also takes
/// `key=value` connection strings).
fn url_scheme_ok(store: &str, url: &str) -> bool {
    let url = url.trim();
    match store {
        "postgres" => {
            url.starts_with("postgres://") || url.starts_with("postgresql://") || url.contains('=')
        }
        "mysql" => url.starts_with("mysql://"),
        _ => ["redis://", "rediss://", "unix://", "redis+unix://"]
            .iter()
            .any(|p| url.starts_with(p)),
    }
}

/// `cache.size` when other `cache.*` keys are given without it.
const DEFAULT_CACHE_SIZE: usize = 10_000;

/// One column of a wildcard's expansion: `(output name, display, slot, type)`.
pub(super) type WildColumn = (String, String, usize, Type);

/// What `*` and `alias.*` expand to.
pub(super) struct Expansion {
    pub all: Vec<WildColumn>,
    pub by_qualifier: Vec<(String, Vec<WildColumn>)>,
}

impl Expansion {
    pub fn single(stream: &str, alias: Option<&str>, schema: &Schema) -> Expansion {
        let cols: Vec<_> = schema
            .attributes
            .iter()
            .enumerate()
            .map(|(i, a)| (a.name.clone(), a.name.clone(), i, a.ty))
            .collect();
        let mut by_qualifier = vec![(stream.to_string(), cols.clone())];
        if let Some(a) = alias {
            by_qualifier.push((a.to_string(), cols.clone()));
        }
        Expansion {
            all: cols,
            by_qualifier,
        }
    }

    pub fn qualified(&self, q: &str) -> Option<&[WildColumn]> {
        self.by_qualifier
            .iter()
            .find(|(n, _)| n == q)
            .map(|(_, c)| c.as_slice())
    }
}

/// Counts the `IN Table` tests of a query (each gets one column of the row).
pub(super) fn count_in_table(q: &ast::Query) -> usize {
    let mut n = 0;
    let mut visit = |e: &Expr| n += count_expr(e);
    for item in &q.select.items {
        if let ast::SelectItem::Expr { expr, .. } = item {
            visit(expr);
        }
    }
    q.where_clause.iter().for_each(&mut visit);
    q.group_by.iter().for_each(&mut visit);
    q.having.iter().for_each(&mut visit);
    q.order_by.iter().for_each(|o| visit(&o.expr));
    if let ast::FromClause::Stream(s) = &q.from {
        s.filter.iter().for_each(&mut visit);
    }
    n
}

pub(crate) fn count_expr(e: &Expr) -> usize {
    let sub = |x: &Expr| count_expr(x);
    match &e.kind {
        ExprKind::Literal(_) | ExprKind::Duration(_) | ExprKind::Column(_) => 0,
        ExprKind::Unary { expr, .. }
        | ExprKind::IsNull { expr, .. }
        | ExprKind::Cast { expr, .. } => sub(expr),
        ExprKind::Binary { left, right, .. } => sub(left) + sub(right),
        ExprKind::InList { expr, list, .. } => sub(expr) + list.iter().map(sub).sum::<usize>(),
        ExprKind::InTable { expr, .. } => 1 + sub(expr),
        ExprKind::Between {
            expr, low, high, ..
        } => sub(expr) + sub(low) + sub(high),
        ExprKind::Like { expr, pattern, .. } => sub(expr) + sub(pattern),
        ExprKind::Case {
            operand,
            whens,
            else_result,
        } => {
            operand.as_deref().map_or(0, sub)
                + whens.iter().map(|(a, b)| sub(a) + sub(b)).sum::<usize>()
                + else_result.as_deref().map_or(0, sub)
        }
        ExprKind::Function { args, .. } => args.iter().map(sub).sum(),
    }
}

/// Collects the `IN Table` tests of one query; each test's result is a BOOL column at
/// `base + i` of the row.
pub(crate) struct ProbeSink {
    tables: Vec<TablePlan>,
    table_ids: HashMap<String, TableId>,
    streams: Vec<String>,
    base: usize,
    capacity: usize,
    probes: RefCell<Vec<(Span, TableProbe)>>,
}

impl ProbeSink {
    pub fn new(plan: &AppPlan, base: usize, capacity: usize) -> ProbeSink {
        ProbeSink {
            tables: plan.tables.clone(),
            table_ids: plan.table_ids.clone(),
            streams: plan.streams.iter().map(|s| s.name.clone()).collect(),
            base,
            capacity,
            probes: RefCell::new(Vec::new()),
        }
    }

    /// The first column of the tests (the width of the row they extend).
    pub fn base(&self) -> usize {
        self.base
    }

    /// Columns reserved for the tests.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The tests, one per reserved column.
    pub fn finish(self) -> Vec<TableProbe> {
        let mut probes: Vec<TableProbe> =
            self.probes.into_inner().into_iter().map(|p| p.1).collect();
        // Every reserved column must be produced; unused ones (only possible after errors)
        // repeat a test.
        while probes.len() < self.capacity {
            match probes.first().cloned() {
                Some(p) => probes.push(p),
                None => break,
            }
        }
        probes
    }

    pub fn probe(
        &self,
        scope: &dyn Scope,
        key: &Expr,
        table: &ast::Ident,
        span: Span,
        diags: &mut Vec<Diagnostic>,
    ) -> Result<TypedExpr, Failed> {
        let checked = ExprChecker::new(scope, diags)
            .in_clause("in an IN test")
            .check(key);
        let Some(&tid) = self.table_ids.get(&table.name) else {
            let msg = if self.streams.contains(&table.name) {
                format!(
                    "'{}' is a stream, not a table: IN needs a table (or a list: IN (…))",
                    table.name
                )
            } else {
                format!(
                    "unknown table '{}'{}",
                    table.name,
                    suggestion_suffix(&table.name, self.tables.iter().map(|t| t.name.as_str()))
                )
            };
            diags.push(Diagnostic::error(table.span, msg));
            return Err(Failed);
        };
        let t = &self.tables[tid];
        let col = match t.primary_key.as_slice() {
            [c] => *c,
            cols => {
                let what = if cols.is_empty() {
                    "no primary key".to_string()
                } else {
                    let names: Vec<&str> = cols
                        .iter()
                        .map(|&c| t.schema.attributes[c].name.as_str())
                        .collect();
                    format!("PRIMARY KEY ({})", names.join(", "))
                };
                diags.push(Diagnostic::error(
                    table.span,
                    format!(
                        "'IN {0}' needs a table whose primary key is a single column; '{0}' has {what}",
                        table.name
                    ),
                ));
                return Err(Failed);
            }
        };
        let key = checked?;
        let col_ty = t.schema.attributes[col].ty;
        if key.ty != Type::Null && key_family(key.ty) != key_family(col_ty) {
            diags.push(Diagnostic::error(
                key.span,
                format!(
                    "cannot look up a value of type {} in table '{}', whose key '{}' is {col_ty}",
                    key.ty, table.name, t.schema.attributes[col].name
                ),
            ));
            return Err(Failed);
        }
        let mut probes = self.probes.borrow_mut();
        let slot = match probes.iter().position(|(s, _)| *s == span) {
            Some(i) => i,
            None => {
                if probes.len() >= self.capacity {
                    diags.push(Diagnostic::error(
                        span,
                        "internal error: IN test not counted",
                    ));
                    return Err(Failed);
                }
                let display = format!("{key} IN {}", table.name);
                probes.push((
                    span,
                    TableProbe {
                        table: tid,
                        table_name: table.name.clone(),
                        key: strip_family_cast(key),
                    },
                ));
                let _ = display;
                probes.len() - 1
            }
        };
        let display = format!("{} IN {}", probes[slot].1.key, table.name);
        Ok(TypedExpr {
            kind: TypedExprKind::Column(ColumnSlot {
                index: self.base + slot,
                display,
            }),
            ty: Type::Bool,
            span,
        })
    }
}

/// One side of a join, for name resolution.
struct SideInfo {
    /// The stream or table name.
    stream: String,
    alias: Option<String>,
    schema: Schema,
    offset: usize,
}

impl SideInfo {
    fn label(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.stream)
    }
}

/// Names of a join query: `alias.attr`, `Stream.attr` (when that stream appears once) and
/// unambiguous bare attributes. Only the first `visible` sides can be named (ON of a step sees
/// the sides joined so far).
struct JoinScope<'a> {
    sides: &'a [SideInfo],
    visible: usize,
    probes: Option<&'a ProbeSink>,
}

impl JoinScope<'_> {
    fn side_named(&self, q: &ast::Ident) -> Result<usize, Diagnostic> {
        // A side is named by its alias, or by its stream when it has none; a stream name also
        // names an aliased side when no other side reads that stream.
        let by_label: Vec<usize> = (0..self.sides.len())
            .filter(|&i| self.sides[i].label() == q.name)
            .collect();
        let found = if by_label.is_empty() {
            (0..self.sides.len())
                .filter(|&i| self.sides[i].stream == q.name)
                .collect()
        } else {
            by_label
        };
        match found.as_slice() {
            [i] if *i < self.visible => Ok(*i),
            [_] => Err(Diagnostic::error(
                q.span,
                format!(
                    "'{}' is joined later: this ON can only refer to {}",
                    q.name,
                    self.sides[..self.visible]
                        .iter()
                        .map(|s| format!("'{}'", s.label()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            [] => {
                let names = self
                    .sides
                    .iter()
                    .flat_map(|s| std::iter::once(s.stream.as_str()).chain(s.alias.as_deref()));
                Err(Diagnostic::error(
                    q.span,
                    format!(
                        "unknown stream or alias '{}'{} in this query",
                        q.name,
                        suggestion_suffix(&q.name, names)
                    ),
                ))
            }
            _ => Err(Diagnostic::error(
                q.span,
                format!(
                    "'{}' appears more than once in this join: use the aliases given with AS",
                    q.name
                ),
            )),
        }
    }
}

impl Scope for JoinScope<'_> {
    fn resolve_column(&self, col: &ColumnRef) -> Result<(ColumnSlot, Type), Diagnostic> {
        if col.index.is_some() {
            return Err(Diagnostic::error(
                col.span,
                "indexed access like 'e[0].x' is only allowed on pattern aliases",
            ));
        }
        let side = match &col.qualifier {
            Some(q) => {
                let i = self.side_named(q)?;
                if self.sides[i].schema.index_of(&col.name.name).is_none() {
                    let s = &self.sides[i];
                    return Err(Diagnostic::error(
                        col.name.span,
                        format!(
                            "unknown attribute '{}' in '{}'{}",
                            col.name.name,
                            s.stream,
                            suggestion_suffix(&col.name.name, s.schema.names())
                        ),
                    ));
                }
                i
            }
            None => {
                let having: Vec<usize> = (0..self.visible)
                    .filter(|&i| self.sides[i].schema.index_of(&col.name.name).is_some())
                    .collect();
                match having.as_slice() {
                    [i] => *i,
                    [] => {
                        let names = self.sides[..self.visible]
                            .iter()
                            .flat_map(|s| s.schema.names());
                        let hint = suggestion_suffix(&col.name.name, names);
                        let streams: Vec<String> = self.sides[..self.visible]
                            .iter()
                            .map(|s| format!("'{}'", s.stream))
                            .collect();
                        return Err(Diagnostic::error(
                            col.name.span,
                            format!(
                                "unknown attribute '{}' in {}{hint}",
                                col.name.name,
                                streams.join(" or ")
                            ),
                        ));
                    }
                    many => {
                        let options: Vec<String> = many
                            .iter()
                            .map(|&i| format!("{}.{}", self.sides[i].label(), col.name.name))
                            .collect();
                        return Err(Diagnostic::error(
                            col.name.span,
                            format!(
                                "ambiguous attribute '{}': write {}",
                                col.name.name,
                                options.join(" or ")
                            ),
                        ));
                    }
                }
            }
        };
        let s = &self.sides[side];
        let i = s.schema.index_of(&col.name.name).unwrap_or(0);
        Ok((
            ColumnSlot {
                index: s.offset + i,
                display: match &col.qualifier {
                    Some(q) => format!("{}.{}", q.name, col.name.name),
                    None => col.name.name.clone(),
                },
            },
            s.schema.attributes[i].ty,
        ))
    }

    fn in_table(
        &self,
        key: &Expr,
        table: &ast::Ident,
        span: Span,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Result<TypedExpr, Failed>> {
        self.probes
            .map(|sink| sink.probe(self, key, table, span, diags))
    }
}

/// Names seen by a table write's SET and ON: the event row (bare names, or qualified by the
/// source's name or alias) and the table's row (qualified by the table name, or bare names the
/// event does not have).
struct WriteScope<'a> {
    event_label: &'a str,
    event_qualifiers: Vec<&'a str>,
    event: &'a Schema,
    table_name: &'a str,
    table: &'a Schema,
}

impl Scope for WriteScope<'_> {
    fn resolve_column(&self, col: &ColumnRef) -> Result<(ColumnSlot, Type), Diagnostic> {
        if col.index.is_some() {
            return Err(Diagnostic::error(
                col.span,
                "indexed access like 'e[0].x' is only allowed on pattern aliases",
            ));
        }
        let name = &col.name.name;
        let event = || self.event.index_of(name);
        let table = || self.table.index_of(name).map(|i| self.event.len() + i);
        let (slot, in_table) = match &col.qualifier {
            Some(q) if q.name == self.table_name => (table(), true),
            Some(q) if self.event_qualifiers.contains(&q.name.as_str()) => (event(), false),
            Some(q) => {
                let names = self
                    .event_qualifiers
                    .iter()
                    .copied()
                    .chain(std::iter::once(self.table_name));
                return Err(Diagnostic::error(
                    q.span,
                    format!(
                        "unknown stream, alias or table '{}'{} in this statement",
                        q.name,
                        suggestion_suffix(&q.name, names)
                    ),
                ));
            }
            None => match event() {
                Some(i) => (Some(i), false),
                None => (table(), true),
            },
        };
        let Some(index) = slot else {
            let msg = if in_table && col.qualifier.is_some() {
                format!(
                    "unknown attribute '{name}' in table '{}'{}",
                    self.table_name,
                    suggestion_suffix(name, self.table.names())
                )
            } else {
                format!(
                    "unknown attribute '{name}' in {} or table '{}'{}",
                    self.event_label,
                    self.table_name,
                    suggestion_suffix(name, self.event.names().chain(self.table.names()))
                )
            };
            return Err(Diagnostic::error(col.name.span, msg));
        };
        let ty = if index < self.event.len() {
            self.event.attributes[index].ty
        } else {
            self.table.attributes[index - self.event.len()].ty
        };
        Ok((
            ColumnSlot {
                index,
                display: match &col.qualifier {
                    Some(q) => format!("{}.{name}", q.name),
                    None => name.clone(),
                },
            },
            ty,
        ))
    }
}

/// The form of a table write.
enum WriteForm<'a> {
    Insert,
    Upsert,
    Update(&'a [ast::Assignment], &'a Expr),
    UpdateOrInsert(&'a [ast::Assignment], &'a Expr),
    Delete(&'a Expr),
}

impl Builder<'_> {
    /// `CREATE TABLE`: columns, primary key, indexes and the store options (§4).
    pub(super) fn declare_table(&mut self, ct: &ast::CreateTable) {
        if self.name_taken(&ct.name) {
            return;
        }
        self.others.insert(ct.name.name.clone(), OtherName::Table);
        let mut attributes: Vec<Attribute> = Vec::with_capacity(ct.columns.len());
        for col in &ct.columns {
            if attributes.iter().any(|a| a.name == col.name.name) {
                self.error(
                    col.name.span,
                    format!(
                        "attribute '{}' is defined twice in table '{}'",
                        col.name.name, ct.name.name
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
        let schema = Schema { attributes };
        let columns = |idents: &[ast::Ident], what: &str, this: &mut Self| -> Vec<usize> {
            let mut out = Vec::new();
            for id in idents {
                match schema.index_of(&id.name) {
                    Some(c) if out.contains(&c) => this.error(
                        id.span,
                        format!("attribute '{}' appears twice in {what}", id.name),
                    ),
                    Some(c) => out.push(c),
                    None => this.error(
                        id.span,
                        format!(
                            "unknown attribute '{}' in {what} of table '{}'{}",
                            id.name,
                            ct.name.name,
                            suggestion_suffix(&id.name, schema.names())
                        ),
                    ),
                }
            }
            out
        };
        let primary_key = columns(&ct.primary_key, "PRIMARY KEY", self);
        let mut indexes = Vec::new();
        for ix in &ct.indexes {
            let cols = columns(ix, "INDEX", self);
            if !cols.is_empty() && !indexes.contains(&cols) {
                indexes.push(cols);
            }
        }
        let mut max_size = None;
        let mut extension: Option<(String, Span)> = None;
        let mut max_span = None;
        for o in &ct.options {
            let key = o.key.to_ascii_lowercase();
            match key.as_str() {
                "extension" | "connector" => extension = Some((o.value.as_text(), o.value_span)),
                "max_size" | "max.size" => {
                    max_span = Some(o.key_span);
                    match o.value.as_text().trim().parse::<usize>() {
                        Ok(n) if n > 0 => max_size = Some(n),
                        _ => self.error(
                            o.value_span,
                            format!(
                                "option 'max_size' must be a positive number of rows, found '{}'",
                                o.value.as_text()
                            ),
                        ),
                    }
                }
                _ => {}
            }
        }
        let store = extension
            .as_ref()
            .map_or("memory".to_string(), |(e, _)| e.to_ascii_lowercase());
        let ext_span = extension.as_ref().map_or(ct.span, |e| e.1);
        let mut external = None;
        match store.as_str() {
            "memory" | "inmemory" | "cache" => {
                for o in &ct.options {
                    let key = o.key.to_ascii_lowercase();
                    if !matches!(
                        key.as_str(),
                        "extension" | "connector" | "max_size" | "max.size"
                    ) {
                        self.error(
                            o.key_span,
                            format!(
                                "unknown option '{}' for an in-memory table{}; accepted: {}",
                                o.key,
                                suggestion_suffix(&o.key, TABLE_KEYS.iter().copied()),
                                TABLE_KEYS.join(", ")
                            ),
                        );
                    }
                }
                if store == "cache" && max_span.is_none() {
                    self.error(
                        ext_span,
                        "a 'cache' table needs 'max_size' (its bound in rows): WITH (extension = 'cache', max_size = '1000')",
                    );
                }
                if store != "cache" {
                    if let Some(span) = max_span {
                        self.error(span, "'max_size' applies only to extension = 'cache'");
                    }
                }
            }
            "postgres" | "mysql" | "redis" => {
                external = self.store_plan(ct, &store, ext_span, &primary_key, &indexes);
            }
            other => {
                let shown = extension.as_ref().map_or(other, |e| e.0.as_str());
                self.error(
                    ext_span,
                    format!(
                        "unknown table store '{shown}'{}; accepted: {}",
                        suggestion_suffix(shown, TABLE_STORES.iter().copied()),
                        TABLE_STORES.join(", ")
                    ),
                );
            }
        }
        let id = self.plan.tables.len();
        self.plan.tables.push(TablePlan {
            name: ct.name.name.clone(),
            schema,
            primary_key,
            indexes,
            max_size: if store == "cache" { max_size } else { None },
            store: external,
            span: ct.name.span,
        });
        self.plan.table_ids.insert(ct.name.name.clone(), id);
    }

    /// The options of an external table (§4): the connector's keys, the cache, the error
    /// strategy. External tables are read and written by primary key, so one is required.
    fn store_plan(
        &mut self,
        ct: &ast::CreateTable,
        store: &str,
        ext_span: Span,
        primary_key: &[usize],
        indexes: &[Vec<usize>],
    ) -> Option<StorePlan> {
        let before = self.diags.len();
        let (required, own): (&str, &[&str]) = match store {
            "postgres" => ("postgres.url", &["postgres.url", "postgres.table"]),
            "mysql" => ("mysql.url", &["mysql.url", "mysql.table"]),
            _ => ("redis.url", &["redis.url", "redis.key.prefix"]),
        };
        let accepted: Vec<&str> = ["extension"]
            .iter()
            .chain(own)
            .chain(EXTERNAL_TABLE_KEYS)
            .copied()
            .collect();
        let mut plan = StorePlan {
            extension: store.to_string(),
            options: BTreeMap::new(),
            cache_policy: "LRU".into(),
            cache_size: 0,
            cache_ttl: None,
            preload: false,
            on_error: ErrorStrategy::Log,
        };
        let mut cache_keys = false;
        let mut size_given = false;
        let mut strategy: Option<(String, Span)> = None;
        let mut error_stream: Option<(String, Span)> = None;
        for o in &ct.options {
            let key = o.key.to_ascii_lowercase();
            let raw = o.value.as_text();
            let value = match crate::options::substitute_env(&raw) {
                Ok(v) => v,
                Err(e) => {
                    self.error(o.value_span, e);
                    continue;
                }
            };
            match key.as_str() {
                "extension" | "connector" => {}
                k if own.contains(&k) => {
                    if k == required && !url_scheme_ok(store, &value) {
                        self.error(
                            o.value_span,
                            format!(
                                "option '{k}' must be a {store} URL ({}), found '{value}'",
                                match store {
                                    "postgres" => "postgres://user@host:5432/db",
                                    "mysql" => "mysql://user:password@host:3306/db",
                                    _ => "redis://host:6379/",
                                }
                            ),
                        );
                    }
                    plan.options.insert(k.to_string(), value);
                }
                "cache.policy" => {
                    cache_keys = true;
                    match value.trim().to_ascii_uppercase().as_str() {
                        p @ ("LRU" | "LFU" | "FIFO") => plan.cache_policy = p.to_string(),
                        _ => self.error(
                            o.value_span,
                            format!("option 'cache.policy' must be 'LRU', 'LFU' or 'FIFO', found '{value}'"),
                        ),
                    }
                }
                "cache.size" => {
                    cache_keys = true;
                    size_given = true;
                    match value.trim().parse::<usize>() {
                        Ok(n) => plan.cache_size = n,
                        Err(_) => self.error(
                            o.value_span,
                            format!(
                                "option 'cache.size' must be a number of rows, found '{value}'"
                            ),
                        ),
                    }
                }
                "cache.ttl" => {
                    cache_keys = true;
                    match eventflux_sql::parser::parse_duration_text(&value) {
                        Some(ms) if ms > 0 => plan.cache_ttl = Some(ms),
                        _ => self.error(
                            o.value_span,
                            format!("option 'cache.ttl' must be a positive duration such as '60 sec', found '{value}'"),
                        ),
                    }
                }
                "cache.preload" => {
                    cache_keys = true;
                    match value.trim().to_ascii_lowercase().as_str() {
                        "true" => plan.preload = true,
                        "false" => plan.preload = false,
                        _ => self.error(
                            o.value_span,
                            format!(
                                "option 'cache.preload' must be 'true' or 'false', found '{value}'"
                            ),
                        ),
                    }
                }
                "error.strategy" => strategy = Some((value, o.value_span)),
                "error.stream" => error_stream = Some((value, o.value_span)),
                _ => self.error(
                    o.key_span,
                    format!(
                        "unknown option '{}' for a '{store}' table{}; accepted: {}",
                        o.key,
                        suggestion_suffix(&o.key, accepted.iter().copied()),
                        accepted.join(", ")
                    ),
                ),
            }
        }
        if !plan.options.contains_key(required) {
            self.error(
                ext_span,
                format!(
                    "a '{store}' table needs the option '{required}'; accepted: {}",
                    accepted.join(", ")
                ),
            );
        }
        if cache_keys && !size_given {
            plan.cache_size = DEFAULT_CACHE_SIZE;
        }
        if plan.preload && plan.cache_size == 0 {
            self.error(ext_span, "'cache.preload' needs a cache: set 'cache.size'");
        }
        if primary_key.is_empty() {
            self.error(
                ct.name.span,
                format!(
                    "the '{store}' table '{}' needs a PRIMARY KEY: external tables are read and written by key",
                    ct.name.name
                ),
            );
        }
        if !indexes.is_empty() {
            if let Some(ix) = ct.indexes.first().and_then(|ix| ix.first()) {
                self.error(
                    ix.span,
                    format!(
                        "INDEX is not supported on the '{store}' table '{}': it is looked up by its primary key only",
                        ct.name.name
                    ),
                );
            }
        }
        plan.on_error = self.error_strategy(strategy, error_stream)?;
        (self.diags.len() == before).then_some(plan)
    }

    /// Checks `'error.strategy'` / `'error.stream'`; the error stream is resolved once every
    /// stream is declared.
    pub(super) fn error_strategy(
        &mut self,
        strategy: Option<(String, Span)>,
        stream: Option<(String, Span)>,
    ) -> Option<ErrorStrategy> {
        let s = match &strategy {
            None => "log".to_string(),
            Some((v, _)) => v.trim().to_ascii_lowercase(),
        };
        match (s.as_str(), stream) {
            ("log", None) => Some(ErrorStrategy::Log),
            ("fail", None) => Some(ErrorStrategy::Fail),
            ("stream", Some((name, _))) => Some(ErrorStrategy::Stream(name)),
            ("stream", None) => {
                let span = strategy.map(|s| s.1).unwrap_or_default();
                self.error(span, "'error.strategy' = 'stream' needs 'error.stream' (the stream receiving (payload STRING, error STRING))");
                None
            }
            ("log" | "fail", Some((_, span))) => {
                self.error(
                    span,
                    "option 'error.stream' needs 'error.strategy' = 'stream'",
                );
                None
            }
            (other, _) => {
                let span = strategy.map(|s| s.1).unwrap_or_default();
                self.error(
                    span,
                    format!("option 'error.strategy' must be 'log', 'stream' or 'fail', found '{other}'"),
                );
                None
            }
        }
    }

    /// Makes sure the error stream `name` exists with the schema `(payload STRING, error
    /// STRING)`, creating it when it is not declared.
    pub(super) fn ensure_error_stream(&mut self, name: &str, span: Span) {
        let schema = Schema {
            attributes: vec![
                Attribute {
                    name: "payload".into(),
                    ty: Type::String,
                },
                Attribute {
                    name: "error".into(),
                    ty: Type::String,
                },
            ],
        };
        match self.plan.stream_id(name) {
            Some(id) => {
                if self.plan.streams[id].schema != schema {
                    let found = self.plan.streams[id].schema.to_string();
                    self.error(
                        span,
                        format!(
                            "error stream '{name}' must have the schema {schema}, found {found}"
                        ),
                    );
                }
            }
            None if self.others.contains_key(name) => {
                self.error(span, format!("'{name}' is not a stream"));
            }
            None => {
                let id = self.plan.streams.len();
                self.plan.streams.push(StreamPlan {
                    name: name.to_string(),
                    schema,
                    origin: StreamOrigin::Auto,
                    io: StreamIo::Internal,
                    span,
                    event_time: None,
                    domain: TimeDomain::Processing,
                });
                self.plan.stream_ids.insert(name.to_string(), id);
            }
        }
    }

    /// Resolves the error streams of external tables once every stream is declared.
    pub(super) fn resolve_table_error_streams(&mut self) {
        let wanted: Vec<(String, Span)> = self
            .plan
            .tables
            .iter()
            .filter_map(|t| match t.store.as_ref().map(|s| &s.on_error) {
                Some(ErrorStrategy::Stream(name)) => Some((name.clone(), t.span)),
                _ => None,
            })
            .collect();
        for (name, span) in wanted {
            self.ensure_error_stream(&name, span);
        }
        // Sources' error streams (messages that cannot be decoded).
        let wanted: Vec<(String, Span)> = self
            .plan
            .streams
            .iter()
            .filter_map(|s| match &s.io {
                StreamIo::Source(c)
                    if c.options
                        .get("error.strategy")
                        .is_some_and(|v| v.eq_ignore_ascii_case("stream")) =>
                {
                    c.options.get("error.stream").map(|n| (n.clone(), s.span))
                }
                _ => None,
            })
            .collect();
        for (name, span) in wanted {
            self.ensure_error_stream(&name, span);
        }
    }

    /// External tables are read by primary key only: each must be looked up by its whole key,
    /// and can be neither the preserved side of an outer join nor scanned.
    fn check_external_join_sides(
        &self,
        refs: &[&ast::StreamRef],
        sources: &[JoinSource],
        steps: &[JoinStep],
        diags: &mut Vec<Diagnostic>,
    ) {
        use ast::JoinKind;
        for (i, src) in sources.iter().enumerate() {
            let JoinSource::Table(tid) = *src else {
                continue;
            };
            let t = &self.plan.tables[tid];
            let Some(store) = &t.store else {
                continue;
            };
            let what = format!("the '{}' table '{}'", store.extension, t.name);
            let (lookup, kind) = match i {
                0 => match steps.first() {
                    Some(st) => (&st.left_table_lookup, st.kind),
                    None => continue,
                },
                _ => (&steps[i - 1].table_lookup, steps[i - 1].kind),
            };
            let problem = if !by_primary_key(lookup.as_ref()) {
                Some(format!(
                    "{what} is read by primary key only: ON must compare every key column ({}) with an expression over the other side",
                    t.key_names()
                ))
            } else if matches!(
                (i, kind),
                (0, JoinKind::Left | JoinKind::Full) | (1.., JoinKind::Right | JoinKind::Full)
            ) {
                Some(format!(
                    "{what} cannot be the preserved side of an outer join: its rows are not scanned"
                ))
            } else if i == 0 && sources.len() > 2 {
                Some(format!(
                    "{what} must not be the first of more than two join sides (later sides would scan it): put it after the stream it is looked up from"
                ))
            } else {
                None
            };
            if let Some(msg) = problem {
                diags.push(Diagnostic::error(refs[i].name.span, msg));
            }
        }
    }

    /// The table named by UPDATE / DELETE / UPSERT / UPDATE OR INSERT.
    pub(super) fn write_target(&mut self, t: &ast::Ident) -> Result<TableId, ()> {
        if let Some(id) = self.plan.table_id(&t.name) {
            return Ok(id);
        }
        if self.plan.stream_id(&t.name).is_some() {
            self.error(
                t.span,
                format!(
                    "'{}' is a stream: UPDATE, DELETE and UPSERT write tables (use INSERT INTO for a stream)",
                    t.name
                ),
            );
        } else if self.others.get(&t.name) != Some(&OtherName::Poisoned) {
            let hint = suggestion_suffix(&t.name, self.plan.tables.iter().map(|t| t.name.as_str()));
            self.error(t.span, format!("unknown table '{}'{hint}", t.name));
        }
        Err(())
    }

    /// Ends a query that writes a table: checks the output against the write form and adds the
    /// write as the last operator.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn finish_table_write(
        &mut self,
        q: &ast::Query,
        table: TableId,
        mut body: QueryBody,
        inputs: Vec<StreamId>,
        name: String,
        options: BTreeMap<String, String>,
        partition: Option<crate::plan::PartitionPlan>,
        events: ast::OutputEvents,
    ) -> Result<(), ()> {
        let t = self.plan.tables[table].clone();
        let form = match &q.output {
            QueryOutput::Upsert { .. } => WriteForm::Upsert,
            QueryOutput::Update { set, on, .. } => WriteForm::Update(set, on),
            QueryOutput::UpdateOrInsert { set, on, .. } => WriteForm::UpdateOrInsert(set, on),
            QueryOutput::Delete { on, .. } => WriteForm::Delete(on),
            _ => WriteForm::Insert,
        };
        let target_span = match &q.output {
            QueryOutput::Insert { target, .. }
            | QueryOutput::Upsert { target }
            | QueryOutput::UpdateOrInsert { target, .. }
            | QueryOutput::Update { target, .. }
            | QueryOutput::Delete { target, .. } => target.span,
            QueryOutput::Default => q.select.span,
        };
        let (order, event_schema) = match form {
            WriteForm::Insert | WriteForm::Upsert => {
                if matches!(form, WriteForm::Upsert) && t.primary_key.is_empty() {
                    self.error(
                        target_span,
                        format!(
                            "UPSERT needs a primary key to replace rows on, and table '{}' has none",
                            t.name
                        ),
                    );
                    return Err(());
                }
                let order = self.match_schema(
                    &format!("table '{}'", t.name),
                    &t.schema,
                    &mut body.columns,
                    target_span,
                )?;
                (order, t.schema.clone())
            }
            _ => {
                // The event row is the query's output, in SELECT order.
                for (_, e) in body.columns.iter_mut() {
                    if e.ty == Type::Null {
                        *e = std::mem::replace(
                            e,
                            TypedExpr::constant(Constant::Null, Type::Null, Span::default()),
                        )
                        .cast_to(Type::String);
                    }
                }
                let schema = Schema {
                    attributes: body
                        .columns
                        .iter()
                        .map(|(n, e)| Attribute {
                            name: n.clone(),
                            ty: e.ty,
                        })
                        .collect(),
                };
                ((0..body.columns.len()).collect(), schema)
            }
        };
        let qualifiers: Vec<String> = Vec::new();
        let action =
            self.write_action(&form, &t, &event_schema, "the query output", &qualifiers)?;
        let mut operators = finish_operators(body, order);
        operators.push(Operator::TableWrite(Box::new(TableWritePlan {
            table,
            table_name: t.name.clone(),
            event_arity: event_schema.len(),
            table_arity: t.schema.len(),
            table_columns: t.schema.names().map(String::from).collect(),
            action,
        })));
        self.plan.queries.push(QueryPlan {
            name,
            span: q.span,
            input: inputs[0],
            inputs,
            operators,
            target: QueryTarget::Table(table),
            events,
            options,
            partition,
        });
        Ok(())
    }

    /// Checks SET and ON of a write against `[event row][table row]`.
    fn write_action(
        &mut self,
        form: &WriteForm<'_>,
        t: &TablePlan,
        event: &Schema,
        event_label: &str,
        qualifiers: &[String],
    ) -> Result<WriteAction, ()> {
        let scope = WriteScope {
            event_label,
            event_qualifiers: qualifiers.iter().map(String::as_str).collect(),
            event,
            table_name: &t.name,
            table: &t.schema,
        };
        let mut diags = std::mem::take(&mut self.diags);
        let before = diags.len();
        let set_of = |assignments: &[ast::Assignment], diags: &mut Vec<Diagnostic>| {
            let mut set: Vec<(usize, TypedExpr)> = Vec::new();
            for a in assignments {
                if let Some(q) = &a.column.qualifier {
                    if q.name != t.name {
                        diags.push(Diagnostic::error(
                            q.span,
                            format!(
                                "SET assigns attributes of table '{}', not of '{}'",
                                t.name, q.name
                            ),
                        ));
                        continue;
                    }
                }
                let Some(c) = t.schema.index_of(&a.column.name.name) else {
                    diags.push(Diagnostic::error(
                        a.column.name.span,
                        format!(
                            "unknown attribute '{}' in table '{}'{}",
                            a.column.name.name,
                            t.name,
                            suggestion_suffix(&a.column.name.name, t.schema.names())
                        ),
                    ));
                    continue;
                };
                if set.iter().any(|(s, _)| *s == c) {
                    diags.push(Diagnostic::error(
                        a.column.span,
                        format!("attribute '{}' is assigned twice", a.column.name.name),
                    ));
                    continue;
                }
                let Ok(v) = ExprChecker::new(&scope, diags)
                    .in_clause("in SET")
                    .check(&a.value)
                else {
                    continue;
                };
                let ty = t.schema.attributes[c].ty;
                if !v.ty.assignable_to(ty) && !super::literal_fits(&v, ty) {
                    diags.push(Diagnostic::error(
                        a.value.span,
                        format!(
                            "cannot assign a value of type {} to attribute '{}' ({ty}) of table '{}'",
                            v.ty, a.column.name.name, t.name
                        ),
                    ));
                    continue;
                }
                set.push((c, v.cast_to(ty)));
            }
            set
        };
        let on_of = |on: &Expr,
                     diags: &mut Vec<Diagnostic>|
         -> Option<(TableCondition, Vec<(usize, TypedExpr)>)> {
            let cond = ExprChecker::new(&scope, diags)
                .in_clause("in ON")
                .condition(on, "ON")
                .ok()?;
            let (cond, pairs) = table_condition(cond, event.len(), t);
            if let Some(store) = &t.store {
                if !by_primary_key(cond.lookup.as_ref()) {
                    diags.push(Diagnostic::error(
                        on.span,
                        format!(
                            "the '{}' table '{}' is written by primary key only: ON must compare every key column ({}) with an expression over the event",
                            store.extension,
                            t.name,
                            t.key_names()
                        ),
                    ));
                    return None;
                }
            }
            Some((cond, pairs))
        };
        let action = match form {
            WriteForm::Insert | WriteForm::Upsert => Some(WriteAction::Insert),
            WriteForm::Update(set, on) => {
                let set = set_of(set, &mut diags);
                on_of(on, &mut diags).map(|(on, _)| WriteAction::Update { set, on })
            }
            WriteForm::Delete(on) => {
                on_of(on, &mut diags).map(|(on, _)| WriteAction::Delete { on })
            }
            WriteForm::UpdateOrInsert(set, on) => {
                let set = set_of(set, &mut diags);
                on_of(on, &mut diags).map(|(on, pairs)| {
                    // The inserted row: SET values, else the value ON equates the column with,
                    // else the event attribute of the same name, else NULL.
                    let insert = t
                        .schema
                        .attributes
                        .iter()
                        .enumerate()
                        .map(|(c, a)| {
                            if let Some((_, e)) = set.iter().find(|(s, _)| *s == c) {
                                return e.clone();
                            }
                            if let Some((_, e)) = pairs.iter().find(|(s, _)| *s == c) {
                                return e.clone().cast_to(a.ty);
                            }
                            match event.index_of(&a.name) {
                                Some(i) if event.attributes[i].ty.assignable_to(a.ty) => {
                                    TypedExpr {
                                        kind: TypedExprKind::Column(ColumnSlot {
                                            index: i,
                                            display: a.name.clone(),
                                        }),
                                        ty: event.attributes[i].ty,
                                        span: Span::default(),
                                    }
                                    .cast_to(a.ty)
                                }
                                _ => TypedExpr::constant(Constant::Null, a.ty, Span::default()),
                            }
                        })
                        .collect();
                    WriteAction::UpdateOrInsert { set, on, insert }
                })
            }
        };
        let failed = diags.len() > before;
        self.diags = diags;
        match action {
            Some(a) if !failed => Ok(a),
            _ => Err(()),
        }
    }

    /// `UPDATE [OR INSERT INTO] T SET … FROM S [AS a] ON …`.
    pub(super) fn plan_update_statement(&mut self, u: &ast::UpdateStmt) -> Result<(), ()> {
        let form = if u.or_insert {
            WriteForm::UpdateOrInsert(&u.set, &u.on)
        } else {
            WriteForm::Update(&u.set, &u.on)
        };
        self.plan_write_statement(&u.annotations, &u.table, &u.source, form, u.span)
    }

    /// `DELETE FROM T USING S [AS a] ON …`.
    pub(super) fn plan_delete_statement(&mut self, d: &ast::DeleteStmt) -> Result<(), ()> {
        self.plan_write_statement(
            &d.annotations,
            &d.table,
            &d.source,
            WriteForm::Delete(&d.on),
            d.span,
        )
    }

    fn plan_write_statement(
        &mut self,
        annotations: &[ast::Annotation],
        table: &ast::Ident,
        source: &ast::StreamRef,
        form: WriteForm<'_>,
        span: Span,
    ) -> Result<(), ()> {
        self.queries_seen += 1;
        let (name, options) = self.annotations(annotations, self.queries_seen);
        let tid = self.write_target(table);
        let input = self.resolve_input(&source.name);
        let (tid, input) = (tid?, input?);
        if let Some(w) = &source.window {
            self.error(
                w.span,
                "a window has no effect on the stream an UPDATE or DELETE reads: remove it",
            );
        }
        if source.unidirectional {
            self.error(
                source.span,
                "UNIDIRECTIONAL only applies to a side of a join",
            );
        }
        let schema = self.plan.streams[input].schema.clone();
        let stream_name = self.plan.streams[input].name.clone();
        let mut operators = Vec::new();
        if let Some(f) = &source.filter {
            let scope = StreamScope {
                stream: &stream_name,
                alias: source.alias.as_ref().map(|a| a.name.as_str()),
                schema: &schema,
                probes: None,
            };
            let mut diags = std::mem::take(&mut self.diags);
            let checked = ExprChecker::new(&scope, &mut diags)
                .in_clause("in a stream filter")
                .condition(f, "filter");
            self.diags = diags;
            operators.push(Operator::Filter(checked.map_err(|_| ())?));
        }
        let t = self.plan.tables[tid].clone();
        let mut qualifiers = vec![stream_name.clone()];
        if let Some(a) = &source.alias {
            qualifiers.push(a.name.clone());
        }
        let label = format!("stream '{stream_name}'");
        let action = self.write_action(&form, &t, &schema, &label, &qualifiers)?;
        let partition = self.partition_of(&[input], source.span)?;
        operators.push(Operator::TableWrite(Box::new(TableWritePlan {
            table: tid,
            table_name: t.name.clone(),
            event_arity: schema.len(),
            table_arity: t.schema.len(),
            table_columns: t.schema.names().map(String::from).collect(),
            action,
        })));
        self.plan.queries.push(QueryPlan {
            name,
            span,
            input,
            inputs: vec![input],
            operators,
            target: QueryTarget::Table(tid),
            events: ast::OutputEvents::Current,
            options,
            partition,
        });
        Ok(())
    }

    /// Plans `FROM a JOIN b ON … [JOIN c ON …]`: the join operator, then WHERE and the select
    /// step over the join row.
    pub(super) fn plan_join(
        &mut self,
        q: &ast::Query,
        j: &ast::Join,
    ) -> Result<(Vec<StreamId>, QueryBody), ()> {
        let before = self.diags.len();
        let refs: Vec<&ast::StreamRef> = std::iter::once(&j.left)
            .chain(j.steps.iter().map(|s| &s.right))
            .collect();
        // Resolve every side.
        let mut sources = Vec::new();
        let mut infos: Vec<SideInfo> = Vec::new();
        let mut offset = 0;
        for r in &refs {
            let name = &r.name.name;
            let (source, schema) = if let Some(id) = self.plan.stream_id(name) {
                (JoinSource::Stream(id), self.plan.streams[id].schema.clone())
            } else if let Some(id) = self.plan.table_id(name) {
                (JoinSource::Table(id), self.plan.tables[id].schema.clone())
            } else {
                if self.others.get(name) != Some(&OtherName::Poisoned) {
                    let known: Vec<&str> = self
                        .plan
                        .streams
                        .iter()
                        .map(|s| s.name.as_str())
                        .chain(self.plan.tables.iter().map(|t| t.name.as_str()))
                        .collect();
                    let hint = suggestion_suffix(name, known.iter().copied());
                    self.error(
                        r.name.span,
                        format!("unknown stream or table '{name}'{hint}"),
                    );
                }
                continue;
            };
            let arity = schema.len();
            infos.push(SideInfo {
                stream: name.clone(),
                alias: r.alias.as_ref().map(|a| a.name.clone()),
                schema,
                offset,
            });
            sources.push(source);
            offset += arity;
        }
        if self.diags.len() > before {
            return Err(());
        }
        let arity = offset;
        // Each side needs a distinct name.
        for (i, s) in infos.iter().enumerate() {
            if infos[..i].iter().any(|o| o.label() == s.label()) {
                self.error(
                    refs[i].span,
                    format!(
                        "'{}' appears twice in this join: give each side its own alias with AS",
                        s.label()
                    ),
                );
            }
        }
        if self.diags.len() > before {
            return Err(());
        }
        let unidirectional: Vec<usize> = (0..refs.len())
            .filter(|&i| refs[i].unidirectional)
            .collect();
        if unidirectional.len() > 1 {
            self.error(
                refs[unidirectional[1]].span,
                "only one side of a join can be UNIDIRECTIONAL",
            );
        }
        if !sources.iter().any(|s| matches!(s, JoinSource::Stream(_))) {
            self.error(
                j.span,
                "a join needs at least one stream: tables alone never trigger",
            );
        }
        let mut diags = std::mem::take(&mut self.diags);
        let mut sides = Vec::new();
        for (i, r) in refs.iter().enumerate() {
            let info = &infos[i];
            let is_table = matches!(sources[i], JoinSource::Table(_));
            if is_table {
                if let Some(w) = &r.window {
                    diags.push(Diagnostic::error(
                        w.span,
                        format!(
                            "table '{}' cannot have a window: a table is read as it is",
                            info.stream
                        ),
                    ));
                }
                if r.unidirectional {
                    diags.push(Diagnostic::error(
                        r.span,
                        "UNIDIRECTIONAL applies to a stream: a table never triggers a join",
                    ));
                }
                if let Some(f) = &r.filter {
                    diags.push(Diagnostic::error(
                        f.span,
                        "a table cannot be filtered with [ … ]: put the condition in ON or WHERE",
                    ));
                }
            }
            // `IN Table` tests of the filter are columns after the side's own attributes.
            let filter_probes = ProbeSink::new(
                &self.plan,
                info.schema.len(),
                r.filter.as_ref().map_or(0, count_expr),
            );
            let scope = StreamScope {
                stream: &info.stream,
                alias: info.alias.as_deref(),
                schema: &info.schema,
                probes: Some(&filter_probes),
            };
            let filter = match (&r.filter, is_table) {
                (Some(f), false) => ExprChecker::new(&scope, &mut diags)
                    .in_clause("in a stream filter")
                    .condition(f, "filter")
                    .ok(),
                _ => None,
            };
            let filter_probes = filter_probes.finish();
            let window = match (&r.window, is_table) {
                (Some(w), false) => check_window(w, &info.schema, &info.stream, &mut diags),
                _ => None,
            };
            sides.push(JoinSide {
                source: sources[i],
                name: info.label().to_string(),
                offset: info.offset,
                arity: info.schema.len(),
                filter,
                filter_probes,
                window,
                triggers: !is_table && (unidirectional.is_empty() || unidirectional.contains(&i)),
                key: Vec::new(),
            });
        }
        // ON conditions: hash equalities, table lookups and the rest.
        let mut steps = Vec::new();
        for (i, step) in j.steps.iter().enumerate() {
            let right = i + 1;
            let scope = JoinScope {
                sides: &infos,
                visible: right + 1,
                probes: None,
            };
            let cond = match &step.on {
                Some(on) => match ExprChecker::new(&scope, &mut diags)
                    .in_clause("in ON")
                    .condition(on, "ON")
                {
                    Ok(c) => Some(c),
                    Err(_) => continue,
                },
                None => None,
            };
            let mut terms = Vec::new();
            if let Some(c) = cond {
                conjuncts(c, &mut terms);
            }
            let r_off = infos[right].offset;
            let r_end = r_off + infos[right].schema.len();
            let mut pairs: Vec<(TypedExpr, TypedExpr, TypedExpr)> = Vec::new();
            let mut residual = Vec::new();
            for term in terms {
                match equality_split(&term, r_off, r_end) {
                    Some((l, r)) => pairs.push((l, r, term)),
                    None => residual.push(term),
                }
            }
            let mut js = JoinStep {
                kind: step.kind,
                equalities: Vec::new(),
                table_lookup: None,
                left_table_lookup: None,
                residual: None,
            };
            match (sources[right], sources[0]) {
                (JoinSource::Table(tid), _) => {
                    let t = &self.plan.tables[tid];
                    let cols: Vec<(usize, TypedExpr)> = pairs
                        .iter()
                        .filter_map(|(l, r, _)| plain_column(r).map(|c| (c - r_off, l.clone())))
                        .collect();
                    let by_col: Vec<usize> = pairs
                        .iter()
                        .enumerate()
                        .filter(|(_, (_, r, _))| plain_column(r).is_some())
                        .map(|(k, _)| k)
                        .collect();
                    let chosen = choose_lookup(t, &cols);
                    let used: Vec<usize> = chosen
                        .as_ref()
                        .map(|(_, u)| u.iter().map(|&k| by_col[k]).collect())
                        .unwrap_or_default();
                    js.table_lookup = chosen.map(|c| c.0);
                    for (k, (_, _, term)) in pairs.into_iter().enumerate() {
                        if !used.contains(&k) {
                            residual.push(term);
                        }
                    }
                }
                (_, JoinSource::Table(tid)) if i == 0 => {
                    // The table is the first side: the right side's arrivals look it up.
                    let t = &self.plan.tables[tid];
                    let cols: Vec<(usize, TypedExpr)> = pairs
                        .iter()
                        .filter_map(|(l, r, _)| {
                            plain_column(l).map(|c| {
                                let mut r = r.clone();
                                rebase(&mut r, r_off);
                                (c, r)
                            })
                        })
                        .collect();
                    let by_col: Vec<usize> = pairs
                        .iter()
                        .enumerate()
                        .filter(|(_, (l, _, _))| plain_column(l).is_some())
                        .map(|(k, _)| k)
                        .collect();
                    let chosen = choose_lookup(t, &cols);
                    let used: Vec<usize> = chosen
                        .as_ref()
                        .map(|(_, u)| u.iter().map(|&k| by_col[k]).collect())
                        .unwrap_or_default();
                    js.left_table_lookup = chosen.map(|c| c.0);
                    for (k, (_, _, term)) in pairs.into_iter().enumerate() {
                        if !used.contains(&k) {
                            residual.push(term);
                        }
                    }
                }
                _ => {
                    for (l, mut r, _) in pairs {
                        rebase(&mut r, r_off);
                        js.equalities
                            .push((strip_family_cast(l), strip_family_cast(r)));
                    }
                }
            }
            js.residual = conjoin(residual);
            steps.push(js);
        }
        self.check_external_join_sides(&refs, &sources, &steps, &mut diags);
        // Each stream side indexes its retained rows by the key the step probing it uses.
        if let Some(first) = steps.first() {
            sides[0].key = first.equalities.iter().map(|(l, _)| l.clone()).collect();
        }
        for (i, step) in steps.iter().enumerate() {
            sides[i + 1].key = step.equalities.iter().map(|(_, r)| r.clone()).collect();
        }
        // WHERE, SELECT, … over the join row.
        let sink = ProbeSink::new(&self.plan, arity, count_in_table(q));
        let scope = JoinScope {
            sides: &infos,
            visible: infos.len(),
            probes: Some(&sink),
        };
        let expansion = join_expansion(&infos);
        let body = if diags.len() > before {
            Err(())
        } else {
            plan_body_in(
                q,
                None,
                &scope,
                &expansion,
                arity + sink.capacity(),
                &mut diags,
            )
        };
        self.diags = diags;
        let mut body = body?;
        let probes = sink.finish();
        if !probes.is_empty() {
            body.operators.insert(0, Operator::TableProbe(probes));
        }
        body.operators.insert(
            0,
            Operator::Join(Box::new(JoinPlan {
                sides,
                steps,
                arity,
            })),
        );
        let mut inputs: Vec<StreamId> = Vec::new();
        for s in &sources {
            if let JoinSource::Stream(id) = s {
                if !inputs.contains(id) {
                    inputs.push(*id);
                }
            }
        }
        let _ = DEFAULT_OUTPUT;
        Ok((inputs, body))
    }
}

/// `*` over a join: every attribute of every side; a name several sides have is prefixed with
/// the side's alias (`t_symbol`). `alias.*`: that side's attributes.
fn join_expansion(infos: &[SideInfo]) -> Expansion {
    let mut all = Vec::new();
    let mut by_qualifier = Vec::new();
    for (si, s) in infos.iter().enumerate() {
        let mut cols = Vec::new();
        for (ai, a) in s.schema.attributes.iter().enumerate() {
            let clash = infos
                .iter()
                .enumerate()
                .any(|(o, other)| o != si && other.schema.index_of(&a.name).is_some());
            let name = if clash {
                format!("{}_{}", s.label(), a.name)
            } else {
                a.name.clone()
            };
            let display = format!("{}.{}", s.label(), a.name);
            all.push((name, display.clone(), s.offset + ai, a.ty));
            cols.push((a.name.clone(), display, s.offset + ai, a.ty));
        }
        by_qualifier.push((s.label().to_string(), cols.clone()));
        if s.alias.is_some() && !infos.iter().any(|o| o.alias.as_deref() == Some(&s.stream)) {
            let once = infos.iter().filter(|o| o.stream == s.stream).count() == 1;
            if once {
                by_qualifier.push((s.stream.clone(), cols));
            }
        }
    }
    Expansion { all, by_qualifier }
}

/// `l = r` where `l` reads only columns before `r_off` and `r` only columns in
/// `r_off..r_end` (or mirrored), both of one hash-key family: `(left, right)`.
fn equality_split(term: &TypedExpr, r_off: usize, r_end: usize) -> Option<(TypedExpr, TypedExpr)> {
    let TypedExprKind::Binary {
        op: eventflux_sql::ast::BinaryOp::Eq,
        left,
        right,
    } = &term.kind
    else {
        return None;
    };
    if key_family(left.ty) == KeyFamily::Other || key_family(left.ty) != key_family(right.ty) {
        return None;
    }
    let side = |e: &TypedExpr| -> Option<bool> {
        let mut cols = Vec::new();
        if !columns_of(e, &mut cols) || cols.is_empty() {
            return None;
        }
        if cols.iter().all(|&c| c < r_off) {
            Some(false)
        } else if cols.iter().all(|&c| c >= r_off && c < r_end) {
            Some(true)
        } else {
            None
        }
    };
    match (side(left)?, side(right)?) {
        (false, true) => Some(((**left).clone(), (**right).clone())),
        (true, false) => Some(((**right).clone(), (**left).clone())),
        _ => None,
    }
}

/// Splits a write's ON into a table lookup and the rest; also returns every equality
/// `table column = expression over the event` (UPDATE OR INSERT fills inserted rows from them).
fn table_condition(
    cond: TypedExpr,
    event_arity: usize,
    t: &TablePlan,
) -> (TableCondition, Vec<(usize, TypedExpr)>) {
    let mut terms = Vec::new();
    conjuncts(cond, &mut terms);
    let mut pairs: Vec<(usize, TypedExpr)> = Vec::new();
    let mut pair_terms: Vec<usize> = Vec::new();
    for (k, term) in terms.iter().enumerate() {
        if let Some((table_side, event_side)) =
            equality_split(term, event_arity, event_arity + t.schema.len()).map(|(l, r)| (r, l))
        {
            if let Some(c) = plain_column(&table_side) {
                pairs.push((c - event_arity, event_side));
                pair_terms.push(k);
            }
        }
    }
    let chosen = choose_lookup(t, &pairs);
    let used: Vec<usize> = chosen
        .as_ref()
        .map(|(_, u)| u.iter().map(|&p| pair_terms[p]).collect())
        .unwrap_or_default();
    let residual: Vec<TypedExpr> = terms
        .into_iter()
        .enumerate()
        .filter(|(k, _)| !used.contains(k))
        .map(|(_, t)| t)
        .collect();
    (
        TableCondition {
            lookup: chosen.map(|c| c.0),
            residual: conjoin(residual),
        },
        pairs,
    )
}
