//! `http` source — an HTTP server (`http.listen`, default '127.0.0.1:8080'; `http.path`,
//! default '/<Stream>') taking POSTs of one JSON object, a JSON array or NDJSON (one message per
//! line), and other formats one message per line. It answers 202 once the events are queued
//! for the engine, 400 with the reason of each message that cannot be decoded (the others are
//! accepted), 503 with `Retry-After` while the engine's queue is full, 404 / 405 otherwise.
//!
//! `webhook` sink — `webhook.url`, `webhook.method` (POST | PUT), `webhook.headers.<Name>`,
//! `webhook.batch` (events per request, default 1; JSON batches are sent as an array). A 5xx
//! answer or a connection error is retried with backoff; a 4xx answer is reported and the
//! request's events are counted as errors.

use super::{with_retries, Counters, Options, Sink, Source, SourceCtx};
use crate::format::Format;
use bytes::Bytes;
use std::io::Read;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Largest request body accepted.
const MAX_BODY: u64 = 16 << 20;

pub struct HttpSource {
    listen: String,
    path: String,
}

impl HttpSource {
    pub fn new(o: &Options<'_>) -> Result<HttpSource, String> {
        Ok(HttpSource {
            listen: o.get("http.listen").unwrap_or("127.0.0.1:8080").to_string(),
            path: o
                .get("http.path")
                .map_or_else(|| format!("/{}", o.stream), str::to_string),
        })
    }
}

/// Splits a request body into messages: JSON bodies that are one object or one array are one
/// message; NDJSON and other formats are a message per non-empty line.
fn messages(body: &[u8], json: bool) -> Vec<&[u8]> {
    let text = String::from_utf8_lossy(body);
    let t = text.trim();
    let one_document = json
        && ((t.starts_with('[') && t.ends_with(']'))
            || (t.starts_with('{') && t.ends_with('}') && !t.contains("}\n")));
    if one_document {
        return vec![body];
    }
    body.split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .collect()
}

fn respond(req: tiny_http::Request, code: u16, body: String, retry: bool) {
    let mut r = tiny_http::Response::from_string(body).with_status_code(code);
    if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", "application/json") {
        r.add_header(h);
    }
    if retry {
        if let Ok(h) = tiny_http::Header::from_bytes("Retry-After", "1") {
            r.add_header(h);
        }
    }
    let _ = req.respond(r);
}

impl Source for HttpSource {
    fn run(self: Box<Self>, mut ctx: SourceCtx) -> Result<(), String> {
        let server = tiny_http::Server::http(&self.listen).map_err(|e| {
            format!(
                "stream '{}': cannot listen on {}: {e}",
                ctx.name, self.listen
            )
        })?;
        let json = matches!(ctx.decoder.format(), Format::Json { .. });
        while !ctx.stopped() {
            let mut req = match server.recv_timeout(Duration::from_millis(100)) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(_) => continue,
            };
            let url = req.url().split('?').next().unwrap_or("").to_string();
            if url != self.path {
                respond(
                    req,
                    404,
                    format!(
                        "{{\"error\": \"no stream at {url}; POST to {}\"}}",
                        self.path
                    ),
                    false,
                );
                continue;
            }
            if *req.method() != tiny_http::Method::Post {
                respond(req, 405, "{\"error\": \"use POST\"}".into(), false);
                continue;
            }
            let mut body = Vec::new();
            if req
                .as_reader()
                .take(MAX_BODY + 1)
                .read_to_end(&mut body)
                .is_err()
            {
                respond(
                    req,
                    400,
                    "{\"error\": \"cannot read the body\"}".into(),
                    false,
                );
                continue;
            }
            if body.len() as u64 > MAX_BODY {
                respond(
                    req,
                    413,
                    format!("{{\"error\": \"the body is larger than {MAX_BODY} bytes\"}}"),
                    false,
                );
                continue;
            }
            let msgs = messages(&body, json);
            let d = ctx.decode(&msgs, false);
            let (accepted, failed) = (d.rows.len(), d.failed.clone());
            match ctx.try_send(d) {
                Ok(()) if failed.is_empty() => {
                    respond(req, 202, format!("{{\"accepted\": {accepted}}}"), false)
                }
                Ok(()) => {
                    let reasons: Vec<String> = failed
                        .iter()
                        .map(|(_, why)| crate::format::json_string(why))
                        .collect();
                    respond(
                        req,
                        400,
                        format!(
                            "{{\"accepted\": {accepted}, \"rejected\": {}, \"errors\": [{}]}}",
                            failed.len(),
                            reasons.join(", ")
                        ),
                        false,
                    )
                }
                Err(false) => respond(
                    req,
                    503,
                    "{\"error\": \"the engine is saturated; retry later\"}".into(),
                    true,
                ),
                Err(true) => return Ok(()),
            }
        }
        Ok(())
    }
}

