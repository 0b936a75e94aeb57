//! Compiles typed expressions into closures, once per query. Types are known at compile time,
//! so each closure handles exactly one representation; columns are read by position.

use crate::functions::build_scalar;
use crate::value::Value;
use eventflux_planner::expr::{Constant, EventPick, TypedExpr, TypedExprKind};
use eventflux_planner::functions::AggregateFn;
use eventflux_planner::functions::ScalarFn;
use eventflux_planner::types::Type;
use eventflux_sql::ast::BinaryOp;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

/// What an expression can see while it is evaluated.
#[derive(Clone, Copy)]
pub struct EvalCtx<'a> {
    pub row: &'a [Value],
    /// The event's timestamp (`event_time()`).
    pub ts: i64,
    /// The engine clock (`now()`).
    pub now: i64,
    /// The events bound to pattern aliases, in pattern queries.
    pub bindings: Option<&'a dyn Bindings>,
}

/// Access to a partial match's bound events, for pattern filters, WHERE and SELECT.
pub trait Bindings {
    /// An attribute of one of the events bound to `slot` (NULL when there is none).
    fn attr(&self, slot: usize, pick: EventPick, attr: usize) -> Value;
    /// An aggregate over the events bound to `slot` (`count(e1)`, `sum(e1.x)`).
    fn aggregate(&self, func: AggregateFn, slot: usize, attr: Option<usize>) -> Value;
}

