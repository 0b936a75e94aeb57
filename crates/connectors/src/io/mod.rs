//! Sources and sinks (§3.2). A source runs on its own thread: it reads messages from its
//! broker, decodes them with the stream's format and hands [`Delivery`]s to the engine over a
//! bounded channel (a slow engine blocks the source, which stops reading: backpressure). A
//! delivery carries an acknowledgement that the engine thread calls once the messages are
//! processed and every output they caused was confirmed by the sinks (at-least-once end to
//! end). A sink runs on its own thread too: it receives encoded messages over a bounded channel
//! and returns only when its broker confirmed them, retrying with backoff while it is down.

mod file;
mod http;
mod kafka;
mod log;
mod mqtt;
mod nats;
mod rabbitmq;
mod redis;
mod websocket;

use crate::format::{Decoder, Encoder, Format};
use eventflux_planner::plan::{AppPlan, ConnectorPlan, StreamId};
use eventflux_runtime::Batch;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::Duration;

/// An encoded output message (cheap to clone: sinks hand it to clients without copying).
pub use bytes::Bytes;

/// Acknowledges processed messages to their broker.
pub type Ack = Box<dyn FnOnce() + Send>;

/// What a source hands to the engine.
pub struct Delivery {
    pub stream: StreamId,
    /// Decoded rows, in message order (timestamps are set by the engine).
    pub rows: Batch,
    /// Messages that could not be decoded: (payload as text, reason).
    pub failed: Vec<(String, String)>,
    /// Called once the delivery is processed and its outputs confirmed.
    pub ack: Option<Ack>,
    /// Set on the last delivery of a source that has ended (a file read to its end).
    pub end: bool,
}

/// Counters of one connector (messages, bytes, errors, reconnects, retries) and the depth of
/// its queue to or from the engine (deliveries for a source, batches for a sink).
#[derive(Debug, Default)]
pub struct Counters {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
    pub reconnects: AtomicU64,
    pub retries: AtomicU64,
    queued: AtomicU64,
    peak_queued: AtomicU64,
}

impl Counters {
    pub fn add(&self, c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// One more item in the queue (counted before it is handed over).
    pub fn queue_in(&self) {
        let depth = self.queued.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_queued.fetch_max(depth, Ordering::Relaxed);
    }

    /// One item fewer in the queue (taken, or never handed over).
    pub fn queue_out(&self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// The queue's depth now and its peak.
    pub fn depth(&self) -> (u64, u64) {
        (
            self.queued.load(Ordering::Relaxed),
            self.peak_queued.load(Ordering::Relaxed),
        )
    }

    pub fn snapshot(&self) -> [u64; 5] {
        [
            self.messages.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
            self.reconnects.load(Ordering::Relaxed),
            self.retries.load(Ordering::Relaxed),
        ]
    }
}

/// What a source thread gets.
pub struct SourceCtx {
    pub stream: StreamId,
    pub name: String,
    pub decoder: Decoder,
    pub out: SyncSender<Delivery>,
    pub stop: Arc<AtomicBool>,
    pub counters: Arc<Counters>,
}

impl SourceCtx {
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Decodes messages into one delivery and hands it over (blocking while the engine is
    /// behind). Returns false when the engine is gone.
    pub fn deliver(&mut self, payloads: &[&[u8]], ack: Option<Ack>, end: bool) -> bool {
        let mut d = self.decode(payloads, end);
        d.ack = ack;
        self.send(d)
    }

    /// Hands a delivery over without waiting: `Err(false)` when the engine's queue is full,
    /// `Err(true)` when the engine is gone.
    pub fn try_send(&self, d: Delivery) -> Result<(), bool> {
        self.counters.queue_in();
        let sent = match self.out.try_send(d) {
            Ok(()) => return Ok(()),
            Err(std::sync::mpsc::TrySendError::Full(_)) => Err(false),
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => Err(true),
        };
        self.counters.queue_out();
        sent
    }

    /// Hands a delivery over with its acknowledgement (called once the engine processed it and
    /// the sinks confirmed its outputs); false when the engine is gone.
    pub fn send_acked(&self, mut d: Delivery, ack: impl FnOnce() + Send + 'static) -> bool {
        d.ack = Some(Box::new(ack));
        self.send(d)
    }

    /// Hands a delivery over (blocking while the engine is behind); false when the engine is
    /// gone.
    pub fn send(&self, d: Delivery) -> bool {
        self.counters.queue_in();
        let sent = self.out.send(d).is_ok();
        if !sent {
            self.counters.queue_out();
        }
        sent
    }

    /// Decodes messages into one delivery (without an acknowledgement yet).
    pub fn decode(&mut self, payloads: &[&[u8]], end: bool) -> Delivery {
        let mut d = Delivery {
            stream: self.stream,
            rows: Batch::new(self.decoder.arity()),
            failed: Vec::new(),
            ack: None,
            end,
        };
        for p in payloads {
            self.counters.add(&self.counters.messages, 1);
            self.counters.add(&self.counters.bytes, p.len() as u64);
            if let Err(reason) = self.decoder.decode(p, &mut d.rows) {
                self.counters.add(&self.counters.errors, 1);
                d.failed
                    .push((String::from_utf8_lossy(p).into_owned(), reason));
            }
        }
        d
    }
}

/// A source: runs until its input ends or `ctx.stop` is set.
pub trait Source: Send {
    fn run(self: Box<Self>, ctx: SourceCtx) -> Result<(), String>;
}

/// A sink: `send` returns once the broker has the messages (retrying while it is down, until
/// `stop` is set).
pub trait Sink: Send {
    /// `counters.retries` counts the attempts made again after a failure.
    fn send(
        &mut self,
        messages: &[Bytes],
        stop: &AtomicBool,
        counters: &Counters,
    ) -> Result<(), String>;
}

/// Runs `attempt` until it succeeds, retrying with backoff (and counting each retry) while
/// it fails, until `stop` is set. The first failure is reported on stderr.
pub fn with_retries(
    what: &str,
    stop: &AtomicBool,
    counters: &Counters,
    mut attempt: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let mut failures = 0;
    loop {
        match attempt() {
            Ok(()) => return Ok(()),
            Err(e) if stop.load(Ordering::Relaxed) => return Err(e),
            Err(e) => {
                if failures == 0 {
                    eprintln!("warning: {what}: {e}; retrying");
                }
                failures += 1;
                counters.add(&counters.retries, 1);
                backoff(failures, stop);
            }
        }
    }
}

/// Options of a connector stream, with typed accessors.
pub struct Options<'a> {
    pub stream: &'a str,
    pub plan: &'a ConnectorPlan,
}

impl Options<'_> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.plan.options.get(key).map(String::as_str)
    }

