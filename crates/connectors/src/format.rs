//! Message formats of sources and sinks (§3.2): `json` (default; `json.mapping.<attr>` JSONPath
//! per attribute; a message holds one object or an array of objects), `csv` (`csv.delimiter`,
//! `csv.header`), `text` (the whole payload into the stream's single STRING attribute; sinks
//! `text.template` with `{{attr}}` placeholders) and `bytes` (the payload as it is into the single
//! STRING attribute, and back).

use crate::json::{write_json_string, RowDecoder, RowEncoder};
use eventflux_planner::plan::Schema;
use eventflux_planner::types::Type;
use eventflux_runtime::compile::parse_rfc3339_millis;
use eventflux_runtime::{Batch, EventKind, Value};
use serde::de::DeserializeSeed;
use std::collections::BTreeMap;

/// A step of a JSONPath: `.name` or `[index]`.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
}

/// The subset of JSONPath a mapping uses: `$.a.b[0].c` (also `$['a']`).
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    text: String,
    steps: Vec<Step>,
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let bad = |why: &str| format!("bad JSONPath '{text}': {why}");
        let rest = text
            .trim()
            .strip_prefix('$')
            .ok_or_else(|| bad("it must start with '$'"))?;
        let mut steps = Vec::new();
        let mut chars = rest.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            match c {
                '.' => {
                    let mut name = String::new();
                    while let Some(&(_, c)) = chars.peek() {
                        if c == '.' || c == '[' {
                            break;
                        }
                        name.push(c);
                        chars.next();
                    }
                    if name.is_empty() {
                        return Err(bad("empty name after '.'"));
                    }
                    steps.push(Step::Field(name));
                }
                '[' => {
                    let mut inner = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == ']' {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return Err(bad("'[' without ']'"));
                    }
                    let inner = inner.trim();
                    if let Some(q) = inner
                        .strip_prefix('\'')
                        .and_then(|s| s.strip_suffix('\''))
                        .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
                    {
                        steps.push(Step::Field(q.to_string()));
                    } else {
                        let i = inner
                            .parse()
                            .map_err(|_| bad("an index must be a number or a quoted name"))?;
                        steps.push(Step::Index(i));
                    }
                }
                _ => return Err(bad("expected '.' or '['")),
            }
        }
        Ok(JsonPath {
            text: text.to_string(),
            steps,
        })
    }

    fn find<'a>(&self, mut v: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        for s in &self.steps {
            v = match s {
                Step::Field(f) => v.get(f)?,
                Step::Index(i) => v.get(*i)?,
            };
        }
        Some(v)
    }
}

/// A format as configured for one stream.
#[derive(Debug, Clone)]
pub enum Format {
    Json { mapping: Option<Vec<JsonPath>> },
    Csv { delimiter: u8, header: bool },
    Text { template: Option<Vec<TemplatePart>> },
    Bytes,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    Literal(String),
    Attr(usize),
}

impl Format {
    /// The format named by `format` with its keys (`json.mapping.*`, `csv.*`, `text.template`)
    /// from a stream's options, checked against its schema.
    pub fn new(
        format: &str,
        options: &BTreeMap<String, String>,
        schema: &Schema,
    ) -> Result<Format, String> {
        let single_string = || match schema.attributes.as_slice() {
            [a] if a.ty == Type::String => Ok(()),
            _ => Err(format!(
                "format '{format}' needs a stream with a single STRING attribute, found {schema}"
            )),
        };
        match format {
            "json" => {
                let mut mapping: Option<Vec<JsonPath>> = None;
                for (k, v) in options {
                    let Some(attr) = k.strip_prefix("json.mapping.") else {
                        continue;
                    };
                    let i = schema.index_of(attr).ok_or_else(|| {
                        format!("'{k}' names no attribute of the stream {schema}")
                    })?;
                    let m = mapping.get_or_insert_with(|| {
                        schema
                            .attributes
                            .iter()
                            .map(|a| JsonPath {
                                text: format!("$.{}", a.name),
                                steps: vec![Step::Field(a.name.clone())],
                            })
                            .collect()
                    });
                    m[i] = JsonPath::parse(v)?;
                }
                Ok(Format::Json { mapping })
            }
            "csv" => {
                let delimiter = match options.get("csv.delimiter").map(String::as_str) {
                    None => b',',
                    Some("\\t") | Some("tab") => b'\t',
                    Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
                    Some(d) => {
                        return Err(format!(
                            "'csv.delimiter' must be one ASCII character, found '{d}'"
                        ))
                    }
                };
                let header = match options.get("csv.header").map(|s| s.to_ascii_lowercase()) {
                    None => false,
                    Some(s) if s == "true" => true,
                    Some(s) if s == "false" => false,
                    Some(s) => {
                        return Err(format!(
                            "'csv.header' must be 'true' or 'false', found '{s}'"
                        ))
                    }
                };
                Ok(Format::Csv { delimiter, header })
            }
            "text" => {
                let template = match options.get("text.template") {
                    Some(t) => Some(parse_template(t, schema)?),
                    None => {
                        single_string()?;
                        None
                    }
                };
                Ok(Format::Text { template })
            }
            "bytes" => {
                single_string()?;
                Ok(Format::Bytes)
            }
            other => Err(format!("not supported yet: the '{other}' format")),
        }
    }
}

