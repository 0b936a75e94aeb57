//! The NDJSON event envelope of replay input and command-line output (§15):
//! `{"stream": "Trades", "ts": 1000, "data": {…}}`, or `{"ts": 5000}` to move the clock.

use crate::json::{describe_error, write_json_string, RowDecoder, RowEncoder};
use eventflux_planner::plan::{AppPlan, StreamId};
use eventflux_runtime::{EventKind, Value};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// One decoded input line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputLine {
    /// Nothing to do (blank line, or `{}`).
    Empty,
    /// Only moves the clock.
    Tick { ts: i64 },
    /// An event for `stream`; its values were written to the caller's buffer.
    Event {
        stream: StreamId,
        ts: Option<i64>,
        kind: EventKind,
    },
}

/// Decodes envelope lines for the streams of one app.
pub struct EnvelopeDecoder {
    ids: HashMap<String, StreamId>,
    decoders: Vec<RowDecoder>,
    default_stream: Option<StreamId>,
    input_count: usize,
}

impl EnvelopeDecoder {
    pub fn new(plan: &AppPlan) -> EnvelopeDecoder {
        let decoders = plan
            .streams
            .iter()
            .map(|s| RowDecoder::new(&s.name, &s.schema))
            .collect();
        let input_count = (0..plan.streams.len())
            .filter(|&i| plan.is_external_input(i))
            .count();
        EnvelopeDecoder {
            ids: plan.stream_ids.clone(),
            decoders,
            default_stream: plan.single_input(),
            input_count,
        }
    }

    /// Decodes one line; event values are written to `values` (cleared first).
    pub fn decode(&self, line: &str, values: &mut Vec<Value>) -> Result<InputLine, String> {
        if line.trim().is_empty() {
            return Ok(InputLine::Empty);
        }
        let mut de = serde_json::Deserializer::from_str(line);
        let parsed = EnvelopeSeed { dec: self, values }
            .deserialize(&mut de)
            .and_then(|p| de.end().map(|()| p))
            .map_err(|e| describe_error(&e))?;
        let stream = match (parsed.stream, parsed.has_data) {
            (Some(s), _) => Some(s),
            (None, true) => Some(self.default_stream.ok_or_else(|| {
                format!(
                    "the line has no \"stream\" and the app has {} input streams: name one",
                    self.input_count
                )
            })?),
            (None, false) => None,
        };
        match (stream, parsed.raw_data) {
            (Some(s), Some(raw)) => self.decoders[s].decode(raw.get(), values)?,
            (Some(s), None) if !parsed.has_data => {
                return Err(format!(
                    "the line names stream '{}' but has no \"data\"",
                    self.decoders[s].stream()
                ))
            }
            _ => {}
        }
        Ok(match (stream, parsed.ts) {
            (Some(stream), ts) => InputLine::Event {
                stream,
                ts,
                kind: parsed.kind,
            },
            (None, Some(ts)) => InputLine::Tick { ts },
            (None, None) => InputLine::Empty,
        })
    }
}

struct Parsed<'de> {
    stream: Option<StreamId>,
    ts: Option<i64>,
    kind: EventKind,
    has_data: bool,
    /// `data` seen before `stream`: decoded once the stream is known.
    raw_data: Option<&'de RawValue>,
}

struct EnvelopeSeed<'a> {
    dec: &'a EnvelopeDecoder,
    values: &'a mut Vec<Value>,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = Parsed<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Parsed<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
    type Value = Parsed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object like {\"stream\": \"S\", \"ts\": 1000, \"data\": {…}}")
    }

    crate::reject_non_objects!(Parsed<'de>, |_seed: Self, found: &str| {
        format!(
        "expected a JSON object like {{\"stream\": \"S\", \"ts\": 1000, \"data\": {{…}}}}, found {found}"
    )
    });

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed<'de>, A::Error> {
        let mut p = Parsed {
            stream: None,
            ts: None,
            kind: EventKind::Current,
            has_data: false,
            raw_data: None,
        };
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "stream" => {
                    let name = map.next_value_seed(TextSeed {
                        what: "\"stream\" must be a string naming a stream",
                    })?;
                    let id = self.dec.ids.get(name.as_ref()).copied().ok_or_else(|| {
                        let hint = eventflux_sql::suggestion_suffix(
                            &name,
                            self.dec.ids.keys().map(String::as_str),
                        );
                        de::Error::custom(format!("unknown stream '{name}'{hint}"))
                    })?;
                    p.stream = Some(id);
                }
                "ts" => {
                    let ts: i64 = map.next_value().map_err(|_: A::Error| {
                        de::Error::custom("\"ts\" must be an integer number of milliseconds")
                    })?;
                    p.ts = Some(ts);
                }
                "kind" => {
                    let k = map.next_value_seed(TextSeed {
                        what: "\"kind\" must be \"current\" or \"expired\"",
                    })?;
                    p.kind = match k.as_ref() {
                        "current" => EventKind::Current,
                        "expired" => EventKind::Expired,
                        other => {
                            return Err(de::Error::custom(format!(
                                "\"kind\" must be \"current\" or \"expired\", found '{other}'"
                            )))
                        }
                    };
                }
                "data" => {
                    p.has_data = true;
                    let target = p.stream.or(self.dec.default_stream);
                    match (p.stream, target) {
                        (Some(s), _) => {
                            map.next_value_seed(self.dec.decoders[s].seed(self.values))?
                        }
                        // The stream may still come later in the object: keep the raw text.
                        (None, _) => p.raw_data = Some(map.next_value()?),
                    }
                }
                other => {
                    return Err(de::Error::custom(format!(
                    "unknown key '{other}' in the envelope (expected \"stream\", \"ts\", \"kind\", \"data\")"
                )))
                }
            }
        }
        Ok(p)
    }
}

