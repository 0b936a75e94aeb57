//! Running an app with its connectors (§3.2): sink threads fed by engine listeners, source
//! threads feeding the engine thread, and acknowledgements that wait for the sinks.
//!
//! Flow control: every hand-over is a bounded channel. A slow sink blocks the engine thread
//! when its queue is full; a busy engine thread blocks the source threads, which then stop
//! reading from their brokers (which hold or slow the publishers). Nothing is dropped without
//! being counted and reported.
//!
//! At-least-once: a source delivery is acknowledged to its broker only after the engine
//! processed it and every sink confirmed every message enqueued up to then.

use crate::cli::Failure;
use crate::{App, Batch, EventKind, StreamId, Value};
use eventflux_connectors::format::{Decoder, Encoder};
use eventflux_connectors::io::{self, Ack, Bytes, Counters, Delivery, SourceCtx};
use eventflux_planner::plan::{ErrorStrategy, StreamIo};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Sink jobs queued per sink at most (each holds one output batch).
const SINK_QUEUE: usize = 64;
/// Source deliveries queued for the engine at most.
const SOURCE_QUEUE: usize = 16;

/// One sink: its thread, its queue and how far it got.
struct SinkRt {
    name: String,
    extension: String,
    enqueued: Arc<AtomicU64>,
    confirmed: Arc<AtomicU64>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

/// The sinks of an app, fed by engine listeners.
pub struct Sinks {
    sinks: Vec<SinkRt>,
    stop: Arc<AtomicBool>,
}

struct SinkJob {
    seq: u64,
    messages: Vec<Bytes>,
}

impl Sinks {
    /// Opens every sink stream's connector and subscribes it to its stream.
    pub fn attach(app: &mut App) -> Result<Sinks, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut sinks = Vec::new();
        let plan = app.plan().clone();
        for (id, s) in plan.streams.iter().enumerate() {
            let StreamIo::Sink(c) = &s.io else {
                continue;
            };
            let format = io::format_of(&plan, id, c)?;
            let encoder = Encoder::new(&s.schema, format);
            let mut sink = io::open_sink(&plan, id, c, &encoder)?;
            let (tx, rx): (SyncSender<SinkJob>, Receiver<SinkJob>) = sync_channel(SINK_QUEUE);
            let enqueued = Arc::new(AtomicU64::new(0));
            let confirmed = Arc::new(AtomicU64::new(0));
            let counters = Arc::new(Counters::default());
            let thread = {
                let (confirmed, counters, stop, name) = (
                    confirmed.clone(),
                    counters.clone(),
                    stop.clone(),
                    s.name.clone(),
                );
                std::thread::Builder::new()
                    .name(format!("sink-{name}"))
                    .spawn(move || {
                        for job in rx {
                            counters.queue_out();
                            match sink.send(&job.messages, &stop, &counters) {
                                Ok(()) => {
                                    counters.add(&counters.messages, job.messages.len() as u64);
                                    let bytes: usize = job.messages.iter().map(Bytes::len).sum();
                                    counters.add(&counters.bytes, bytes as u64);
                                    confirmed.store(job.seq, Ordering::Release);
                                }
                                Err(e) => {
                                    counters.add(&counters.errors, job.messages.len() as u64);
                                    eprintln!(
                                        "error: sink '{name}': {e}; {} messages not sent",
                                        job.messages.len()
                                    );
                                }
                            }
                        }
                    })
                    .map_err(|e| format!("cannot start the sink of '{}': {e}", s.name))?
            };
            let seq = enqueued.clone();
            let (lost, sink_name) = (counters.clone(), s.name.clone());
            app.subscribe_listener(
                &[id],
                Box::new(move |_: StreamId, _: i64, rows: &Batch| {
                    // One buffer per batch; each message is a slice of it (no copy per row).
                    let mut buf = Vec::with_capacity(rows.len() * 64);
                    let mut ends = Vec::with_capacity(rows.len());
                    for r in rows.rows() {
                        encoder.encode(r.values, &mut buf);
                        ends.push(buf.len());
                    }
                    let all = Bytes::from(buf);
                    let mut start = 0;
                    let messages: Vec<Bytes> = ends
                        .iter()
                        .map(|&end| {
                            let m = all.slice(start..end);
                            start = end;
                            m
                        })
                        .collect();
                    let count = messages.len() as u64;
                    let n = seq.fetch_add(1, Ordering::AcqRel) + 1;
                    lost.queue_in();
                    // Blocks while the sink is behind (backpressure on the engine).
                    if tx.send(SinkJob { seq: n, messages }).is_err() {
                        lost.queue_out();
                        lost.add(&lost.errors, count);
                        eprintln!(
                            "error: sink '{sink_name}' has stopped; {count} messages not sent"
                        );
                    }
                }),
            );
            sinks.push(SinkRt {
                name: s.name.clone(),
                extension: c.extension.clone(),
                enqueued,
                confirmed,
                counters,
                thread: Some(thread),
            });
        }
        Ok(Sinks { sinks, stop })
    }

