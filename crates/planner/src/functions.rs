//! The built-in functions (§6): name lookup, argument checking and result types.
//!
//! Scalar functions are type-checked by [`check_scalar`], aggregates by [`check_aggregate`]. Both
//! give a [`Signature`]: the result type plus the type each argument must be converted to before
//! the call (the caller inserts a CAST wherever an argument's type differs from it). The run-time
//! implementations live in `eventflux_runtime::functions` and rely on these conversions.
//!
//! Conventions:
//! - A `NULL` literal (`Type::Null`) is accepted for every argument. Where the argument has a fixed
//!   expected type, its `arg_types` entry is that type; where the result "keeps the input type"
//!   (e.g. `abs(NULL)`, `min(NULL)`), the result type is `Type::Null`.
//! - TIMESTAMP counts as numeric (it is epoch milliseconds). Functions that keep a numeric input
//!   type turn a TIMESTAMP into LONG, like arithmetic does (`greatest`/`least`, `coalesce` and the
//!   like, which only select one of their arguments, keep TIMESTAMP).

use crate::types::Type;

/// A built-in scalar function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarFn {
    Abs,
    Ceil,
    Floor,
    Round,
    Sqrt,
    Power,
    Exp,
    Ln,
    Log,
    Log10,
    Sign,
    Mod,
    Greatest,
    Least,
    Upper,
    Lower,
    Length,
    Trim,
    Ltrim,
    Rtrim,
    Substring,
    Concat,
    Replace,
    StartsWith,
    EndsWith,
    Contains,
    RegexMatch,
    Lpad,
    Rpad,
    Coalesce,
    Ifnull,
    Nullif,
    If,
    Now,
    EventTime,
    Uuid,
    FormatTime,
    ParseTime,
}

/// A built-in aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateFn {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    First,
    Last,
    DistinctCount,
    MinForever,
    MaxForever,
    Stddev,
    Percentile,
}

/// What a function name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    Scalar(ScalarFn),
    Aggregate(AggregateFn),
}

/// Every known name (lower case) with what it means: canonical spellings first, then aliases.
const NAMES: &[(&str, FunctionKind)] = {
    use AggregateFn as A;
    use FunctionKind::{Aggregate as Ag, Scalar as Sc};
    use ScalarFn as S;
    &[
        ("abs", Sc(S::Abs)),
        ("ceil", Sc(S::Ceil)),
        ("floor", Sc(S::Floor)),
        ("round", Sc(S::Round)),
        ("sqrt", Sc(S::Sqrt)),
        ("power", Sc(S::Power)),
        ("exp", Sc(S::Exp)),
        ("ln", Sc(S::Ln)),
        ("log", Sc(S::Log)),
        ("log10", Sc(S::Log10)),
        ("sign", Sc(S::Sign)),
        ("mod", Sc(S::Mod)),
        ("greatest", Sc(S::Greatest)),
        ("least", Sc(S::Least)),
        ("upper", Sc(S::Upper)),
        ("lower", Sc(S::Lower)),
        ("length", Sc(S::Length)),
        ("trim", Sc(S::Trim)),
        ("ltrim", Sc(S::Ltrim)),
        ("rtrim", Sc(S::Rtrim)),
        ("substring", Sc(S::Substring)),
        ("concat", Sc(S::Concat)),
        ("replace", Sc(S::Replace)),
        ("starts_with", Sc(S::StartsWith)),
        ("ends_with", Sc(S::EndsWith)),
        ("contains", Sc(S::Contains)),
        ("regex_match", Sc(S::RegexMatch)),
        ("lpad", Sc(S::Lpad)),
        ("rpad", Sc(S::Rpad)),
        ("coalesce", Sc(S::Coalesce)),
        ("ifnull", Sc(S::Ifnull)),
        ("nullif", Sc(S::Nullif)),
        ("if", Sc(S::If)),
        ("now", Sc(S::Now)),
        ("event_time", Sc(S::EventTime)),
        ("uuid", Sc(S::Uuid)),
        ("format_time", Sc(S::FormatTime)),
        ("parse_time", Sc(S::ParseTime)),
        ("count", Ag(A::Count)),
        ("sum", Ag(A::Sum)),
        ("avg", Ag(A::Avg)),
        ("min", Ag(A::Min)),
        ("max", Ag(A::Max)),
        ("first", Ag(A::First)),
        ("last", Ag(A::Last)),
        ("distinct_count", Ag(A::DistinctCount)),
        ("min_forever", Ag(A::MinForever)),
        ("max_forever", Ag(A::MaxForever)),
        ("stddev", Ag(A::Stddev)),
        ("percentile", Ag(A::Percentile)),
        // Aliases.
        ("distinctcount", Ag(A::DistinctCount)),
        ("minforever", Ag(A::MinForever)),
        ("maxforever", Ag(A::MaxForever)),
        ("ceiling", Sc(S::Ceil)),
        ("pow", Sc(S::Power)),
        ("substr", Sc(S::Substring)),
        ("char_length", Sc(S::Length)),
    ]
};