pub type CompiledExpr = Box<dyn Fn(&EvalCtx<'_>) -> Value + Send + Sync>;
pub type CompiledPredicate = Box<dyn Fn(&EvalCtx<'_>) -> bool + Send + Sync>;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    pub message: String,
    pub span: eventflux_sql::Span,
}

type Result<T> = std::result::Result<T, CompileError>;

fn err(e: &TypedExpr, message: impl Into<String>) -> CompileError {
    CompileError {
        message: message.into(),
        span: e.span,
    }
}

pub fn constant_value(c: &Constant) -> Value {
    match c {
        Constant::Null => Value::Null,
        Constant::Bool(b) => Value::Bool(*b),
        Constant::Int(v) => Value::Int(*v),
        Constant::Long(v) => Value::Long(*v),
        Constant::Float(v) => Value::Float(*v),
        Constant::Double(v) => Value::Double(*v),
        Constant::String(s) => Value::String(Arc::from(s.as_str())),
    }
}

/// True when the expression depends on nothing that changes between events.
fn is_constant(e: &TypedExpr) -> bool {
    match &e.kind {
        TypedExprKind::Constant(_) => true,
        TypedExprKind::Column(_)
        | TypedExprKind::EventTime
        | TypedExprKind::Now
        | TypedExprKind::PatternAttr { .. }
        | TypedExprKind::PatternAggregate { .. } => false,
        TypedExprKind::Neg(a) | TypedExprKind::Not(a) | TypedExprKind::Cast(a) => is_constant(a),
        TypedExprKind::IsNull { expr, .. } => is_constant(expr),
        TypedExprKind::Binary { left, right, .. } | TypedExprKind::Concat(left, right) => {
            is_constant(left) && is_constant(right)
        }
        TypedExprKind::InList { expr, list, .. } => {
            is_constant(expr) && list.iter().all(is_constant)
        }
        TypedExprKind::Between {
            expr, low, high, ..
        } => is_constant(expr) && is_constant(low) && is_constant(high),
        TypedExprKind::Like { expr, pattern, .. } => is_constant(expr) && is_constant(pattern),
        TypedExprKind::Case { whens, else_result } => {
            whens.iter().all(|(c, r)| is_constant(c) && is_constant(r))
                && else_result.as_deref().is_none_or(is_constant)
        }
        TypedExprKind::Call { func, args } => func.is_pure() && args.iter().all(is_constant),
    }
}

/// Evaluates a constant expression at compile time.
fn fold(e: &TypedExpr) -> Result<Value> {
    let f = compile_inner(e)?;
    Ok(f(&EvalCtx {
        row: &[],
        ts: 0,
        now: 0,
        bindings: None,
    }))
}

/// Compiles an expression into a closure producing its value.
pub fn compile_expr(e: &TypedExpr) -> Result<CompiledExpr> {
    if !matches!(e.kind, TypedExprKind::Constant(_)) && is_constant(e) {
        let v = fold(e)?;
        return Ok(Box::new(move |_| v.clone()));
    }
    compile_inner(e)
}

/// Compiles a BOOL expression into a predicate: TRUE passes, FALSE and NULL do not (§2).
pub fn compile_predicate(e: &TypedExpr) -> Result<CompiledPredicate> {
    if is_constant(e) {
        let pass = fold(e)?.is_true();
        return Ok(Box::new(move |_| pass));
    }
    match &e.kind {
        TypedExprKind::Binary {
            op: BinaryOp::And,
            left,
            right,
        } => {
            let (l, r) = (compile_predicate(left)?, compile_predicate(right)?);
            Ok(Box::new(move |c| l(c) && r(c)))
        }
        TypedExprKind::Binary {
            op: BinaryOp::Or,
            left,
            right,
        } => {
            let (l, r) = (compile_predicate(left)?, compile_predicate(right)?);
            Ok(Box::new(move |c| l(c) || r(c)))
        }
        TypedExprKind::Binary { op, left, right } if op.is_comparison() => {
            if let Some(p) = column_vs_constant(*op, left, right) {
                return Ok(p);
            }
            let f = compile_expr(e)?;
            Ok(Box::new(move |c| f(c).is_true()))
        }
        _ => {
            let f = compile_expr(e)?;
            Ok(Box::new(move |c| f(c).is_true()))
        }
    }
}

/// Fast path for `column <op> constant` (and the mirrored form) on numbers and strings: compares
/// in place without building a result value.
fn column_vs_constant(
    op: BinaryOp,
    left: &TypedExpr,
    right: &TypedExpr,
) -> Option<CompiledPredicate> {
    let (col, k, op) = match (&left.kind, &right.kind) {
        (TypedExprKind::Column(c), TypedExprKind::Constant(k)) => (c.index, k, op),
        (TypedExprKind::Constant(k), TypedExprKind::Column(c)) => (c.index, k, mirror(op)),
        _ => return None,
    };
    let test = move |o: Ordering| match op {
        BinaryOp::Eq => o == Ordering::Equal,
        BinaryOp::NotEq => o != Ordering::Equal,
        BinaryOp::Lt => o == Ordering::Less,
        BinaryOp::LtEq => o != Ordering::Greater,
        BinaryOp::Gt => o == Ordering::Greater,
        _ => o != Ordering::Less,
    };
    // Float comparisons follow IEEE (NaN compares false), so they use the operators directly.
    macro_rules! float_pred {
        ($variant:ident, $k:expr) => {{
            let k = $k;
            let p: CompiledPredicate = match op {
                BinaryOp::Eq => Box::new(move |c| matches!(c.row[col], Value::$variant(x) if x == k)),
                BinaryOp::NotEq => Box::new(move |c| matches!(c.row[col], Value::$variant(x) if x != k)),
                BinaryOp::Lt => Box::new(move |c| matches!(c.row[col], Value::$variant(x) if x < k)),
                BinaryOp::LtEq => Box::new(move |c| matches!(c.row[col], Value::$variant(x) if x <= k)),
                BinaryOp::Gt => Box::new(move |c| matches!(c.row[col], Value::$variant(x) if x > k)),
                _ => Box::new(move |c| matches!(c.row[col], Value::$variant(x) if x >= k)),
            };
            Some(p)
        }};
    }
    match k {
        Constant::Double(k) => float_pred!(Double, *k),
        Constant::Float(k) => float_pred!(Float, *k),
        Constant::Int(k) => {
            let k = *k;
            Some(Box::new(
                move |c| matches!(c.row[col], Value::Int(x) if test(x.cmp(&k))),
            ))
        }
        Constant::Long(k) => {
            let k = *k;
            Some(Box::new(
                move |c| matches!(c.row[col], Value::Long(x) if test(x.cmp(&k))),
            ))
        }
        Constant::String(k) => {
            let k: Arc<str> = Arc::from(k.as_str());
            Some(Box::new(move |c| match &c.row[col] {
                Value::String(x) => test(x.as_ref().cmp(k.as_ref())),
                _ => false,
            }))
        }
        _ => None,
    }
}

fn mirror(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        other => other,
    }
}

