//! Run-time values. Every attribute is nullable; strings are shared, so copying a value never
//! allocates.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// One attribute value. TIMESTAMP values are carried as `Long` (epoch milliseconds).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    String(Arc<str>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn string(s: &str) -> Value {
        Value::String(Arc::from(s))
    }

    /// SQL truth: only `TRUE` passes a filter; NULL and FALSE do not.
    #[inline]
    pub fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(v) => Some(v as i64),
            Value::Long(v) => Some(v),
            Value::Float(v) => Some(v as i64),
            Value::Double(v) => Some(v as i64),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(v) => Some(v as f64),
            Value::Long(v) => Some(v as f64),
            Value::Float(v) => Some(v as f64),
            Value::Double(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// Ordering between two non-null values of the same (promoted) type; `None` when either is
    /// NULL or the values are not comparable. NaN compares as greater than every number so that
    /// sorting is total.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Long(a), Value::Long(b)) => Some(a.cmp(b)),
            (Value::Float(a), Value::Float(b)) => Some(a.total_cmp(b)),
            (Value::Double(a), Value::Double(b)) => Some(a.total_cmp(b)),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::Null, _) | (_, Value::Null) => None,
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => Some(x.total_cmp(&y)),
                _ => None,
            },
        }
    }
}

impl Value {
    /// A total order over every value, for sorting: NULL < BOOL < numbers < STRING. Numbers of
    /// different types compare by value, then by type, so mixed rows (possible only through
    /// unchecked input) still sort without breaking the order's transitivity.
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Bool(_) => 1,
                Value::Int(_) => 2,
                Value::Long(_) => 3,
                Value::Float(_) => 4,
                Value::Double(_) => 5,
                Value::String(_) => 6,
            }
        }
        let (ra, rb) = (rank(self), rank(other));
        if ra == rb {
            return self.compare(other).unwrap_or(Ordering::Equal);
        }
        match (self.as_f64(), other.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y).then(ra.cmp(&rb)),
            _ => ra.cmp(&rb),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Long(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v:?}"),
            Value::Double(v) => write!(f, "{v:?}"),
            Value::String(s) => f.write_str(s),
        }
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Long(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::Float(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Double(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::string(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(Arc::from(v))
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A value usable as a hash-map key (GROUP BY keys, partition keys, unique windows): floats
/// compare by bit pattern with -0.0 folded into 0.0 and every NaN equal.
#[derive(Debug, Clone)]
#[repr(transparent)]
pub struct KeyValue(pub Value);

impl KeyValue {
    /// Views a value as a key without cloning it (for map lookups).
    pub fn from_ref(v: &Value) -> &KeyValue {
        // SAFETY: KeyValue is `repr(transparent)` over Value, so the layouts are identical.
        unsafe { &*(v as *const Value as *const KeyValue) }
    }

    fn float_bits(v: f64) -> u64 {
        if v == 0.0 {
            0
        } else if v.is_nan() {
            u64::MAX
        } else {
            v.to_bits()
        }
    }
}

impl PartialEq for KeyValue {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Value::Float(a), Value::Float(b)) => {
                Self::float_bits(*a as f64) == Self::float_bits(*b as f64)
            }
            (Value::Double(a), Value::Double(b)) => Self::float_bits(*a) == Self::float_bits(*b),
            // Shared strings (interned symbols, values copied through windows) are often the
            // same allocation.
            (Value::String(a), Value::String(b)) => Arc::ptr_eq(a, b) || a == b,
            (a, b) => a == b,
        }
    }
}

impl Eq for KeyValue {}

impl std::hash::Hash for KeyValue {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(&self.0).hash(state);
        match &self.0 {
            Value::Null => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(v) => v.hash(state),
            Value::Long(v) => v.hash(state),
            Value::Float(v) => Self::float_bits(*v as f64).hash(state),
            Value::Double(v) => Self::float_bits(*v).hash(state),
            Value::String(s) => s.hash(state),
        }
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn key_values_fold_float_oddities() {
        let mut s = HashSet::new();
        s.insert(KeyValue(Value::Double(0.0)));
        assert!(s.contains(&KeyValue(Value::Double(-0.0))));
        s.insert(KeyValue(Value::Double(f64::NAN)));
        assert!(s.contains(&KeyValue(Value::Double(-f64::NAN))));
        assert!(!s.contains(&KeyValue(Value::Long(0))));
        let key: Vec<KeyValue> = vec![KeyValue(Value::string("a")), KeyValue(Value::Int(1))];
        let mut m = std::collections::HashMap::new();
        m.insert(key.clone(), 5);
        assert_eq!(m.get(&key[..]), Some(&5));
    }
}
