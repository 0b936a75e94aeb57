//! Input decoding never panics: random bytes, random JSON-ish token streams and mutated valid
//! envelopes all end in either a decoded line or an error message.

use eventflux_connectors::{EnvelopeDecoder, InputLine};
use proptest::prelude::*;

fn decoder() -> EnvelopeDecoder {
    let plan = eventflux_planner::compile(
        "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT, ts TIMESTAMP, ok BOOL, f FLOAT, l LONG);\n\
         CREATE STREAM Other (x INT);\n\
         INSERT INTO Out SELECT symbol FROM Trades;",
    )
    .expect("valid app");
    EnvelopeDecoder::new(&plan)
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(":".to_string()),
        Just(",".to_string()),
        Just("\"stream\"".to_string()),
        Just("\"ts\"".to_string()),
        Just("\"data\"".to_string()),
        Just("\"kind\"".to_string()),
        Just("\"Trades\"".to_string()),
        Just("\"Other\"".to_string()),
        Just("\"symbol\"".to_string()),
        Just("\"price\"".to_string()),
        Just("\"volume\"".to_string()),
        Just("\"ts\"".to_string()),
        Just("\"expired\"".to_string()),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("1e400".to_string()),
        Just("-9223372036854775809".to_string()),
        Just("18446744073709551616".to_string()),
        Just("\"2024-01-01T00:00:00Z\"".to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        "\"[a-z\\\\\"]{0,6}\"".prop_map(|s| s),
    ]
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let d = decoder();
        let mut values = Vec::new();
        if let Ok(line) = std::str::from_utf8(&bytes) {
            let _ = d.decode(line, &mut values);
        }
    }

    #[test]
    fn random_token_streams_never_panic(tokens in proptest::collection::vec(token(), 0..40)) {
        let d = decoder();
        let mut values = Vec::new();
        let line = tokens.join(" ");
        if let Ok(InputLine::Event { .. }) = d.decode(&line, &mut values) {
            // A decoded event always has one value per attribute of its stream.
            prop_assert!(values.len() == 7 || values.len() == 1);
        }
    }

    #[test]
    fn valid_envelopes_decode(price in any::<f64>().prop_filter("finite", |p| p.is_finite()), volume in any::<i32>(), ts in 0i64..1i64 << 50) {
        let d = decoder();
        let mut values = Vec::new();
        let line = format!(r#"{{"stream": "Trades", "ts": {ts}, "data": {{"price": {price:?}, "volume": {volume}}}}}"#);
        let decoded = d.decode(&line, &mut values);
        prop_assert!(matches!(decoded, Ok(InputLine::Event { ts: Some(t), .. }) if t == ts), "{decoded:?} for {line}");
        prop_assert_eq!(values[2].clone(), eventflux_runtime::Value::Int(volume));
    }
}