fn compile_inner(e: &TypedExpr) -> Result<CompiledExpr> {
    Ok(match &e.kind {
        TypedExprKind::Constant(c) => {
            let v = constant_value(c);
            Box::new(move |_| v.clone())
        }
        TypedExprKind::Column(slot) => {
            let i = slot.index;
            Box::new(move |c| c.row[i].clone())
        }
        TypedExprKind::EventTime => Box::new(|c| Value::Long(c.ts)),
        TypedExprKind::PatternAttr {
            slot, index, attr, ..
        } => {
            let (slot, index, attr) = (*slot, *index, *attr);
            Box::new(move |c| {
                c.bindings
                    .map_or(Value::Null, |b| b.attr(slot, index, attr))
            })
        }
        TypedExprKind::PatternAggregate {
            func, slot, attr, ..
        } => {
            let (func, slot, attr) = (*func, *slot, *attr);
            Box::new(move |c| {
                c.bindings
                    .map_or(Value::Null, |b| b.aggregate(func, slot, attr))
            })
        }
        TypedExprKind::Now => Box::new(|c| Value::Long(c.now)),
        TypedExprKind::Neg(a) => {
            let a = compile_expr(a)?;
            Box::new(move |c| match a(c) {
                Value::Int(v) => Value::Int(v.wrapping_neg()),
                Value::Long(v) => Value::Long(v.wrapping_neg()),
                Value::Float(v) => Value::Float(-v),
                Value::Double(v) => Value::Double(-v),
                _ => Value::Null,
            })
        }
        TypedExprKind::Not(a) => {
            let a = compile_expr(a)?;
            Box::new(move |c| match a(c) {
                Value::Bool(b) => Value::Bool(!b),
                _ => Value::Null,
            })
        }
        TypedExprKind::Binary { op, left, right } => compile_binary(e, *op, left, right)?,
        TypedExprKind::Concat(a, b) => {
            let (a, b) = (compile_expr(a)?, compile_expr(b)?);
            Box::new(move |c| match (a(c), b(c)) {
                (Value::String(x), Value::String(y)) => {
                    let mut s = String::with_capacity(x.len() + y.len());
                    s.push_str(&x);
                    s.push_str(&y);
                    Value::String(Arc::from(s))
                }
                _ => Value::Null,
            })
        }
        TypedExprKind::IsNull { expr, negated } => {
            let a = compile_expr(expr)?;
            let negated = *negated;
            Box::new(move |c| Value::Bool(a(c).is_null() != negated))
        }
        TypedExprKind::InList {
            expr,
            list,
            negated,
        } => compile_in_list(expr, list, *negated)?,
        TypedExprKind::Between {
            expr,
            low,
            high,
            negated,
        } => {
            let (x, lo, hi) = (compile_expr(expr)?, compile_expr(low)?, compile_expr(high)?);
            let negated = *negated;
            Box::new(move |c| {
                let v = x(c);
                let ge = v.compare(&lo(c)).map(|o| o != Ordering::Less);
                let le = v.compare(&hi(c)).map(|o| o != Ordering::Greater);
                // Three-valued AND of the two bounds.
                match (ge, le) {
                    (Some(false), _) | (_, Some(false)) => Value::Bool(negated),
                    (Some(true), Some(true)) => Value::Bool(!negated),
                    _ => Value::Null,
                }
            })
        }
        TypedExprKind::Like {
            expr,
            pattern,
            negated,
        } => compile_like(expr, pattern, *negated)?,
        TypedExprKind::Case { whens, else_result } => {
            let whens: Vec<(CompiledPredicate, CompiledExpr)> = whens
                .iter()
                .map(|(w, r)| Ok((compile_predicate(w)?, compile_expr(r)?)))
                .collect::<Result<_>>()?;
            let otherwise = match else_result {
                Some(e) => Some(compile_expr(e)?),
                None => None,
            };
            Box::new(move |c| {
                for (w, r) in &whens {
                    if w(c) {
                        return r(c);
                    }
                }
                otherwise.as_ref().map_or(Value::Null, |o| o(c))
            })
        }
        TypedExprKind::Cast(inner) => {
            let from = inner.ty;
            let a = compile_expr(inner)?;
            let to = e.ty;
            Box::new(move |c| cast_value(a(c), from, to))
        }
        TypedExprKind::Call { func, args } => compile_call(e, *func, args)?,
    })
}

