//! Implementations of the built-in scalar functions (§6).
//!
//! [`build_scalar`] turns a checked call (see `eventflux_planner::functions::check_scalar`) into a
//! closure specialised for its argument types. The arguments given to the closure must already be
//! converted to the signature's `arg_types` (the expression compiler inserts the CASTs).
//!
//! Semantics decided here:
//! - NULL: any NULL argument gives NULL, except `coalesce`, `ifnull`, `nullif` and `if` (SQL
//!   semantics; `if(NULL, a, b)` is `b`). `concat` and `greatest`/`least` give NULL if any argument
//!   is NULL.
//! - Numbers never panic: `mod` by integer zero is NULL, integer overflow wraps (`abs(i32::MIN)`),
//!   floating results follow IEEE (`sqrt(-1)` is NaN). `sign(NaN)` is NULL (no INT represents it).
//!   `round` rounds half away from zero; `round(x, n)` on floating values rounds the shortest
//!   decimal form of `x` (so `round(2.675, 2)` is `2.68`, like Flink), and integer `x` with
//!   negative `n` rounds to tens, hundreds, …
//! - Strings count characters, not bytes. `trim`/`ltrim`/`rtrim` remove Unicode whitespace.
//!   `substring(s, start[, len])` is 1-based with SQL clamping (`substring('hello', 0, 3)` is
//!   `'he'`); a negative `len` gives NULL. `replace(s, '', t)` returns `s` unchanged (Postgres).
//!   `lpad`/`rpad` follow Postgres: a string longer than `len` is truncated to `len` characters,
//!   `len <= 0` gives `''`, an empty pad returns the (possibly truncated) string; a `len` above
//!   [`MAX_PAD_LEN`] gives NULL instead of allocating gigabytes.
//! - `regex_match(s, pattern)` is true when the pattern matches *anywhere* in `s` (find, like
//!   Flink's `REGEXP`); anchor it with `^…$` for a full match. A constant pattern is compiled once
//!   (an invalid one is a compile error); a pattern from data is compiled on use with a small cache
//!   and an invalid one gives NULL.
//! - `format_time(ts, pattern)` / `parse_time(s, pattern)` use Java `SimpleDateFormat`-style
//!   patterns in UTC (see [`translate_time_pattern`]). `parse_time` must consume the whole input;
//!   missing fields default to 1970-01-01 00:00:00.000 and a zone offset in the input is honoured.
//!   A parse failure gives NULL.
//! - `concat`'s arguments are all converted to STRING by the planner (so numbers read as they
//!   do after `CAST(x AS STRING)`); a non-string value reaching it anyway is written with
//!   `Value`'s `Display`.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::format::{Fixed, Item, Parsed, StrftimeItems};
use chrono::DateTime;
use eventflux_planner::functions::ScalarFn;
use eventflux_planner::types::Type;
use regex::Regex;

use crate::value::Value;

/// A compiled scalar function: takes the (converted) argument values, gives the result.
pub type ScalarImpl = Box<dyn Fn(&[Value]) -> Value + Send + Sync>;

/// The largest length `lpad`/`rpad` will produce; a larger `len` gives NULL.
pub const MAX_PAD_LEN: i64 = 1 << 24;

/// How many non-constant regex or time patterns one call site keeps compiled.
const PATTERN_CACHE_SIZE: usize = 8;

/// Builds the implementation of `f` for arguments already converted to `arg_types` (the
/// `Signature`'s `arg_types`). `constants[i]` is `Some(value)` when argument `i` is a compile-time
/// constant: constant regexes and time patterns are compiled once here, and an invalid one is an
/// error. `now()` and `event_time()` are not built here (they need the evaluation context).
pub fn build_scalar(
    f: ScalarFn,
    arg_types: &[Type],
    constants: &[Option<Value>],
) -> Result<ScalarImpl, String> {
    use ScalarFn as S;
    let name = f.name();
    let n = arg_types.len();
    let (min, max) = arity(f);
    if n < min || n > max {
        return Err(format!(
            "function '{name}': cannot build a call with {n} argument(s)"
        ));
    }
    let propagates_null = !matches!(f, S::Coalesce | S::Ifnull | S::Nullif | S::If);
    if propagates_null && arg_types.contains(&Type::Null) {
        return boxed(|_| Value::Null);
    }
    let t0 = arg_types.first().copied().unwrap_or(Type::Null);
    let unsupported = || {
        let list: Vec<&str> = arg_types.iter().map(|t| t.name()).collect();
        Err(format!(
            "function '{name}' has no implementation for ({})",
            list.join(", ")
        ))
    };
    let constant_str = |i: usize| match constants.get(i) {
        Some(Some(Value::String(s))) => Some(s.clone()),
        _ => None,
    };

    match f {
        S::Now | S::EventTime => Err(format!(
            "function '{name}' is evaluated by the expression compiler, not built as a scalar"
        )),
        S::Abs => match t0 {
            Type::Int => boxed(|a| match a {
                [Value::Int(v)] => Value::Int(v.wrapping_abs()),
                _ => Value::Null,
            }),
            Type::Long | Type::Timestamp => boxed(|a| match a {
                [Value::Long(v)] => Value::Long(v.wrapping_abs()),
                _ => Value::Null,
            }),
            Type::Float => boxed(|a| match a {
                [Value::Float(v)] => Value::Float(v.abs()),
                _ => Value::Null,
            }),
            Type::Double => boxed(|a| match a {
                [Value::Double(v)] => Value::Double(v.abs()),
                _ => Value::Null,
            }),
            _ => unsupported(),
        },
        S::Ceil | S::Floor => {
            let ceil = f == S::Ceil;
            match t0 {
                Type::Int | Type::Long | Type::Timestamp => boxed(|a| match a {
                    [v @ (Value::Int(_) | Value::Long(_))] => v.clone(),
                    _ => Value::Null,
                }),
                Type::Float => boxed(move |a| match a {
                    [Value::Float(v)] => Value::Float(if ceil { v.ceil() } else { v.floor() }),
                    _ => Value::Null,
                }),
                Type::Double => boxed(move |a| match a {
                    [Value::Double(v)] => Value::Double(if ceil { v.ceil() } else { v.floor() }),
                    _ => Value::Null,
                }),
                _ => unsupported(),
            }
        }
        S::Round => build_round(t0, n == 2).map_or_else(unsupported, Ok),
        S::Sign => match t0 {
            Type::Int => boxed(|a| match a {
                [Value::Int(v)] => Value::Int(v.signum()),
                _ => Value::Null,
            }),
            Type::Long | Type::Timestamp => boxed(|a| match a {
                [Value::Long(v)] => Value::Int(v.signum() as i32),
                _ => Value::Null,
            }),
            Type::Float | Type::Double => boxed(|a| match a {
                [v] => v.as_f64().map_or(Value::Null, float_sign),
                _ => Value::Null,
            }),
            _ => unsupported(),
        },
        S::Sqrt => unary_f64(f64::sqrt),
        S::Exp => unary_f64(f64::exp),
        S::Ln => unary_f64(f64::ln),
        S::Log10 => unary_f64(f64::log10),
        S::Log if n == 1 => unary_f64(f64::ln),
        S::Log => binary_f64(|base, x| x.ln() / base.ln()),
        S::Power => binary_f64(f64::powf),
        S::Mod => match t0 {
            Type::Int => boxed(|a| match a {
                [Value::Int(x), Value::Int(y)] if *y != 0 => Value::Int(x.wrapping_rem(*y)),
                _ => Value::Null,
            }),
            Type::Long | Type::Timestamp => boxed(|a| match a {
                [Value::Long(x), Value::Long(y)] if *y != 0 => Value::Long(x.wrapping_rem(*y)),
                _ => Value::Null,
            }),
            Type::Float => boxed(|a| match a {
                [Value::Float(x), Value::Float(y)] => Value::Float(x % y),
                _ => Value::Null,
            }),
            Type::Double => boxed(|a| match a {
                [Value::Double(x), Value::Double(y)] => Value::Double(x % y),
                _ => Value::Null,
            }),
            _ => unsupported(),
        },
        S::Greatest | S::Least => {
            if !(t0.is_numeric() || t0 == Type::String) {
                return unsupported();
            }
            let want = if f == S::Greatest {
                Ordering::Greater
            } else {
                Ordering::Less
            };
            boxed(move |a| extreme(a, want))
        }
        S::Upper => string_fn(t0, |s| {
            if s.is_ascii() {
                if s.bytes().any(|b| b.is_ascii_lowercase()) {
                    Value::from(s.to_ascii_uppercase())
                } else {
                    Value::String(s.clone())
                }
            } else {
                Value::from(s.to_uppercase())
            }
        })
        .map_or_else(unsupported, Ok),
        S::Lower => string_fn(t0, |s| {
            if s.is_ascii() {
                if s.bytes().any(|b| b.is_ascii_uppercase()) {
                    Value::from(s.to_ascii_lowercase())
                } else {
                    Value::String(s.clone())
                }
            } else {
                Value::from(s.to_lowercase())
            }
        })
        .map_or_else(unsupported, Ok),
        S::Length => string_fn(t0, |s| {
            let chars = if s.is_ascii() {
                s.len()
            } else {
                s.chars().count()
            };
            Value::Int(chars as i32)
        })
        .map_or_else(unsupported, Ok),
        S::Trim => string_fn(t0, |s| sub_or_same(s, s.trim())).map_or_else(unsupported, Ok),
        S::Ltrim => string_fn(t0, |s| sub_or_same(s, s.trim_start())).map_or_else(unsupported, Ok),
        S::Rtrim => string_fn(t0, |s| sub_or_same(s, s.trim_end())).map_or_else(unsupported, Ok),
        S::Substring => {
            if t0 != Type::String || !arg_types[1..].iter().all(|t| t.is_integer()) {
                return unsupported();
            }
            if n == 2 {
                boxed(|a| match a {
                    [Value::String(s), start] => match int_arg(start) {
                        Some(start) => substring(s, start, None),
                        None => Value::Null,
                    },
                    _ => Value::Null,
                })
            } else {
                boxed(|a| match a {
                    [Value::String(s), start, len] => match (int_arg(start), int_arg(len)) {
                        (Some(start), Some(len)) => substring(s, start, Some(len)),
                        _ => Value::Null,
                    },
                    _ => Value::Null,
                })
            }
        }
        S::Concat => boxed(concat),
        S::Replace => {
            if arg_types.iter().any(|t| *t != Type::String) {
                return unsupported();
            }
            boxed(|a| match a {
                [Value::String(s), Value::String(from), Value::String(to)] => {
                    if from.is_empty() || !s.contains(&**from) {
                        Value::String(s.clone())
                    } else {
                        Value::from(s.replace(&**from, to))
                    }
                }
                _ => Value::Null,
            })
        }
        S::StartsWith => {
            string_pred(arg_types, |s, t| s.starts_with(t)).map_or_else(unsupported, Ok)
        }
        S::EndsWith => string_pred(arg_types, |s, t| s.ends_with(t)).map_or_else(unsupported, Ok),
        S::Contains => string_pred(arg_types, |s, t| s.contains(t)).map_or_else(unsupported, Ok),
        S::RegexMatch => {
            if arg_types.iter().any(|t| *t != Type::String) {
                return unsupported();
            }
            build_regex_match(constant_str(1))
        }
        S::Lpad | S::Rpad => {
            if t0 != Type::String || !arg_types[1].is_integer() || arg_types[2] != Type::String {
                return unsupported();
            }
            let left = f == S::Lpad;
            boxed(move |a| match a {
                [Value::String(s), len, Value::String(pad)] => match int_arg(len) {
                    Some(len) => pad_string(s, len, pad, left),
                    None => Value::Null,
                },
                _ => Value::Null,
            })
        }
        S::Coalesce | S::Ifnull => boxed(|a| {
            a.iter()
                .find(|v| !v.is_null())
                .cloned()
                .unwrap_or(Value::Null)
        }),
        S::Nullif => boxed(|a| match a {
            [Value::Null, _] => Value::Null,
            [x, y] if values_equal(x, y) => Value::Null,
            [x, _] => x.clone(),
            _ => Value::Null,
        }),
        S::If => boxed(|a| match a {
            [c, x, y] => {
                if c.is_true() {
                    x.clone()
                } else {
                    y.clone()
                }
            }
            _ => Value::Null,
        }),
        S::Uuid => boxed(|_| {
            let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
            Value::string(uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf))
        }),
        S::FormatTime => {
            if !t0.is_integer() || arg_types[1] != Type::String {
                return unsupported();
            }
            build_format_time(constant_str(1))
        }
        S::ParseTime => {
            if arg_types.iter().any(|t| *t != Type::String) {
                return unsupported();
            }
            build_parse_time(constant_str(1))
        }
    }
}

