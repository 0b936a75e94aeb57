//! The EventFlux query language front end: lexer, parser, AST and diagnostics.
//!
//! ```
//! let (app, diagnostics) = eventflux_sql::parse(
//!     "CREATE STREAM Trades (symbol STRING, price DOUBLE);\n\
//!      INSERT INTO Big SELECT symbol FROM Trades WHERE price > 50;",
//! );
//! assert!(diagnostics.is_empty());
//! assert_eq!(app.statements.len(), 2);
//! ```

pub mod ast;
pub mod diagnostic;
pub mod lexer;
pub mod parser;
pub mod span;

pub use diagnostic::{did_you_mean, render_all, suggestion_suffix, Diagnostic, Severity};
pub use parser::{parse, parse_duration_text};
pub use span::{line_col, Span};
