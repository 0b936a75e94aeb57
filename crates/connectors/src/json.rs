//! The JSON format: decoding a JSON object into a row of a stream's schema, and encoding rows as
//! JSON objects keyed by attribute names.

use eventflux_planner::plan::Schema;
use eventflux_planner::types::Type;
use eventflux_runtime::compile::parse_rfc3339_millis;
use eventflux_runtime::Value;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use std::fmt;
use std::sync::Arc;

/// Decodes JSON objects into rows of one schema.
#[derive(Debug, Clone)]
pub struct RowDecoder {
    stream: String,
    names: Vec<String>,
    types: Vec<Type>,
}

impl RowDecoder {
    pub fn new(stream: &str, schema: &Schema) -> RowDecoder {
        RowDecoder {
            stream: stream.to_string(),
            names: schema.attributes.iter().map(|a| a.name.clone()).collect(),
            types: schema.attributes.iter().map(|a| a.ty).collect(),
        }
    }

    pub fn arity(&self) -> usize {
        self.types.len()
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Decodes one JSON object (`{"attr": value, …}`) into `out`, which is cleared first. A
    /// missing attribute is NULL; an unknown key or a wrong JSON type is an error.
    pub fn decode(&self, json: &str, out: &mut Vec<Value>) -> Result<(), String> {
        let mut de = serde_json::Deserializer::from_str(json);
        self.seed(out)
            .deserialize(&mut de)
            .and_then(|()| de.end())
            .map_err(|e| describe_error(&e))
    }

    /// A serde seed that decodes an object straight into `out` (no intermediate map).
    pub fn seed<'a>(&'a self, out: &'a mut Vec<Value>) -> RowSeed<'a> {
        RowSeed { decoder: self, out }
    }

    fn index_of(&self, key: &str) -> Option<usize> {
        self.names.iter().position(|n| n == key)
    }
}

/// A decoding error for a user: syntax errors say the JSON is malformed.
pub fn describe_error(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("malformed JSON: {}", clean_error(e))
        }
        _ => clean_error(e),
    }
}

/// Removes serde_json's "at line 1 column N" suffix, which is meaningless inside one input line.
pub fn clean_error(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Implements every non-map `visit_*` of a visitor as an error built by `$msg(found)`.
#[macro_export]
macro_rules! reject_non_objects {
    ($value:ty, $msg:expr) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<$value, E> {
            Err(E::custom($msg(self, "a boolean")))
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<$value, E> {
            Err(E::custom($msg(self, "a number")))
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<$value, E> {
            Err(E::custom($msg(self, "a number")))
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<$value, E> {
            Err(E::custom($msg(self, "a number")))
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<$value, E> {
            Err(E::custom($msg(self, "a string")))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<$value, E> {
            Err(E::custom($msg(self, "null")))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<$value, A::Error> {
            Err(serde::de::Error::custom($msg(self, "an array")))
        }
    };
}

pub struct RowSeed<'a> {
    decoder: &'a RowDecoder,
    out: &'a mut Vec<Value>,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // `any`, not `map`, so that non-objects reach the visitor and get a clear message.
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a JSON object with the attributes of stream '{}'",
            self.decoder.stream
        )
    }

    crate::reject_non_objects!((), |seed: Self, found: &str| format!(
        "\"data\" must be a JSON object with the attributes of stream '{}', found {found}",
        seed.decoder.stream
    ));

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let dec = self.decoder;
        self.out.clear();
        self.out.resize(dec.arity(), Value::Null);
        let mut seen = 0u64;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let Some(i) = dec.index_of(&key) else {
                let hint =
                    eventflux_sql::suggestion_suffix(&key, dec.names.iter().map(String::as_str));
                return Err(de::Error::custom(format!(
                    "stream '{}' has no attribute '{key}'{hint}",
                    dec.stream
                )));
            };
            if i < 64 {
                if seen & (1 << i) != 0 {
                    return Err(de::Error::custom(format!(
                        "attribute '{key}' is given twice"
                    )));
                }
                seen |= 1 << i;
            }
            self.out[i] = map.next_value_seed(ValueSeed {
                ty: dec.types[i],
                name: &dec.names[i],
            })?;
        }
        Ok(())
    }
}

/// Decodes one JSON value as an attribute of a given type.
struct ValueSeed<'a> {
    ty: Type,
    name: &'a str,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_> {
    fn wrong<E: de::Error>(&self, found: &str) -> E {
        E::custom(format!(
            "attribute '{}' expects {}, found {found}",
            self.name,
            json_kind(self.ty)
        ))
    }
}