    pub fn required(&self, key: &str) -> Result<&str, String> {
        self.get(key)
            .ok_or_else(|| format!("stream '{}': option '{key}' is required", self.stream))
    }

    pub fn flag(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.get(key).map(str::to_ascii_lowercase) {
            None => Ok(default),
            Some(v) if v == "true" => Ok(true),
            Some(v) if v == "false" => Ok(false),
            Some(v) => Err(format!(
                "stream '{}': option '{key}' must be 'true' or 'false', found '{v}'",
                self.stream
            )),
        }
    }
}

/// The format of a connector stream.
pub fn format_of(app: &AppPlan, id: StreamId, plan: &ConnectorPlan) -> Result<Format, String> {
    let s = &app.streams[id];
    Format::new(&plan.format, &plan.options, &s.schema)
        .map_err(|e| format!("stream '{}': {e}", s.name))
}

/// Opens the source of stream `id`.
pub fn open_source(
    app: &AppPlan,
    id: StreamId,
    plan: &ConnectorPlan,
) -> Result<Box<dyn Source>, String> {
    let o = Options {
        stream: &app.streams[id].name,
        plan,
    };
    match plan.extension.as_str() {
        "file" => Ok(Box::new(file::FileSource::new(&o)?)),
        "nats" => Ok(Box::new(nats::NatsSource::new(&o)?)),
        "redis" => Ok(Box::new(redis::RedisSource::new(&o)?)),
        "mqtt" => Ok(Box::new(mqtt::MqttSource::new(&o)?)),
        "http" => Ok(Box::new(http::HttpSource::new(&o)?)),
        "rabbitmq" => Ok(Box::new(rabbitmq::RabbitSource::new(&o)?)),
        "websocket" => Ok(Box::new(websocket::WebSocketSource::new(&o)?)),
        "kafka" => Ok(Box::new(kafka::KafkaSource::new(&o)?)),
        other => Err(format!("not supported yet: the '{other}' source connector")),
    }
}

/// Opens the sink of stream `id` (`header`: the format's header line, written first by sinks
/// that start a file).
pub fn open_sink(
    app: &AppPlan,
    id: StreamId,
    plan: &ConnectorPlan,
    encoder: &Encoder,
) -> Result<Box<dyn Sink>, String> {
    let o = Options {
        stream: &app.streams[id].name,
        plan,
    };
    match plan.extension.as_str() {
        "file" => Ok(Box::new(file::FileSink::new(&o, encoder.header())?)),
        "log" => Ok(Box::new(log::LogSink::new(&o))),
        "nats" => Ok(Box::new(nats::NatsSink::new(&o)?)),
        "redis" => Ok(Box::new(redis::RedisSink::new(&o)?)),
        "mqtt" => Ok(Box::new(mqtt::MqttSink::new(&o)?)),
        "webhook" => Ok(Box::new(http::WebhookSink::new(&o, encoder.format())?)),
        "rabbitmq" => Ok(Box::new(rabbitmq::RabbitSink::new(&o)?)),
        "websocket" => Ok(Box::new(websocket::WebSocketSink::new(&o)?)),
        "kafka" => Ok(Box::new(kafka::KafkaSink::new(&o)?)),
        other => Err(format!("not supported yet: the '{other}' sink connector")),
    }
}

/// Waits before retry `attempt` (100 ms doubling to 5 s), in short steps so a stop is noticed.
pub fn backoff(attempt: u32, stop: &AtomicBool) {
    let ms = (100u64 << attempt.min(6)).min(5_000);
    let mut waited = 0;
    while waited < ms && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
        waited += 20;
    }
}
