//! The EventFlux planner: name resolution, type checking and the logical plan.
//!
//! ```
//! let plan = eventflux_planner::compile(
//!     "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
//!      INSERT INTO Out SELECT symbol, price * volume AS notional FROM Trades WHERE price > 50;",
//! )
//! .expect("valid app");
//! assert_eq!(plan.streams.len(), 2); // Trades and the auto-created Out
//! ```

pub mod builder;
pub mod cron;
pub mod expr;
pub mod functions;
pub mod join;
pub mod options;
pub mod pattern;
pub mod plan;
pub mod resolve;
pub mod types;
pub mod window;

pub use builder::DEFAULT_OUTPUT;
pub use plan::{AppPlan, Attribute, Operator, QueryPlan, Schema, StreamId, StreamIo, StreamPlan};
pub use types::Type;
pub use window::{WindowKind, WindowPlan, WINDOW_TYPES};

use eventflux_sql::Diagnostic;

/// Plans a parsed app.
pub fn plan(app: &eventflux_sql::ast::App, src: &str) -> Result<AppPlan, Vec<Diagnostic>> {
    builder::build(app, src)
}

/// Parses and plans an app. Syntax errors are returned alone: planning statements around a
/// broken one would only report follow-on errors.
pub fn compile(src: &str) -> Result<AppPlan, Vec<Diagnostic>> {
    let (app, diags) = eventflux_sql::parse(src);
    if !diags.is_empty() {
        return Err(diags);
    }
    plan(&app, src)
}