/// `NAMES` without the meanings, for [`known_names`].
const NAME_LIST: &[&str] = &{
    let mut out = [""; NAMES.len()];
    let mut i = 0;
    while i < NAMES.len() {
        out[i] = NAMES[i].0;
        i += 1;
    }
    out
};

/// Case-insensitive lookup of a function name. Aliases: `distinctCount` → `distinct_count`,
/// `minForever`/`maxForever` → `min_forever`/`max_forever`, `ceiling` → `ceil`, `pow` → `power`,
/// `substr` → `substring`, `char_length` → `length`.
pub fn lookup(name: &str) -> Option<FunctionKind> {
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, kind)| kind)
}

/// Every known function name (lower case, canonical spellings and aliases), for "did you mean".
pub fn known_names() -> &'static [&'static str] {
    NAME_LIST
}

/// The checked form of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The type of the call's value.
    pub result: Type,
    /// For each argument, the type it must be converted to before the call.
    pub arg_types: Vec<Type>,
}

impl ScalarFn {
    /// The canonical (lower case) name.
    pub fn name(self) -> &'static str {
        match self {
            ScalarFn::Abs => "abs",
            ScalarFn::Ceil => "ceil",
            ScalarFn::Floor => "floor",
            ScalarFn::Round => "round",
            ScalarFn::Sqrt => "sqrt",
            ScalarFn::Power => "power",
            ScalarFn::Exp => "exp",
            ScalarFn::Ln => "ln",
            ScalarFn::Log => "log",
            ScalarFn::Log10 => "log10",
            ScalarFn::Sign => "sign",
            ScalarFn::Mod => "mod",
            ScalarFn::Greatest => "greatest",
            ScalarFn::Least => "least",
            ScalarFn::Upper => "upper",
            ScalarFn::Lower => "lower",
            ScalarFn::Length => "length",
            ScalarFn::Trim => "trim",
            ScalarFn::Ltrim => "ltrim",
            ScalarFn::Rtrim => "rtrim",
            ScalarFn::Substring => "substring",
            ScalarFn::Concat => "concat",
            ScalarFn::Replace => "replace",
            ScalarFn::StartsWith => "starts_with",
            ScalarFn::EndsWith => "ends_with",
            ScalarFn::Contains => "contains",
            ScalarFn::RegexMatch => "regex_match",
            ScalarFn::Lpad => "lpad",
            ScalarFn::Rpad => "rpad",
            ScalarFn::Coalesce => "coalesce",
            ScalarFn::Ifnull => "ifnull",
            ScalarFn::Nullif => "nullif",
            ScalarFn::If => "if",
            ScalarFn::Now => "now",
            ScalarFn::EventTime => "event_time",
            ScalarFn::Uuid => "uuid",
            ScalarFn::FormatTime => "format_time",
            ScalarFn::ParseTime => "parse_time",
        }
    }

    /// Whether a call with constant arguments may be evaluated once at compile time: false for
    /// `now()`, `uuid()` and `event_time()`.
    pub fn is_pure(self) -> bool {
        !matches!(self, ScalarFn::Now | ScalarFn::Uuid | ScalarFn::EventTime)
    }
}

impl AggregateFn {
    /// The canonical (lower case) name.
    pub fn name(self) -> &'static str {
        match self {
            AggregateFn::Count => "count",
            AggregateFn::Sum => "sum",
            AggregateFn::Avg => "avg",
            AggregateFn::Min => "min",
            AggregateFn::Max => "max",
            AggregateFn::First => "first",
            AggregateFn::Last => "last",
            AggregateFn::DistinctCount => "distinct_count",
            AggregateFn::MinForever => "min_forever",
            AggregateFn::MaxForever => "max_forever",
            AggregateFn::Stddev => "stddev",
            AggregateFn::Percentile => "percentile",
        }
    }
}

/// Argument checking for one call: the function's name and the argument types.
struct Call<'a> {
    name: &'static str,
    args: &'a [Type],
}

/// What an argument must be, for error messages and conversions.
#[derive(Clone, Copy)]
enum Want {
    /// Any numeric type (TIMESTAMP included).
    Numeric,
    /// INT or LONG (or TIMESTAMP).
    Integer,
    String,
    Bool,
    /// TIMESTAMP, LONG or INT.
    Time,
}

