//! The abstract syntax tree of an EventFlux app. Every node carries the span of its source text.

use crate::span::Span;

/// An identifier as written (quotes removed). Identifiers are case-sensitive.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A whole app: a sequence of statements.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct App {
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // statements are few; boxing would only add noise
pub enum Statement {
    CreateStream(CreateStream),
    CreateTable(CreateTable),
    CreateTrigger(CreateTrigger),
    Query(Query),
    /// `UPDATE T SET … FROM S ON …` and `UPDATE OR INSERT INTO T SET … FROM S ON …`.
    Update(UpdateStmt),
    /// `DELETE FROM T USING S ON …`.
    Delete(DeleteStmt),
    Partition(Partition),
}

impl Statement {
    pub fn span(&self) -> Span {
        match self {
            Statement::CreateStream(s) => s.span,
            Statement::CreateTable(s) => s.span,
            Statement::CreateTrigger(s) => s.span,
            Statement::Query(s) => s.span,
            Statement::Update(s) => s.span,
            Statement::Delete(s) => s.span,
            Statement::Partition(s) => s.span,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Definitions
// ---------------------------------------------------------------------------------------------

/// `CREATE STREAM` / `DEFINE STREAM`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateStream {
    pub name: Ident,
    pub columns: Vec<ColumnDef>,
    pub watermark: Option<Watermark>,
    pub options: Vec<WithOption>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: Ident,
    pub ty: TypeName,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeKind {
    Int,
    Long,
    Float,
    Double,
    String,
    Bool,
    Timestamp,
    Object,
}

impl TypeKind {
    /// Maps a type spelling (case-insensitive, single word) to its kind. `DOUBLE PRECISION` is
    /// handled by the parser.
    pub fn from_name(name: &str) -> Option<TypeKind> {
        let t = match name.to_ascii_uppercase().as_str() {
            "INT" | "INTEGER" | "SMALLINT" | "TINYINT" => TypeKind::Int,
            "LONG" | "BIGINT" => TypeKind::Long,
            "FLOAT" | "REAL" => TypeKind::Float,
            "DOUBLE" | "DECIMAL" | "NUMERIC" => TypeKind::Double,
            "STRING" | "VARCHAR" | "TEXT" | "CHAR" => TypeKind::String,
            "BOOL" | "BOOLEAN" => TypeKind::Bool,
            "TIMESTAMP" => TypeKind::Timestamp,
            "OBJECT" | "JSON" => TypeKind::Object,
            _ => return None,
        };
        Some(t)
    }

    /// Every accepted spelling, for suggestions.
    pub const SPELLINGS: &'static [&'static str] = &[
        "INT",
        "INTEGER",
        "SMALLINT",
        "TINYINT",
        "LONG",
        "BIGINT",
        "FLOAT",
        "REAL",
        "DOUBLE",
        "DECIMAL",
        "NUMERIC",
        "STRING",
        "VARCHAR",
        "TEXT",
        "CHAR",
        "BOOL",
        "BOOLEAN",
        "TIMESTAMP",
        "OBJECT",
        "JSON",
    ];
}

#[derive(Debug, Clone, PartialEq)]
pub struct TypeName {
    pub kind: TypeKind,
    pub span: Span,
}

/// `WATERMARK FOR col AS <expr>`; the planner checks that `expr` is `col - <duration>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Watermark {
    pub column: Ident,
    pub expr: Expr,
    pub span: Span,
}

/// One `key = value` entry of a `WITH (…)` list.
#[derive(Debug, Clone, PartialEq)]
pub struct WithOption {
    /// The key without quotes, e.g. `late.stream`.
    pub key: String,
    pub key_span: Span,
    pub value: OptionValue,
    pub value_span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    String(String),
    /// A numeric literal, kept as written.
    Number(String),
    Bool(bool),
}

impl OptionValue {
    /// The value as text (`'abc'` → `abc`, `10` → `10`, `true` → `true`).
    pub fn as_text(&self) -> String {
        match self {
            OptionValue::String(s) | OptionValue::Number(s) => s.clone(),
            OptionValue::Bool(b) => b.to_string(),
        }
    }
}

/// `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTable {
    pub name: Ident,
    pub columns: Vec<ColumnDef>,
    /// `PRIMARY KEY (a, b)`; empty when there is none.
    pub primary_key: Vec<Ident>,
    /// Each `INDEX (col, …)` entry.
    pub indexes: Vec<Vec<Ident>>,
    pub options: Vec<WithOption>,
    pub span: Span,
}

