//! EventFlux connectors and formats. So far: the JSON format, the NDJSON envelope used by
//! replay input and command-line output, and the external table stores (PostgreSQL, MySQL /
//! MariaDB, Redis).

pub mod format;
pub mod io;
pub mod json;
pub mod ndjson;
pub mod stores;

pub use json::{RowDecoder, RowEncoder};
pub use ndjson::{EnvelopeDecoder, EnvelopeEncoder, InputLine};