impl Want {
    fn describe(self) -> &'static str {
        match self {
            Want::Numeric => "a numeric",
            Want::Integer => "an integer",
            Want::String => "a STRING",
            Want::Bool => "a BOOL",
            Want::Time => "a TIMESTAMP or LONG",
        }
    }

    fn accepts(self, t: Type) -> bool {
        t == Type::Null
            || match self {
                Want::Numeric => t.is_numeric(),
                Want::Integer => t.is_integer(),
                Want::String => t == Type::String,
                Want::Bool => t == Type::Bool,
                Want::Time => t.is_integer(),
            }
    }
}

impl<'a> Call<'a> {
    fn new(name: &'static str, args: &'a [Type]) -> Self {
        Call { name, args }
    }

    /// Checks the argument count is within `min..=max` (`max == usize::MAX`: no upper bound).
    fn arity(&self, min: usize, max: usize) -> Result<(), String> {
        let n = self.args.len();
        if n >= min && n <= max {
            return Ok(());
        }
        let plural = |k: usize| if k == 1 { "argument" } else { "arguments" };
        let expected = if max == usize::MAX {
            format!("at least {min} {}", plural(min))
        } else if min == max && min == 0 {
            "no arguments".to_string()
        } else if min == max {
            format!("{min} {}", plural(min))
        } else if max == min + 1 {
            format!("{min} or {max} arguments")
        } else {
            format!("{min} to {max} arguments")
        };
        Err(format!(
            "function '{}' takes {expected}, found {n}",
            self.name
        ))
    }

    /// Checks argument `i` (0-based) is what `want` says and returns its type.
    fn arg(&self, i: usize, want: Want) -> Result<Type, String> {
        let t = self.args.get(i).copied().unwrap_or(Type::Null);
        if want.accepts(t) {
            Ok(t)
        } else {
            let position = if self.args.len() > 1 {
                format!(" at position {}", i + 1)
            } else {
                String::new()
            };
            Err(format!(
                "function '{}' expects {} argument{position}, found {t}",
                self.name,
                want.describe()
            ))
        }
    }

    /// The common type of all arguments from `from` on (NULL converts to anything).
    fn unify_from(&self, from: usize) -> Result<Type, String> {
        let mut acc = Type::Null;
        for &t in &self.args[from.min(self.args.len())..] {
            acc = Type::unify(acc, t).ok_or_else(|| {
                format!(
                    "function '{}' has arguments of incompatible types {acc} and {t}",
                    self.name
                )
            })?;
        }
        Ok(acc)
    }
}

/// The type a numeric value keeps through a type-preserving function (TIMESTAMP → LONG).
fn keep_numeric(t: Type) -> Type {
    if t == Type::Timestamp {
        Type::Long
    } else {
        t
    }
}

fn sig(result: Type, arg_types: Vec<Type>) -> Result<Signature, String> {
    Ok(Signature { result, arg_types })
}