fn compile_call(e: &TypedExpr, func: ScalarFn, args: &[TypedExpr]) -> Result<CompiledExpr> {
    let types: Vec<Type> = args.iter().map(|a| a.ty).collect();
    let constants: Vec<Option<Value>> = args
        .iter()
        .map(|a| if is_constant(a) { fold(a).ok() } else { None })
        .collect();
    let f = build_scalar(func, &types, &constants).map_err(|m| err(e, m))?;
    let mut compiled: Vec<CompiledExpr> = args.iter().map(compile_expr).collect::<Result<_>>()?;
    // Fixed arities avoid a heap-allocated argument list per call.
    Ok(match compiled.len() {
        0 => Box::new(move |_| f(&[])),
        1 => {
            let a = compiled.remove(0);
            Box::new(move |c| f(&[a(c)]))
        }
        2 => {
            let b = compiled.remove(1);
            let a = compiled.remove(0);
            Box::new(move |c| f(&[a(c), b(c)]))
        }
        3 => {
            let z = compiled.remove(2);
            let b = compiled.remove(1);
            let a = compiled.remove(0);
            Box::new(move |c| f(&[a(c), b(c), z(c)]))
        }
        _ => Box::new(move |c| {
            let vals: Vec<Value> = compiled.iter().map(|a| a(c)).collect();
            f(&vals)
        }),
    })
}

macro_rules! arith {
    ($l:ident, $r:ident, $variant:ident, |$x:ident, $y:ident| $body:expr) => {
        Box::new(move |c| match ($l(c), $r(c)) {
            (Value::$variant($x), Value::$variant($y)) => $body,
            _ => Value::Null,
        })
    };
}

