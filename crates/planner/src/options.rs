//! `WITH (…)` options: `${ENV}` substitution and validation of keys (§3.2).

use crate::plan::{ConnectorPlan, StreamIo};
use eventflux_sql::ast::WithOption;
use eventflux_sql::{did_you_mean, suggestion_suffix, Diagnostic};
use std::collections::BTreeMap;

/// Connectors the language knows (§3.2 and the connectors issue).
pub const CONNECTORS: &[&str] = &[
    "file",
    "http",
    "webhook",
    "websocket",
    "nats",
    "mqtt",
    "rabbitmq",
    "kafka",
    "redis",
    "log",
];

pub const FORMATS: &[&str] = &["json", "csv", "text", "bytes", "avro"];

/// Keys every stream may carry, besides connector-prefixed ones.
const STREAM_KEYS: &[&str] = &[
    "type",
    "extension",
    "connector",
    "format",
    "late.stream",
    "watermark.idle",
    "error.strategy",
    "error.stream",
];

/// The keys of one direction of a connector: required and optional ones (`*` at the end of an
/// optional key accepts any suffix).
type Keys = (&'static [&'static str], &'static [&'static str]);

/// A connector's keys per direction, and whether it runs yet.
struct ConnectorKeys {
    name: &'static str,
    source: Option<Keys>,
    sink: Option<Keys>,
    ready: bool,
}

const RABBITMQ_COMMON: [&str; 4] = [
    "rabbitmq.port",
    "rabbitmq.vhost",
    "rabbitmq.username",
    "rabbitmq.password",
];

const CONNECTOR_KEYS: &[ConnectorKeys] = &[
    ConnectorKeys {
        name: "file",
        source: Some((&["file.path"], &["file.tail", "file.start"])),
        sink: Some((&["file.path"], &["file.append"])),
        ready: true,
    },
    ConnectorKeys {
        name: "log",
        source: None,
        sink: Some((&[], &["log.prefix"])),
        ready: true,
    },
    ConnectorKeys {
        name: "nats",
        source: Some((
            &["nats.url", "nats.subject"],
            &[
                "nats.queue",
                "nats.jetstream",
                "nats.stream",
                "nats.durable",
            ],
        )),
        sink: Some((
            &["nats.url", "nats.subject"],
            &["nats.jetstream", "nats.stream"],
        )),
        ready: true,
    },
    ConnectorKeys {
        name: "http",
        source: Some((&[], &["http.listen", "http.path"])),
        sink: None,
        ready: true,
    },
    ConnectorKeys {
        name: "webhook",
        source: None,
        sink: Some((
            &["webhook.url"],
            &["webhook.method", "webhook.batch", "webhook.headers.*"],
        )),
        ready: true,
    },
    ConnectorKeys {
        name: "websocket",
        source: Some((&["websocket.url"], &["websocket.reconnect"])),
        sink: Some((&["websocket.url"], &["websocket.reconnect"])),
        ready: true,
    },
    ConnectorKeys {
        name: "mqtt",
        source: Some((&["mqtt.url", "mqtt.topic"], &["mqtt.qos", "mqtt.client_id"])),
        sink: Some((
            &["mqtt.url", "mqtt.topic"],
            &["mqtt.qos", "mqtt.client_id", "mqtt.retain"],
        )),
        ready: true,
    },
    ConnectorKeys {
        name: "rabbitmq",
        source: Some((
            &["rabbitmq.host", "rabbitmq.queue"],
            &[
                RABBITMQ_COMMON[0],
                RABBITMQ_COMMON[1],
                RABBITMQ_COMMON[2],
                RABBITMQ_COMMON[3],
                "rabbitmq.prefetch",
                "rabbitmq.declare.queue",
            ],
        )),
        sink: Some((
            &["rabbitmq.host", "rabbitmq.exchange"],
            &[
                RABBITMQ_COMMON[0],
                RABBITMQ_COMMON[1],
                RABBITMQ_COMMON[2],
                RABBITMQ_COMMON[3],
                "rabbitmq.routing.key",
                "rabbitmq.exchange.type",
                "rabbitmq.declare.exchange",
                "rabbitmq.persistent",
            ],
        )),
        ready: true,
    },
    ConnectorKeys {
        name: "kafka",
        source: Some((&["kafka.bootstrap.servers", "kafka.topic"], &["kafka.*"])),
        sink: Some((&["kafka.bootstrap.servers", "kafka.topic"], &["kafka.*"])),
        ready: true,
    },
    ConnectorKeys {
        name: "redis",
        source: Some((
            &[],
            &[
                "redis.url",
                "redis.channel",
                "redis.stream",
                "redis.group",
                "redis.consumer",
            ],
        )),
        sink: Some((&[], &["redis.url", "redis.channel", "redis.stream"])),
        ready: true,
    },
];

