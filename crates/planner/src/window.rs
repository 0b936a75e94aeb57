//! Window specifications (§7): checking a `WINDOW(…)` clause against the input schema.

use crate::plan::Schema;
use crate::types::Type;
use eventflux_sql::ast::{self, Expr, ExprKind, Literal};
use eventflux_sql::{suggestion_suffix, Diagnostic, Span};
use std::fmt;

/// Window types of §7 (canonical spellings).
pub const WINDOW_TYPES: &[&str] = &[
    "length",
    "lengthBatch",
    "time",
    "timeBatch",
    "tumbling",
    "sliding",
    "hop",
    "session",
    "externalTime",
    "externalTimeBatch",
    "sort",
    "unique",
    "firstUnique",
    "delay",
    "timeLength",
    "cron",
];

/// A checked window. Durations are milliseconds; attributes are positions in the input row.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowKind {
    Length(usize),
    LengthBatch(usize),
    Time(i64),
    /// `timeBatch` / `tumbling`: epoch-aligned intervals `[k·size+offset, (k+1)·size+offset)`.
    TimeBatch {
        size: i64,
        offset: i64,
    },
    /// `sliding` / `hop`: windows of `size` starting every `slide`, epoch-aligned.
    Sliding {
        size: i64,
        slide: i64,
    },
    /// Sessions closed after `gap` without events of the key (attribute `key`, or the GROUP BY
    /// key when `None`).
    Session {
        gap: i64,
        key: Option<usize>,
    },
    ExternalTime {
        attr: usize,
        size: i64,
    },
    ExternalTimeBatch {
        attr: usize,
        size: i64,
    },
    /// Keeps the `n` first events by `keys` (attribute, descending).
    Sort {
        n: usize,
        keys: Vec<(usize, bool)>,
    },
    Unique(usize),
    FirstUnique(usize),
    Delay(i64),
    TimeLength {
        time: i64,
        n: usize,
    },
    Cron(String),
}

impl WindowKind {
    /// Batch windows emit whole batches; the others slide, emitting per arrival (§7).
    pub fn is_batch(&self) -> bool {
        matches!(
            self,
            WindowKind::LengthBatch(_)
                | WindowKind::TimeBatch { .. }
                | WindowKind::Sliding { .. }
                | WindowKind::Session { .. }
                | WindowKind::ExternalTimeBatch { .. }
                | WindowKind::Cron(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WindowPlan {
    pub kind: WindowKind,
    pub span: Span,
}

impl fmt::Display for WindowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WindowKind::Length(n) => write!(f, "length({n})"),
            WindowKind::LengthBatch(n) => write!(f, "lengthBatch({n})"),
            WindowKind::Time(d) => write!(f, "time({d} ms)"),
            WindowKind::TimeBatch { size, offset } => {
                write!(f, "timeBatch({size} ms, offset {offset} ms)")
            }
            WindowKind::Sliding { size, slide } => write!(f, "sliding({size} ms every {slide} ms)"),
            WindowKind::Session { gap, key } => match key {
                Some(k) => write!(f, "session(gap {gap} ms, key #{k})"),
                None => write!(f, "session(gap {gap} ms, per group)"),
            },
            WindowKind::ExternalTime { attr, size } => {
                write!(f, "externalTime(#{attr}, {size} ms)")
            }
            WindowKind::ExternalTimeBatch { attr, size } => {
                write!(f, "externalTimeBatch(#{attr}, {size} ms)")
            }
            WindowKind::Sort { n, keys } => {
                write!(f, "sort({n}")?;
                for (k, desc) in keys {
                    write!(f, ", #{k} {}", if *desc { "desc" } else { "asc" })?;
                }
                f.write_str(")")
            }
            WindowKind::Unique(a) => write!(f, "unique(#{a})"),
            WindowKind::FirstUnique(a) => write!(f, "firstUnique(#{a})"),
            WindowKind::Delay(d) => write!(f, "delay({d} ms)"),
            WindowKind::TimeLength { time, n } => write!(f, "timeLength({time} ms, {n})"),
            WindowKind::Cron(c) => write!(f, "cron('{c}')"),
        }
    }
}

/// Reads window arguments, reporting the first problem of each argument.
struct Args<'a> {
    window: &'a ast::Window,
    name: &'static str,
    schema: &'a Schema,
    stream: &'a str,
    diags: &'a mut Vec<Diagnostic>,
}