fn parse_template(t: &str, schema: &Schema) -> Result<Vec<TemplatePart>, String> {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(TemplatePart::Literal(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("'text.template': '{{{{' without '}}}}' in '{t}'"))?;
        let name = after[..end].trim();
        let i = schema.index_of(name).ok_or_else(|| {
            format!("'text.template' names '{name}', which is not an attribute of {schema}")
        })?;
        parts.push(TemplatePart::Attr(i));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Literal(rest.to_string()));
    }
    Ok(parts)
}

/// Turns messages into rows of one stream.
#[derive(Debug, Clone)]
pub struct Decoder {
    format: Format,
    json: RowDecoder,
    types: Vec<Type>,
    names: Vec<String>,
    row: Vec<Value>,
}

impl Decoder {
    pub fn new(stream: &str, schema: &Schema, format: Format) -> Decoder {
        Decoder {
            format,
            json: RowDecoder::new(stream, schema),
            types: schema.attributes.iter().map(|a| a.ty).collect(),
            names: schema.attributes.iter().map(|a| a.name.clone()).collect(),
            row: Vec::new(),
        }
    }

    pub fn format(&self) -> &Format {
        &self.format
    }

    pub fn arity(&self) -> usize {
        self.types.len()
    }

    /// Decodes one message, appending its rows to `out` (timestamps 0: the engine stamps them).
    /// A message that cannot be decoded adds no row and gives the reason.
    pub fn decode(&mut self, payload: &[u8], out: &mut Batch) -> Result<(), String> {
        match &self.format {
            Format::Bytes => {
                let s = std::str::from_utf8(payload)
                    .map_err(|_| "the payload is not valid UTF-8".to_string())?;
                out.push_iter(0, EventKind::Current, [Value::string(s)]);
                Ok(())
            }
            Format::Text { .. } => {
                let s = std::str::from_utf8(payload)
                    .map_err(|_| "the payload is not valid UTF-8".to_string())?;
                out.push_iter(
                    0,
                    EventKind::Current,
                    [Value::string(s.trim_end_matches(['\n', '\r']))],
                );
                Ok(())
            }
            Format::Csv { delimiter, .. } => {
                let text = std::str::from_utf8(payload)
                    .map_err(|_| "the payload is not valid UTF-8".to_string())?;
                let before = out.len();
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    match self.csv_row(line, *delimiter) {
                        Ok(mut r) => out.push_vec(0, EventKind::Current, &mut r),
                        Err(e) => {
                            out.truncate(before);
                            return Err(e);
                        }
                    }
                }
                Ok(())
            }
            Format::Json { mapping } => {
                let text = std::str::from_utf8(payload)
                    .map_err(|_| "the payload is not valid UTF-8".to_string())?;
                let trimmed = text.trim_start();
                if mapping.is_none() && trimmed.starts_with('{') {
                    self.json.decode(text, &mut self.row)?;
                    out.push_vec(0, EventKind::Current, &mut self.row);
                    return Ok(());
                }
                let doc: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| format!("malformed JSON: {}", crate::json::clean_error(&e)))?;
                let items: Vec<&serde_json::Value> = match &doc {
                    serde_json::Value::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                let before = out.len();
                for item in items {
                    let row = match mapping {
                        Some(paths) => self.mapped_row(item, paths),
                        None => {
                            let mut row = Vec::new();
                            self.json
                                .seed(&mut row)
                                .deserialize(item)
                                .map(|()| row)
                                .map_err(|e| crate::json::clean_error(&e))
                        }
                    };
                    match row {
                        Ok(mut r) => out.push_vec(0, EventKind::Current, &mut r),
                        Err(e) => {
                            out.truncate(before);
                            return Err(e);
                        }
                    }
                }
                Ok(())
            }
        }
    }

    fn mapped_row(
        &self,
        item: &serde_json::Value,
        paths: &[JsonPath],
    ) -> Result<Vec<Value>, String> {
        paths
            .iter()
            .zip(&self.types)
            .zip(&self.names)
            .map(|((p, &ty), name)| match p.find(item) {
                None | Some(serde_json::Value::Null) => Ok(Value::Null),
                Some(v) => json_to_value(v, ty)
                    .map_err(|e| format!("attribute '{name}' (from {}): {e}", p.text)),
            })
            .collect()
    }

    fn csv_row(&self, line: &str, delimiter: u8) -> Result<Vec<Value>, String> {
        let fields = split_csv(line, delimiter as char)?;
        if fields.len() != self.types.len() {
            return Err(format!(
                "expected {} CSV fields ({}), found {}",
                self.types.len(),
                self.names.join(", "),
                fields.len()
            ));
        }
        fields
            .iter()
            .zip(&self.types)
            .zip(&self.names)
            .map(|((f, &ty), name)| {
                text_to_value(f, ty).map_err(|e| format!("attribute '{name}': {e}"))
            })
            .collect()
    }
}