    /// How far each sink has been fed (for acknowledging later).
    fn mark(&self) -> Vec<u64> {
        self.sinks
            .iter()
            .map(|s| s.enqueued.load(Ordering::Acquire))
            .collect()
    }

    /// Whether every sink confirmed everything up to `mark`.
    fn confirmed(&self, mark: &[u64]) -> bool {
        self.sinks
            .iter()
            .zip(mark)
            .all(|(s, &m)| s.confirmed.load(Ordering::Acquire) >= m)
    }

    /// Waits until every sink confirmed what it was given, then stops the sink threads. The
    /// app must have been shut down (its listeners, which feed the sinks, are gone).
    pub fn finish(mut self) {
        for s in &mut self.sinks {
            if let Some(t) = s.thread.take() {
                let _ = t.join();
            }
        }
    }

    /// One line per sink for `--stats`.
    pub fn report(&self) -> Vec<String> {
        self.sinks
            .iter()
            .map(|s| {
                let [messages, bytes, errors, _, retries] = s.counters.snapshot();
                let (depth, peak) = s.counters.depth();
                format!(
                    "sink {} ({}): {messages} messages out, {bytes} bytes, {errors} errors, {retries} retries, {depth} batches queued (peak {peak})",
                    s.name, s.extension
                )
            })
            .collect()
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One source: its thread and counters.
struct SourceRt {
    name: String,
    extension: String,
    counters: Arc<Counters>,
    strategy: ErrorStrategy,
    error_stream: Option<StreamId>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

/// Whether the app reads any source connector.
pub fn has_sources(app: &App) -> bool {
    app.plan()
        .streams
        .iter()
        .any(|s| matches!(s.io, StreamIo::Source(_)))
}

/// Runs the app's sources into the engine until every one has ended (or `stop` is set).
/// Returns the final stats report lines of sources and sinks.
pub fn run_sources(
    app: &mut App,
    sinks: &Sinks,
    stop: &Arc<AtomicBool>,
    on_idle: &mut dyn FnMut(&mut App) -> Result<(), Failure>,
) -> Result<Vec<String>, Failure> {
    let plan = app.plan().clone();
    let (tx, rx) = sync_channel::<Delivery>(SOURCE_QUEUE);
    let mut sources = Vec::new();
    for (id, s) in plan.streams.iter().enumerate() {
        let StreamIo::Source(c) = &s.io else {
            continue;
        };
        let fail = |e: String| Failure {
            code: crate::cli::EXIT_APP,
            message: format!("error: {e}"),
        };
        let format = io::format_of(&plan, id, c).map_err(fail)?;
        let source = io::open_source(&plan, id, c).map_err(fail)?;
        let counters = Arc::new(Counters::default());
        let ctx = SourceCtx {
            stream: id,
            name: s.name.clone(),
            decoder: Decoder::new(&s.name, &s.schema, format),
            out: tx.clone(),
            stop: stop.clone(),
            counters: counters.clone(),
        };
        let strategy = match c
            .options
            .get("error.strategy")
            .map(|v| v.to_ascii_lowercase())
        {
            Some(v) if v == "stream" => c
                .options
                .get("error.stream")
                .map_or(ErrorStrategy::Log, |n| ErrorStrategy::Stream(n.clone())),
            Some(v) if v == "fail" => ErrorStrategy::Fail,
            _ => ErrorStrategy::Log,
        };
        let error_stream = match &strategy {
            ErrorStrategy::Stream(n) => plan.stream_id(n),
            _ => None,
        };
        let name = s.name.clone();
        let thread = std::thread::Builder::new()
            .name(format!("source-{name}"))
            .spawn(move || source.run(ctx))
            .map_err(|e| fail(format!("cannot start the source of '{name}': {e}")))?;
        sources.push(SourceRt {
            name: s.name.clone(),
            extension: c.extension.clone(),
            counters,
            strategy,
            error_stream,
            thread: Some(thread),
        });
    }
    drop(tx);
    let mut pending: Vec<(Vec<u64>, Ack)> = Vec::new();
    let mut ended = 0;
    let mut result = Ok(());
    let mut batch = Batch::new(0);
    'run: while ended < sources.len() && !stop.load(Ordering::Relaxed) {
        let wait = app
            .engine_mut()
            .next_deadline()
            .map(|d| Duration::from_millis((d - crate::wall_clock_ms()).clamp(0, 100) as u64))
            .unwrap_or(Duration::from_millis(100));
        let wait = if pending.is_empty() {
            wait
        } else {
            wait.min(Duration::from_millis(2))
        };
        match rx.recv_timeout(wait) {
            Ok(mut d) => {
                app.advance_to(crate::wall_clock_ms());
                let src = sources
                    .iter()
                    .position(|s| plan.stream_id(&s.name) == Some(d.stream))
                    .unwrap_or(0);
                sources[src].counters.queue_out();
                if !d.rows.is_empty() {
                    let now = app.now();
                    d.rows.timestamps_mut().fill(now);
                    if let Err(e) = app.send_batch(crate::Input { stream: d.stream }, &d.rows) {
                        result = Err(Failure {
                            code: crate::cli::EXIT_APP,
                            message: format!("error: {e}"),
                        });
                        break 'run;
                    }
                }
                for (payload, reason) in &d.failed {
                    let s = &sources[src];
                    match (&s.strategy, s.error_stream) {
                        (ErrorStrategy::Fail, _) => {
                            result = Err(Failure {
                                code: crate::cli::EXIT_APP,
                                message: format!(
                                    "error: stream '{}': cannot decode a message: {reason}",
                                    s.name
                                ),
                            });
                            break 'run;
                        }
                        (ErrorStrategy::Stream(_), Some(es)) => {
                            batch.reset(2);
                            batch.push(
                                app.now(),
                                EventKind::Current,
                                &[Value::from(payload.as_str()), Value::from(reason.as_str())],
                            );
                            let _ = app.send_batch(crate::Input { stream: es }, &batch);
                        }
                        _ => eprintln!(
                            "error: stream '{}': dropped a message that cannot be decoded: {reason}: {}",
                            s.name,
                            shorten(payload)
                        ),
                    }
                }
                if let Some(ack) = d.ack {
                    pending.push((sinks.mark(), ack));
                }
                if d.end {
                    ended += 1;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                app.advance_to(crate::wall_clock_ms());
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if let Err(f) = on_idle(app) {
            result = Err(f);
            break;
        }
        // Acknowledge what every sink has confirmed, in order.
        let done = pending
            .iter()
            .take_while(|(mark, _)| sinks.confirmed(mark))
            .count();
        for (_, ack) in pending.drain(..done) {
            ack();
        }
    }
    // Sources that end on their own have ended; the others are stopped now.
    let ok = result.is_ok();
    if ok {
        // Every output is confirmed before the remaining acknowledgements.
        while !pending.is_empty() && !sinks.sinks.is_empty() {
            let done = pending
                .iter()
                .take_while(|(mark, _)| sinks.confirmed(mark))
                .count();
            for (_, ack) in pending.drain(..done) {
                ack();
            }
            if pending.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        for (_, ack) in pending.drain(..) {
            ack();
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(rx);
    let mut report = Vec::new();
    for s in &mut sources {
        if let Some(t) = s.thread.take() {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) if ok => {
                    result = Err(Failure {
                        code: crate::cli::EXIT_APP,
                        message: format!("error: {e}"),
                    })
                }
                _ => {}
            }
        }
        let [messages, bytes, errors, reconnects, _] = s.counters.snapshot();
        let (depth, peak) = s.counters.depth();
        report.push(format!(
            "source {} ({}): {messages} messages in, {bytes} bytes, {errors} errors, {reconnects} reconnects, {depth} deliveries queued (peak {peak})",
            s.name, s.extension
        ));
    }
    result.map(|()| report)
}

impl Sinks {
    /// Stops retrying (a sink whose broker is down gives up its queued messages, reported).
    pub fn abort(&self) {
        self.stop();
    }
}

/// A payload cut to a readable length for an error line.
fn shorten(s: &str) -> String {
    const MAX: usize = 200;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}
