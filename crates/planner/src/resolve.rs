//! Type checking of expressions: resolves names through a [`Scope`], applies numeric promotion
//! (§2) and turns the AST into [`TypedExpr`]s.

use crate::expr::{ColumnSlot, Constant, TypedExpr, TypedExprKind};
use crate::functions::{self, AggregateFn, FunctionKind, ScalarFn};
use crate::plan::AggregateCall;
use crate::types::Type;
use eventflux_sql::ast::{BinaryOp, ColumnRef, Expr, ExprKind, Literal, UnaryOp};
use eventflux_sql::{suggestion_suffix, Diagnostic, Span};

/// Resolves column references for the expressions of one query.
pub trait Scope {
    fn resolve_column(&self, col: &ColumnRef) -> Result<(ColumnSlot, Type), Diagnostic>;

    /// Resolves any column reference to a typed expression. Scopes whose names are not plain
    /// row positions (pattern aliases) override this.
    fn resolve(&self, col: &ColumnRef, span: Span) -> Result<TypedExpr, Diagnostic> {
        let (slot, ty) = self.resolve_column(col)?;
        Ok(TypedExpr {
            kind: TypedExprKind::Column(slot),
            ty,
            span,
        })
    }

    /// An aggregate over the events of a counted pattern alias (`sum(e1.x)`, `count(e1)`), if
    /// this scope has such aliases and the call is one.
    fn collection_aggregate(
        &self,
        _func: AggregateFn,
        _args: &[Expr],
        _span: Span,
    ) -> Option<Result<TypedExpr, Diagnostic>> {
        None
    }

    /// `key IN table` (`span` is the whole test): the BOOL column holding the lookup's result,
    /// for scopes whose queries can look tables up; `None` where tables cannot be read.
    fn in_table(
        &self,
        _key: &Expr,
        _table: &eventflux_sql::ast::Ident,
        _span: Span,
        _diags: &mut Vec<Diagnostic>,
    ) -> Option<Result<TypedExpr, Failed>> {
        None
    }
}

/// Marker for an expression that failed to check; its diagnostics are already recorded.
#[derive(Debug)]
pub struct Failed;

pub type Checked = Result<TypedExpr, Failed>;

/// Collects the aggregate calls of a query. Each distinct call gets one slot of the evaluation
/// row, at `base + index`; arguments are checked against `arg_scope` (the input attributes).
pub struct AggregateSink<'s> {
    pub arg_scope: &'s dyn Scope,
    pub base: usize,
    pub calls: Vec<AggregateCall>,
}

/// Checks expressions against a scope, collecting every diagnostic instead of stopping at the
/// first one.
pub struct ExprChecker<'a, 's> {
    pub scope: &'a dyn Scope,
    pub diags: &'a mut Vec<Diagnostic>,
    /// Where aggregate calls go; `None` where aggregates are not allowed (WHERE, GROUP BY, …).
    pub aggregates: Option<&'a mut AggregateSink<'s>>,
    /// Names the clause in "not allowed here" messages.
    pub clause: &'static str,
}

impl<'a, 's> ExprChecker<'a, 's> {
    pub fn new(scope: &'a dyn Scope, diags: &'a mut Vec<Diagnostic>) -> Self {
        ExprChecker {
            scope,
            diags,
            aggregates: None,
            clause: "here",
        }
    }

    pub fn with_aggregates(
        scope: &'a dyn Scope,
        diags: &'a mut Vec<Diagnostic>,
        sink: &'a mut AggregateSink<'s>,
    ) -> Self {
        ExprChecker {
            scope,
            diags,
            aggregates: Some(sink),
            clause: "here",
        }
    }

    /// Names the clause for messages like "aggregate functions are not allowed in WHERE".
    pub fn in_clause(mut self, clause: &'static str) -> Self {
        self.clause = clause;
        self
    }

