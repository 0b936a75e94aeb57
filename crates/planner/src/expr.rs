//! Typed, resolved expressions: the planner's output for every expression of a query. Column
//! references are slots (positions), never names, so the runtime never looks attributes up by
//! name.

use crate::functions::ScalarFn;
use crate::types::Type;
use eventflux_sql::ast::BinaryOp;
use eventflux_sql::Span;
use std::fmt;

/// A constant value known at plan time.
#[derive(Debug, Clone, PartialEq)]
pub enum Constant {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    String(String),
}

impl fmt::Display for Constant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constant::Null => f.write_str("NULL"),
            Constant::Bool(b) => write!(f, "{}", if *b { "TRUE" } else { "FALSE" }),
            Constant::Int(v) => write!(f, "{v}"),
            Constant::Long(v) => write!(f, "{v}"),
            Constant::Float(v) => write!(f, "{v:?}f"),
            Constant::Double(v) => write!(f, "{v:?}"),
            Constant::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
        }
    }
}

/// Where a column's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSlot {
    /// Position of the attribute in the input row.
    pub index: usize,
    /// The name as it should be displayed (`price`, `t.price`).
    pub display: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TypedExpr {
    pub kind: TypedExprKind,
    pub ty: Type,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypedExprKind {
    Constant(Constant),
    Column(ColumnSlot),
    /// Arithmetic negation; the operand has the result type.
    Neg(Box<TypedExpr>),
    Not(Box<TypedExpr>),
    /// Arithmetic (`+ - * / %`) and comparisons: both operands already have one common type.
    /// Logical AND/OR: both operands are BOOL.
    Binary {
        op: BinaryOp,
        left: Box<TypedExpr>,
        right: Box<TypedExpr>,
    },
    /// `a || b`: both operands are STRING.
    Concat(Box<TypedExpr>, Box<TypedExpr>),
    IsNull {
        expr: Box<TypedExpr>,
        negated: bool,
    },
    /// All list items have the type of `expr`.
    InList {
        expr: Box<TypedExpr>,
        list: Vec<TypedExpr>,
        negated: bool,
    },
    Between {
        expr: Box<TypedExpr>,
        low: Box<TypedExpr>,
        high: Box<TypedExpr>,
        negated: bool,
    },
    Like {
        expr: Box<TypedExpr>,
        pattern: Box<TypedExpr>,
        negated: bool,
    },
    /// Searched CASE; a simple CASE is rewritten into comparisons. Results have `ty`.
    Case {
        whens: Vec<(TypedExpr, TypedExpr)>,
        else_result: Option<Box<TypedExpr>>,
    },
    /// Conversion of `expr` to `ty` (inserted for promotion, or written as CAST).
    Cast(Box<TypedExpr>),
    /// A scalar function; arguments already converted to the signature's types.
    Call {
        func: ScalarFn,
        args: Vec<TypedExpr>,
    },
    /// The current event's timestamp.
    EventTime,
    /// The engine clock.
    Now,
    /// An attribute of an event bound to a pattern alias (`e1.price`, `e1[last].price`).
    PatternAttr {
        slot: usize,
        index: EventPick,
        attr: usize,
        /// As written, for explain output.
        display: String,
    },
    /// An aggregate over the events bound to a counted pattern alias (`sum(e1.amount)`,
    /// `count(e1)`).
    PatternAggregate {
        func: crate::functions::AggregateFn,
        slot: usize,
        attr: Option<usize>,
        display: String,
    },
}

/// Which of the events bound to a pattern alias an attribute reference reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventPick {
    /// `e1.x`: the first (for an alias bound once, the only) event.
    First,
    /// `e1[n].x`, 0-based.
    At(u32),
    /// `e1[last].x`
    Last,
    /// `e1[last - n].x`
    FromLast(u32),
}

impl TypedExpr {
    pub fn constant(c: Constant, ty: Type, span: Span) -> TypedExpr {
        TypedExpr {
            kind: TypedExprKind::Constant(c),
            ty,
            span,
        }
    }