pub struct WebhookSink {
    agent: ureq::Agent,
    url: String,
    put: bool,
    headers: Vec<(String, String)>,
    batch: usize,
    json: bool,
}

impl WebhookSink {
    pub fn new(o: &Options<'_>, format: &Format) -> Result<WebhookSink, String> {
        let put = match o
            .get("webhook.method")
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("POST") => false,
            Some("PUT") => true,
            Some(m) => {
                return Err(format!(
                    "stream '{}': 'webhook.method' must be POST or PUT, found '{m}'",
                    o.stream
                ))
            }
        };
        let batch = match o.get("webhook.batch") {
            None => 1,
            Some(b) => b.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                format!(
                    "stream '{}': 'webhook.batch' must be a positive number, found '{b}'",
                    o.stream
                )
            })?,
        };
        let headers = o
            .plan
            .options
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("webhook.headers.")
                    .map(|h| (h.to_string(), v.clone()))
            })
            .collect();
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build();
        Ok(WebhookSink {
            agent: ureq::Agent::new_with_config(config),
            url: o.required("webhook.url")?.to_string(),
            put,
            headers,
            batch,
            json: matches!(format, Format::Json { .. }),
        })
    }

    /// One request; `Ok(true)` sent, `Ok(false)` refused for good (4xx), `Err` retry.
    fn request(&self, body: &[u8]) -> Result<bool, String> {
        let mut req = if self.put {
            self.agent.put(&self.url)
        } else {
            self.agent.post(&self.url)
        };
        req = req.header(
            "Content-Type",
            if self.json {
                "application/json"
            } else {
                "text/plain"
            },
        );
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        match req.send(body) {
            Ok(r) if r.status().is_success() => Ok(true),
            Ok(r) if r.status().is_server_error() => {
                Err(format!("{} answered {}", self.url, r.status()))
            }
            Ok(r) => {
                eprintln!(
                    "error: webhook {} answered {}; events dropped",
                    self.url,
                    r.status()
                );
                Ok(false)
            }
            Err(e) => Err(format!("{}: {e}", self.url)),
        }
    }
}

impl Sink for WebhookSink {
    fn send(
        &mut self,
        messages: &[Bytes],
        stop: &AtomicBool,
        counters: &Counters,
    ) -> Result<(), String> {
        for chunk in messages.chunks(self.batch) {
            let body: Vec<u8> = if chunk.len() == 1 {
                chunk[0].to_vec()
            } else if self.json {
                let mut b = vec![b'['];
                for (i, m) in chunk.iter().enumerate() {
                    if i > 0 {
                        b.push(b',');
                    }
                    b.extend_from_slice(m);
                }
                b.push(b']');
                b
            } else {
                let mut b = Vec::new();
                for (i, m) in chunk.iter().enumerate() {
                    if i > 0 {
                        b.push(b'\n');
                    }
                    b.extend_from_slice(m);
                }
                b
            };
            let mut refused = false;
            with_retries("webhook sink", stop, counters, || {
                refused = !self.request(&body)?;
                Ok(())
            })?;
            if refused {
                return Err(format!("{} events refused by {}", chunk.len(), self.url));
            }
        }
        Ok(())
    }
}