    fn aggregate(
        &mut self,
        agg: AggregateFn,
        args: &[Expr],
        distinct: bool,
        star: bool,
        span: Span,
        text: String,
    ) -> Checked {
        let clause = self.clause;
        let Some(sink) = self.aggregates.as_deref_mut() else {
            return Err(self.fail(
                span,
                format!(
                    "aggregate function '{}' is not allowed {clause}",
                    agg.name()
                ),
            ));
        };
        let arg_scope = sink.arg_scope;
        let mut inner =
            ExprChecker::new(arg_scope, self.diags).in_clause("inside another aggregate");
        let checked: Vec<Checked> = args.iter().map(|a| inner.check(a)).collect();
        let checked: Vec<TypedExpr> = checked.into_iter().collect::<Result<_, _>>()?;
        let types: Vec<Type> = checked.iter().map(|a| a.ty).collect();
        let sig = match functions::check_aggregate(agg, &types, star, distinct) {
            Ok(sig) => sig,
            Err(m) => return Err(self.fail(span, m)),
        };
        let mut checked = checked.into_iter();
        let arg = checked.next().map(|a| convert_arg(a, sig.arg_types[0]));
        let percentile = match checked.next() {
            None => None,
            Some(p) => {
                let value = match p.as_constant() {
                    Some(Constant::Double(v)) => Some(*v),
                    Some(Constant::Long(v)) => Some(*v as f64),
                    Some(Constant::Int(v)) => Some(*v as f64),
                    Some(Constant::Float(v)) => Some(*v as f64),
                    _ => None,
                };
                let Some(value) = value else {
                    return Err(self.fail(
                        p.span,
                        "the percentage of 'percentile' must be a constant number",
                    ));
                };
                if let Err(m) = functions::check_percentile(value) {
                    return Err(self.fail(p.span, m));
                }
                Some(value)
            }
        };
        let Some(sink) = self.aggregates.as_deref_mut() else {
            return Err(Failed);
        };
        let call = AggregateCall {
            func: agg,
            arg,
            distinct,
            percentile,
            result: sig.result,
            display: text,
        };
        let index = match sink.calls.iter().position(|c| c.display == call.display) {
            Some(i) => i,
            None => {
                sink.calls.push(call);
                sink.calls.len() - 1
            }
        };
        let ty = sink.calls[index].result;
        let display = sink.calls[index].display.clone();
        Ok(TypedExpr {
            kind: TypedExprKind::Column(ColumnSlot {
                index: sink.base + index,
                display,
            }),
            ty: if ty == Type::Null { Type::Long } else { ty },
            span,
        })
    }

    fn fail(&mut self, span: Span, msg: impl Into<String>) -> Failed {
        self.diags.push(Diagnostic::error(span, msg));
        Failed
    }

    /// Checks a condition (WHERE, HAVING, filters, ON): it must be BOOL.
    pub fn condition(&mut self, e: &Expr, clause: &str) -> Checked {
        let t = self.check(e)?;
        match t.ty {
            Type::Bool => Ok(t),
            Type::Null => Ok(t.cast_to(Type::Bool)),
            other => Err(self.fail(
                e.span,
                format!("{clause} condition must be BOOL, found {other}"),
            )),
        }
    }