    pub fn as_constant(&self) -> Option<&Constant> {
        match &self.kind {
            TypedExprKind::Constant(c) => Some(c),
            _ => None,
        }
    }

    /// Wraps `self` in a conversion to `ty` unless it already has that type. Constants are
    /// converted now, so no run-time cast is left for them.
    pub fn cast_to(self, ty: Type) -> TypedExpr {
        if self.ty == ty || ty == Type::Null {
            return self;
        }
        if let TypedExprKind::Constant(c) = &self.kind {
            if let Some(converted) = convert_constant(c, ty) {
                return TypedExpr::constant(converted, ty, self.span);
            }
        }
        let span = self.span;
        TypedExpr {
            kind: TypedExprKind::Cast(Box::new(self)),
            ty,
            span,
        }
    }
}

/// Converts a numeric or NULL constant to another numeric type at plan time.
fn convert_constant(c: &Constant, ty: Type) -> Option<Constant> {
    let as_f64 = |c: &Constant| -> Option<f64> {
        Some(match *c {
            Constant::Int(v) => v as f64,
            Constant::Long(v) => v as f64,
            Constant::Float(v) => v as f64,
            Constant::Double(v) => v,
            _ => return None,
        })
    };
    let as_i64 = |c: &Constant| -> Option<i64> {
        Some(match *c {
            Constant::Int(v) => v as i64,
            Constant::Long(v) => v,
            _ => return None,
        })
    };
    if matches!(c, Constant::Null) {
        return Some(Constant::Null);
    }
    match ty {
        Type::Int => as_i64(c)
            .and_then(|v| i32::try_from(v).ok())
            .map(Constant::Int),
        Type::Long | Type::Timestamp => as_i64(c).map(Constant::Long),
        Type::Float => as_f64(c).map(|v| Constant::Float(v as f32)),
        Type::Double => as_f64(c).map(Constant::Double),
        _ => None,
    }
}

impl fmt::Display for TypedExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TypedExprKind::Constant(c) => write!(f, "{c}"),
            TypedExprKind::Column(c) => f.write_str(&c.display),
            TypedExprKind::Neg(e) => write!(f, "-{e}"),
            TypedExprKind::Not(e) => write!(f, "NOT {e}"),
            TypedExprKind::Binary { op, left, right } => {
                write!(f, "({left} {} {right})", op.symbol())
            }
            TypedExprKind::Concat(a, b) => write!(f, "({a} || {b})"),
            TypedExprKind::IsNull { expr, negated } => {
                write!(f, "{expr} IS {}NULL", if *negated { "NOT " } else { "" })
            }
            TypedExprKind::InList {
                expr,
                list,
                negated,
            } => {
                write!(f, "{expr} {}IN (", if *negated { "NOT " } else { "" })?;
                for (i, e) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str(")")
            }
            TypedExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => write!(
                f,
                "{expr} {}BETWEEN {low} AND {high}",
                if *negated { "NOT " } else { "" }
            ),
            TypedExprKind::Like {
                expr,
                pattern,
                negated,
            } => write!(
                f,
                "{expr} {}LIKE {pattern}",
                if *negated { "NOT " } else { "" }
            ),
            TypedExprKind::Case { whens, else_result } => {
                f.write_str("CASE")?;
                for (c, r) in whens {
                    write!(f, " WHEN {c} THEN {r}")?;
                }
                if let Some(e) = else_result {
                    write!(f, " ELSE {e}")?;
                }
                f.write_str(" END")
            }
            TypedExprKind::Cast(e) => write!(f, "CAST({e} AS {})", self.ty),
            TypedExprKind::Call { func, args } => {
                write!(f, "{}(", func.name())?;
                for (i, e) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str(")")
            }
            TypedExprKind::EventTime => f.write_str("event_time()"),
            TypedExprKind::Now => f.write_str("now()"),
            TypedExprKind::PatternAttr { display, .. }
            | TypedExprKind::PatternAggregate { display, .. } => f.write_str(display),
        }
    }
}
