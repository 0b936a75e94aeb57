//! EventFlux connectors and formats. So far: the JSON format and the NDJSON envelope used by
//! replay input and command-line output.

pub mod json;
pub mod ndjson;

pub use json::{RowDecoder, RowEncoder};
pub use ndjson::{EnvelopeDecoder, EnvelopeEncoder, InputLine};