/// A JSON value as an attribute of type `ty`.
fn json_to_value(v: &serde_json::Value, ty: Type) -> Result<Value, String> {
    use serde_json::Value as J;
    Ok(match (v, ty) {
        (J::Bool(b), Type::Bool) => Value::Bool(*b),
        (J::Number(n), Type::Int) => n
            .as_i64()
            .and_then(|x| i32::try_from(x).ok())
            .map(Value::Int)
            .ok_or_else(|| format!("{n} is not an INT"))?,
        (J::Number(n), Type::Long | Type::Timestamp) => n
            .as_i64()
            .map(Value::Long)
            .ok_or_else(|| format!("{n} is not a LONG"))?,
        (J::Number(n), Type::Float) => Value::Float(n.as_f64().unwrap_or(f64::NAN) as f32),
        (J::Number(n), Type::Double) => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        (J::String(s), Type::String) => Value::string(s),
        (J::String(s), Type::Timestamp) => parse_rfc3339_millis(s)
            .map(Value::Long)
            .ok_or_else(|| format!("'{s}' is not an RFC 3339 time"))?,
        (other, Type::String) => Value::string(&other.to_string()),
        (other, ty) => return Err(format!("expects {ty}, found {other}")),
    })
}

/// A CSV field as an attribute of type `ty` (an empty field is NULL).
fn text_to_value(s: &str, ty: Type) -> Result<Value, String> {
    if s.is_empty() {
        return Ok(Value::Null);
    }
    let t = s.trim();
    let bad = || format!("'{s}' is not {ty}");
    Ok(match ty {
        Type::Int => Value::Int(t.parse().map_err(|_| bad())?),
        Type::Long => Value::Long(t.parse().map_err(|_| bad())?),
        Type::Timestamp => match t.parse() {
            Ok(ms) => Value::Long(ms),
            Err(_) => Value::Long(parse_rfc3339_millis(t).ok_or_else(bad)?),
        },
        Type::Float => Value::Float(t.parse().map_err(|_| bad())?),
        Type::Double => Value::Double(t.parse().map_err(|_| bad())?),
        Type::Bool => match t.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad()),
        },
        Type::String | Type::Object | Type::Null => Value::string(s),
    })
}