    pub fn check(&mut self, e: &Expr) -> Checked {
        let span = e.span;
        match &e.kind {
            ExprKind::Literal(lit) => Ok(literal(lit, span)),
            ExprKind::Duration(ms) => {
                Ok(TypedExpr::constant(Constant::Long(*ms), Type::Long, span))
            }
            ExprKind::Column(col) => match self.scope.resolve(col, span) {
                Ok(e) => Ok(e),
                Err(d) => {
                    self.diags.push(d);
                    Err(Failed)
                }
            },
            ExprKind::Unary { op, expr } => {
                let inner = self.check(expr)?;
                match op {
                    UnaryOp::Neg => {
                        if !(inner.ty.is_numeric() || inner.ty == Type::Null) {
                            return Err(self.fail(
                                span,
                                format!("cannot negate a value of type {}", inner.ty),
                            ));
                        }
                        let ty = if inner.ty == Type::Timestamp {
                            Type::Long
                        } else {
                            inner.ty
                        };
                        if let Some(c) = inner.as_constant() {
                            let folded = match *c {
                                Constant::Int(v) => Some(Constant::Int(v.wrapping_neg())),
                                Constant::Long(v) => Some(Constant::Long(v.wrapping_neg())),
                                Constant::Float(v) => Some(Constant::Float(-v)),
                                Constant::Double(v) => Some(Constant::Double(-v)),
                                _ => None,
                            };
                            if let Some(c) = folded {
                                return Ok(TypedExpr::constant(c, ty, span));
                            }
                        }
                        let inner = inner.cast_to(ty);
                        Ok(TypedExpr {
                            kind: TypedExprKind::Neg(Box::new(inner)),
                            ty,
                            span,
                        })
                    }
                    UnaryOp::Not => {
                        let inner = self.expect_bool(inner, "NOT")?;
                        Ok(TypedExpr {
                            kind: TypedExprKind::Not(Box::new(inner)),
                            ty: Type::Bool,
                            span,
                        })
                    }
                }
            }
            ExprKind::Binary { op, left, right } => {
                let l = self.check(left);
                let r = self.check(right);
                let (l, r) = (l?, r?);
                self.binary(*op, l, r, span)
            }
            ExprKind::IsNull { expr, negated } => {
                let inner = self.check(expr)?;
                Ok(TypedExpr {
                    kind: TypedExprKind::IsNull {
                        expr: Box::new(inner),
                        negated: *negated,
                    },
                    ty: Type::Bool,
                    span,
                })
            }
            ExprKind::InList {
                expr,
                list,
                negated,
            } => {
                let head = self.check(expr);
                let items: Vec<Checked> = list.iter().map(|i| self.check(i)).collect();
                let head = head?;
                let items: Vec<TypedExpr> = items.into_iter().collect::<Result<_, _>>()?;
                let mut ty = head.ty;
                for item in &items {
                    ty = match Type::unify(ty, item.ty) {
                        Some(t) => t,
                        None => {
                            return Err(self.fail(
                                item.span,
                                format!(
                                    "IN list item of type {} cannot be compared with {}",
                                    item.ty, head.ty
                                ),
                            ))
                        }
                    };
                }
                let ty = comparable(ty);
                Ok(TypedExpr {
                    kind: TypedExprKind::InList {
                        expr: Box::new(head.cast_to(ty)),
                        list: items.into_iter().map(|i| i.cast_to(ty)).collect(),
                        negated: *negated,
                    },
                    ty: Type::Bool,
                    span,
                })
            }
            ExprKind::InTable {
                expr,
                table,
                negated,
            } => match self.scope.in_table(expr, table, span, self.diags) {
                None => Err(self.fail(
                    table.span,
                    format!(
                        "not supported yet: 'IN {}' here (table lookups work in the WHERE, filters and SELECT of stream and join queries)",
                        table.name
                    ),
                )),
                Some(Err(f)) => Err(f),
                Some(Ok(found)) if *negated => Ok(TypedExpr {
                    kind: TypedExprKind::Not(Box::new(found)),
                    ty: Type::Bool,
                    span,
                }),
                Some(Ok(found)) => Ok(found),
            },
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let (a, b, c) = (self.check(expr), self.check(low), self.check(high));
                let (a, b, c) = (a?, b?, c?);
                let ty = Type::unify(a.ty, b.ty).and_then(|t| Type::unify(t, c.ty));
                let Some(ty) = ty.map(comparable) else {
                    return Err(self.fail(
                        span,
                        format!(
                            "BETWEEN needs comparable types, found {}, {} and {}",
                            a.ty, b.ty, c.ty
                        ),
                    ));
                };
                Ok(TypedExpr {
                    kind: TypedExprKind::Between {
                        expr: Box::new(a.cast_to(ty)),
                        low: Box::new(b.cast_to(ty)),
                        high: Box::new(c.cast_to(ty)),
                        negated: *negated,
                    },
                    ty: Type::Bool,
                    span,
                })
            }
            ExprKind::Like {
                expr,
                pattern,
                negated,
            } => {
                let (a, p) = (self.check(expr), self.check(pattern));
                let (a, p) = (a?, p?);
                let a = self.expect_string(a, "LIKE")?;
                let p = self.expect_string(p, "LIKE pattern")?;
                Ok(TypedExpr {
                    kind: TypedExprKind::Like {
                        expr: Box::new(a),
                        pattern: Box::new(p),
                        negated: *negated,
                    },
                    ty: Type::Bool,
                    span,
                })
            }
            ExprKind::Case {
                operand,
                whens,
                else_result,
            } => self.case(operand.as_deref(), whens, else_result.as_deref(), span),
            ExprKind::Cast { expr, ty } => {
                let inner = self.check(expr)?;
                let target = Type::from_kind(ty.kind);
                if !castable(inner.ty, target) {
                    return Err(self.fail(
                        span,
                        format!("cannot CAST a value of type {} to {target}", inner.ty),
                    ));
                }
                if inner.ty == target {
                    return Ok(TypedExpr { span, ..inner });
                }
                Ok(TypedExpr {
                    kind: TypedExprKind::Cast(Box::new(inner)),
                    ty: target,
                    span,
                })
            }
            ExprKind::Function {
                name,
                args,
                distinct,
                star,
            } => {
                let Some(kind) = functions::lookup(&name.name) else {
                    let hint = suggestion_suffix(
                        &name.name.to_ascii_lowercase(),
                        functions::known_names().iter().copied(),
                    );
                    return Err(
                        self.fail(name.span, format!("unknown function '{}'{hint}", name.name))
                    );
                };
                match kind {
                    FunctionKind::Aggregate(agg) => {
                        if !*distinct && !*star {
                            if let Some(r) = self.scope.collection_aggregate(agg, args, span) {
                                return r.map_err(|d| {
                                    self.diags.push(d);
                                    Failed
                                });
                            }
                        }
                        let text = aggregate_text(agg, args, *distinct, *star);
                        self.aggregate(agg, args, *distinct, *star, span, text)
                    }
                    FunctionKind::Scalar(func) => {
                        if *distinct || *star {
                            return Err(self.fail(
                                span,
                                format!(
                                    "'{}' is not an aggregate: DISTINCT and * are not allowed",
                                    func.name()
                                ),
                            ));
                        }
                        self.call(func, args, span)
                    }
                }
            }
        }
    }

    fn call(&mut self, func: ScalarFn, args: &[Expr], span: Span) -> Checked {
        let checked: Vec<Checked> = args.iter().map(|a| self.check(a)).collect();
        let checked: Vec<TypedExpr> = checked.into_iter().collect::<Result<_, _>>()?;
        let types: Vec<Type> = checked.iter().map(|a| a.ty).collect();
        let sig = match functions::check_scalar(func, &types) {
            Ok(sig) => sig,
            Err(msg) => return Err(self.fail(span, msg)),
        };
        match func {
            ScalarFn::Now => {
                return Ok(TypedExpr {
                    kind: TypedExprKind::Now,
                    ty: sig.result,
                    span,
                })
            }
            ScalarFn::EventTime => {
                return Ok(TypedExpr {
                    kind: TypedExprKind::EventTime,
                    ty: sig.result,
                    span,
                })
            }
            _ => {}
        }
        if func == ScalarFn::RegexMatch {
            if let Some(Constant::String(re)) = checked.get(1).and_then(|a| a.as_constant()) {
                if let Err(e) = regex::Regex::new(re) {
                    return Err(self.fail(
                        span,
                        format!(
                            "function 'regex_match': invalid regular expression '{re}': {}",
                            regex_error(&e)
                        ),
                    ));
                }
            }
        }
        let args = checked
            .into_iter()
            .zip(sig.arg_types.iter())
            .map(|(a, t)| convert_arg(a, *t))
            .collect();
        Ok(TypedExpr {
            kind: TypedExprKind::Call { func, args },
            ty: sig.result,
            span,
        })
    }

    fn case(
        &mut self,
        operand: Option<&Expr>,
        whens: &[(Expr, Expr)],
        else_result: Option<&Expr>,
        span: Span,
    ) -> Checked {
        let operand = match operand {
            Some(o) => Some(self.check(o)?),
            None => None,
        };
        let mut conds = Vec::with_capacity(whens.len());
        let mut results = Vec::with_capacity(whens.len());
        let mut failed = false;
        for (w, r) in whens {
            let cond = match &operand {
                Some(op) => match self.check(w) {
                    Ok(v) => self.binary(BinaryOp::Eq, op.clone(), v, w.span),
                    Err(f) => Err(f),
                },
                None => self.condition(w, "CASE WHEN"),
            };
            let res = self.check(r);
            match (cond, res) {
                (Ok(c), Ok(r)) => {
                    conds.push(c);
                    results.push(r);
                }
                _ => failed = true,
            }
        }
        let else_checked = else_result.map(|e| self.check(e));
        if failed {
            return Err(Failed);
        }
        let else_checked = match else_checked {
            Some(r) => Some(r?),
            None => None,
        };
        let mut ty = Type::Null;
        for r in results.iter().chain(else_checked.iter()) {
            ty = match Type::unify(ty, r.ty) {
                Some(t) => t,
                None => {
                    return Err(self.fail(
                        r.span,
                        format!("CASE results must have one type: found {ty} and {}", r.ty),
                    ))
                }
            };
        }
        Ok(TypedExpr {
            kind: TypedExprKind::Case {
                whens: conds
                    .into_iter()
                    .zip(results)
                    .map(|(c, r)| (c, r.cast_to(ty)))
                    .collect(),
                else_result: else_checked.map(|e| Box::new(e.cast_to(ty))),
            },
            ty,
            span,
        })
    }

    fn expect_bool(&mut self, e: TypedExpr, what: &str) -> Checked {
        match e.ty {
            Type::Bool => Ok(e),
            Type::Null => Ok(e.cast_to(Type::Bool)),
            other => Err(self.fail(
                e.span,
                format!("{what} needs a BOOL operand, found {other}"),
            )),
        }
    }

    fn expect_string(&mut self, e: TypedExpr, what: &str) -> Checked {
        match e.ty {
            Type::String => Ok(e),
            Type::Null => Ok(e.cast_to(Type::String)),
            other => Err(self.fail(
                e.span,
                format!("{what} needs a STRING operand, found {other}"),
            )),
        }
    }

    /// Types a binary operation; public so that callers can build comparisons (CASE x WHEN v).
    pub fn binary(&mut self, op: BinaryOp, l: TypedExpr, r: TypedExpr, span: Span) -> Checked {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let l = self.expect_bool(l, op.symbol());
                let r = self.expect_bool(r, op.symbol());
                let (l, r) = (l?, r?);
                Ok(TypedExpr {
                    kind: TypedExprKind::Binary {
                        op,
                        left: Box::new(l),
                        right: Box::new(r),
                    },
                    ty: Type::Bool,
                    span,
                })
            }
            BinaryOp::Concat => {
                let (l, r) = (to_text(l), to_text(r));
                Ok(TypedExpr {
                    kind: TypedExprKind::Concat(Box::new(l), Box::new(r)),
                    ty: Type::String,
                    span,
                })
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                let ty = match (l.ty, r.ty) {
                    (Type::Null, Type::Null) => Type::Null,
                    (Type::Null, t) | (t, Type::Null) if t.is_numeric() => numeric(t),
                    (a, b) => match Type::promote(a, b) {
                        Some(t) => t,
                        None => {
                            let hint = if op == BinaryOp::Add
                                && (a == Type::String || b == Type::String)
                            {
                                " (use || to concatenate strings)"
                            } else {
                                ""
                            };
                            return Err(self.fail(
                                span,
                                format!(
                                    "operator '{}' needs numeric operands, found {a} and {b}{hint}",
                                    op.symbol()
                                ),
                            ));
                        }
                    },
                };
                Ok(TypedExpr {
                    kind: TypedExprKind::Binary {
                        op,
                        left: Box::new(l.cast_to(ty)),
                        right: Box::new(r.cast_to(ty)),
                    },
                    ty,
                    span,
                })
            }
            _ => {
                // An integer constant compared with an INT attribute is narrowed instead of
                // widening the attribute per event (same result, no run-time cast).
                let narrow = |c: &TypedExpr, other: Type| {
                    other == Type::Int
                        && matches!(c.as_constant(), Some(Constant::Long(v)) if i32::try_from(*v).is_ok())
                };
                let unified = if narrow(&r, l.ty) || narrow(&l, r.ty) {
                    Some(Type::Int)
                } else {
                    Type::unify(l.ty, r.ty)
                };
                let Some(ty) = unified.map(comparable) else {
                    return Err(self.fail(
                        span,
                        format!(
                            "cannot compare {} with {} using '{}'",
                            l.ty,
                            r.ty,
                            op.symbol()
                        ),
                    ));
                };
                if ty == Type::Object {
                    return Err(self.fail(span, "OBJECT values cannot be compared"));
                }
                if ty == Type::Bool && !matches!(op, BinaryOp::Eq | BinaryOp::NotEq) {
                    return Err(self.fail(
                        span,
                        format!(
                            "BOOL values can only be compared with = or !=, not '{}'",
                            op.symbol()
                        ),
                    ));
                }
                Ok(TypedExpr {
                    kind: TypedExprKind::Binary {
                        op,
                        left: Box::new(l.cast_to(ty)),
                        right: Box::new(r.cast_to(ty)),
                    },
                    ty: Type::Bool,
                    span,
                })
            }
        }
    }
}

