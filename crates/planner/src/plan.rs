//! The logical plan of an app: its streams and, for each query, a pipeline of operators from an
//! input stream to an output stream. The runtime compiles this plan; `eventflux explain` prints it.

use crate::expr::TypedExpr;
use crate::types::Type;
use eventflux_sql::ast::OutputEvents;
use eventflux_sql::Span;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

pub type StreamId = usize;
pub type QueryId = usize;

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    pub attributes: Vec<Attribute>,
}

impl Schema {
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.attributes.iter().position(|a| a.name == name)
    }

    pub fn len(&self) -> usize {
        self.attributes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.attributes.iter().map(|a| a.name.as_str())
    }
}

impl std::fmt::Display for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(")?;
        for (i, a) in self.attributes.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {}", a.name, a.ty)?;
        }
        f.write_str(")")
    }
}

/// How a stream came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOrigin {
    /// `CREATE STREAM` / `DEFINE STREAM`.
    Declared,
    /// Created by the first `INSERT INTO` that names it.
    Auto,
}

/// A connector attached to a stream by its WITH options.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorPlan {
    pub extension: String,
    pub format: String,
    /// Every option of the stream, `${ENV}` already substituted.
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StreamIo {
    Internal,
    Source(ConnectorPlan),
    Sink(ConnectorPlan),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamPlan {
    pub name: String,
    pub schema: Schema,
    pub origin: StreamOrigin,
    pub io: StreamIo,
    pub span: Span,
}

/// One step of a query's pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    /// Keeps rows whose condition is TRUE.
    Filter(TypedExpr),
    /// Computes the output row, one expression per attribute of the target stream, in its order.
    Project(Vec<(String, TypedExpr)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryPlan {
    pub name: String,
    pub span: Span,
    pub input: StreamId,
    pub operators: Vec<Operator>,
    pub target: StreamId,
    pub events: OutputEvents,
    /// `@option('key', 'value')` settings.
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppPlan {
    pub streams: Vec<StreamPlan>,
    pub queries: Vec<QueryPlan>,
    pub stream_ids: HashMap<String, StreamId>,
}

impl AppPlan {
    pub fn stream_id(&self, name: &str) -> Option<StreamId> {
        self.stream_ids.get(name).copied()
    }

    pub fn stream(&self, id: StreamId) -> &StreamPlan {
        &self.streams[id]
    }

    /// Queries reading `id`, in definition order.
    pub fn readers(&self, id: StreamId) -> impl Iterator<Item = QueryId> + '_ {
        self.queries
            .iter()
            .enumerate()
            .filter(move |(_, q)| q.input == id)
            .map(|(i, _)| i)
    }

    pub fn is_written(&self, id: StreamId) -> bool {
        self.queries.iter().any(|q| q.target == id)
    }

    /// Streams whose rows the command line prints: written by a query, read by no query and
    /// consumed by no sink (§15).
    pub fn is_terminal(&self, id: StreamId) -> bool {
        self.is_written(id)
            && self.readers(id).next().is_none()
            && !matches!(self.streams[id].io, StreamIo::Sink(_))
    }

    /// The only stream that receives events from outside, if there is exactly one.
    pub fn single_input(&self) -> Option<StreamId> {
        let mut inputs = (0..self.streams.len()).filter(|&id| self.is_external_input(id));
        let first = inputs.next()?;
        inputs.next().is_none().then_some(first)
    }

    /// A declared stream that no query writes and that is not a sink: fed from outside.
    pub fn is_external_input(&self, id: StreamId) -> bool {
        let s = &self.streams[id];
        s.origin == StreamOrigin::Declared
            && !self.is_written(id)
            && !matches!(s.io, StreamIo::Sink(_))
    }

    /// The operator graph as text, for `eventflux explain`.
    pub fn explain(&self) -> String {
        let mut out = String::from("streams:\n");
        for (id, s) in self.streams.iter().enumerate() {
            let mut tags = Vec::new();
            if s.origin == StreamOrigin::Auto {
                tags.push("auto-created".to_string());
            }
            match &s.io {
                StreamIo::Internal => {}
                StreamIo::Source(c) => tags.push(format!("source {}/{}", c.extension, c.format)),
                StreamIo::Sink(c) => tags.push(format!("sink {}/{}", c.extension, c.format)),
            }
            if self.is_external_input(id) {
                tags.push("input".into());
            }
            if self.is_terminal(id) {
                tags.push("printed".into());
            }
            let tags = if tags.is_empty() {
                String::new()
            } else {
                format!("  [{}]", tags.join(", "))
            };
            let _ = writeln!(out, "  {} {}{tags}", s.name, s.schema);
        }
        out.push_str("queries:\n");
        for q in &self.queries {
            let _ = writeln!(out, "  query '{}'", q.name);
            let _ = writeln!(out, "    from {}", self.streams[q.input].name);
            for op in &q.operators {
                match op {
                    Operator::Filter(e) => {
                        let _ = writeln!(out, "    -> filter {e}");
                    }
                    Operator::Project(cols) => {
                        let cols: Vec<String> =
                            cols.iter().map(|(n, e)| format!("{e} AS {n}")).collect();
                        let _ = writeln!(out, "    -> project {}", cols.join(", "));
                    }
                }
            }
            let events = match q.events {
                OutputEvents::Current => "current",
                OutputEvents::Expired => "expired",
                OutputEvents::All => "all",
            };
            let _ = writeln!(
                out,
                "    -> insert {events} events into {}",
                self.streams[q.target].name
            );
        }
        out
    }
}