impl Args<'_> {
    fn err(&mut self, span: Span, msg: String) {
        self.diags.push(Diagnostic::error(span, msg));
    }

    fn arity(&mut self, min: usize, max: usize, usage: &str) -> bool {
        let n = self.window.args.len();
        if n < min || n > max {
            let name = self.name;
            self.err(
                self.window.span,
                format!(
                    "window '{name}' takes {usage}, found {n} argument{}",
                    if n == 1 { "" } else { "s" }
                ),
            );
            return false;
        }
        true
    }

    fn arg(&self, i: usize) -> Option<&Expr> {
        self.window.args.get(i)
    }

    fn count(&mut self, i: usize, what: &str) -> Option<usize> {
        let e = self.arg(i)?;
        match &e.kind {
            ExprKind::Literal(Literal::Integer { value, .. }) if *value > 0 => {
                Some(*value as usize)
            }
            _ => {
                let (span, name) = (e.span, self.name);
                self.err(
                    span,
                    format!("window '{name}' expects {what} as a positive integer literal"),
                );
                None
            }
        }
    }

    /// A duration literal (`5 sec`) or an integer number of milliseconds.
    fn duration(&mut self, i: usize, what: &str, allow_zero: bool) -> Option<i64> {
        let e = self.arg(i)?;
        let ms = match &e.kind {
            ExprKind::Duration(ms) => Some(*ms),
            ExprKind::Literal(Literal::Integer { value, .. }) => Some(*value),
            ExprKind::Literal(Literal::String(s)) => eventflux_sql::parse_duration_text(s),
            _ => None,
        };
        match ms {
            Some(ms) if ms > 0 || (allow_zero && ms == 0) => Some(ms),
            Some(ms) => {
                let (span, name) = (e.span, self.name);
                let found = format_duration(ms);
                let kind = if allow_zero {
                    "a non-negative"
                } else {
                    "a positive"
                };
                self.err(
                    span,
                    format!("window '{name}' expects {what} as {kind} duration such as 5 sec, found {found}"),
                );
                None
            }
            None => {
                let (span, name) = (e.span, self.name);
                self.err(
                    span,
                    format!("window '{name}' expects {what} as a duration such as 5 sec"),
                );
                None
            }
        }
    }

    fn attribute(&mut self, i: usize, what: &str, allowed: &[Type]) -> Option<usize> {
        let e = self.arg(i)?;
        let (span, name) = (e.span, self.name);
        let col = match &e.kind {
            ExprKind::Column(c) if c.index.is_none() => c,
            _ => {
                self.err(
                    span,
                    format!("window '{name}' expects {what} as an attribute name"),
                );
                return None;
            }
        };
        let Some(idx) = self.schema.index_of(&col.name.name) else {
            let hint = suggestion_suffix(&col.name.name, self.schema.names());
            let stream = self.stream;
            self.err(
                col.name.span,
                format!(
                    "unknown attribute '{}' in stream '{stream}'{hint}",
                    col.name.name
                ),
            );
            return None;
        };
        let ty = self.schema.attributes[idx].ty;
        if !allowed.is_empty() && !allowed.contains(&ty) {
            let list: Vec<&str> = allowed.iter().map(|t| t.name()).collect();
            self.err(
                span,
                format!(
                    "window '{name}' needs {what} of type {}, '{}' is {ty}",
                    list.join(" or "),
                    col.name.name
                ),
            );
            return None;
        }
        Some(idx)
    }

    fn string(&mut self, i: usize, what: &str) -> Option<String> {
        let e = self.arg(i)?;
        match &e.kind {
            ExprKind::Literal(Literal::String(s)) => Some(s.clone()),
            _ => {
                let (span, name) = (e.span, self.name);
                self.err(
                    span,
                    format!("window '{name}' expects {what} as a string literal"),
                );
                None
            }
        }
    }
}

const TIME_TYPES: &[Type] = &[Type::Long, Type::Timestamp];