/// Client settings a connector manages itself (key, connector kind, why): setting them would
/// break the delivery guarantee.
const MANAGED_KEYS: &[(&str, &str, &str)] = &[
    (
        "kafka.enable.auto.commit",
        "source",
        "offsets are committed only after the outputs are confirmed (at-least-once)",
    ),
    (
        "kafka.enable.auto.offset.store",
        "source",
        "offsets are stored only after the outputs are confirmed (at-least-once)",
    ),
];

/// Format keys a stream may carry (`json.mapping.<attr>` on json sources, `csv.*` with csv,
/// `text.template` on text sinks).
fn format_key_ok(key: &str, format: &str, kind: &str) -> Option<bool> {
    let ok = if key.starts_with("json.mapping.") {
        format == "json" && kind == "source"
    } else if key == "csv.delimiter" || key == "csv.header" {
        format == "csv"
    } else if key == "text.template" {
        format == "text" && kind == "sink"
    } else {
        return None;
    };
    Some(ok)
}

/// Replaces `${NAME}` and `${NAME:default}` with environment values.
pub fn substitute_env(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unterminated '${{' in option value '{value}'"));
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(':') {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match (std::env::var(name), default) {
            (Ok(v), _) => out.push_str(&v),
            (Err(_), Some(d)) => out.push_str(d),
            (Err(_), None) => {
                return Err(format!(
                    "environment variable '{name}' is not set (write '${{{name}:default}}' to give a default)"
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The options of a stream, validated, with values substituted.
pub struct StreamOptions {
    pub io: StreamIo,
    pub values: BTreeMap<String, String>,
}

/// Validates a stream's WITH options. Connector streams are reported as not supported yet
/// until their connector exists; every other problem is an error naming the key.
pub fn stream_options(
    opts: &[WithOption],
    event_time: bool,
    diags: &mut Vec<Diagnostic>,
) -> Option<StreamOptions> {
    let before = diags.len();
    let mut values = BTreeMap::new();
    let mut spans = BTreeMap::new();
    for o in opts {
        let key = o.key.to_ascii_lowercase();
        if spans.contains_key(&key) {
            diags.push(Diagnostic::error(
                o.key_span,
                format!("option '{}' is given twice", o.key),
            ));
            continue;
        }
        match substitute_env(&o.value.as_text()) {
            Ok(v) => {
                values.insert(key.clone(), v);
            }
            Err(e) => diags.push(Diagnostic::error(o.value_span, e)),
        }
        spans.insert(key, (o.key_span, o.value_span));
    }
    let get = |k: &str| values.get(k).map(String::as_str);
    let kind = get("type").unwrap_or("internal").to_ascii_lowercase();
    let extension = get("extension").or_else(|| get("connector"));
    let value_span = |k: &str| spans.get(k).map(|s| s.1).unwrap_or_default();
    let key_span = |k: &str| spans.get(k).map(|s| s.0).unwrap_or_default();

    if !matches!(kind.as_str(), "internal" | "source" | "sink") {
        diags.push(Diagnostic::error(
            value_span("type"),
            format!("option 'type' must be 'source', 'sink' or 'internal', found '{kind}'"),
        ));
    }
    if let Some(ext) = extension {
        let ext_key = if values.contains_key("extension") {
            "extension"
        } else {
            "connector"
        };
        if kind == "internal" {
            diags.push(Diagnostic::error(
                key_span(ext_key),
                format!("a connector ('{ext}') needs type = 'source' or type = 'sink'"),
            ));
        } else if !CONNECTORS.contains(&ext.to_ascii_lowercase().as_str()) {
            diags.push(Diagnostic::error(
                value_span(ext_key),
                format!(
                    "unknown connector '{ext}'{}; known connectors: {}",
                    suggestion_suffix(ext, CONNECTORS.iter().copied()),
                    CONNECTORS.join(", ")
                ),
            ));
        }
    } else if kind != "internal" {
        diags.push(Diagnostic::error(
            value_span("type"),
            format!(
                "a {kind} stream needs an 'extension' option naming its connector ({})",
                CONNECTORS.join(", ")
            ),
        ));
    }
    let format = get("format").unwrap_or("json").to_ascii_lowercase();
    if !FORMATS.contains(&format.as_str()) {
        diags.push(Diagnostic::error(
            value_span("format"),
            format!(
                "unknown format '{format}'{}; known formats: json, csv, text, bytes",
                suggestion_suffix(&format, FORMATS.iter().copied())
            ),
        ));
    }
    let ext_lower = extension.map(str::to_ascii_lowercase);
    let spec = ext_lower
        .as_deref()
        .and_then(|e| CONNECTOR_KEYS.iter().find(|c| c.name == e));
    let keys = spec.and_then(|c| match kind.as_str() {
        "source" => c.source,
        "sink" => c.sink,
        _ => None,
    });
    if let (Some(c), None, "source" | "sink") = (spec, keys, kind.as_str()) {
        diags.push(Diagnostic::error(
            value_span("type"),
            format!("the '{}' connector has no {kind}", c.name),
        ));
    }
    if let Some((required, _)) = keys {
        for r in required {
            if !values.contains_key(*r) {
                let ext_key = if values.contains_key("extension") {
                    "extension"
                } else {
                    "connector"
                };
                diags.push(Diagnostic::error(
                    value_span(ext_key),
                    format!(
                        "the '{}' {kind} needs the option '{r}'",
                        spec.map_or("", |c| c.name)
                    ),
                ));
            }
        }
    }
    for key in values.keys() {
        if STREAM_KEYS.contains(&key.as_str()) {
            continue;
        }
        if let Some((_, _, why)) = MANAGED_KEYS
            .iter()
            .find(|(k, on, _)| k == key && *on == kind)
        {
            diags.push(Diagnostic::error(
                key_span(key),
                format!("option '{key}' is managed by EventFlux: {why}"),
            ));
            continue;
        }
        match format_key_ok(key, &format, &kind) {
            Some(true) => continue,
            Some(false) => {
                diags.push(Diagnostic::error(
                    key_span(key),
                    format!(
                        "option '{key}' does not apply to a {kind} stream with format '{format}'"
                    ),
                ));
                continue;
            }
            None => {}
        }
        if let Some((required, optional)) = keys {
            let known = required
                .iter()
                .chain(optional.iter())
                .any(|k| match k.strip_suffix('*') {
                    Some(prefix) => key.starts_with(prefix),
                    None => k == key,
                });
            if !known {
                let accepted: Vec<&str> = required.iter().chain(optional.iter()).copied().collect();
                diags.push(Diagnostic::error(
                    key_span(key),
                    format!(
                        "unknown option '{key}' for the '{}' {kind}{}; accepted keys: {}",
                        spec.map_or("", |c| c.name),
                        suggestion_suffix(key, accepted.iter().copied()),
                        accepted.join(", ")
                    ),
                ));
            }
            continue;
        }
        let prefixed = ext_lower
            .as_deref()
            .is_some_and(|e| key.starts_with(e) && key[e.len()..].starts_with('.'));
        if !prefixed {
            let hint = did_you_mean(key, STREAM_KEYS.iter().copied())
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            let prefix_note = match &ext_lower {
                Some(e) => format!(", or keys prefixed with '{e}.'"),
                None => String::new(),
            };
            diags.push(Diagnostic::error(
                key_span(key),
                format!(
                    "unknown option '{key}'{hint}; accepted keys: {}{prefix_note}",
                    STREAM_KEYS.join(", ")
                ),
            ));
        }
    }
    if !event_time {
        for k in ["late.stream", "watermark.idle"] {
            if values.contains_key(k) {
                diags.push(Diagnostic::error(
                    key_span(k),
                    format!(
                        "option '{k}' only applies to event-time streams (add a WATERMARK clause)"
                    ),
                ));
            }
        }
    }
    if let Some(strategy) = get("error.strategy") {
        if !matches!(
            strategy.to_ascii_lowercase().as_str(),
            "log" | "stream" | "fail"
        ) {
            diags.push(Diagnostic::error(
                value_span("error.strategy"),
                format!(
                    "option 'error.strategy' must be 'log', 'stream' or 'fail', found '{strategy}'"
                ),
            ));
        }
        if kind != "source" {
            diags.push(Diagnostic::error(
                key_span("error.strategy"),
                "option 'error.strategy' applies to source streams only",
            ));
        }
    }
    if values.contains_key("error.stream")
        && !get("error.strategy").is_some_and(|s| s.eq_ignore_ascii_case("stream"))
    {
        diags.push(Diagnostic::error(
            key_span("error.stream"),
            "option 'error.stream' needs 'error.strategy' = 'stream'",
        ));
    }
    if diags.len() > before {
        return None;
    }
    let io = match (kind.as_str(), extension) {
        (kind @ ("source" | "sink"), Some(ext)) => {
            let ext = ext.to_ascii_lowercase();
            let ready = spec.is_some_and(|c| c.ready);
            if !ready {
                diags.push(Diagnostic::error(
                    value_span(if values.contains_key("extension") {
                        "extension"
                    } else {
                        "connector"
                    }),
                    format!("not supported yet: the '{ext}' {kind} connector"),
                ));
            }
            let plan = ConnectorPlan {
                extension: ext,
                format,
                options: values.clone(),
            };
            if kind == "source" {
                StreamIo::Source(plan)
            } else {
                StreamIo::Sink(plan)
            }
        }
        _ => StreamIo::Internal,
    };
    Some(StreamOptions { io, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_substitution_with_defaults() {
        std::env::set_var("EVENTFLUX_TEST_HOST", "example");
        assert_eq!(
            substitute_env("nats://${EVENTFLUX_TEST_HOST}:4222").unwrap(),
            "nats://example:4222"
        );
        assert_eq!(
            substitute_env("${EVENTFLUX_TEST_UNSET_X:dflt}").unwrap(),
            "dflt"
        );
        assert!(substitute_env("${EVENTFLUX_TEST_UNSET_X}").is_err());
        assert!(substitute_env("${oops").is_err());
        assert_eq!(substitute_env("plain").unwrap(), "plain");
    }
}