fn json_kind(t: Type) -> &'static str {
    match t {
        Type::Int => "an INT (JSON integer)",
        Type::Long => "a LONG (JSON integer)",
        Type::Float => "a FLOAT (JSON number)",
        Type::Double => "a DOUBLE (JSON number)",
        Type::String => "a STRING (JSON string)",
        Type::Bool => "a BOOL (true or false)",
        Type::Timestamp => "a TIMESTAMP (epoch milliseconds or an RFC 3339 string)",
        Type::Object | Type::Null => "a JSON value",
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(json_kind(self.ty))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        match self.ty {
            Type::Bool => Ok(Value::Bool(v)),
            _ => Err(self.wrong("a boolean")),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        match self.ty {
            Type::Int => i32::try_from(v).map(Value::Int).map_err(|_| {
                E::custom(format!(
                    "attribute '{}' is INT but {v} is out of range",
                    self.name
                ))
            }),
            Type::Long | Type::Timestamp => Ok(Value::Long(v)),
            Type::Float => Ok(Value::Float(v as f32)),
            Type::Double => Ok(Value::Double(v as f64)),
            _ => Err(self.wrong("a number")),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => match self.ty {
                Type::Float => Ok(Value::Float(v as f32)),
                Type::Double => Ok(Value::Double(v as f64)),
                _ => Err(E::custom(format!(
                    "attribute '{}': {v} is out of range",
                    self.name
                ))),
            },
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        match self.ty {
            Type::Float => Ok(Value::Float(v as f32)),
            Type::Double => Ok(Value::Double(v)),
            _ => Err(self.wrong("a decimal number")),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        match self.ty {
            Type::String => Ok(Value::String(Arc::from(v))),
            Type::Timestamp => parse_rfc3339_millis(v).map(Value::Long).ok_or_else(|| {
                E::custom(format!(
                    "attribute '{}' expects a TIMESTAMP; '{v}' is not an RFC 3339 time",
                    self.name
                ))
            }),
            _ => Err(self.wrong("a string")),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Value, A::Error> {
        Err(self.wrong("an object"))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _seq: A) -> Result<Value, A::Error> {
        Err(self.wrong("an array"))
    }
}

/// Encodes rows as JSON objects. Keys are escaped once, up front.
#[derive(Debug, Clone)]
pub struct RowEncoder {
    /// `"name": ` for each attribute, already escaped.
    keys: Vec<Vec<u8>>,
}

impl RowEncoder {
    pub fn new(schema: &Schema) -> RowEncoder {
        RowEncoder {
            keys: schema
                .attributes
                .iter()
                .map(|a| {
                    let mut k = Vec::new();
                    write_json_string(&mut k, &a.name);
                    k.extend_from_slice(b": ");
                    k
                })
                .collect(),
        }
    }

    /// Appends `{"a": 1, "b": "x"}` to `out`.
    pub fn encode(&self, values: &[Value], out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.keys.iter().zip(values).enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(k);
            write_json_value(out, v);
        }
        out.push(b'}');
    }
}

/// Appends a value in JSON form. Non-finite floats, which JSON cannot represent, become null.
pub fn write_json_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Int(x) => out.extend_from_slice(itoa::Buffer::new().format(*x).as_bytes()),
        Value::Long(x) => out.extend_from_slice(itoa::Buffer::new().format(*x).as_bytes()),
        Value::Float(x) if x.is_finite() => {
            out.extend_from_slice(ryu::Buffer::new().format_finite(*x).as_bytes())
        }
        Value::Double(x) if x.is_finite() => {
            out.extend_from_slice(ryu::Buffer::new().format_finite(*x).as_bytes())
        }
        Value::Float(_) | Value::Double(_) => out.extend_from_slice(b"null"),
        Value::String(s) => write_json_string(out, s),
    }
}

/// Appends a JSON string literal with the escapes JSON requires.
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(format!("\\u{:04x}", b).as_bytes());
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventflux_planner::plan::Attribute;

    fn schema() -> Schema {
        Schema {
            attributes: vec![
                Attribute {
                    name: "symbol".into(),
                    ty: Type::String,
                },
                Attribute {
                    name: "price".into(),
                    ty: Type::Double,
                },
                Attribute {
                    name: "volume".into(),
                    ty: Type::Int,
                },
                Attribute {
                    name: "ts".into(),
                    ty: Type::Timestamp,
                },
            ],
        }
    }

    #[test]
    fn decodes_in_schema_order_with_nulls_for_missing() {
        let d = RowDecoder::new("Trades", &schema());
        let mut out = Vec::new();
        d.decode(r#"{"volume": 10, "symbol": "IBM", "price": 101}"#, &mut out)
            .unwrap();
        assert_eq!(
            out,
            vec![
                Value::string("IBM"),
                Value::Double(101.0),
                Value::Int(10),
                Value::Null
            ]
        );
        d.decode(r#"{"ts": "1970-01-01T00:00:02Z"}"#, &mut out)
            .unwrap();
        assert_eq!(out[3], Value::Long(2000));
    }

    #[test]
    fn reports_unknown_keys_and_wrong_types() {
        let d = RowDecoder::new("Trades", &schema());
        let mut out = Vec::new();
        let e = d.decode(r#"{"prcie": 1.0}"#, &mut out).unwrap_err();
        assert_eq!(
            e,
            "stream 'Trades' has no attribute 'prcie' (did you mean 'price'?)"
        );
        let e = d.decode(r#"{"price": "high"}"#, &mut out).unwrap_err();
        assert_eq!(
            e,
            "attribute 'price' expects a DOUBLE (JSON number), found a string"
        );
        let e = d.decode(r#"{"volume": 1.5}"#, &mut out).unwrap_err();
        assert!(
            e.contains("expects an INT") || e.contains("expects a"),
            "{e}"
        );
        assert!(d
            .decode(r#"{"volume": 99999999999}"#, &mut out)
            .unwrap_err()
            .contains("out of range"));
        assert!(d.decode(r#"{"symbol": "a"} x"#, &mut out).is_err());
        assert!(d.decode("[1]", &mut out).is_err());
    }

    #[test]
    fn encodes_values_and_escapes() {
        let e = RowEncoder::new(&schema());
        let mut out = Vec::new();
        e.encode(
            &[
                Value::string("a\"b\n"),
                Value::Double(1015.0),
                Value::Null,
                Value::Long(5),
            ],
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"symbol": "a\"b\n", "price": 1015.0, "volume": null, "ts": 5}"#
        );
        let mut out = Vec::new();
        write_json_value(&mut out, &Value::Double(f64::NAN));
        assert_eq!(out, b"null");
    }
}
