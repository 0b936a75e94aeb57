//! The value types of the language (§2) and numeric promotion.

use eventflux_sql::ast::TypeKind;
use std::fmt;

/// The static type of an attribute or expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Int,
    Long,
    Float,
    Double,
    String,
    Bool,
    /// Epoch milliseconds; behaves like LONG in arithmetic and comparison.
    Timestamp,
    Object,
    /// The type of a bare `NULL` literal: converts to any type.
    Null,
}

impl Type {
    pub fn from_kind(kind: TypeKind) -> Type {
        match kind {
            TypeKind::Int => Type::Int,
            TypeKind::Long => Type::Long,
            TypeKind::Float => Type::Float,
            TypeKind::Double => Type::Double,
            TypeKind::String => Type::String,
            TypeKind::Bool => Type::Bool,
            TypeKind::Timestamp => Type::Timestamp,
            TypeKind::Object => Type::Object,
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Type::Int | Type::Long | Type::Float | Type::Double | Type::Timestamp
        )
    }

    pub fn is_integer(self) -> bool {
        matches!(self, Type::Int | Type::Long | Type::Timestamp)
    }

    /// Rank in the promotion order INT < LONG < FLOAT < DOUBLE (TIMESTAMP ranks as LONG).
    fn numeric_rank(self) -> Option<u8> {
        match self {
            Type::Int => Some(0),
            Type::Long | Type::Timestamp => Some(1),
            Type::Float => Some(2),
            Type::Double => Some(3),
            _ => None,
        }
    }

    /// The common type two numeric operands are promoted to, if both are numeric.
    pub fn promote(a: Type, b: Type) -> Option<Type> {
        if a == Type::Timestamp && b == Type::Timestamp {
            return Some(Type::Long);
        }
        let (ra, rb) = (a.numeric_rank()?, b.numeric_rank()?);
        Some(match ra.max(rb) {
            0 => Type::Int,
            1 => Type::Long,
            2 => Type::Float,
            _ => Type::Double,
        })
    }

    /// The type that values of `a` and `b` can both be represented in (for CASE, COALESCE,
    /// IN lists, comparisons), with NULL converting to anything.
    pub fn unify(a: Type, b: Type) -> Option<Type> {
        if a == b {
            return Some(a);
        }
        match (a, b) {
            (Type::Null, t) | (t, Type::Null) => Some(t),
            _ => Type::promote(a, b),
        }
    }

    /// Whether a value of this type may be stored in an attribute of type `target` without an
    /// explicit CAST (identity, NULL, INT→LONG, FLOAT→DOUBLE, LONG↔TIMESTAMP).
    pub fn assignable_to(self, target: Type) -> bool {
        self == target
            || self == Type::Null
            || matches!(
                (self, target),
                (Type::Int, Type::Long)
                    | (Type::Float, Type::Double)
                    | (Type::Long, Type::Timestamp)
                    | (Type::Timestamp, Type::Long)
            )
    }

    pub fn name(self) -> &'static str {
        match self {
            Type::Int => "INT",
            Type::Long => "LONG",
            Type::Float => "FLOAT",
            Type::Double => "DOUBLE",
            Type::String => "STRING",
            Type::Bool => "BOOL",
            Type::Timestamp => "TIMESTAMP",
            Type::Object => "OBJECT",
            Type::Null => "NULL",
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_follows_int_long_float_double() {
        assert_eq!(Type::promote(Type::Int, Type::Long), Some(Type::Long));
        assert_eq!(Type::promote(Type::Long, Type::Float), Some(Type::Float));
        assert_eq!(Type::promote(Type::Int, Type::Double), Some(Type::Double));
        assert_eq!(Type::promote(Type::Timestamp, Type::Int), Some(Type::Long));
        assert_eq!(Type::promote(Type::String, Type::Int), None);
    }

    #[test]
    fn assignability_widens_only() {
        assert!(Type::Int.assignable_to(Type::Long));
        assert!(Type::Float.assignable_to(Type::Double));
        assert!(!Type::Long.assignable_to(Type::Int));
        assert!(!Type::Double.assignable_to(Type::Float));
        assert!(Type::Null.assignable_to(Type::String));
    }
}