/// `CREATE TRIGGER name AT …`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTrigger {
    pub name: Ident,
    pub schedule: TriggerSchedule,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TriggerSchedule {
    /// `AT START`
    Start,
    /// `AT EVERY <duration>`
    Every(Duration),
    /// `AT CRON '<six-field expression>'`
    Cron { expr: String, span: Span },
}

/// A duration literal in milliseconds (`5 sec`, `INTERVAL '5' SECOND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration {
    pub millis: i64,
    pub span: Span,
}

/// `@name('x')`, `@option('key', 'value')` and any other `@word(args…)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub name: Ident,
    pub args: Vec<(String, Span)>,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub annotations: Vec<Annotation>,
    pub output: QueryOutput,
    pub select: Select,
    pub from: FromClause,
    pub where_clause: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub having: Option<Expr>,
    pub order_by: Vec<OrderItem>,
    pub limit: Option<Count>,
    pub offset: Option<Count>,
    pub output_rate: Option<OutputRate>,
    pub span: Span,
}

/// A non-negative integer written in the query (`LIMIT 10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub value: u64,
    pub span: Span,
}

/// Where a query's rows go.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryOutput {
    /// No INSERT clause: rows go to the stream `OutputStream`.
    Default,
    /// `INSERT [CURRENT|EXPIRED|ALL [EVENTS]] INTO target` (leading or trailing form).
    Insert { events: OutputEvents, target: Ident },
    /// `UPSERT INTO target`.
    Upsert { target: Ident },
    /// Trailing `UPDATE OR INSERT INTO target [SET …] ON cond`.
    UpdateOrInsert {
        target: Ident,
        set: Vec<Assignment>,
        on: Expr,
    },
    /// Trailing `UPDATE target [SET …] ON cond`.
    Update {
        target: Ident,
        set: Vec<Assignment>,
        on: Expr,
    },
    /// Trailing `DELETE target ON cond`.
    Delete { target: Ident, on: Expr },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputEvents {
    #[default]
    Current,
    Expired,
    All,
}

/// `col = expr` in a SET list; `col` may be qualified by the table name.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub column: ColumnRef,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub items: Vec<SelectItem>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `*`
    Wildcard(Span),
    /// `alias.*`
    QualifiedWildcard(Ident),
    Expr {
        expr: Expr,
        alias: Option<Ident>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub expr: Expr,
    pub descending: bool,
    pub span: Span,
}

/// `OUTPUT [ALL|FIRST|LAST|SNAPSHOT] EVERY …`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputRate {
    pub mode: OutputRateMode,
    pub every: RateUnit,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputRateMode {
    All,
    First,
    Last,
    Snapshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    Events(u64),
    Time(Duration),
}

/// What a query reads.
#[derive(Debug, Clone, PartialEq)]
pub enum FromClause {
    Stream(StreamRef),
    Join(Join),
    Pattern(PatternQuery),
}

impl FromClause {
    pub fn span(&self) -> Span {
        match self {
            FromClause::Stream(s) => s.span,
            FromClause::Join(j) => j.span,
            FromClause::Pattern(p) => p.span,
        }
    }
}

/// A stream or table in FROM: `Trades[price > 1] WINDOW('length', 10) AS t UNIDIRECTIONAL`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRef {
    pub name: Ident,
    /// A `[cond]` filter written right after the name (applied before the window).
    pub filter: Option<Expr>,
    pub window: Option<Window>,
    pub alias: Option<Ident>,
    pub unidirectional: bool,
    pub span: Span,
}

/// `WINDOW('type', args…)` or `WINDOW TYPE(args…)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The window type as written (`length`, `TUMBLING`, …).
    pub kind: Ident,
    /// Arguments; durations appear as `ExprKind::Duration`.
    pub args: Vec<Expr>,
    pub span: Span,
}