/// TIMESTAMP compares and computes as LONG.
fn numeric(t: Type) -> Type {
    if t == Type::Timestamp {
        Type::Long
    } else {
        t
    }
}

fn comparable(t: Type) -> Type {
    numeric(t)
}

fn to_text(e: TypedExpr) -> TypedExpr {
    match e.ty {
        Type::String => e,
        _ => e.cast_to_string(),
    }
}

impl TypedExpr {
    fn cast_to_string(self) -> TypedExpr {
        let span = self.span;
        if let Some(Constant::Null) = self.as_constant() {
            return TypedExpr::constant(Constant::Null, Type::String, span);
        }
        TypedExpr {
            kind: TypedExprKind::Cast(Box::new(self)),
            ty: Type::String,
            span,
        }
    }
}

/// Converts a function argument to the type its signature asks for (numeric conversion or
/// NULL typing; other types already match).
fn convert_arg(a: TypedExpr, t: Type) -> TypedExpr {
    if a.ty == t || t == Type::Null {
        a
    } else if t == Type::String {
        to_text(a)
    } else {
        a.cast_to(t)
    }
}

/// Which explicit CASTs are allowed.
pub fn castable(from: Type, to: Type) -> bool {
    if from == to || from == Type::Null {
        return true;
    }
    match to {
        Type::String => true,
        Type::Int | Type::Long | Type::Float | Type::Double | Type::Timestamp => {
            from.is_numeric() || from == Type::String || from == Type::Bool
        }
        Type::Bool => from == Type::String || from.is_integer(),
        Type::Object | Type::Null => false,
    }
}