fn compile_binary(
    e: &TypedExpr,
    op: BinaryOp,
    left: &TypedExpr,
    right: &TypedExpr,
) -> Result<CompiledExpr> {
    let (l, r) = (compile_expr(left)?, compile_expr(right)?);
    if op == BinaryOp::And {
        return Ok(Box::new(move |c| match l(c) {
            Value::Bool(false) => Value::Bool(false),
            a => match (a, r(c)) {
                (_, Value::Bool(false)) => Value::Bool(false),
                (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
                _ => Value::Null,
            },
        }));
    }
    if op == BinaryOp::Or {
        return Ok(Box::new(move |c| match l(c) {
            Value::Bool(true) => Value::Bool(true),
            a => match (a, r(c)) {
                (_, Value::Bool(true)) => Value::Bool(true),
                (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
                _ => Value::Null,
            },
        }));
    }
    if op.is_comparison() {
        let test = move |o: Ordering| match op {
            BinaryOp::Eq => o == Ordering::Equal,
            BinaryOp::NotEq => o != Ordering::Equal,
            BinaryOp::Lt => o == Ordering::Less,
            BinaryOp::LtEq => o != Ordering::Greater,
            BinaryOp::Gt => o == Ordering::Greater,
            _ => o != Ordering::Less,
        };
        return Ok(match left.ty {
            // IEEE semantics for floats: any comparison with NaN is false (except !=).
            Type::Double | Type::Float => {
                Box::new(move |c| match (l(c).as_f64_opt(), r(c).as_f64_opt()) {
                    (Some(x), Some(y)) => Value::Bool(match op {
                        BinaryOp::Eq => x == y,
                        BinaryOp::NotEq => x != y,
                        BinaryOp::Lt => x < y,
                        BinaryOp::LtEq => x <= y,
                        BinaryOp::Gt => x > y,
                        _ => x >= y,
                    }),
                    _ => Value::Null,
                })
            }
            _ => Box::new(move |c| match l(c).compare(&r(c)) {
                Some(o) => Value::Bool(test(o)),
                None => Value::Null,
            }),
        });
    }
    let ty = e.ty;
    Ok(match (op, ty) {
        (BinaryOp::Add, Type::Int) => arith!(l, r, Int, |x, y| Value::Int(x.wrapping_add(y))),
        (BinaryOp::Sub, Type::Int) => arith!(l, r, Int, |x, y| Value::Int(x.wrapping_sub(y))),
        (BinaryOp::Mul, Type::Int) => arith!(l, r, Int, |x, y| Value::Int(x.wrapping_mul(y))),
        (BinaryOp::Div, Type::Int) => {
            arith!(l, r, Int, |x, y| if y == 0 {
                Value::Null
            } else {
                Value::Int(x.wrapping_div(y))
            })
        }
        (BinaryOp::Mod, Type::Int) => {
            arith!(l, r, Int, |x, y| if y == 0 {
                Value::Null
            } else {
                Value::Int(x.wrapping_rem(y))
            })
        }
        (BinaryOp::Add, Type::Long) => arith!(l, r, Long, |x, y| Value::Long(x.wrapping_add(y))),
        (BinaryOp::Sub, Type::Long) => arith!(l, r, Long, |x, y| Value::Long(x.wrapping_sub(y))),
        (BinaryOp::Mul, Type::Long) => arith!(l, r, Long, |x, y| Value::Long(x.wrapping_mul(y))),
        (BinaryOp::Div, Type::Long) => {
            arith!(l, r, Long, |x, y| if y == 0 {
                Value::Null
            } else {
                Value::Long(x.wrapping_div(y))
            })
        }
        (BinaryOp::Mod, Type::Long) => {
            arith!(l, r, Long, |x, y| if y == 0 {
                Value::Null
            } else {
                Value::Long(x.wrapping_rem(y))
            })
        }
        (BinaryOp::Add, Type::Float) => arith!(l, r, Float, |x, y| Value::Float(x + y)),
        (BinaryOp::Sub, Type::Float) => arith!(l, r, Float, |x, y| Value::Float(x - y)),
        (BinaryOp::Mul, Type::Float) => arith!(l, r, Float, |x, y| Value::Float(x * y)),
        (BinaryOp::Div, Type::Float) => arith!(l, r, Float, |x, y| Value::Float(x / y)),
        (BinaryOp::Mod, Type::Float) => arith!(l, r, Float, |x, y| Value::Float(x % y)),
        (BinaryOp::Add, Type::Double) => arith!(l, r, Double, |x, y| Value::Double(x + y)),
        (BinaryOp::Sub, Type::Double) => arith!(l, r, Double, |x, y| Value::Double(x - y)),
        (BinaryOp::Mul, Type::Double) => arith!(l, r, Double, |x, y| Value::Double(x * y)),
        (BinaryOp::Div, Type::Double) => arith!(l, r, Double, |x, y| Value::Double(x / y)),
        (BinaryOp::Mod, Type::Double) => arith!(l, r, Double, |x, y| Value::Double(x % y)),
        (_, Type::Null) => Box::new(|_| Value::Null),
        _ => {
            return Err(err(
                e,
                format!("internal: operator '{}' on {ty}", op.symbol()),
            ))
        }
    })
}

impl Value {
    #[inline]
    fn as_f64_opt(&self) -> Option<f64> {
        match *self {
            Value::Float(v) => Some(v as f64),
            Value::Double(v) => Some(v),
            _ => None,
        }
    }
}

/// `x IN (…)`: TRUE on a match, NULL when there is no match but `x` or a list item is NULL.
fn compile_in_list(expr: &TypedExpr, list: &[TypedExpr], negated: bool) -> Result<CompiledExpr> {
    let x = compile_expr(expr)?;
    let finish = move |found: bool, saw_null: bool| {
        if found {
            Value::Bool(!negated)
        } else if saw_null {
            Value::Null
        } else {
            Value::Bool(negated)
        }
    };
    if list.iter().all(is_constant) {
        let values: Vec<Value> = list.iter().map(fold).collect::<Result<_>>()?;
        let has_null = values.iter().any(Value::is_null);
        let strings: Option<HashSet<Arc<str>>> = (values.len() > 8)
            .then(|| values.iter().map(|v| v.as_str().map(Arc::from)).collect())
            .flatten();
        if let Some(set) = strings {
            return Ok(Box::new(move |c| match x(c) {
                Value::String(s) => finish(set.contains(&s), has_null),
                _ => Value::Null,
            }));
        }
        return Ok(Box::new(move |c| {
            let v = x(c);
            if v.is_null() {
                return Value::Null;
            }
            let found = values.iter().any(|k| v.compare(k) == Some(Ordering::Equal));
            finish(found, has_null)
        }));
    }
    let items: Vec<CompiledExpr> = list.iter().map(compile_expr).collect::<Result<_>>()?;
    Ok(Box::new(move |c| {
        let v = x(c);
        if v.is_null() {
            return Value::Null;
        }
        let mut saw_null = false;
        for item in &items {
            let k = item(c);
            if k.is_null() {
                saw_null = true;
            } else if v.compare(&k) == Some(Ordering::Equal) {
                return finish(true, false);
            }
        }
        finish(false, saw_null)
    }))
}

/// Translates a LIKE pattern (`%` any run, `_` one character, `\` escapes) into an anchored regex.
pub fn like_to_regex(pattern: &str) -> std::result::Result<regex::Regex, regex::Error> {
    let mut re = String::with_capacity(pattern.len() + 8);
    re.push_str("(?s)^");
    let mut chars = pattern.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            '\\' => match chars.next() {
                Some(n) => re.push_str(&regex::escape(&n.to_string())),
                None => re.push_str(&regex::escape("\\")),
            },
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re)
}

fn compile_like(expr: &TypedExpr, pattern: &TypedExpr, negated: bool) -> Result<CompiledExpr> {
    let x = compile_expr(expr)?;
    if is_constant(pattern) {
        let Value::String(p) = fold(pattern)? else {
            return Ok(Box::new(|_| Value::Null));
        };
        let re =
            like_to_regex(&p).map_err(|e| err(pattern, format!("invalid LIKE pattern: {e}")))?;
        return Ok(Box::new(move |c| match x(c) {
            Value::String(s) => Value::Bool(re.is_match(&s) != negated),
            _ => Value::Null,
        }));
    }
    let p = compile_expr(pattern)?;
    Ok(Box::new(move |c| match (x(c), p(c)) {
        (Value::String(s), Value::String(p)) => match like_to_regex(&p) {
            Ok(re) => Value::Bool(re.is_match(&s) != negated),
            Err(_) => Value::Null,
        },
        _ => Value::Null,
    }))
}

/// Formats a DOUBLE like JSON output does: integral values keep a `.0`.
pub fn format_double(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Converts a value between types (CAST and implicit promotion). Impossible conversions, such as
/// a string that is not a number, give NULL.
pub fn cast_value(v: Value, from: Type, to: Type) -> Value {
    let _ = from;
    match (v, to) {
        (Value::Null, _) => Value::Null,
        (Value::String(s), Type::String) => Value::String(s),
        (v, Type::String) => Value::String(Arc::from(match v {
            Value::Bool(b) => b.to_string(),
            Value::Int(x) => x.to_string(),
            Value::Long(x) => x.to_string(),
            Value::Float(x) => format_double(x as f64),
            Value::Double(x) => format_double(x),
            _ => return Value::Null,
        })),
        (Value::String(s), t) => parse_as(s.trim(), t),
        (Value::Bool(b), Type::Bool) => Value::Bool(b),
        (Value::Bool(b), t) => cast_value(Value::Int(i32::from(b)), Type::Int, t),
        (v, Type::Bool) => v.as_i64().map_or(Value::Null, |x| Value::Bool(x != 0)),
        (v, Type::Int) => match v {
            Value::Int(x) => Value::Int(x),
            Value::Long(x) => Value::Int(x as i32),
            Value::Float(x) => Value::Int(x as i32),
            Value::Double(x) => Value::Int(x as i32),
            _ => Value::Null,
        },
        (v, Type::Long | Type::Timestamp) => v.as_i64().map_or(Value::Null, Value::Long),
        (v, Type::Float) => v.as_f64().map_or(Value::Null, |x| Value::Float(x as f32)),
        (v, Type::Double) => v.as_f64().map_or(Value::Null, Value::Double),
        _ => Value::Null,
    }
}

fn parse_as(s: &str, to: Type) -> Value {
    match to {
        Type::Int => s.parse().map_or(Value::Null, Value::Int),
        Type::Long => s.parse().map_or(Value::Null, Value::Long),
        Type::Timestamp => s
            .parse()
            .ok()
            .or_else(|| parse_rfc3339_millis(s))
            .map_or(Value::Null, Value::Long),
        Type::Float => s.parse().map_or(Value::Null, Value::Float),
        Type::Double => s.parse().map_or(Value::Null, Value::Double),
        Type::Bool => match s.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

/// Parses an RFC 3339 timestamp (`2024-05-01T12:00:00Z`, with optional fraction and offset) into
/// epoch milliseconds.
pub fn parse_rfc3339_millis(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventflux_planner::expr::ColumnSlot;
    use eventflux_sql::Span;

    fn col(i: usize, ty: Type) -> TypedExpr {
        TypedExpr {
            kind: TypedExprKind::Column(ColumnSlot {
                index: i,
                display: format!("c{i}"),
            }),
            ty,
            span: Span::default(),
        }
    }

    fn k(c: Constant, ty: Type) -> TypedExpr {
        TypedExpr::constant(c, ty, Span::default())
    }

    fn bin(op: BinaryOp, l: TypedExpr, r: TypedExpr, ty: Type) -> TypedExpr {
        TypedExpr {
            kind: TypedExprKind::Binary {
                op,
                left: Box::new(l),
                right: Box::new(r),
            },
            ty,
            span: Span::default(),
        }
    }

    fn eval(e: &TypedExpr, row: &[Value]) -> Value {
        compile_expr(e).unwrap()(&EvalCtx {
            row,
            ts: 7,
            now: 9,
            bindings: None,
        })
    }

    #[test]
    fn integer_division_truncates_and_zero_gives_null() {
        let e = bin(
            BinaryOp::Div,
            col(0, Type::Int),
            col(1, Type::Int),
            Type::Int,
        );
        assert_eq!(eval(&e, &[Value::Int(-7), Value::Int(2)]), Value::Int(-3));
        assert_eq!(eval(&e, &[Value::Int(7), Value::Int(0)]), Value::Null);
        assert_eq!(
            eval(&e, &[Value::Int(i32::MIN), Value::Int(-1)]),
            Value::Int(i32::MIN)
        );
        let m = bin(
            BinaryOp::Mod,
            col(0, Type::Long),
            col(1, Type::Long),
            Type::Long,
        );
        assert_eq!(eval(&m, &[Value::Long(7), Value::Long(0)]), Value::Null);
        let d = bin(
            BinaryOp::Div,
            col(0, Type::Double),
            col(1, Type::Double),
            Type::Double,
        );
        assert_eq!(
            eval(&d, &[Value::Double(1.0), Value::Double(0.0)]),
            Value::Double(f64::INFINITY)
        );
    }

    #[test]
    fn three_valued_logic() {
        let and = bin(
            BinaryOp::And,
            col(0, Type::Bool),
            col(1, Type::Bool),
            Type::Bool,
        );
        let or = bin(
            BinaryOp::Or,
            col(0, Type::Bool),
            col(1, Type::Bool),
            Type::Bool,
        );
        let n = Value::Null;
        let t = Value::Bool(true);
        let f = Value::Bool(false);
        assert_eq!(eval(&and, &[n.clone(), f.clone()]), f);
        assert_eq!(eval(&and, &[n.clone(), t.clone()]), n);
        assert_eq!(eval(&or, &[n.clone(), t.clone()]), t);
        assert_eq!(eval(&or, &[n.clone(), f.clone()]), n);
        let not = TypedExpr {
            kind: TypedExprKind::Not(Box::new(col(0, Type::Bool))),
            ty: Type::Bool,
            span: Span::default(),
        };
        let p = compile_predicate(&not).unwrap();
        assert!(!p(&EvalCtx {
            row: &[Value::Null],
            ts: 0,
            now: 0,
            bindings: None
        }));
        assert!(p(&EvalCtx {
            row: &[f],
            ts: 0,
            now: 0,
            bindings: None
        }));
    }

    #[test]
    fn fast_predicates_match_general_comparison() {
        for (op, expect) in [
            (BinaryOp::Gt, [false, false, true, false]),
            (BinaryOp::GtEq, [false, true, true, false]),
            (BinaryOp::Lt, [true, false, false, false]),
            (BinaryOp::Eq, [false, true, false, false]),
            (BinaryOp::NotEq, [true, false, true, false]),
        ] {
            let e = bin(
                op,
                col(0, Type::Double),
                k(Constant::Double(50.0), Type::Double),
                Type::Bool,
            );
            let p = compile_predicate(&e).unwrap();
            let rows = [
                Value::Double(10.0),
                Value::Double(50.0),
                Value::Double(60.0),
                Value::Null,
            ];
            for (row, want) in rows.iter().zip(expect) {
                assert_eq!(
                    p(&EvalCtx {
                        row: std::slice::from_ref(row),
                        ts: 0,
                        now: 0,
                        bindings: None
                    }),
                    want,
                    "{op:?} {row:?}"
                );
            }
        }
        // Constant on the left is mirrored.
        let e = bin(
            BinaryOp::Lt,
            k(Constant::Long(5), Type::Long),
            col(0, Type::Long),
            Type::Bool,
        );
        let p = compile_predicate(&e).unwrap();
        assert!(p(&EvalCtx {
            row: &[Value::Long(6)],
            ts: 0,
            now: 0,
            bindings: None
        }));
        assert!(!p(&EvalCtx {
            row: &[Value::Long(5)],
            ts: 0,
            now: 0,
            bindings: None
        }));
    }

    #[test]
    fn like_patterns() {
        let re = like_to_regex("a%b_c").unwrap();
        assert!(re.is_match("aXYZbQc"));
        assert!(re.is_match("abQc"));
        assert!(!re.is_match("abc"));
        assert!(like_to_regex("100\\%").unwrap().is_match("100%"));
        assert!(!like_to_regex("100\\%").unwrap().is_match("1000"));
        assert!(like_to_regex("a.b").unwrap().is_match("a.b"));
        assert!(!like_to_regex("a.b").unwrap().is_match("axb"));
    }

    #[test]
    fn casts() {
        assert_eq!(
            cast_value(Value::string(" 42 "), Type::String, Type::Int),
            Value::Int(42)
        );
        assert_eq!(
            cast_value(Value::string("x"), Type::String, Type::Int),
            Value::Null
        );
        assert_eq!(
            cast_value(Value::Double(2.0), Type::Double, Type::String),
            Value::string("2.0")
        );
        assert_eq!(
            cast_value(Value::Double(2.7), Type::Double, Type::Int),
            Value::Int(2)
        );
        assert_eq!(
            cast_value(Value::Bool(true), Type::Bool, Type::Long),
            Value::Long(1)
        );
        assert_eq!(
            cast_value(
                Value::string("1970-01-01T00:00:01.5Z"),
                Type::String,
                Type::Timestamp
            ),
            Value::Long(1500)
        );
    }

    #[test]
    fn event_time_and_now_come_from_the_context() {
        let et = TypedExpr {
            kind: TypedExprKind::EventTime,
            ty: Type::Timestamp,
            span: Span::default(),
        };
        let now = TypedExpr {
            kind: TypedExprKind::Now,
            ty: Type::Timestamp,
            span: Span::default(),
        };
        assert_eq!(eval(&et, &[]), Value::Long(7));
        assert_eq!(eval(&now, &[]), Value::Long(9));
    }
}