/// Splits one CSV record: fields may be quoted with `"` (a doubled `""` inside is a quote).
fn split_csv(line: &str, delimiter: char) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.trim_end_matches(['\r', '\n']).chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' && field.is_empty() && !was_quoted {
            quoted = true;
            was_quoted = true;
        } else if c == delimiter {
            fields.push(std::mem::take(&mut field));
            was_quoted = false;
        } else {
            field.push(c);
        }
    }
    if quoted {
        return Err("unterminated quoted CSV field".into());
    }
    fields.push(field);
    Ok(fields)
}

/// Turns rows of one stream into messages.
#[derive(Debug, Clone)]
pub struct Encoder {
    format: Format,
    json: RowEncoder,
    names: Vec<String>,
}

impl Encoder {
    pub fn new(schema: &Schema, format: Format) -> Encoder {
        Encoder {
            format,
            json: RowEncoder::new(schema),
            names: schema.attributes.iter().map(|a| a.name.clone()).collect(),
        }
    }

    pub fn format(&self) -> &Format {
        &self.format
    }

    /// The CSV header line (with `csv.header = 'true'`), without a newline.
    pub fn header(&self) -> Option<Vec<u8>> {
        match self.format {
            Format::Csv {
                header: true,
                delimiter,
            } => {
                let mut out = Vec::new();
                for (i, n) in self.names.iter().enumerate() {
                    if i > 0 {
                        out.push(delimiter);
                    }
                    csv_field(&mut out, n, delimiter);
                }
                Some(out)
            }
            _ => None,
        }
    }

    /// Appends the message of one row to `out` (no trailing newline).
    pub fn encode(&self, row: &[Value], out: &mut Vec<u8>) {
        match &self.format {
            Format::Json { .. } => self.json.encode(row, out),
            Format::Csv { delimiter, .. } => {
                for (i, v) in row.iter().enumerate() {
                    if i > 0 {
                        out.push(*delimiter);
                    }
                    match v {
                        Value::Null => {}
                        Value::String(s) => csv_field(out, s, *delimiter),
                        other => out.extend_from_slice(other.to_string().as_bytes()),
                    }
                }
            }
            Format::Text {
                template: Some(parts),
            } => {
                for p in parts {
                    match p {
                        TemplatePart::Literal(l) => out.extend_from_slice(l.as_bytes()),
                        TemplatePart::Attr(i) => match &row[*i] {
                            Value::Null => out.extend_from_slice(b"null"),
                            Value::String(s) => out.extend_from_slice(s.as_bytes()),
                            other => out.extend_from_slice(other.to_string().as_bytes()),
                        },
                    }
                }
            }
            Format::Text { template: None } | Format::Bytes => match row.first() {
                Some(Value::String(s)) => out.extend_from_slice(s.as_bytes()),
                Some(Value::Null) | None => {}
                Some(other) => out.extend_from_slice(other.to_string().as_bytes()),
            },
        }
    }
}