/// Integer literals are LONG (§1: `42` and `42L` are LONG); decimals are DOUBLE unless suffixed
/// with `f`.
fn literal(lit: &Literal, span: Span) -> TypedExpr {
    let (c, ty) = match lit {
        Literal::Integer { value, .. } => (Constant::Long(*value), Type::Long),
        Literal::Decimal { value, float } => {
            if *float {
                (Constant::Float(*value as f32), Type::Float)
            } else {
                (Constant::Double(*value), Type::Double)
            }
        }
        Literal::String(s) => (Constant::String(s.clone()), Type::String),
        Literal::Bool(b) => (Constant::Bool(*b), Type::Bool),
        Literal::Null => (Constant::Null, Type::Null),
    };
    TypedExpr::constant(c, ty, span)
}

/// A canonical text of an aggregate call (`avg(price)`, `count(*)`), used to share one slot
/// between identical calls in SELECT, HAVING and ORDER BY.
fn aggregate_text(agg: AggregateFn, args: &[Expr], distinct: bool, star: bool) -> String {
    let args: Vec<String> = args.iter().map(expr_text).collect();
    let inner = if star {
        "*".to_string()
    } else {
        args.join(", ")
    };
    format!(
        "{}({}{inner})",
        agg.name(),
        if distinct { "DISTINCT " } else { "" }
    )
}