/// The argument counts an implementation accepts (`usize::MAX`: no upper bound).
fn arity(f: ScalarFn) -> (usize, usize) {
    use ScalarFn as S;
    match f {
        S::Now | S::EventTime | S::Uuid => (0, 0),
        S::Abs
        | S::Ceil
        | S::Floor
        | S::Sqrt
        | S::Exp
        | S::Ln
        | S::Log10
        | S::Sign
        | S::Upper
        | S::Lower
        | S::Length
        | S::Trim
        | S::Ltrim
        | S::Rtrim => (1, 1),
        S::Round | S::Log => (1, 2),
        S::Power
        | S::Mod
        | S::StartsWith
        | S::EndsWith
        | S::Contains
        | S::RegexMatch
        | S::Ifnull
        | S::Nullif
        | S::FormatTime
        | S::ParseTime => (2, 2),
        S::Substring => (2, 3),
        S::Replace | S::Lpad | S::Rpad | S::If => (3, 3),
        S::Greatest | S::Least | S::Concat | S::Coalesce => (1, usize::MAX),
    }
}

fn boxed<F>(f: F) -> Result<ScalarImpl, String>
where
    F: Fn(&[Value]) -> Value + Send + Sync + 'static,
{
    Ok(Box::new(f))
}

/// An INT or LONG argument value as i64.
#[inline]
fn int_arg(v: &Value) -> Option<i64> {
    match *v {
        Value::Int(i) => Some(i64::from(i)),
        Value::Long(l) => Some(l),
        _ => None,
    }
}

/// A function of one DOUBLE argument giving DOUBLE.
fn unary_f64<F>(op: F) -> Result<ScalarImpl, String>
where
    F: Fn(f64) -> f64 + Send + Sync + 'static,
{
    boxed(move |a| match a {
        [Value::Double(x)] => Value::Double(op(*x)),
        [v] => v.as_f64().map_or(Value::Null, |x| Value::Double(op(x))),
        _ => Value::Null,
    })
}

/// A function of two DOUBLE arguments giving DOUBLE.
fn binary_f64<F>(op: F) -> Result<ScalarImpl, String>
where
    F: Fn(f64, f64) -> f64 + Send + Sync + 'static,
{
    boxed(move |a| match a {
        [Value::Double(x), Value::Double(y)] => Value::Double(op(*x, *y)),
        [x, y] => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => Value::Double(op(x, y)),
            _ => Value::Null,
        },
        _ => Value::Null,
    })
}

fn float_sign(x: f64) -> Value {
    if x.is_nan() {
        Value::Null
    } else if x > 0.0 {
        Value::Int(1)
    } else if x < 0.0 {
        Value::Int(-1)
    } else {
        Value::Int(0)
    }
}

fn build_round(t: Type, with_digits: bool) -> Option<ScalarImpl> {
    let f: ScalarImpl = match (t, with_digits) {
        (Type::Int | Type::Long | Type::Timestamp, false) => Box::new(|a: &[Value]| match a {
            [v @ (Value::Int(_) | Value::Long(_))] => v.clone(),
            _ => Value::Null,
        }),
        (Type::Float, false) => Box::new(|a: &[Value]| match a {
            [Value::Float(v)] => Value::Float(v.round()),
            _ => Value::Null,
        }),
        (Type::Double, false) => Box::new(|a: &[Value]| match a {
            [Value::Double(v)] => Value::Double(v.round()),
            _ => Value::Null,
        }),
        (Type::Int, true) => Box::new(|a: &[Value]| match a {
            [Value::Int(v), d] => int_arg(d).map_or(Value::Null, |d| {
                Value::Int(round_i64(i64::from(*v), d) as i32)
            }),
            _ => Value::Null,
        }),
        (Type::Long | Type::Timestamp, true) => Box::new(|a: &[Value]| match a {
            [Value::Long(v), d] => {
                int_arg(d).map_or(Value::Null, |d| Value::Long(round_i64(*v, d)))
            }
            _ => Value::Null,
        }),
        (Type::Float | Type::Double, true) => Box::new(|a: &[Value]| match a {
            [v, d] => match (v.as_f64(), int_arg(d)) {
                (Some(x), Some(d)) => Value::Double(round_f64(x, d)),
                _ => Value::Null,
            },
            _ => Value::Null,
        }),
        _ => return None,
    };
    Some(f)
}

/// Rounds an integer to `digits` decimal places, half away from zero; only negative `digits`
/// change the value. Overflow wraps.
fn round_i64(x: i64, digits: i64) -> i64 {
    if digits >= 0 {
        return x;
    }
    let k = digits.unsigned_abs();
    if k > 38 {
        return 0;
    }
    let p = 10i128.pow(k as u32);
    let x = i128::from(x);
    let mut q = x / p;
    if (x % p).abs() * 2 >= p {
        q += x.signum();
    }
    (q * p) as i64
}