/// Checks a window clause. `None` when it has errors (already reported).
pub fn check_window(
    w: &ast::Window,
    schema: &Schema,
    stream: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<WindowPlan> {
    let Some(name) = WINDOW_TYPES
        .iter()
        .find(|t| t.eq_ignore_ascii_case(&w.kind.name))
        .copied()
    else {
        diags.push(Diagnostic::error(
            w.kind.span,
            format!(
                "unknown window type '{}'{}; known types: {}",
                w.kind.name,
                suggestion_suffix(&w.kind.name, WINDOW_TYPES.iter().copied()),
                WINDOW_TYPES.join(", ")
            ),
        ));
        return None;
    };
    let before = diags.len();
    let mut a = Args {
        window: w,
        name,
        schema,
        stream,
        diags,
    };
    let kind = match name {
        "length" | "lengthBatch" => {
            if !a.arity(1, 1, "one argument (the number of events)") {
                return None;
            }
            let n = a.count(0, "the number of events")?;
            if name == "length" {
                WindowKind::Length(n)
            } else {
                WindowKind::LengthBatch(n)
            }
        }
        "time" => {
            if !a.arity(1, 1, "one argument (a duration)") {
                return None;
            }
            WindowKind::Time(a.duration(0, "the window length", false)?)
        }
        "delay" => {
            if !a.arity(1, 1, "one argument (a duration)") {
                return None;
            }
            WindowKind::Delay(a.duration(0, "the delay", true)?)
        }
        "timeBatch" | "tumbling" => {
            if !a.arity(1, 2, "a duration and an optional offset") {
                return None;
            }
            let size = a.duration(0, "the batch length", false)?;
            let offset = if w.args.len() > 1 {
                a.duration(1, "the offset", true)?
            } else {
                0
            };
            WindowKind::TimeBatch {
                size,
                offset: offset.rem_euclid(size),
            }
        }
        "sliding" | "hop" => {
            if !a.arity(2, 2, "two durations (window length and slide)") {
                return None;
            }
            let size = a.duration(0, "the window length", false);
            let slide = a.duration(1, "the slide", false);
            WindowKind::Sliding {
                size: size?,
                slide: slide?,
            }
        }
        "session" => {
            if !a.arity(1, 2, "a gap duration and an optional key attribute") {
                return None;
            }
            let gap = a.duration(0, "the session gap", false);
            let key = if w.args.len() > 1 {
                Some(a.attribute(1, "the session key", &[])?)
            } else {
                None
            };
            WindowKind::Session { gap: gap?, key }
        }
        "externalTime" | "externalTimeBatch" => {
            if !a.arity(2, 2, "a time attribute and a duration") {
                return None;
            }
            let attr = a.attribute(0, "the time attribute", TIME_TYPES);
            let size = a.duration(1, "the window length", false);
            let (attr, size) = (attr?, size?);
            if name == "externalTime" {
                WindowKind::ExternalTime { attr, size }
            } else {
                WindowKind::ExternalTimeBatch { attr, size }
            }
        }
        "sort" => {
            if w.args.len() < 2 {
                a.arity(
                    2,
                    usize::MAX,
                    "a number of events and at least one attribute",
                );
                return None;
            }
            let n = a.count(0, "the number of events");
            let mut keys = Vec::new();
            let mut i = 1;
            while i < w.args.len() {
                let attr = a.attribute(i, "a sort attribute", &[]);
                let mut desc = false;
                if let Some(Expr {
                    kind: ExprKind::Literal(Literal::String(s)),
                    span,
                }) = w.args.get(i + 1)
                {
                    match s.to_ascii_lowercase().as_str() {
                        "asc" => {}
                        "desc" => desc = true,
                        _ => {
                            let span = *span;
                            a.err(
                                span,
                                format!("sort order must be 'asc' or 'desc', found '{s}'"),
                            );
                        }
                    }
                    i += 1;
                }
                if let Some(attr) = attr {
                    keys.push((attr, desc));
                }
                i += 1;
            }
            WindowKind::Sort { n: n?, keys }
        }
        "unique" | "firstUnique" => {
            if !a.arity(1, 1, "one attribute") {
                return None;
            }
            let attr = a.attribute(0, "the key attribute", &[])?;
            if name == "unique" {
                WindowKind::Unique(attr)
            } else {
                WindowKind::FirstUnique(attr)
            }
        }
        "timeLength" => {
            if !a.arity(2, 2, "a duration and a number of events") {
                return None;
            }
            let time = a.duration(0, "the window length", false);
            let n = a.count(1, "the number of events");
            WindowKind::TimeLength { time: time?, n: n? }
        }
        "cron" => {
            if !a.arity(1, 1, "one cron expression") {
                return None;
            }
            let expr = a.string(0, "the cron expression")?;
            if let Err(e) = crate::cron::CronSchedule::parse(&expr) {
                let span = w.args[0].span;
                a.err(span, format!("invalid cron expression '{expr}': {e}"));
                return None;
            }
            WindowKind::Cron(expr)
        }
        _ => return None,
    };
    if diags.len() > before {
        return None;
    }
    Some(WindowPlan { kind, span: w.span })
}

/// A duration for messages: `0 sec`, `1500 ms`, `2 min`.
fn format_duration(ms: i64) -> String {
    if ms != 0 && ms % 60_000 == 0 {
        format!("{} min", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{} sec", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}