/// A compact source-like rendering of an AST expression (for aggregate identity and names).
pub fn expr_text(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Literal(Literal::Integer { value, .. }) => value.to_string(),
        ExprKind::Literal(Literal::Decimal { value, .. }) => format!("{value:?}"),
        ExprKind::Literal(Literal::String(s)) => format!("'{s}'"),
        ExprKind::Literal(Literal::Bool(b)) => b.to_string(),
        ExprKind::Literal(Literal::Null) => "NULL".into(),
        ExprKind::Duration(ms) => format!("{ms}ms"),
        ExprKind::Column(c) => {
            let mut t = String::new();
            if let Some(q) = &c.qualifier {
                t.push_str(&q.name);
                if let Some(i) = c.index {
                    t.push_str(&format!("[{i:?}]"));
                }
                t.push('.');
            }
            t.push_str(&c.name.name);
            t
        }
        ExprKind::Unary { op, expr } => match op {
            UnaryOp::Neg => format!("-{}", expr_text(expr)),
            UnaryOp::Not => format!("NOT {}", expr_text(expr)),
        },
        ExprKind::Binary { op, left, right } => {
            format!("({} {} {})", expr_text(left), op.symbol(), expr_text(right))
        }
        ExprKind::Function {
            name,
            args,
            distinct,
            star,
        } => {
            let args: Vec<String> = args.iter().map(expr_text).collect();
            format!(
                "{}({}{})",
                name.name.to_ascii_lowercase(),
                if *distinct { "DISTINCT " } else { "" },
                if *star {
                    "*".to_string()
                } else {
                    args.join(", ")
                }
            )
        }
        other => format!("{other:?}"),
    }
}

/// The last line of a regex error ("unclosed group"), without the crate's multi-line layout.
pub fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or("").trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}
