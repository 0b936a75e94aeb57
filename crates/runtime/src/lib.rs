//! The EventFlux runtime: values and batches, compiled expressions, operators, the engine with
//! its clock and timer service.

pub mod aggregate;
pub mod batch;
pub mod compile;
pub mod engine;
pub mod external;
pub mod external_table;
pub mod functions;
pub mod join;
pub mod operators;
pub mod partition;
pub mod pattern;
pub mod select;
pub mod store;
pub mod table_ops;
pub mod timer;
pub mod value;
pub mod window;

pub use batch::{Batch, EventKind, Row};
pub use engine::{Engine, EngineStats, OutputListener, RowError};
pub use value::Value;