fn csv_field(out: &mut Vec<u8>, s: &str, delimiter: u8) {
    if s.bytes()
        .any(|b| b == delimiter || b == b'"' || b == b'\n' || b == b'\r')
    {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// `{"stream": …, "error": …}`-free helper: a JSON string literal (for log lines).
pub fn json_string(s: &str) -> String {
    let mut out = Vec::new();
    write_json_string(&mut out, s);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventflux_planner::plan::Attribute;

    fn schema(attrs: &[(&str, Type)]) -> Schema {
        Schema {
            attributes: attrs
                .iter()
                .map(|(n, t)| Attribute {
                    name: n.to_string(),
                    ty: *t,
                })
                .collect(),
        }
    }

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn orders() -> Schema {
        schema(&[
            ("id", Type::String),
            ("total", Type::Double),
            ("n", Type::Int),
        ])
    }

    fn decode(
        fmt: &str,
        o: &[(&str, &str)],
        s: &Schema,
        payload: &str,
    ) -> Result<Vec<Vec<Value>>, String> {
        let f = Format::new(fmt, &opts(o), s)?;
        let mut d = Decoder::new("S", s, f);
        let mut out = Batch::new(d.arity());
        d.decode(payload.as_bytes(), &mut out)?;
        Ok(out.rows().map(|r| r.values.to_vec()).collect())
    }

    #[test]
    fn json_objects_arrays_and_mappings() {
        let s = orders();
        let one = decode("json", &[], &s, r#"{"id": "a", "total": 2.5, "n": 1}"#).unwrap();
        assert_eq!(
            one,
            vec![vec![Value::from("a"), Value::Double(2.5), Value::Int(1)]]
        );
        let many = decode("json", &[], &s, r#"[{"id": "a"}, {"id": "b", "n": 2}]"#).unwrap();
        assert_eq!(many.len(), 2);
        assert_eq!(many[1], vec![Value::from("b"), Value::Null, Value::Int(2)]);
        let mapped = decode(
            "json",
            &[
                ("json.mapping.total", "$.order.total"),
                ("json.mapping.n", "$.items[1]"),
            ],
            &s,
            r#"{"id": "x", "order": {"total": 9}, "items": [5, 6]}"#,
        )
        .unwrap();
        assert_eq!(
            mapped,
            vec![vec![Value::from("x"), Value::Double(9.0), Value::Int(6)]]
        );
        assert!(decode("json", &[], &s, r#"{"id": 5}"#).is_err());
        assert!(decode("json", &[], &s, "{oops").is_err());
        assert!(decode("json", &[], &s, "[oops")
            .unwrap_err()
            .contains("malformed JSON"));
        assert!(decode("json", &[], &s, r#"[{"id": "a"}, {"nope": 1}]"#).is_err());
        assert!(Format::new("json", &opts(&[("json.mapping.zz", "$.a")]), &s).is_err());
        assert!(JsonPath::parse("order.total").is_err());
        assert_eq!(JsonPath::parse("$['a'][0].b").unwrap().steps.len(), 3);
    }

    #[test]
    fn csv_fields_quotes_and_errors() {
        let s = orders();
        let rows = decode("csv", &[], &s, "a,1.5,2\n\"b,c\",,3\n").unwrap();
        assert_eq!(
            rows[1],
            vec![Value::from("b,c"), Value::Null, Value::Int(3)]
        );
        let tabs = decode("csv", &[("csv.delimiter", "\\t")], &s, "a\t1\t2").unwrap();
        assert_eq!(tabs[0][1], Value::Double(1.0));
        assert!(decode("csv", &[], &s, "a,x,2")
            .unwrap_err()
            .contains("'total'"));
        assert!(decode("csv", &[], &s, "a,1")
            .unwrap_err()
            .contains("expected 3 CSV fields"));
        let enc = Encoder::new(
            &s,
            Format::new("csv", &opts(&[("csv.header", "true")]), &s).unwrap(),
        );
        assert_eq!(enc.header().unwrap(), b"id,total,n");
        let mut out = Vec::new();
        enc.encode(
            &[Value::from("q\"x,y"), Value::Double(1.5), Value::Null],
            &mut out,
        );
        assert_eq!(String::from_utf8(out).unwrap(), "\"q\"\"x,y\",1.5,");
    }

    #[test]
    fn text_bytes_and_templates() {
        let line = schema(&[("line", Type::String)]);
        assert_eq!(
            decode("text", &[], &line, "hello\n").unwrap(),
            vec![vec![Value::from("hello")]]
        );
        assert!(Format::new("text", &opts(&[]), &orders()).is_err());
        let enc = Encoder::new(
            &orders(),
            Format::new(
                "text",
                &opts(&[("text.template", "order {{id}}: {{ total }} x{{n}}")]),
                &orders(),
            )
            .unwrap(),
        );
        let mut out = Vec::new();
        enc.encode(
            &[Value::from("a"), Value::Double(2.5), Value::Null],
            &mut out,
        );
        assert_eq!(String::from_utf8(out).unwrap(), "order a: 2.5 xnull");
        assert!(Format::new("text", &opts(&[("text.template", "{{nope}}")]), &orders()).is_err());
        assert!(decode("bytes", &[], &line, "\u{1}raw").is_ok());
        let f = Format::new("bytes", &opts(&[]), &line).unwrap();
        let mut d = Decoder::new("S", &line, f);
        assert!(d.decode(&[0xff, 0xfe], &mut Batch::new(1)).is_err());
    }
}