/// Writes output lines: `{"stream": "Out", "ts": 1000, "data": {…}}` (plus `"kind": "expired"`).
pub struct EnvelopeEncoder {
    /// `{"stream": "Name", "ts": ` per stream.
    prefixes: Vec<Vec<u8>>,
    encoders: Vec<RowEncoder>,
}

impl EnvelopeEncoder {
    pub fn new(plan: &AppPlan) -> EnvelopeEncoder {
        EnvelopeEncoder {
            prefixes: plan
                .streams
                .iter()
                .map(|s| {
                    let mut p = b"{\"stream\": ".to_vec();
                    write_json_string(&mut p, &s.name);
                    p.extend_from_slice(b", \"ts\": ");
                    p
                })
                .collect(),
            encoders: plan
                .streams
                .iter()
                .map(|s| RowEncoder::new(&s.schema))
                .collect(),
        }
    }

    /// Appends one line (with its newline) for a row of `stream`.
    pub fn encode(
        &self,
        stream: StreamId,
        ts: i64,
        kind: EventKind,
        values: &[Value],
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(&self.prefixes[stream]);
        out.extend_from_slice(itoa::Buffer::new().format(ts).as_bytes());
        out.extend_from_slice(b", \"data\": ");
        self.encoders[stream].encode(values, out);
        if kind == EventKind::Expired {
            out.extend_from_slice(b", \"kind\": \"expired\"");
        }
        out.extend_from_slice(b"}\n");
    }
}

/// A string field of the envelope; anything else is an error saying what the field must be.
struct TextSeed {
    what: &'static str,
}

impl<'de> DeserializeSeed<'de> for TextSeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TextSeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Cow<'de, str>, A::Error> {
        Err(de::Error::custom(format!("{}, found an object", self.what)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Cow<'de, str>, E> {
        Err(E::custom(format!("{}, found a boolean", self.what)))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Cow<'de, str>, E> {
        Err(E::custom(format!("{}, found a number", self.what)))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Cow<'de, str>, E> {
        Err(E::custom(format!("{}, found a number", self.what)))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Cow<'de, str>, E> {
        Err(E::custom(format!("{}, found a number", self.what)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Cow<'de, str>, E> {
        Err(E::custom(format!("{}, found null", self.what)))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Cow<'de, str>, A::Error> {
        Err(de::Error::custom(format!("{}, found an array", self.what)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> AppPlan {
        eventflux_planner::compile(
            "CREATE STREAM Trades (symbol STRING, price DOUBLE);\n\
             INSERT INTO Out SELECT symbol FROM Trades;",
        )
        .unwrap()
    }

    #[test]
    fn decodes_events_ticks_and_defaults() {
        let p = plan();
        let d = EnvelopeDecoder::new(&p);
        let mut v = Vec::new();
        let l = d
            .decode(
                r#"{"stream": "Trades", "ts": 1000, "data": {"symbol": "IBM", "price": 1.5}}"#,
                &mut v,
            )
            .unwrap();
        assert_eq!(
            l,
            InputLine::Event {
                stream: 0,
                ts: Some(1000),
                kind: EventKind::Current
            }
        );
        assert_eq!(v, vec![Value::string("IBM"), Value::Double(1.5)]);
        // data before stream, and stream omitted with a single input.
        assert!(matches!(
            d.decode(r#"{"data": {"price": 2}, "stream": "Trades"}"#, &mut v)
                .unwrap(),
            InputLine::Event {
                stream: 0,
                ts: None,
                ..
            }
        ));
        assert_eq!(v, vec![Value::Null, Value::Double(2.0)]);
        assert!(matches!(
            d.decode(r#"{"data": {"price": 3}}"#, &mut v).unwrap(),
            InputLine::Event { stream: 0, .. }
        ));
        assert_eq!(
            d.decode(r#"{"ts": 5000}"#, &mut v).unwrap(),
            InputLine::Tick { ts: 5000 }
        );
        assert_eq!(d.decode("   ", &mut v).unwrap(), InputLine::Empty);
    }

    #[test]
    fn reports_bad_lines() {
        let p = plan();
        let d = EnvelopeDecoder::new(&p);
        let mut v = Vec::new();
        let e = |line: &str, v: &mut Vec<Value>| d.decode(line, v).unwrap_err();
        assert_eq!(
            e(r#"{"stream": "Trade", "data": {}}"#, &mut v),
            "unknown stream 'Trade' (did you mean 'Trades'?)"
        );
        assert!(e("{not json", &mut v).contains("key must be a string"));
        assert!(e(r#"{"ts": "x"}"#, &mut v).contains("integer"));
        assert!(e(r#"{"stream": "Trades", "data": {"price": "x"}}"#, &mut v)
            .contains("expects a DOUBLE"));
        assert!(e(r#"{"stream": "Trades"}"#, &mut v).contains("no \"data\""));
        assert!(e(r#"{"bogus": 1}"#, &mut v).contains("unknown key"));
        assert!(e(r#"[1,2]"#, &mut v).contains("JSON object"));
    }

    #[test]
    fn encodes_output_lines() {
        let p = plan();
        let enc = EnvelopeEncoder::new(&p);
        let mut out = Vec::new();
        enc.encode(
            1,
            1000,
            EventKind::Expired,
            &[Value::string("IBM")],
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"stream\": \"Out\", \"ts\": 1000, \"data\": {\"symbol\": \"IBM\"}, \"kind\": \"expired\"}\n"
        );
    }
}