/// `left JOIN right ON … JOIN …`, chained left to right.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub left: StreamRef,
    pub steps: Vec<JoinStep>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JoinStep {
    pub kind: JoinKind,
    pub right: StreamRef,
    pub on: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

/// `FROM PATTERN (…) [WITHIN d]` or `FROM SEQUENCE (…) [WITHIN d]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternQuery {
    pub mode: PatternMode,
    pub expr: PatternExpr,
    pub within: Option<Duration>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternMode {
    Pattern,
    Sequence,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PatternExpr {
    /// `a -> b -> c` (at least two steps).
    FollowedBy(Vec<PatternExpr>, Span),
    /// `EVERY term`.
    Every(Box<PatternExpr>, Span),
    /// `a AND b`.
    And(Box<PatternExpr>, Box<PatternExpr>, Span),
    /// `a OR b`.
    Or(Box<PatternExpr>, Box<PatternExpr>, Span),
    /// `[alias=] Stream[cond] quantifier`.
    Element(PatternElement),
    /// `NOT Stream[cond] [FOR d]`.
    Absent(AbsentElement),
    /// `( expr )`, kept so that spans and explain output follow the source.
    Group(Box<PatternExpr>, Span),
}

impl PatternExpr {
    pub fn span(&self) -> Span {
        match self {
            PatternExpr::FollowedBy(_, s)
            | PatternExpr::Every(_, s)
            | PatternExpr::And(_, _, s)
            | PatternExpr::Or(_, _, s)
            | PatternExpr::Group(_, s) => *s,
            PatternExpr::Element(e) => e.span,
            PatternExpr::Absent(a) => a.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatternElement {
    pub alias: Option<Ident>,
    pub stream: Ident,
    pub filter: Option<Expr>,
    pub quantifier: Option<Quantifier>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AbsentElement {
    pub stream: Ident,
    pub filter: Option<Expr>,
    pub duration: Option<Duration>,
    pub span: Span,
}

/// `{n}`, `{m,n}`, `{m,}`, `+`, `*`, `?` — `max` is `None` when unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantifier {
    pub min: u32,
    pub max: Option<u32>,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------------
// Table writes and partitions
// ---------------------------------------------------------------------------------------------

/// `UPDATE T SET … FROM S [AS a] ON cond` (`or_insert` for `UPDATE OR INSERT INTO T …`).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateStmt {
    pub annotations: Vec<Annotation>,
    pub table: Ident,
    pub or_insert: bool,
    pub set: Vec<Assignment>,
    pub source: StreamRef,
    pub on: Expr,
    pub span: Span,
}

/// `DELETE FROM T USING S [AS a] ON cond`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteStmt {
    pub annotations: Vec<Annotation>,
    pub table: Ident,
    pub source: StreamRef,
    pub on: Expr,
    pub span: Span,
}

/// `PARTITION WITH (keys…) BEGIN statements END [WITH (…)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    pub keys: Vec<PartitionKey>,
    pub statements: Vec<Statement>,
    pub options: Vec<WithOption>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PartitionKey {
    /// `expr OF Stream`
    Value {
        expr: Expr,
        stream: Ident,
        span: Span,
    },
    /// `cond AS 'label' OR cond AS 'label' … OF Stream`
    Range {
        ranges: Vec<RangeCase>,
        stream: Ident,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RangeCase {
    pub condition: Expr,
    pub label: String,
    pub span: Span,
}

// ---------------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// `x`, `e1.x`, `e1[0].x`, `e1[last].x`; also a bare `e1` in `count(e1)` (as `name` with no
/// qualifier).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRef {
    pub qualifier: Option<Ident>,
    pub index: Option<EventIndex>,
    pub name: Ident,
    pub span: Span,
}

/// Index into the events collected by a counted pattern alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventIndex {
    /// `[n]`, 0-based.
    At(u32),
    /// `[last]`
    Last,
    /// `[last - n]`
    FromLast(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    /// A duration literal, in milliseconds.
    Duration(i64),
    Column(ColumnRef),
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `x [NOT] IN Table`
    InTable {
        expr: Box<Expr>,
        table: Ident,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        else_result: Option<Box<Expr>>,
    },
    Cast {
        expr: Box<Expr>,
        ty: TypeName,
    },
    /// `name(args)`, `count(*)` (`star`), `count(DISTINCT x)` (`distinct`).
    Function {
        name: Ident,
        args: Vec<Expr>,
        distinct: bool,
        star: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// An integer literal. `long` is true for the `42L` spelling.
    Integer {
        value: i64,
        long: bool,
    },
    /// `3.5` (DOUBLE) or `3.5f` (FLOAT).
    Decimal {
        value: f64,
        float: bool,
    },
    String(String),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Mul,
    Div,
    Mod,
    Add,
    Sub,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Concat => "||",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::NotEq
                | BinaryOp::Lt
                | BinaryOp::LtEq
                | BinaryOp::Gt
                | BinaryOp::GtEq
        )
    }
}