/// Checks a scalar call's argument count and types. See the module docs for the conventions.
pub fn check_scalar(f: ScalarFn, args: &[Type]) -> Result<Signature, String> {
    use ScalarFn as S;
    let c = Call::new(f.name(), args);
    match f {
        S::Abs | S::Ceil | S::Floor => {
            c.arity(1, 1)?;
            let t = keep_numeric(c.arg(0, Want::Numeric)?);
            sig(t, vec![t])
        }
        S::Sign => {
            c.arity(1, 1)?;
            let t = keep_numeric(c.arg(0, Want::Numeric)?);
            sig(Type::Int, vec![t])
        }
        S::Round => {
            c.arity(1, 2)?;
            let t = keep_numeric(c.arg(0, Want::Numeric)?);
            if args.len() == 1 {
                return sig(t, vec![t]);
            }
            c.arg(1, Want::Integer)?;
            match t {
                Type::Float | Type::Double => sig(Type::Double, vec![Type::Double, Type::Int]),
                _ => sig(t, vec![t, Type::Int]),
            }
        }
        S::Sqrt | S::Exp | S::Ln | S::Log10 => {
            c.arity(1, 1)?;
            c.arg(0, Want::Numeric)?;
            sig(Type::Double, vec![Type::Double])
        }
        S::Log | S::Power => {
            if f == S::Log {
                c.arity(1, 2)?;
            } else {
                c.arity(2, 2)?;
            }
            for i in 0..args.len() {
                c.arg(i, Want::Numeric)?;
            }
            sig(Type::Double, vec![Type::Double; args.len()])
        }
        S::Mod => {
            c.arity(2, 2)?;
            let a = c.arg(0, Want::Numeric)?;
            let b = c.arg(1, Want::Numeric)?;
            let t = match (a, b) {
                (Type::Null, Type::Null) => Type::Null,
                (Type::Null, t) | (t, Type::Null) => keep_numeric(t),
                _ => Type::promote(a, b).unwrap_or(Type::Double),
            };
            sig(t, vec![t, t])
        }
        S::Greatest | S::Least => {
            c.arity(1, usize::MAX)?;
            let t = c.unify_from(0)?;
            if !(t.is_numeric() || t == Type::String || t == Type::Null) {
                return Err(format!(
                    "function '{}' expects numeric or STRING arguments, found {t}",
                    f.name()
                ));
            }
            sig(t, vec![t; args.len()])
        }
        S::Upper | S::Lower | S::Trim | S::Ltrim | S::Rtrim => {
            c.arity(1, 1)?;
            c.arg(0, Want::String)?;
            sig(Type::String, vec![Type::String])
        }
        S::Length => {
            c.arity(1, 1)?;
            c.arg(0, Want::String)?;
            sig(Type::Int, vec![Type::String])
        }
        S::Substring => {
            c.arity(2, 3)?;
            c.arg(0, Want::String)?;
            for i in 1..args.len() {
                c.arg(i, Want::Integer)?;
            }
            let mut arg_types = vec![Type::String];
            arg_types.resize(args.len(), Type::Int);
            sig(Type::String, arg_types)
        }
        S::Concat => {
            c.arity(1, usize::MAX)?;
            // Any type: every argument is converted to its text form (as by CAST to STRING).
            sig(Type::String, vec![Type::String; args.len()])
        }
        S::Replace => {
            c.arity(3, 3)?;
            for i in 0..3 {
                c.arg(i, Want::String)?;
            }
            sig(Type::String, vec![Type::String; 3])
        }
        S::StartsWith | S::EndsWith | S::Contains | S::RegexMatch => {
            c.arity(2, 2)?;
            c.arg(0, Want::String)?;
            c.arg(1, Want::String)?;
            sig(Type::Bool, vec![Type::String; 2])
        }
        S::Lpad | S::Rpad => {
            c.arity(3, 3)?;
            c.arg(0, Want::String)?;
            c.arg(1, Want::Integer)?;
            c.arg(2, Want::String)?;
            sig(Type::String, vec![Type::String, Type::Int, Type::String])
        }
        S::Coalesce | S::Ifnull => {
            if f == S::Coalesce {
                c.arity(1, usize::MAX)?;
            } else {
                c.arity(2, 2)?;
            }
            let t = c.unify_from(0)?;
            sig(t, vec![t; args.len()])
        }
        S::Nullif => {
            c.arity(2, 2)?;
            c.unify_from(0)?;
            let (a, b) = (args[0], args[1]);
            // `b` is compared with `a`; it keeps its own type (numeric comparison across types is
            // done by value) unless it is a bare NULL.
            let b = if b == Type::Null { a } else { b };
            sig(a, vec![a, b])
        }
        S::If => {
            c.arity(3, 3)?;
            c.arg(0, Want::Bool)?;
            let t = c.unify_from(1)?;
            sig(t, vec![Type::Bool, t, t])
        }
        S::Now | S::EventTime => {
            c.arity(0, 0)?;
            sig(Type::Timestamp, vec![])
        }
        S::Uuid => {
            c.arity(0, 0)?;
            sig(Type::String, vec![])
        }
        S::FormatTime => {
            c.arity(2, 2)?;
            let t = c.arg(0, Want::Time)?;
            c.arg(1, Want::String)?;
            let t = if t == Type::Timestamp {
                Type::Timestamp
            } else {
                Type::Long
            };
            sig(Type::String, vec![t, Type::String])
        }
        S::ParseTime => {
            c.arity(2, 2)?;
            c.arg(0, Want::String)?;
            c.arg(1, Want::String)?;
            sig(Type::Timestamp, vec![Type::String; 2])
        }
    }
}