/// The powers of ten that are exact doubles.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Rounds to `digits` decimal places, half away from zero, as if on the shortest decimal form of
/// `x`. Negative zero results are normalised to zero.
fn round_f64(x: f64, digits: i64) -> f64 {
    if !x.is_finite() || digits > 340 {
        return x;
    }
    if digits < -308 {
        // |x| < 0.5e309: rounds to zero.
        return 0.0;
    }
    let d = digits as i32;
    if d.unsigned_abs() as usize >= POW10.len() {
        // Powers of ten beyond 1e22 are not exact doubles: work on the decimal digits.
        let r = round_decimal(x, d).unwrap_or(x);
        return if r == 0.0 { 0.0 } else { r };
    }
    let p = POW10[d.unsigned_abs() as usize];
    let scaled = if d >= 0 { x * p } else { x / p };
    if scaled.abs() >= 4_503_599_627_370_496.0 {
        // Already an integer at this scale: nothing to round.
        return x;
    }
    let frac = (scaled - scaled.trunc()).abs();
    // `scaled` is within a few ulps of the decimal value; near a tie the binary value may sit
    // just off the decimal one, so decide on the digits.
    let r = if (frac - 0.5).abs() <= 1e-12 * scaled.abs().max(1.0) {
        round_decimal(x, d).unwrap_or(x)
    } else {
        let r = scaled.round();
        if d >= 0 {
            r / p
        } else {
            r * p
        }
    };
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// A fixed-size stack buffer implementing `fmt::Write`, to format numbers without allocating.
struct StackBuf {
    buf: [u8; 64],
    len: usize,
}

impl StackBuf {
    fn new() -> Self {
        StackBuf {
            buf: [0; 64],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Decimal rounding (half away from zero) of the shortest representation of `x`.
fn round_decimal(x: f64, digits: i32) -> Option<f64> {
    let mut text = StackBuf::new();
    write!(text, "{:e}", x.abs()).ok()?;
    let (mantissa, exp) = text.as_str().split_once('e')?;
    let exp: i64 = exp.parse().ok()?;
    let mut n_digits = 0usize;
    let mut ds = [0u8; 40];
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        *ds.get_mut(n_digits)? = b - b'0';
        n_digits += 1;
    }
    // Digits to keep, counted from the first significant one.
    let keep = exp + 1 + i64::from(digits);
    if keep < 0 {
        return Some(0.0);
    }
    let keep = keep as usize;
    if keep >= n_digits {
        return Some(x);
    }
    let mut int: u64 = 0;
    for &d in &ds[..keep] {
        int = int.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    if ds[keep] >= 5 {
        int = int.checked_add(1)?;
    }
    let mut out = StackBuf::new();
    write!(out, "{int}e{}", -digits).ok()?;
    let magnitude: f64 = out.as_str().parse().ok()?;
    Some(if x < 0.0 { -magnitude } else { magnitude })
}

/// `greatest` (`want == Greater`) or `least`; NULL if any argument is NULL.
fn extreme(args: &[Value], want: Ordering) -> Value {
    let mut best: Option<&Value> = None;
    for v in args {
        if v.is_null() {
            return Value::Null;
        }
        match best {
            Some(b) if v.compare(b) != Some(want) => {}
            _ => best = Some(v),
        }
    }
    best.cloned().unwrap_or(Value::Null)
}

/// SQL equality of two non-null values (numbers compare by value across types).
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(_) | Value::Long(_), Value::Int(_) | Value::Long(_)) => {
            a.as_i64() == b.as_i64()
        }
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// A function of one STRING argument (`None` if `t` is not STRING).
fn string_fn<F>(t: Type, op: F) -> Option<ScalarImpl>
where
    F: Fn(&Arc<str>) -> Value + Send + Sync + 'static,
{
    if t != Type::String {
        return None;
    }
    Some(Box::new(move |a: &[Value]| match a {
        [Value::String(s)] => op(s),
        _ => Value::Null,
    }))
}

/// A BOOL predicate of two STRING arguments.
fn string_pred<F>(arg_types: &[Type], op: F) -> Option<ScalarImpl>
where
    F: Fn(&str, &str) -> bool + Send + Sync + 'static,
{
    if arg_types.iter().any(|t| *t != Type::String) {
        return None;
    }
    Some(Box::new(move |a: &[Value]| match a {
        [Value::String(s), Value::String(t)] => Value::Bool(op(s, t)),
        _ => Value::Null,
    }))
}

/// `part` (a slice of `s`) as a value, sharing `s` when it is all of it.
fn sub_or_same(s: &Arc<str>, part: &str) -> Value {
    if part.len() == s.len() {
        Value::String(s.clone())
    } else {
        Value::string(part)
    }
}

/// The byte offset of character `n` of `s` (its length when `s` has fewer characters).
fn char_offset(s: &str, n: u64) -> usize {
    if n >= s.len() as u64 {
        return s.len();
    }
    let n = n as usize;
    if s.is_ascii() {
        return n;
    }
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

/// SQL `substring`: characters `[start, start + len)` (1-based) intersected with the string.
fn substring(s: &Arc<str>, start: i64, len: Option<i64>) -> Value {
    let end = match len {
        Some(len) if len < 0 => return Value::Null,
        Some(len) => start.saturating_add(len),
        None => i64::MAX,
    };
    let begin = start.max(1);
    if end <= begin {
        return Value::string("");
    }
    let from = char_offset(s, (begin - 1) as u64);
    let rest = &s[from..];
    let to = from + char_offset(rest, (end - begin) as u64);
    sub_or_same(s, &s[from..to])
}

/// Postgres `lpad`/`rpad`.
fn pad_string(s: &Arc<str>, len: i64, pad: &str, left: bool) -> Value {
    if len <= 0 {
        return Value::string("");
    }
    if len > MAX_PAD_LEN {
        return Value::Null;
    }
    let len = len as usize;
    let end = char_offset(s, len as u64);
    if end < s.len() {
        return Value::string(&s[..end]);
    }
    let have = if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    };
    if have >= len || pad.is_empty() {
        return Value::String(s.clone());
    }
    let mut out = String::with_capacity(s.len() + (len - have) * 4);
    if !left {
        out.push_str(s);
    }
    out.extend(pad.chars().cycle().take(len - have));
    if left {
        out.push_str(s);
    }
    Value::from(out)
}

/// `concat`: NULL if any argument is NULL, else the text forms joined.
fn concat(args: &[Value]) -> Value {
    if let [v @ Value::String(_)] = args {
        return v.clone();
    }
    let mut out = String::new();
    for v in args {
        match v {
            Value::Null => return Value::Null,
            Value::String(s) => out.push_str(s),
            other => {
                // Writing to a String cannot fail.
                let _ = write!(out, "{other}");
            }
        }
    }
    Value::from(out)
}

/// A small cache of compiled patterns keyed by pattern text (round-robin replacement). `None`
/// entries remember invalid patterns.
struct PatternCache<T> {
    inner: Mutex<CacheInner<T>>,
}

struct CacheInner<T> {
    entries: Vec<(Arc<str>, Option<T>)>,
    next: usize,
}

impl<T> PatternCache<T> {
    fn new() -> Self {
        PatternCache {
            inner: Mutex::new(CacheInner {
                entries: Vec::with_capacity(PATTERN_CACHE_SIZE),
                next: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, CacheInner<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `apply` on the compiled form of `key` (compiling it with `compile` on a miss);
    /// `None` when the pattern is invalid.
    fn with<R>(
        &self,
        key: &Arc<str>,
        compile: impl FnOnce(&str) -> Option<T>,
        apply: impl FnOnce(&T) -> R,
    ) -> Option<R> {
        let mut inner = self.lock();
        let pos = inner
            .entries
            .iter()
            .position(|(k, _)| Arc::ptr_eq(k, key) || **k == **key);
        let pos = match pos {
            Some(p) => p,
            None => {
                let entry = (key.clone(), compile(key));
                if inner.entries.len() < PATTERN_CACHE_SIZE {
                    inner.entries.push(entry);
                    inner.entries.len() - 1
                } else {
                    let p = inner.next % PATTERN_CACHE_SIZE;
                    inner.next = p + 1;
                    inner.entries[p] = entry;
                    p
                }
            }
        };
        inner.entries[pos].1.as_ref().map(apply)
    }
}

/// `regex_match(s, pattern)`: true when `pattern` matches anywhere in `s` (find semantics, like
/// Flink's `REGEXP`; use `^…$` for a full match).
fn build_regex_match(constant: Option<Arc<str>>) -> Result<ScalarImpl, String> {
    if let Some(p) = constant {
        let re = Regex::new(&p).map_err(|e| {
            format!(
                "function 'regex_match': invalid regular expression '{p}': {}",
                eventflux_planner::resolve::regex_error(&e)
            )
        })?;
        return boxed(move |a| match a {
            [Value::String(s), _] => Value::Bool(re.is_match(s)),
            _ => Value::Null,
        });
    }
    let cache = PatternCache::<Regex>::new();
    boxed(move |a| match a {
        [Value::String(s), Value::String(p)] => cache
            .with(p, |p| Regex::new(p).ok(), |re| Value::Bool(re.is_match(s)))
            .unwrap_or(Value::Null),
        _ => Value::Null,
    })
}

type TimeItems = Vec<Item<'static>>;

fn build_format_time(constant: Option<Arc<str>>) -> Result<ScalarImpl, String> {
    if let Some(p) = constant {
        let items = translate_time_pattern(&p, false)
            .map_err(|e| format!("function 'format_time': invalid pattern '{p}': {e}"))?;
        return boxed(move |a| match a {
            [ts, _] => int_arg(ts).map_or(Value::Null, |ms| format_millis(ms, &items)),
            _ => Value::Null,
        });
    }
    let cache = PatternCache::<TimeItems>::new();
    boxed(move |a| match a {
        [ts, Value::String(p)] => match int_arg(ts) {
            Some(ms) => cache
                .with(
                    p,
                    |p| translate_time_pattern(p, false).ok(),
                    |items| format_millis(ms, items),
                )
                .unwrap_or(Value::Null),
            None => Value::Null,
        },
        _ => Value::Null,
    })
}

fn build_parse_time(constant: Option<Arc<str>>) -> Result<ScalarImpl, String> {
    if let Some(p) = constant {
        let items = translate_time_pattern(&p, true)
            .map_err(|e| format!("function 'parse_time': invalid pattern '{p}': {e}"))?;
        return boxed(move |a| match a {
            [Value::String(s), _] => parse_millis(s, &items).map_or(Value::Null, Value::Long),
            _ => Value::Null,
        });
    }
    let cache = PatternCache::<TimeItems>::new();
    boxed(move |a| match a {
        [Value::String(s), Value::String(p)] => cache
            .with(
                p,
                |p| translate_time_pattern(p, true).ok(),
                |items| parse_millis(s, items),
            )
            .flatten()
            .map_or(Value::Null, Value::Long),
        _ => Value::Null,
    })
}

/// Formats epoch milliseconds in UTC; NULL when out of chrono's range.
fn format_millis(ms: i64, items: &[Item<'static>]) -> Value {
    let Some(dt) = DateTime::from_timestamp_millis(ms) else {
        return Value::Null;
    };
    let mut out = String::with_capacity(32);
    match write!(out, "{}", dt.format_with_items(items.iter())) {
        Ok(()) => Value::from(out),
        Err(_) => Value::Null,
    }
}

/// Parses `s` with `items` into epoch milliseconds. Missing fields default to
/// 1970-01-01T00:00:00.000; without a zone in the input the time is UTC.
fn parse_millis(s: &str, items: &[Item<'static>]) -> Option<i64> {
    let mut p = Parsed::new();
    chrono::format::parse(&mut p, s, items.iter()).ok()?;
    if p.year().is_none() && p.year_div_100().is_none() && p.year_mod_100().is_none() {
        p.set_year(1970).ok()?;
    }
    let by_week = p.weekday().is_some()
        && (p.week_from_mon().is_some() || p.week_from_sun().is_some() || p.isoweek().is_some());
    if p.ordinal().is_none() && !by_week {
        if p.month().is_none() {
            p.set_month(1).ok()?;
        }
        if p.day().is_none() {
            p.set_day(1).ok()?;
        }
    }
    match (p.hour_div_12(), p.hour_mod_12()) {
        (None, None) => p.set_hour(0).ok()?,
        (None, Some(_)) => p.set_ampm(false).ok()?,
        (Some(_), None) => p.set_hour12(12).ok()?,
        (Some(_), Some(_)) => {}
    }
    if p.minute().is_none() {
        p.set_minute(0).ok()?;
    }
    if p.second().is_none() {
        p.set_second(0).ok()?;
    }
    let offset = p.offset().unwrap_or(0);
    let local = p.to_naive_datetime_with_offset(offset).ok()?;
    local
        .and_utc()
        .timestamp_millis()
        .checked_sub(i64::from(offset) * 1000)
}

/// Translates a Java `SimpleDateFormat`-style pattern into chrono format items.
///
/// Supported letters: `y` (`yy`: two-digit year), `M` (`MMM` short and `MMMM` full month name),
/// `d`, `D` (day of year), `H`, `h` (1–12), `m`, `s`, `S` (exactly `SSS`, `SSSSSS` or
/// `SSSSSSSSS`: milli-, micro- or nanoseconds), `E` (`EEE` short, `EEEE` full day name), `a`
/// (AM/PM), `u` (day of week, 1 = Monday), `Z` (`+0000`), `X`/`XX` (`Z` or `+hhmm`), `XXX` (`Z` or
/// `+hh:mm`) and, for formatting only, `z` (zone name: `UTC`). One letter gives an unpadded
/// number, two or more a zero-padded one. Text in single quotes is literal (`''` is a quote);
/// other characters that are not ASCII letters are literal.
pub fn translate_time_pattern(
    pattern: &str,
    for_parsing: bool,
) -> Result<Vec<Item<'static>>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut items: Vec<Item<'static>> = Vec::new();
    let mut literal = String::new();
    let flush = |literal: &mut String, items: &mut Vec<Item<'static>>| {
        if !literal.is_empty() {
            items.push(Item::OwnedLiteral(std::mem::take(literal).into_boxed_str()));
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                literal.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated quoted text".to_string()),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        literal.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        literal.push(ch);
                        i += 1;
                    }
                }
            }
        } else if c.is_ascii_alphabetic() {
            let mut count = 1;
            while chars.get(i + count) == Some(&c) {
                count += 1;
            }
            i += count;
            flush(&mut literal, &mut items);
            let spec: &'static str = match (c, count) {
                ('y', 2) => "%y",
                ('y', _) => "%Y",
                ('M' | 'L', 1) => "%-m",
                ('M' | 'L', 2) => "%m",
                ('M' | 'L', 3) => "%b",
                ('M' | 'L', _) => "%B",
                ('d', 1) => "%-d",
                ('d', _) => "%d",
                ('D', 1) => "%-j",
                ('D', _) => "%j",
                ('H', 1) => "%-H",
                ('H', _) => "%H",
                ('h', 1) => "%-I",
                ('h', _) => "%I",
                ('m', 1) => "%-M",
                ('m', _) => "%M",
                ('s', 1) => "%-S",
                ('s', _) => "%S",
                ('S', 3) => "%3f",
                ('S', 6) => "%6f",
                ('S', 9) => "%9f",
                ('S', _) => {
                    return Err(format!(
                        "'{}' is not supported: use SSS, SSSSSS or SSSSSSSSS",
                        "S".repeat(count)
                    ))
                }
                ('E', 1..=3) => "%a",
                ('E', _) => "%A",
                ('a', _) => "%p",
                ('u', _) => "%u",
                ('Z', _) => "%z",
                ('X', 1 | 2) => {
                    items.push(Item::Fixed(Fixed::TimezoneOffsetZ));
                    continue;
                }
                ('X', 3) => {
                    items.push(Item::Fixed(Fixed::TimezoneOffsetColonZ));
                    continue;
                }
                ('z', _) if !for_parsing => "%Z",
                ('z', _) => return Err("zone names ('z') cannot be parsed: use X or Z".to_string()),
                _ => {
                    return Err(format!(
                        "unsupported pattern letter '{}'",
                        c.to_string().repeat(count)
                    ))
                }
            };
            for item in StrftimeItems::new(spec) {
                if item == Item::Error {
                    return Err(format!("internal error translating '{c}'"));
                }
                items.push(item);
            }
        } else if c.is_whitespace() {
            flush(&mut literal, &mut items);
            let start = i;
            while chars.get(i).is_some_and(|ch| ch.is_whitespace()) {
                i += 1;
            }
            let space: String = chars[start..i].iter().collect();
            items.push(Item::OwnedSpace(space.into_boxed_str()));
        } else {
            literal.push(c);
            i += 1;
        }
    }
    flush(&mut literal, &mut items);
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventflux_planner::functions::check_scalar;
    use ScalarFn as S;

    const ALL: [ScalarFn; 38] = [
        S::Abs,
        S::Ceil,
        S::Floor,
        S::Round,
        S::Sqrt,
        S::Power,
        S::Exp,
        S::Ln,
        S::Log,
        S::Log10,
        S::Sign,
        S::Mod,
        S::Greatest,
        S::Least,
        S::Upper,
        S::Lower,
        S::Length,
        S::Trim,
        S::Ltrim,
        S::Rtrim,
        S::Substring,
        S::Concat,
        S::Replace,
        S::StartsWith,
        S::EndsWith,
        S::Contains,
        S::RegexMatch,
        S::Lpad,
        S::Rpad,
        S::Coalesce,
        S::Ifnull,
        S::Nullif,
        S::If,
        S::Now,
        S::EventTime,
        S::Uuid,
        S::FormatTime,
        S::ParseTime,
    ];

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn null() -> Value {
        Value::Null
    }

    /// Type-checks `f` on the types of `args` (NULL for `Value::Null`), builds it and calls it on
    /// `args` converted the way the planner asks.
    fn call(f: ScalarFn, args: &[Value]) -> Value {
        let types: Vec<Type> = args.iter().map(type_of).collect();
        call_typed(f, &types, args)
    }

    fn call_typed(f: ScalarFn, types: &[Type], args: &[Value]) -> Value {
        let sig = check_scalar(f, types).unwrap_or_else(|e| panic!("{e}"));
        let converted: Vec<Value> = args
            .iter()
            .zip(&sig.arg_types)
            .map(|(v, t)| convert(v, *t))
            .collect();
        let imp = build_scalar(f, &sig.arg_types, &vec![None; args.len()])
            .unwrap_or_else(|e| panic!("{e}"));
        let out = imp(&converted);
        assert!(
            has_type(&out, sig.result),
            "{f:?}{args:?} gave {out:?}, expected {}",
            sig.result
        );
        // With every argument constant, the result must not change.
        let consts: Vec<Option<Value>> = converted.iter().cloned().map(Some).collect();
        if f.is_pure() {
            if let Ok(imp) = build_scalar(f, &sig.arg_types, &consts) {
                assert_eq!(format!("{:?}", imp(&converted)), format!("{out:?}"));
            }
        }
        out
    }

    fn type_of(v: &Value) -> Type {
        match v {
            Value::Null => Type::Null,
            Value::Bool(_) => Type::Bool,
            Value::Int(_) => Type::Int,
            Value::Long(_) => Type::Long,
            Value::Float(_) => Type::Float,
            Value::Double(_) => Type::Double,
            Value::String(_) => Type::String,
        }
    }

    /// The numeric conversions the planner's CASTs would do.
    fn convert(v: &Value, t: Type) -> Value {
        match (v, t) {
            (Value::Null, _) => Value::Null,
            (v, Type::Long | Type::Timestamp) => v.as_i64().map_or(v.clone(), Value::Long),
            (v, Type::Int) => v.as_i64().map_or(v.clone(), |x| Value::Int(x as i32)),
            (v, Type::Double) => v.as_f64().map_or(v.clone(), Value::Double),
            (v, Type::Float) => v.as_f64().map_or(v.clone(), |x| Value::Float(x as f32)),
            (v, _) => v.clone(),
        }
    }

    fn has_type(v: &Value, t: Type) -> bool {
        matches!(
            (v, t),
            (Value::Null, _)
                | (Value::Int(_), Type::Int)
                | (Value::Long(_), Type::Long | Type::Timestamp)
                | (Value::Float(_), Type::Float)
                | (Value::Double(_), Type::Double)
                | (Value::String(_), Type::String)
                | (Value::Bool(_), Type::Bool)
        )
    }

    fn sample(t: Type) -> Value {
        match t {
            Type::Int => Value::Int(-7),
            Type::Long => Value::Long(1_700_000_000_123),
            Type::Timestamp => Value::Long(1_700_000_000_123),
            Type::Float => Value::Float(2.5),
            Type::Double => Value::Double(-3.25),
            Type::String => s("Ab c"),
            Type::Bool => Value::Bool(true),
            Type::Object | Type::Null => Value::Null,
        }
    }

    #[test]
    fn every_checked_signature_builds_and_returns_its_result_type() {
        let types = [
            Type::Int,
            Type::Long,
            Type::Float,
            Type::Double,
            Type::String,
            Type::Bool,
            Type::Timestamp,
            Type::Null,
        ];
        let mut combos: Vec<Vec<Type>> = vec![vec![]];
        for &a in &types {
            combos.push(vec![a]);
            for &b in &types {
                combos.push(vec![a, b]);
                for &c in &types {
                    combos.push(vec![a, b, c]);
                }
            }
        }
        let mut built = 0;
        for f in ALL {
            for combo in &combos {
                let Ok(sig) = check_scalar(f, combo) else {
                    continue;
                };
                let res = build_scalar(f, &sig.arg_types, &vec![None; combo.len()]);
                if matches!(f, S::Now | S::EventTime) {
                    assert!(res.is_err());
                    continue;
                }
                let imp = res.unwrap_or_else(|e| panic!("{f:?}{combo:?}: {e}"));
                let args: Vec<Value> = sig.arg_types.iter().map(|t| sample(*t)).collect();
                let out = imp(&args);
                assert!(
                    has_type(&out, sig.result),
                    "{f:?}{combo:?}: {out:?} is not {}",
                    sig.result
                );
                // NULL in any one position never panics.
                for i in 0..args.len() {
                    let mut with_null = args.clone();
                    with_null[i] = Value::Null;
                    let out = imp(&with_null);
                    assert!(has_type(&out, sig.result));
                }
                // Wrong argument counts never panic either.
                let _ = imp(&[]);
                built += 1;
            }
        }
        assert!(built > 500, "only {built} signatures built");
    }

    #[test]
    fn now_and_event_time_are_not_built_here() {
        assert!(build_scalar(S::Now, &[], &[]).is_err());
        assert!(build_scalar(S::EventTime, &[], &[]).is_err());
        assert!(build_scalar(S::Upper, &[Type::String, Type::String], &[]).is_err());
        assert!(build_scalar(S::Upper, &[Type::Int], &[None]).is_err());
    }

    #[test]
    fn abs_ceil_floor_sign() {
        assert_eq!(call(S::Abs, &[Value::Int(-3)]), Value::Int(3));
        assert_eq!(call(S::Abs, &[Value::Int(i32::MIN)]), Value::Int(i32::MIN));
        assert_eq!(
            call(S::Abs, &[Value::Long(i64::MIN)]),
            Value::Long(i64::MIN)
        );
        assert_eq!(call(S::Abs, &[Value::Long(-5)]), Value::Long(5));
        assert_eq!(call(S::Abs, &[Value::Float(-1.5)]), Value::Float(1.5));
        assert_eq!(call(S::Abs, &[Value::Double(-2.0)]), Value::Double(2.0));
        assert_eq!(call(S::Abs, &[null()]), null());
        assert_eq!(call(S::Ceil, &[Value::Double(1.2)]), Value::Double(2.0));
        assert_eq!(call(S::Ceil, &[Value::Float(-1.2)]), Value::Float(-1.0));
        assert_eq!(call(S::Ceil, &[Value::Int(4)]), Value::Int(4));
        assert_eq!(call(S::Floor, &[Value::Double(-1.2)]), Value::Double(-2.0));
        assert_eq!(call(S::Floor, &[Value::Long(9)]), Value::Long(9));
        assert_eq!(call(S::Floor, &[null()]), null());
        assert_eq!(call(S::Sign, &[Value::Int(-9)]), Value::Int(-1));
        assert_eq!(call(S::Sign, &[Value::Long(0)]), Value::Int(0));
        assert_eq!(call(S::Sign, &[Value::Double(0.1)]), Value::Int(1));
        assert_eq!(call(S::Sign, &[Value::Float(-0.0)]), Value::Int(0));
        assert_eq!(call(S::Sign, &[Value::Double(f64::NAN)]), null());
        assert_eq!(call(S::Sign, &[null()]), null());
        // TIMESTAMP arguments behave as LONG.
        assert_eq!(
            call_typed(S::Abs, &[Type::Timestamp], &[Value::Long(-4)]),
            Value::Long(4)
        );
    }

    #[test]
    fn round() {
        let d = Value::Double;
        assert_eq!(call(S::Round, &[d(2.5)]), d(3.0));
        assert_eq!(call(S::Round, &[d(-2.5)]), d(-3.0));
        assert_eq!(call(S::Round, &[Value::Float(1.4)]), Value::Float(1.0));
        assert_eq!(call(S::Round, &[Value::Int(7)]), Value::Int(7));
        assert_eq!(call(S::Round, &[d(2.675), Value::Int(2)]), d(2.68));
        assert_eq!(call(S::Round, &[d(1.005), Value::Int(2)]), d(1.01));
        assert_eq!(call(S::Round, &[d(-1.005), Value::Int(2)]), d(-1.01));
        assert_eq!(call(S::Round, &[d(5.43216), Value::Int(3)]), d(5.432));
        assert_eq!(call(S::Round, &[d(0.125), Value::Int(2)]), d(0.13));
        assert_eq!(call(S::Round, &[d(1234.5678), Value::Int(0)]), d(1235.0));
        assert_eq!(call(S::Round, &[d(1250.0), Value::Int(-2)]), d(1300.0));
        assert_eq!(call(S::Round, &[d(1234.5678), Value::Int(-2)]), d(1200.0));
        assert_eq!(call(S::Round, &[d(-0.001), Value::Int(2)]), d(0.0));
        assert_eq!(call(S::Round, &[d(0.4999999999), Value::Int(0)]), d(0.0));
        assert_eq!(call(S::Round, &[d(1e300), Value::Int(2)]), d(1e300));
        assert_eq!(call(S::Round, &[d(1.5), Value::Int(400)]), d(1.5));
        assert_eq!(call(S::Round, &[d(1.5), Value::Int(-400)]), d(0.0));
        assert_eq!(call(S::Round, &[d(1.5), Value::Int(-320)]), d(0.0));
        assert_eq!(call(S::Round, &[d(1e308), Value::Int(-308)]), d(1e308));
        assert_eq!(call(S::Round, &[d(-6e307), Value::Int(-308)]), d(-1e308));
        assert_eq!(call(S::Round, &[d(1e-320), Value::Int(330)]), d(1e-320));
        assert_eq!(call(S::Round, &[d(1.5e25), Value::Int(-25)]), d(2e25));
        assert_eq!(call(S::Round, &[d(1.5e25), Value::Int(-24)]), d(1.5e25));
        assert_eq!(
            call(S::Round, &[d(-1.23456789e-30), Value::Int(35)]),
            d(-1.23457e-30)
        );
        assert_eq!(call(S::Round, &[d(0.0), Value::Int(-1)]), d(0.0));
        assert_eq!(call(S::Round, &[d(1.5), Value::Int(i32::MIN)]), d(0.0));
        assert_eq!(call(S::Round, &[d(1.5), Value::Int(i32::MAX)]), d(1.5));
        assert_eq!(call(S::Round, &[d(123.456), Value::Int(20)]), d(123.456));
        let nan = call(S::Round, &[d(f64::NAN), Value::Int(1)]);
        assert!(matches!(nan, Value::Double(x) if x.is_nan()));
        assert_eq!(
            call(S::Round, &[d(f64::INFINITY), Value::Int(1)]),
            d(f64::INFINITY)
        );
        assert_eq!(call(S::Round, &[Value::Float(2.25), Value::Int(1)]), d(2.3));
        assert_eq!(
            call(S::Round, &[Value::Int(1250), Value::Int(-2)]),
            Value::Int(1300)
        );
        assert_eq!(
            call(S::Round, &[Value::Int(-1250), Value::Int(-2)]),
            Value::Int(-1300)
        );
        assert_eq!(
            call(S::Round, &[Value::Int(1249), Value::Int(-2)]),
            Value::Int(1200)
        );
        assert_eq!(
            call(S::Round, &[Value::Int(1249), Value::Int(2)]),
            Value::Int(1249)
        );
        assert_eq!(
            call(S::Round, &[Value::Int(5), Value::Int(-50)]),
            Value::Int(0)
        );
        assert_eq!(
            call(S::Round, &[Value::Long(i64::MAX), Value::Int(-1)]),
            Value::Long(i64::MAX.wrapping_add(3))
        );
        assert_eq!(
            call(S::Round, &[Value::Long(i64::MIN), Value::Int(-19)]),
            Value::Long((-10_000_000_000_000_000_000i128) as i64)
        );
        assert_eq!(call(S::Round, &[null(), Value::Int(1)]), null());
        assert_eq!(call(S::Round, &[d(1.0), null()]), null());
    }

    #[test]
    fn round_matches_decimal_rounding() {
        // Compare against rounding the printed decimal digits for many values.
        let mut x: f64 = 0.0005;
        while x < 200.0 {
            for digits in 0..4 {
                let got = round_f64(x, digits);
                let want: f64 = round_decimal(x, digits as i32).unwrap_or(f64::NAN);
                assert_eq!(got, want, "round({x}, {digits})");
                let neg = round_f64(-x, digits);
                assert_eq!(neg, -want, "round(-{x}, {digits})");
            }
            x = x * 1.01 + 0.0005;
        }
    }

    #[test]
    fn exponential_and_logarithmic() {
        let d = Value::Double;
        assert_eq!(call(S::Sqrt, &[Value::Int(16)]), d(4.0));
        assert!(matches!(call(S::Sqrt, &[d(-1.0)]), Value::Double(x) if x.is_nan()));
        assert_eq!(call(S::Sqrt, &[null()]), null());
        assert_eq!(call(S::Exp, &[Value::Int(0)]), d(1.0));
        assert_eq!(call(S::Ln, &[d(1.0)]), d(0.0));
        assert_eq!(call(S::Ln, &[d(0.0)]), d(f64::NEG_INFINITY));
        assert!(matches!(call(S::Ln, &[d(-1.0)]), Value::Double(x) if x.is_nan()));
        assert_eq!(call(S::Log10, &[Value::Long(1000)]), d(3.0));
        assert_eq!(call(S::Log, &[d(std::f64::consts::E)]), d(1.0));
        assert_eq!(call(S::Log, &[Value::Int(2), Value::Int(8)]), d(3.0));
        assert_eq!(call(S::Log, &[Value::Int(2), null()]), null());
        assert_eq!(call(S::Power, &[Value::Int(2), Value::Int(10)]), d(1024.0));
        assert_eq!(call(S::Power, &[Value::Float(4.0), d(0.5)]), d(2.0));
        assert_eq!(call(S::Power, &[null(), d(0.5)]), null());
    }

    #[test]
    fn modulo() {
        assert_eq!(call(S::Mod, &[Value::Int(7), Value::Int(3)]), Value::Int(1));
        assert_eq!(
            call(S::Mod, &[Value::Int(-7), Value::Int(3)]),
            Value::Int(-1)
        );
        assert_eq!(call(S::Mod, &[Value::Int(7), Value::Int(0)]), null());
        assert_eq!(
            call(S::Mod, &[Value::Int(i32::MIN), Value::Int(-1)]),
            Value::Int(0)
        );
        assert_eq!(
            call(S::Mod, &[Value::Long(i64::MIN), Value::Long(-1)]),
            Value::Long(0)
        );
        assert_eq!(
            call(S::Mod, &[Value::Long(10), Value::Int(4)]),
            Value::Long(2)
        );
        assert_eq!(call(S::Mod, &[Value::Long(10), Value::Long(0)]), null());
        assert_eq!(
            call(S::Mod, &[Value::Double(5.5), Value::Int(2)]),
            Value::Double(1.5)
        );
        assert!(matches!(
            call(S::Mod, &[Value::Double(5.5), Value::Double(0.0)]),
            Value::Double(x) if x.is_nan()
        ));
        assert_eq!(
            call(S::Mod, &[Value::Float(5.5), Value::Float(2.0)]),
            Value::Float(1.5)
        );
        assert_eq!(call(S::Mod, &[null(), Value::Int(2)]), null());
        assert_eq!(call(S::Mod, &[Value::Int(2), null()]), null());
    }

    #[test]
    fn greatest_and_least() {
        assert_eq!(
            call(S::Greatest, &[Value::Int(1), Value::Int(5), Value::Int(3)]),
            Value::Int(5)
        );
        assert_eq!(
            call(S::Least, &[Value::Int(1), Value::Double(0.5)]),
            Value::Double(0.5)
        );
        assert_eq!(
            call(S::Greatest, &[Value::Long(4), Value::Int(9)]),
            Value::Long(9)
        );
        assert_eq!(call(S::Greatest, &[s("apple"), s("pear")]), s("pear"));
        assert_eq!(call(S::Least, &[s("apple"), s("pear")]), s("apple"));
        assert_eq!(call(S::Least, &[Value::Int(1)]), Value::Int(1));
        assert_eq!(call(S::Greatest, &[Value::Int(1), null()]), null());
        assert_eq!(call(S::Least, &[null(), s("a")]), null());
        assert_eq!(call(S::Least, &[null()]), null());
    }

    #[test]
    fn case_and_length() {
        assert_eq!(call(S::Upper, &[s("abc Ä")]), s("ABC Ä"));
        assert_eq!(call(S::Upper, &[s("straße")]), s("STRASSE"));
        assert_eq!(call(S::Upper, &[s("ABC")]), s("ABC"));
        assert_eq!(call(S::Lower, &[s("AbC")]), s("abc"));
        assert_eq!(call(S::Lower, &[s("ÀÉ")]), s("àé"));
        assert_eq!(call(S::Lower, &[s("abc")]), s("abc"));
        assert_eq!(call(S::Upper, &[null()]), null());
        assert_eq!(call(S::Length, &[s("héllo")]), Value::Int(5));
        assert_eq!(call(S::Length, &[s("")]), Value::Int(0));
        assert_eq!(call(S::Length, &[s("日本語")]), Value::Int(3));
        assert_eq!(call(S::Length, &[null()]), null());
        // Unchanged strings are shared, not copied.
        let shared = s("ABC");
        let up = call(S::Upper, std::slice::from_ref(&shared));
        match (&shared, &up) {
            (Value::String(a), Value::String(b)) => assert!(Arc::ptr_eq(a, b)),
            _ => panic!(),
        }
    }

    #[test]
    fn trimming() {
        assert_eq!(call(S::Trim, &[s("  a b \t\n")]), s("a b"));
        assert_eq!(call(S::Ltrim, &[s("  a b ")]), s("a b "));
        assert_eq!(call(S::Rtrim, &[s("  a b ")]), s("  a b"));
        assert_eq!(call(S::Trim, &[s("   ")]), s(""));
        assert_eq!(call(S::Trim, &[s("x")]), s("x"));
        assert_eq!(call(S::Trim, &[null()]), null());
        assert_eq!(call(S::Rtrim, &[null()]), null());
        assert_eq!(call(S::Ltrim, &[null()]), null());
    }

    #[test]
    fn substrings() {
        let i = Value::Int;
        assert_eq!(call(S::Substring, &[s("hello"), i(2)]), s("ello"));
        assert_eq!(call(S::Substring, &[s("hello"), i(2), i(3)]), s("ell"));
        assert_eq!(call(S::Substring, &[s("hello"), i(1), i(5)]), s("hello"));
        assert_eq!(call(S::Substring, &[s("hello"), i(0), i(3)]), s("he"));
        assert_eq!(call(S::Substring, &[s("hello"), i(-5), i(3)]), s(""));
        assert_eq!(call(S::Substring, &[s("hello"), i(-1)]), s("hello"));
        assert_eq!(call(S::Substring, &[s("hello"), i(4), i(100)]), s("lo"));
        assert_eq!(call(S::Substring, &[s("hello"), i(6)]), s(""));
        assert_eq!(call(S::Substring, &[s("hello"), i(100), i(2)]), s(""));
        assert_eq!(call(S::Substring, &[s("hello"), i(2), i(0)]), s(""));
        assert_eq!(call(S::Substring, &[s("hello"), i(2), i(-1)]), null());
        assert_eq!(
            call(S::Substring, &[s("hello"), i(i32::MAX), i(i32::MAX)]),
            s("")
        );
        assert_eq!(
            call(S::Substring, &[s("hello"), i(i32::MIN), i(i32::MAX)]),
            s("")
        );
        assert_eq!(
            call(S::Substring, &[s("héllo wörld"), i(2), i(4)]),
            s("éllo")
        );
        assert_eq!(call(S::Substring, &[s("日本語"), i(3)]), s("語"));
        assert_eq!(
            call(S::Substring, &[s("hello"), Value::Long(2), Value::Long(2)]),
            s("el")
        );
        assert_eq!(call(S::Substring, &[null(), i(2)]), null());
        assert_eq!(call(S::Substring, &[s("hello"), null()]), null());
        assert_eq!(call(S::Substring, &[s("hello"), i(1), null()]), null());
    }

    #[test]
    fn concatenation() {
        assert_eq!(call(S::Concat, &[s("a"), s("b"), s("c")]), s("abc"));
        assert_eq!(call(S::Concat, &[s("only")]), s("only"));
        assert_eq!(
            call(
                S::Concat,
                &[
                    s("n="),
                    Value::Int(3),
                    s(" x="),
                    Value::Double(1.5),
                    s(" "),
                    Value::Bool(true)
                ]
            ),
            s("n=3 x=1.5 true")
        );
        assert_eq!(call(S::Concat, &[Value::Long(7)]), s("7"));
        assert_eq!(call(S::Concat, &[s("a"), null()]), null());
        assert_eq!(call(S::Concat, &[null()]), null());
    }

    #[test]
    fn replacing_and_predicates() {
        assert_eq!(call(S::Replace, &[s("a-b-c"), s("-"), s("+")]), s("a+b+c"));
        assert_eq!(call(S::Replace, &[s("aaa"), s("aa"), s("b")]), s("ba"));
        assert_eq!(call(S::Replace, &[s("abc"), s(""), s("x")]), s("abc"));
        assert_eq!(call(S::Replace, &[s("abc"), s("z"), s("x")]), s("abc"));
        assert_eq!(call(S::Replace, &[s("abc"), s("b"), s("")]), s("ac"));
        assert_eq!(call(S::Replace, &[s("abc"), null(), s("x")]), null());
        assert_eq!(
            call(S::StartsWith, &[s("hello"), s("he")]),
            Value::Bool(true)
        );
        assert_eq!(
            call(S::StartsWith, &[s("hello"), s("lo")]),
            Value::Bool(false)
        );
        assert_eq!(call(S::StartsWith, &[s("hello"), s("")]), Value::Bool(true));
        assert_eq!(call(S::EndsWith, &[s("hello"), s("lo")]), Value::Bool(true));
        assert_eq!(
            call(S::EndsWith, &[s("hello"), s("he")]),
            Value::Bool(false)
        );
        assert_eq!(
            call(S::Contains, &[s("hello"), s("ell")]),
            Value::Bool(true)
        );
        assert_eq!(
            call(S::Contains, &[s("hello"), s("xyz")]),
            Value::Bool(false)
        );
        assert_eq!(call(S::Contains, &[null(), s("x")]), null());
        assert_eq!(call(S::StartsWith, &[s("x"), null()]), null());
        assert_eq!(call(S::EndsWith, &[null(), null()]), null());
    }

    #[test]
    fn regex_matching() {
        assert_eq!(
            call(S::RegexMatch, &[s("abc123"), s("[0-9]+")]),
            Value::Bool(true)
        );
        assert_eq!(
            call(S::RegexMatch, &[s("abc"), s("[0-9]+")]),
            Value::Bool(false)
        );
        assert_eq!(
            call(S::RegexMatch, &[s("abc123"), s("^[0-9]+$")]),
            Value::Bool(false)
        );
        assert_eq!(
            call(S::RegexMatch, &[s("123"), s("^[0-9]+$")]),
            Value::Bool(true)
        );
        assert_eq!(call(S::RegexMatch, &[null(), s("a")]), null());
        assert_eq!(call(S::RegexMatch, &[s("a"), null()]), null());
        // An invalid pattern from data gives NULL; as a constant it is an error.
        assert_eq!(call(S::RegexMatch, &[s("a"), s("(")]), null());
        let types = [Type::String, Type::String];
        let err = build_scalar(S::RegexMatch, &types, &[None, Some(s("(unclosed"))])
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("invalid regular expression '(unclosed'"),
            "{err}"
        );
        // A NULL constant pattern just gives NULL.
        let f = build_scalar(S::RegexMatch, &types, &[None, Some(null())])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f(&[s("a"), null()]), null());
        // The cache handles many alternating patterns.
        let f =
            build_scalar(S::RegexMatch, &types, &[None, None]).unwrap_or_else(|e| panic!("{e}"));
        for round in 0..3 {
            for k in 0..20 {
                let p = format!("^x{k}$");
                let subject = format!("x{}", (k + round) % 20);
                assert_eq!(
                    f(&[s(&subject), s(&p)]),
                    Value::Bool(round == 0),
                    "{subject} ~ {p}"
                );
            }
        }
        assert_eq!(f(&[s("a"), s("[")]), null());
        assert_eq!(f(&[s("a"), s("[")]), null());
    }

    #[test]
    fn padding() {
        let i = Value::Int;
        assert_eq!(call(S::Lpad, &[s("hi"), i(5), s("xy")]), s("xyxhi"));
        assert_eq!(call(S::Rpad, &[s("hi"), i(5), s("xy")]), s("hixyx"));
        assert_eq!(call(S::Lpad, &[s("hello"), i(2), s("x")]), s("he"));
        assert_eq!(call(S::Rpad, &[s("hello"), i(2), s("x")]), s("he"));
        assert_eq!(call(S::Lpad, &[s("hello"), i(5), s("x")]), s("hello"));
        assert_eq!(call(S::Lpad, &[s("hi"), i(0), s("x")]), s(""));
        assert_eq!(call(S::Rpad, &[s("hi"), i(-3), s("x")]), s(""));
        assert_eq!(call(S::Lpad, &[s("hi"), i(5), s("")]), s("hi"));
        assert_eq!(call(S::Lpad, &[s("é"), i(3), s("ü")]), s("üüé"));
        assert_eq!(call(S::Rpad, &[s("日本語"), i(2), s("x")]), s("日本"));
        assert_eq!(call(S::Lpad, &[s("a"), i(i32::MAX), s("x")]), null());
        assert_eq!(call(S::Lpad, &[null(), i(3), s("x")]), null());
        assert_eq!(call(S::Rpad, &[s("a"), null(), s("x")]), null());
        assert_eq!(call(S::Rpad, &[s("a"), i(3), null()]), null());
    }

    #[test]
    fn conditionals() {
        let i = Value::Int;
        assert_eq!(call(S::Coalesce, &[null(), i(2), i(3)]), i(2));
        assert_eq!(call(S::Coalesce, &[null(), null()]), null());
        assert_eq!(call(S::Coalesce, &[s("a")]), s("a"));
        assert_eq!(
            call(S::Coalesce, &[null(), Value::Long(5), i(1)]),
            Value::Long(5)
        );
        assert_eq!(call(S::Ifnull, &[null(), i(2)]), i(2));
        assert_eq!(call(S::Ifnull, &[i(1), i(2)]), i(1));
        assert_eq!(
            call(S::Ifnull, &[i(1), Value::Double(2.0)]),
            Value::Double(1.0)
        );
        assert_eq!(call(S::Nullif, &[i(1), i(1)]), null());
        assert_eq!(call(S::Nullif, &[i(1), i(2)]), i(1));
        assert_eq!(call(S::Nullif, &[i(1), Value::Double(1.0)]), null());
        assert_eq!(call(S::Nullif, &[i(1), Value::Double(1.5)]), i(1));
        assert_eq!(call(S::Nullif, &[Value::Long(3), i(3)]), null());
        assert_eq!(
            call(S::Nullif, &[Value::Double(0.0), Value::Double(-0.0)]),
            null()
        );
        assert_eq!(call(S::Nullif, &[s("a"), s("a")]), null());
        assert_eq!(call(S::Nullif, &[s("a"), s("b")]), s("a"));
        assert_eq!(call(S::Nullif, &[s("a"), null()]), s("a"));
        assert_eq!(call(S::Nullif, &[null(), s("a")]), null());
        assert_eq!(
            call(S::Nullif, &[Value::Bool(true), Value::Bool(true)]),
            null()
        );
        let t = Value::Bool(true);
        let f = Value::Bool(false);
        assert_eq!(call(S::If, &[t, i(1), i(2)]), i(1));
        assert_eq!(call(S::If, &[f, i(1), i(2)]), i(2));
        assert_eq!(call(S::If, &[null(), i(1), i(2)]), i(2));
        assert_eq!(call(S::If, &[Value::Bool(true), null(), i(2)]), null());
        assert_eq!(
            call(S::If, &[Value::Bool(true), i(1), Value::Long(2)]),
            Value::Long(1)
        );
    }

    #[test]
    fn uuids_are_random_v4() {
        let a = call(S::Uuid, &[]);
        let b = call(S::Uuid, &[]);
        assert_ne!(a, b);
        let text = a.as_str().unwrap_or_default().to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text.as_bytes()[14], b'4');
        assert_eq!(text.matches('-').count(), 4);
        assert_eq!(text, text.to_lowercase());
    }

    const TS: i64 = 1_700_000_000_123; // 2023-11-14T22:13:20.123Z

    fn fmt_ts(ms: i64, pattern: &str) -> Value {
        call_typed(
            S::FormatTime,
            &[Type::Timestamp, Type::String],
            &[Value::Long(ms), s(pattern)],
        )
    }

    fn parse_ts(text: &str, pattern: &str) -> Value {
        call(S::ParseTime, &[s(text), s(pattern)])
    }

    #[test]
    fn formatting_time() {
        assert_eq!(
            fmt_ts(TS, "yyyy-MM-dd HH:mm:ss.SSS"),
            s("2023-11-14 22:13:20.123")
        );
        assert_eq!(
            fmt_ts(TS, "yyyy-MM-dd'T'HH:mm:ssXXX"),
            s("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            fmt_ts(TS, "yyyy-MM-dd'T'HH:mm:ss.SSSZ"),
            s("2023-11-14T22:13:20.123+0000")
        );
        assert_eq!(fmt_ts(0, "yyyyMMdd"), s("19700101"));
        assert_eq!(fmt_ts(TS, "yy/M/d h:m:s a"), s("23/11/14 10:13:20 PM"));
        assert_eq!(fmt_ts(TS, "EEE, d MMM yyyy"), s("Tue, 14 Nov 2023"));
        assert_eq!(fmt_ts(TS, "EEEE MMMM"), s("Tuesday November"));
        assert_eq!(fmt_ts(TS, "D u z"), s("318 2 UTC"));
        assert_eq!(fmt_ts(TS, "'It''s' hh 'o''clock'"), s("It's 10 o'clock"));
        assert_eq!(fmt_ts(TS, "''"), s("'"));
        assert_eq!(fmt_ts(TS, "ss.SSSSSS"), s("20.123000"));
        assert_eq!(
            fmt_ts(-1, "yyyy-MM-dd HH:mm:ss.SSS"),
            s("1969-12-31 23:59:59.999")
        );
        assert_eq!(fmt_ts(i64::MAX, "yyyy"), null());
        assert_eq!(fmt_ts(TS, "[Q]"), null());
        assert_eq!(
            call_typed(
                S::FormatTime,
                &[Type::Long, Type::String],
                &[Value::Long(0), s("HH:mm")]
            ),
            s("00:00")
        );
        assert_eq!(
            call_typed(
                S::FormatTime,
                &[Type::Null, Type::String],
                &[null(), s("HH")]
            ),
            null()
        );
        assert_eq!(
            call_typed(
                S::FormatTime,
                &[Type::Timestamp, Type::Null],
                &[Value::Long(0), null()]
            ),
            null()
        );
        // Constant patterns are translated once; invalid ones are errors.
        let types = [Type::Timestamp, Type::String];
        let f = build_scalar(S::FormatTime, &types, &[None, Some(s("HH:mm"))])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f(&[Value::Long(TS), s("HH:mm")]), s("22:13"));
        for bad in ["yyyy-QQ", "HH 'open", "ss.SS", "kk"] {
            let e = build_scalar(S::FormatTime, &types, &[None, Some(s(bad))])
                .err()
                .unwrap_or_default();
            assert!(e.contains("invalid pattern"), "{bad}: {e}");
        }
    }

    #[test]
    fn parsing_time() {
        let l = Value::Long;
        assert_eq!(
            parse_ts("2023-11-14 22:13:20.123", "yyyy-MM-dd HH:mm:ss.SSS"),
            l(TS)
        );
        assert_eq!(
            parse_ts("2023-11-14 22:13:20", "yyyy-MM-dd HH:mm:ss"),
            l(TS - 123)
        );
        assert_eq!(
            parse_ts("2023-11-14T22:13:20Z", "yyyy-MM-dd'T'HH:mm:ssXXX"),
            l(TS - 123)
        );
        assert_eq!(
            parse_ts("2023-11-15T00:13:20+02:00", "yyyy-MM-dd'T'HH:mm:ssXXX"),
            l(TS - 123)
        );
        assert_eq!(
            parse_ts("2023-11-14T17:13:20.123-0500", "yyyy-MM-dd'T'HH:mm:ss.SSSZ"),
            l(TS)
        );
        assert_eq!(parse_ts("1970-01-02", "yyyy-MM-dd"), l(86_400_000));
        assert_eq!(parse_ts("19700102", "yyyyMMdd"), l(86_400_000));
        assert_eq!(parse_ts("01:00", "HH:mm"), l(3_600_000));
        assert_eq!(parse_ts("1970-02", "yyyy-MM"), l(31 * 86_400_000));
        assert_eq!(parse_ts("1970 32", "yyyy D"), l(31 * 86_400_000));
        assert_eq!(
            parse_ts("14/11/23 10:13:20 PM", "dd/MM/yy hh:mm:ss a"),
            l(TS - 123)
        );
        assert_eq!(
            parse_ts("14/11/23 12:00 AM", "dd/MM/yy hh:mm a"),
            l(1_699_920_000_000)
        );
        assert_eq!(parse_ts("14 Nov 2023", "d MMM yyyy"), l(1_699_920_000_000));
        assert_eq!(
            parse_ts("1970-01-01 00:00:00.000999", "yyyy-MM-dd HH:mm:ss.SSSSSS"),
            l(0)
        );
        // Failures give NULL.
        assert_eq!(parse_ts("2023-13-01", "yyyy-MM-dd"), null());
        assert_eq!(parse_ts("2023-02-30", "yyyy-MM-dd"), null());
        assert_eq!(parse_ts("not a date", "yyyy-MM-dd"), null());
        assert_eq!(parse_ts("2023-11-14 trailing", "yyyy-MM-dd"), null());
        assert_eq!(parse_ts("", "yyyy-MM-dd"), null());
        assert_eq!(parse_ts("2023", "[Q]"), null());
        assert_eq!(parse_ts("UTC", "z"), null());
        assert_eq!(call(S::ParseTime, &[null(), s("yyyy")]), null());
        assert_eq!(call(S::ParseTime, &[s("2023"), null()]), null());
        // Constant patterns.
        let types = [Type::String, Type::String];
        let f = build_scalar(S::ParseTime, &types, &[None, Some(s("yyyy-MM-dd"))])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f(&[s("1970-01-03"), s("ignored")]), l(2 * 86_400_000));
        assert_eq!(f(&[s("x"), s("ignored")]), null());
        let e = build_scalar(S::ParseTime, &types, &[None, Some(s("HH z"))])
            .err()
            .unwrap_or_default();
        assert!(e.contains("cannot be parsed"), "{e}");
    }

    #[test]
    fn format_then_parse_round_trips() {
        let pattern = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX";
        for ms in [0, 1, -1, TS, 253_402_300_799_999, -62_135_596_800_000] {
            let text = fmt_ts(ms, pattern);
            let text = text.as_str().unwrap_or_default().to_string();
            assert_eq!(parse_ts(&text, pattern), Value::Long(ms), "{text}");
        }
    }

    #[test]
    fn pattern_translation_errors() {
        assert!(translate_time_pattern("yyyy-MM-dd", true).is_ok());
        assert!(translate_time_pattern("", true).is_ok());
        assert_eq!(
            translate_time_pattern("GG yyyy", false).err(),
            Some("unsupported pattern letter 'GG'".to_string())
        );
        assert_eq!(
            translate_time_pattern("'abc", false).err(),
            Some("unterminated quoted text".to_string())
        );
    }
}