/// Checks an aggregate call. `star` is `count(*)`, `distinct` is `count(DISTINCT x)`.
///
/// For `percentile(x, p)` only the types are checked here; the caller must check that `p` is a
/// constant, e.g. with [`check_percentile`].
pub fn check_aggregate(
    f: AggregateFn,
    args: &[Type],
    star: bool,
    distinct: bool,
) -> Result<Signature, String> {
    use AggregateFn as A;
    let name = f.name();
    if star && f != A::Count {
        return Err(format!("'*' is only allowed in count(*), not in '{name}'"));
    }
    if distinct && f != A::Count {
        return Err(format!(
            "DISTINCT is only allowed in count(DISTINCT x), not in '{name}'"
        ));
    }
    let c = Call::new(name, args);
    match f {
        A::Count => {
            if star {
                if distinct {
                    return Err("count(DISTINCT *) is not allowed".to_string());
                }
                c.arity(0, 0)?;
                return sig(Type::Long, vec![]);
            }
            if distinct {
                c.arity(1, 1)?;
            } else {
                c.arity(0, 1)?;
            }
            sig(Type::Long, args.to_vec())
        }
        A::DistinctCount => {
            c.arity(1, 1)?;
            sig(Type::Long, args.to_vec())
        }
        A::Sum => {
            c.arity(1, 1)?;
            let t = c.arg(0, Want::Numeric)?;
            let t = match t {
                Type::Float | Type::Double => Type::Double,
                _ => Type::Long,
            };
            sig(t, vec![t])
        }
        A::Avg | A::Stddev => {
            c.arity(1, 1)?;
            c.arg(0, Want::Numeric)?;
            sig(Type::Double, vec![Type::Double])
        }
        A::Min | A::Max | A::MinForever | A::MaxForever => {
            c.arity(1, 1)?;
            let t = args[0];
            if !(t.is_numeric() || t == Type::String || t == Type::Null) {
                return Err(format!(
                    "function '{name}' expects a numeric or STRING argument, found {t}"
                ));
            }
            sig(t, vec![t])
        }
        A::First | A::Last => {
            c.arity(1, 1)?;
            sig(args[0], args.to_vec())
        }
        A::Percentile => {
            c.arity(2, 2)?;
            c.arg(0, Want::Numeric)?;
            c.arg(1, Want::Numeric)?;
            sig(Type::Double, vec![Type::Double, Type::Double])
        }
    }
}

/// Checks the value of `percentile`'s second argument (a constant in 0..=100).
pub fn check_percentile(p: f64) -> Result<(), String> {
    if (0.0..=100.0).contains(&p) {
        Ok(())
    } else {
        Err(format!(
            "function 'percentile' expects a percentage between 0 and 100, found {p}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Type::*;

    fn ok(f: ScalarFn, args: &[Type]) -> (Type, Vec<Type>) {
        let s = check_scalar(f, args).unwrap_or_else(|e| panic!("{f:?}{args:?}: {e}"));
        (s.result, s.arg_types)
    }

    fn err(f: ScalarFn, args: &[Type]) -> std::string::String {
        match check_scalar(f, args) {
            Ok(s) => panic!("{f:?}{args:?} should fail, got {s:?}"),
            Err(e) => e,
        }
    }

    fn agg(f: AggregateFn, args: &[Type]) -> (Type, Vec<Type>) {
        let s = check_aggregate(f, args, false, false).unwrap_or_else(|e| panic!("{e}"));
        (s.result, s.arg_types)
    }

    #[test]
    fn lookup_is_case_insensitive_with_aliases() {
        assert_eq!(lookup("UPPER"), Some(FunctionKind::Scalar(ScalarFn::Upper)));
        assert_eq!(
            lookup("Starts_With"),
            Some(FunctionKind::Scalar(ScalarFn::StartsWith))
        );
        assert_eq!(
            lookup("distinctCount"),
            Some(FunctionKind::Aggregate(AggregateFn::DistinctCount))
        );
        assert_eq!(
            lookup("distinct_count"),
            Some(FunctionKind::Aggregate(AggregateFn::DistinctCount))
        );
        assert_eq!(
            lookup("minForever"),
            Some(FunctionKind::Aggregate(AggregateFn::MinForever))
        );
        assert_eq!(
            lookup("MAX_FOREVER"),
            Some(FunctionKind::Aggregate(AggregateFn::MaxForever))
        );
        assert_eq!(
            lookup("count"),
            Some(FunctionKind::Aggregate(AggregateFn::Count))
        );
        assert_eq!(lookup("if"), Some(FunctionKind::Scalar(ScalarFn::If)));
        assert_eq!(lookup("nope"), None);
        assert_eq!(lookup(""), None);
    }

    #[test]
    fn every_function_is_named_and_found_by_its_name() {
        let scalars = [
            ScalarFn::Abs,
            ScalarFn::Ceil,
            ScalarFn::Floor,
            ScalarFn::Round,
            ScalarFn::Sqrt,
            ScalarFn::Power,
            ScalarFn::Exp,
            ScalarFn::Ln,
            ScalarFn::Log,
            ScalarFn::Log10,
            ScalarFn::Sign,
            ScalarFn::Mod,
            ScalarFn::Greatest,
            ScalarFn::Least,
            ScalarFn::Upper,
            ScalarFn::Lower,
            ScalarFn::Length,
            ScalarFn::Trim,
            ScalarFn::Ltrim,
            ScalarFn::Rtrim,
            ScalarFn::Substring,
            ScalarFn::Concat,
            ScalarFn::Replace,
            ScalarFn::StartsWith,
            ScalarFn::EndsWith,
            ScalarFn::Contains,
            ScalarFn::RegexMatch,
            ScalarFn::Lpad,
            ScalarFn::Rpad,
            ScalarFn::Coalesce,
            ScalarFn::Ifnull,
            ScalarFn::Nullif,
            ScalarFn::If,
            ScalarFn::Now,
            ScalarFn::EventTime,
            ScalarFn::Uuid,
            ScalarFn::FormatTime,
            ScalarFn::ParseTime,
        ];
        for f in scalars {
            assert_eq!(lookup(f.name()), Some(FunctionKind::Scalar(f)));
            assert!(known_names().contains(&f.name()));
        }
        let aggs = [
            AggregateFn::Count,
            AggregateFn::Sum,
            AggregateFn::Avg,
            AggregateFn::Min,
            AggregateFn::Max,
            AggregateFn::First,
            AggregateFn::Last,
            AggregateFn::DistinctCount,
            AggregateFn::MinForever,
            AggregateFn::MaxForever,
            AggregateFn::Stddev,
            AggregateFn::Percentile,
        ];
        for f in aggs {
            assert_eq!(lookup(f.name()), Some(FunctionKind::Aggregate(f)));
            assert!(known_names().contains(&f.name()));
        }
        assert_eq!(known_names().len(), NAMES.len());
        for n in known_names() {
            assert_eq!(*n, n.to_lowercase());
            assert!(lookup(n).is_some());
        }
    }

    #[test]
    fn purity() {
        assert!(!ScalarFn::Now.is_pure());
        assert!(!ScalarFn::Uuid.is_pure());
        assert!(!ScalarFn::EventTime.is_pure());
        assert!(ScalarFn::Upper.is_pure());
        assert!(ScalarFn::FormatTime.is_pure());
    }

    #[test]
    fn numeric_functions() {
        use ScalarFn as S;
        for f in [S::Abs, S::Ceil, S::Floor] {
            assert_eq!(ok(f, &[Int]), (Int, vec![Int]));
            assert_eq!(ok(f, &[Float]), (Float, vec![Float]));
            assert_eq!(ok(f, &[Double]), (Double, vec![Double]));
            assert_eq!(ok(f, &[Long]), (Long, vec![Long]));
            assert_eq!(ok(f, &[Timestamp]), (Long, vec![Long]));
            assert_eq!(ok(f, &[Null]), (Null, vec![Null]));
        }
        assert_eq!(ok(S::Sign, &[Double]), (Int, vec![Double]));
        assert_eq!(ok(S::Sign, &[Long]), (Int, vec![Long]));
        assert_eq!(ok(S::Round, &[Float]), (Float, vec![Float]));
        assert_eq!(ok(S::Round, &[Float, Int]), (Double, vec![Double, Int]));
        assert_eq!(ok(S::Round, &[Double, Long]), (Double, vec![Double, Int]));
        assert_eq!(ok(S::Round, &[Long, Int]), (Long, vec![Long, Int]));
        assert_eq!(ok(S::Round, &[Int, Int]), (Int, vec![Int, Int]));
        assert_eq!(ok(S::Round, &[Int, Null]), (Int, vec![Int, Int]));
        for f in [S::Sqrt, S::Exp, S::Ln, S::Log10, S::Log] {
            assert_eq!(ok(f, &[Int]), (Double, vec![Double]));
            assert_eq!(ok(f, &[Null]), (Double, vec![Double]));
        }
        assert_eq!(ok(S::Log, &[Int, Float]), (Double, vec![Double, Double]));
        assert_eq!(ok(S::Power, &[Int, Int]), (Double, vec![Double, Double]));
        assert_eq!(ok(S::Mod, &[Int, Int]), (Int, vec![Int, Int]));
        assert_eq!(ok(S::Mod, &[Int, Long]), (Long, vec![Long, Long]));
        assert_eq!(ok(S::Mod, &[Float, Int]), (Float, vec![Float, Float]));
        assert_eq!(ok(S::Mod, &[Double, Null]), (Double, vec![Double, Double]));
        assert_eq!(ok(S::Mod, &[Null, Null]), (Null, vec![Null, Null]));
        assert_eq!(ok(S::Mod, &[Timestamp, Int]), (Long, vec![Long, Long]));
        assert_eq!(
            ok(S::Greatest, &[Int, Double, Long]),
            (Double, vec![Double; 3])
        );
        assert_eq!(ok(S::Least, &[String, String]), (String, vec![String; 2]));
        assert_eq!(ok(S::Least, &[Null, String]), (String, vec![String; 2]));
        assert_eq!(ok(S::Least, &[Int]), (Int, vec![Int]));
        assert_eq!(
            ok(S::Greatest, &[Timestamp, Timestamp]),
            (Timestamp, vec![Timestamp; 2])
        );
    }

    #[test]
    fn numeric_type_errors() {
        use ScalarFn as S;
        assert_eq!(
            err(S::Abs, &[String]),
            "function 'abs' expects a numeric argument, found STRING"
        );
        assert_eq!(err(S::Abs, &[]), "function 'abs' takes 1 argument, found 0");
        assert_eq!(
            err(S::Round, &[Double, Double]),
            "function 'round' expects an integer argument at position 2, found DOUBLE"
        );
        assert_eq!(
            err(S::Power, &[Double]),
            "function 'power' takes 2 arguments, found 1"
        );
        assert_eq!(
            err(S::Log, &[Double, Double, Double]),
            "function 'log' takes 1 or 2 arguments, found 3"
        );
        assert!(err(S::Mod, &[Int, String]).contains("found STRING"));
        assert!(err(S::Sqrt, &[Bool]).contains("found BOOL"));
        assert_eq!(
            err(S::Greatest, &[Int, String]),
            "function 'greatest' has arguments of incompatible types INT and STRING"
        );
        assert_eq!(
            err(S::Greatest, &[]),
            "function 'greatest' takes at least 1 argument, found 0"
        );
        assert_eq!(
            err(S::Least, &[Bool, Bool]),
            "function 'least' expects numeric or STRING arguments, found BOOL"
        );
    }

    #[test]
    fn string_functions() {
        use ScalarFn as S;
        for f in [S::Upper, S::Lower, S::Trim, S::Ltrim, S::Rtrim] {
            assert_eq!(ok(f, &[String]), (String, vec![String]));
            assert_eq!(ok(f, &[Null]), (String, vec![String]));
        }
        assert_eq!(ok(S::Length, &[String]), (Int, vec![String]));
        assert_eq!(
            ok(S::Substring, &[String, Int]),
            (String, vec![String, Int])
        );
        assert_eq!(
            ok(S::Substring, &[String, Long, Int]),
            (String, vec![String, Int, Int])
        );
        assert_eq!(
            ok(S::Concat, &[String, Int, Double, Bool, Null]),
            (String, vec![String; 5])
        );
        assert_eq!(
            ok(S::Replace, &[String, String, Null]),
            (String, vec![String; 3])
        );
        for f in [S::StartsWith, S::EndsWith, S::Contains, S::RegexMatch] {
            assert_eq!(ok(f, &[String, String]), (Bool, vec![String; 2]));
        }
        for f in [S::Lpad, S::Rpad] {
            assert_eq!(
                ok(f, &[String, Int, String]),
                (String, vec![String, Int, String])
            );
            assert!(err(f, &[String, String, String]).contains("an integer argument at position 2"));
        }
        assert_eq!(
            err(S::Upper, &[Int]),
            "function 'upper' expects a STRING argument, found INT"
        );
        assert_eq!(
            err(S::Substring, &[String, Int, Int, Int]),
            "function 'substring' takes 2 or 3 arguments, found 4"
        );
        assert_eq!(
            err(S::Substring, &[String, Double]),
            "function 'substring' expects an integer argument at position 2, found DOUBLE"
        );
        assert_eq!(
            err(S::Concat, &[]),
            "function 'concat' takes at least 1 argument, found 0"
        );
        assert!(err(S::Contains, &[String, Int]).contains("at position 2, found INT"));
        assert!(err(S::Length, &[Double]).contains("found DOUBLE"));
    }

    #[test]
    fn conditional_functions() {
        use ScalarFn as S;
        assert_eq!(ok(S::Coalesce, &[Null, Int, Long]), (Long, vec![Long; 3]));
        assert_eq!(ok(S::Coalesce, &[Null]), (Null, vec![Null]));
        assert_eq!(ok(S::Coalesce, &[String]), (String, vec![String]));
        assert_eq!(ok(S::Ifnull, &[Int, Double]), (Double, vec![Double; 2]));
        assert_eq!(ok(S::Nullif, &[Int, Double]), (Int, vec![Int, Double]));
        assert_eq!(
            ok(S::Nullif, &[String, Null]),
            (String, vec![String, String])
        );
        assert_eq!(
            ok(S::If, &[Bool, Int, Long]),
            (Long, vec![Bool, Long, Long])
        );
        assert_eq!(
            ok(S::If, &[Null, String, Null]),
            (String, vec![Bool, String, String])
        );
        assert_eq!(
            err(S::If, &[Int, Int, Int]),
            "function 'if' expects a BOOL argument at position 1, found INT"
        );
        assert!(err(S::If, &[Bool, Int, String]).contains("incompatible types INT and STRING"));
        assert!(err(S::Coalesce, &[String, Bool]).contains("incompatible"));
        assert!(err(S::Nullif, &[String, Int]).contains("incompatible"));
        assert_eq!(
            err(S::Ifnull, &[Int]),
            "function 'ifnull' takes 2 arguments, found 1"
        );
    }

    #[test]
    fn time_and_misc_functions() {
        use ScalarFn as S;
        assert_eq!(ok(S::Now, &[]), (Timestamp, vec![]));
        assert_eq!(ok(S::EventTime, &[]), (Timestamp, vec![]));
        assert_eq!(ok(S::Uuid, &[]), (String, vec![]));
        assert_eq!(
            err(S::Now, &[Int]),
            "function 'now' takes no arguments, found 1"
        );
        assert_eq!(
            ok(S::FormatTime, &[Timestamp, String]),
            (String, vec![Timestamp, String])
        );
        assert_eq!(
            ok(S::FormatTime, &[Long, String]),
            (String, vec![Long, String])
        );
        assert_eq!(
            ok(S::FormatTime, &[Null, String]),
            (String, vec![Long, String])
        );
        assert!(err(S::FormatTime, &[String, String]).contains("a TIMESTAMP or LONG argument"));
        assert!(err(S::FormatTime, &[Double, String]).contains("found DOUBLE"));
        assert_eq!(
            ok(S::ParseTime, &[String, String]),
            (Timestamp, vec![String, String])
        );
        assert!(err(S::ParseTime, &[Long, String]).contains("a STRING argument at position 1"));
    }

    #[test]
    fn aggregates() {
        use AggregateFn as A;
        assert_eq!(
            check_aggregate(A::Count, &[], true, false).map(|s| s.result),
            Ok(Long)
        );
        assert_eq!(agg(A::Count, &[]), (Long, vec![]));
        assert_eq!(agg(A::Count, &[String]), (Long, vec![String]));
        assert_eq!(
            check_aggregate(A::Count, &[Int], false, true).map(|s| s.result),
            Ok(Long)
        );
        assert_eq!(agg(A::DistinctCount, &[Double]), (Long, vec![Double]));
        assert_eq!(agg(A::Sum, &[Int]), (Long, vec![Long]));
        assert_eq!(agg(A::Sum, &[Long]), (Long, vec![Long]));
        assert_eq!(agg(A::Sum, &[Float]), (Double, vec![Double]));
        assert_eq!(agg(A::Sum, &[Double]), (Double, vec![Double]));
        assert_eq!(agg(A::Avg, &[Int]), (Double, vec![Double]));
        assert_eq!(agg(A::Stddev, &[Float]), (Double, vec![Double]));
        for f in [A::Min, A::Max, A::MinForever, A::MaxForever] {
            assert_eq!(agg(f, &[Int]), (Int, vec![Int]));
            assert_eq!(agg(f, &[String]), (String, vec![String]));
            assert_eq!(agg(f, &[Timestamp]), (Timestamp, vec![Timestamp]));
            assert!(check_aggregate(f, &[Bool], false, false).is_err());
        }
        for f in [A::First, A::Last] {
            assert_eq!(agg(f, &[Bool]), (Bool, vec![Bool]));
            assert_eq!(agg(f, &[String]), (String, vec![String]));
        }
        assert_eq!(
            agg(A::Percentile, &[Int, Int]),
            (Double, vec![Double, Double])
        );
        assert!(check_percentile(95.0).is_ok());
        assert!(check_percentile(0.0).is_ok());
        assert!(check_percentile(100.0).is_ok());
        assert!(check_percentile(100.5).is_err());
        assert!(check_percentile(f64::NAN).is_err());
    }

    #[test]
    fn aggregate_errors() {
        use AggregateFn as A;
        let e = |f, args: &[Type], star, distinct| match check_aggregate(f, args, star, distinct) {
            Ok(s) => panic!("should fail: {s:?}"),
            Err(e) => e,
        };
        assert_eq!(
            e(A::Sum, &[String], false, false),
            "function 'sum' expects a numeric argument, found STRING"
        );
        assert!(e(A::Sum, &[], true, false).contains("'*' is only allowed in count(*)"));
        assert!(e(A::Sum, &[Int], false, true).contains("DISTINCT is only allowed"));
        assert!(e(A::Count, &[], true, true).contains("DISTINCT *"));
        assert!(e(A::Count, &[], false, true).contains("takes 1 argument, found 0"));
        assert!(e(A::Count, &[Int, Int], false, false).contains("takes 0 or 1 arguments"));
        assert!(e(A::Avg, &[Bool], false, false).contains("found BOOL"));
        assert!(e(A::Percentile, &[Int], false, false).contains("takes 2 arguments"));
        assert!(e(A::Percentile, &[Int, String], false, false).contains("position 2"));
        assert!(e(A::First, &[], false, false).contains("takes 1 argument"));
    }
}
