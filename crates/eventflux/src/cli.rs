//! The command line (§15): `run` (live or `--replay`), `check`, `explain`.

use crate::{wall_clock_ms, App, Batch, ClockMode, StreamId};
use eventflux_connectors::{EnvelopeDecoder, EnvelopeEncoder, InputLine};
use eventflux_runtime::OutputListener;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::time::Duration;

/// Exit statuses (§15).
pub const EXIT_OK: i32 = 0;
pub const EXIT_APP: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// A failure that ends the command with an exit status and a message for stderr.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }
    fn app(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_APP,
            message: message.into(),
        }
    }
}

pub fn read_app(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("error: cannot read app '{path}': {e}")))
}

pub fn compile(path: &str) -> Result<App, Failure> {
    let src = read_app(path)?;
    App::from_sql_named(path, &src).map_err(|e| Failure::app(e.to_string()))
}

/// `eventflux check`: parse and validate.
pub fn check(path: &str) -> Result<String, Failure> {
    let app = compile(path)?;
    let plan = app.plan();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let tables = if plan.tables.is_empty() {
        String::new()
    } else {
        format!("{}, ", plural(plan.tables.len(), "table"))
    };
    Ok(format!(
        "{path}: ok ({}, {tables}{})\n",
        plural(plan.streams.len(), "stream"),
        plural(plan.queries.len(), "query")
    )
    .replace("querys", "queries"))
}

/// `eventflux explain`: the operator graph as text or Graphviz DOT.
pub fn explain(path: &str, format: &str) -> Result<String, Failure> {
    let app = compile(path)?;
    match format {
        "text" => Ok(app.plan().explain()),
        "dot" => Ok(explain_dot(app.plan())),
        other => Err(Failure::usage(format!(
            "error: unknown explain format '{other}' (expected 'text' or 'dot')"
        ))),
    }
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn explain_dot(plan: &crate::AppPlan) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("digraph app {\n  rankdir=LR;\n  node [fontname=\"monospace\"];\n");
    for (i, s) in plan.streams.iter().enumerate() {
        let _ = writeln!(
            out,
            "  s{i} [shape=box, label=\"{}\\n{}\"];",
            dot_escape(&s.name),
            dot_escape(&s.schema.to_string())
        );
    }
    for (i, t) in plan.tables.iter().enumerate() {
        let _ = writeln!(
            out,
            "  t{i} [shape=cylinder, label=\"{}\\n{}\"];",
            dot_escape(&t.name),
            dot_escape(&t.schema.to_string())
        );
    }
    for (qi, q) in plan.queries.iter().enumerate() {
        let mut label = format!("query '{}'", q.name);
        for op in &q.operators {
            let _ = write!(
                label,
                "\\n{}",
                dot_escape(&eventflux_planner::plan::describe_operator(op))
            );
        }
        let _ = writeln!(out, "  q{qi} [shape=ellipse, label=\"{label}\"];");
        for op in &q.operators {
            if let eventflux_planner::Operator::Pattern(p) = op {
                // The automaton as a cluster beside its query.
                let _ = writeln!(
                    out,
                    "  subgraph cluster_q{qi} {{\n    label=\"automaton of '{}'\";",
                    dot_escape(&q.name)
                );
                out.push_str(&p.dot(&format!("q{qi}"), &|s| plan.streams[s].name.clone()));
                let _ = writeln!(out, "  }}\n  q{qi} -> q{qi}n{} [style=dashed];", p.root);
            }
        }
        for &input in &q.inputs {
            let _ = writeln!(out, "  s{input} -> q{qi};");
        }
        match q.target {
            eventflux_planner::plan::QueryTarget::Stream(t) => {
                let _ = writeln!(out, "  q{qi} -> s{t};");
            }
            eventflux_planner::plan::QueryTarget::Table(t) => {
                let _ = writeln!(out, "  q{qi} -> t{t};");
            }
        }
        // Tables a query reads.
        for op in &q.operators {
            let mut read = Vec::new();
            match op {
                eventflux_planner::Operator::Join(j) => {
                    for s in &j.sides {
                        if let eventflux_planner::join::JoinSource::Table(t) = s.source {
                            read.push(t);
                        }
                    }
                }
                eventflux_planner::Operator::TableProbe(p) => {
                    read.extend(p.iter().map(|p| p.table))
                }
                _ => {}
            }
            read.dedup();
            for t in read {
                let _ = writeln!(out, "  t{t} -> q{qi} [style=dashed];");
            }
        }
    }
    out.push_str("}\n");
    out
}

/// Writes the rows of printed streams to stdout as NDJSON envelopes.
struct StdoutPrinter {
    encoder: EnvelopeEncoder,
    buf: Vec<u8>,
    out: BufWriter<File>,
    /// Flush after every batch (live mode: output must not wait in a buffer).
    eager: bool,
}

impl StdoutPrinter {
    fn new(encoder: EnvelopeEncoder, eager: bool) -> io::Result<StdoutPrinter> {
        // A File on a duplicate of fd 1: writes need no lock, and the printer can live in the engine.
        let fd = io::stdout().as_fd().try_clone_to_owned()?;
        Ok(StdoutPrinter {
            encoder,
            buf: Vec::with_capacity(1 << 12),
            out: BufWriter::with_capacity(1 << 16, File::from(fd)),
            eager,
        })
    }
}

impl OutputListener for StdoutPrinter {
    fn on_rows(&mut self, stream: StreamId, now: i64, rows: &Batch) {
        self.buf.clear();
        for r in rows.rows() {
            self.encoder
                .encode(stream, now, r.kind, r.values, &mut self.buf);
        }
        // A closed stdout (e.g. `| head`) must not kill the engine; output is simply lost.
        let _ = self.out.write_all(&self.buf);
        if self.eager {
            let _ = self.out.flush();
        }
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

pub struct RunOptions {
    pub replay: Option<String>,
    pub flush: bool,
    pub print: Vec<String>,
    /// Print the engine's counters to stderr at the end.
    pub stats: bool,
}

/// Reports at the end of a run: windows that hit their bound always, all counters with `--stats`.
fn report_stats(stats: &crate::EngineStats, all: bool) {
    let stderr = io::stderr();
    let mut err = stderr.lock();
    for (q, n) in &stats.window_evictions {
        if *n > 0 {
            let _ = writeln!(
                err,
                "warning: query '{q}': its window reached window.max_events and evicted {n} events early"
            );
        }
    }
    for (q, n, max) in &stats.pattern_drops {
        if *n > 0 {
            let _ = writeln!(
                err,
                "warning: query '{q}': reached pattern.max_partial_matches ({max}) and dropped {n} partial matches"
            );
        }
    }
    if !all {
        return;
    }
    let _ = writeln!(err, "stats:");
    for (s, n) in &stats.rows_in {
        let _ = writeln!(err, "  stream {s}: {n} rows");
    }
    for (q, n) in &stats.rows_out {
        let _ = writeln!(err, "  query {q}: {n} rows out");
    }
    for (q, n) in &stats.state_sizes {
        let _ = writeln!(err, "  query {q}: state size {n}");
    }
    for (s, n) in &stats.late_events {
        let _ = writeln!(err, "  stream {s}: {n} late events");
    }
    for (s, n) in &stats.buffered_events {
        let _ = writeln!(err, "  stream {s}: {n} events waiting for the watermark");
    }
    for t in &stats.table_stores {
        let c = &t.cache;
        let _ = writeln!(
            err,
            "  table {} ({}): cache {} of {} entries, {} hits, {} misses, {} evictions, {} expired; {} connections opened, {} lost; {} events failed",
            t.table,
            t.extension,
            c.entries,
            t.cache_size,
            c.hits,
            c.misses,
            c.evictions,
            c.expirations,
            t.connects,
            t.connection_failures,
            t.failed_events
        );
    }
    if stats.errors_dropped > 0 {
        let _ = writeln!(
            err,
            "  errors not reported (too many pending): {}",
            stats.errors_dropped
        );
    }
    let _ = writeln!(err, "  pending timers: {}", stats.pending_timers);
}

/// On a stop, listeners still flush what the app emitted before it.
fn stop_on_failure(app: &mut App, line_no: u64) -> Result<(), Failure> {
    report_errors(app, line_no).inspect_err(|_| app.engine_mut().flush_listeners())
}

/// Prints the errors the engine reported while processing input line `line_no` (`0`: at the
/// end) and fails when the app stopped (`'error.strategy' = 'fail'`).
fn report_errors(app: &mut App, line_no: u64) -> Result<(), Failure> {
    let errors = app.take_errors();
    if !errors.is_empty() {
        let stderr = io::stderr();
        let mut err = stderr.lock();
        for e in errors {
            let _ = match line_no {
                0 => writeln!(err, "error: {e}"),
                n => writeln!(err, "line {n}: error: {e}"),
            };
        }
    }
    match app.stopped() {
        None => Ok(()),
        Some(reason) => Err(Failure::app(match line_no {
            0 => format!("error: the app stopped: {reason}"),
            n => format!("line {n}: error: the app stopped: {reason}"),
        })),
    }
}

/// Streams printed to stdout: terminal streams plus `--print` ones.
fn printed_streams(app: &App, print: &[String]) -> Result<Vec<StreamId>, Failure> {
    let plan = app.plan();
    let mut ids: Vec<StreamId> = (0..plan.streams.len())
        .filter(|&i| plan.is_terminal(i))
        .collect();
    for name in print {
        let id = plan.stream_id(name).ok_or_else(|| {
            Failure::usage(format!(
                "error: --print names unknown stream '{name}'{}",
                eventflux_sql::suggestion_suffix(
                    name,
                    plan.streams.iter().map(|s| s.name.as_str())
                )
            ))
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// `eventflux run`: replay a file (or stdin) on the virtual clock, or run live on the wall clock.
pub fn run(path: &str, opts: &RunOptions) -> Result<(), Failure> {
    let app = compile(path)?;
    let printed = printed_streams(&app, &opts.print)?;
    match &opts.replay {
        Some(file) => {
            let reader: Box<dyn Read> = if file == "-" {
                Box::new(io::stdin())
            } else {
                Box::new(File::open(file).map_err(|e| {
                    Failure::usage(format!("error: cannot open replay file '{file}': {e}"))
                })?)
            };
            replay(app, &printed, reader, opts.flush, opts.stats)
        }
        None => live(app, &printed, opts.stats, opts.flush),
    }
}

fn attach_printer(app: &mut App, printed: &[StreamId], eager: bool) -> Result<(), Failure> {
    let printer = StdoutPrinter::new(EnvelopeEncoder::new(app.plan()), eager)
        .map_err(|e| Failure::app(format!("error: cannot write to stdout: {e}")))?;
    app.subscribe_listener(printed, Box::new(printer));
    Ok(())
}

/// Replays NDJSON input deterministically on the virtual clock.
pub fn replay(
    mut app: App,
    printed: &[StreamId],
    input: impl Read,
    flush: bool,
    stats: bool,
) -> Result<(), Failure> {
    let sinks = attach_sinks(&mut app)?;
    attach_printer(&mut app, printed, false)?;
    let decoder = EnvelopeDecoder::new(app.plan());
    let mut reader = BufReader::with_capacity(1 << 16, input);
    let mut raw = Vec::new();
    let mut values = Vec::new();
    let mut batch = Batch::new(0);
    let mut line_no = 0u64;
    let stderr = io::stderr();
    loop {
        raw.clear();
        match reader.read_until(b'\n', &mut raw) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(Failure::app(format!("error: reading replay input: {e}"))),
        }
        line_no += 1;
        let Ok(line) = std::str::from_utf8(&raw) else {
            let _ = writeln!(stderr.lock(), "line {line_no}: the line is not valid UTF-8");
            continue;
        };
        match decoder.decode(line, &mut values) {
            Ok(InputLine::Empty) => {}
            Ok(InputLine::Tick { ts }) => app.advance_to(ts),
            Ok(InputLine::Event { stream, ts, kind }) => {
                if let Some(ts) = ts {
                    app.advance_to(ts);
                }
                batch.reset(values.len());
                batch.push_vec(app.now(), kind, &mut values);
                app.send_batch_unchecked(crate::Input { stream }, &batch);
            }
            Err(e) => {
                let _ = writeln!(stderr.lock(), "line {line_no}: {e}");
            }
        }
        stop_on_failure(&mut app, line_no)?;
    }
    if flush {
        app.flush();
    }
    stop_on_failure(&mut app, 0)?;
    let final_stats = app.shutdown();
    sinks.finish_and_report(&final_stats, stats, Vec::new());
    Ok(())
}

fn attach_sinks(app: &mut App) -> Result<crate::connect::Sinks, Failure> {
    crate::connect::Sinks::attach(app).map_err(|e| Failure::app(format!("error: {e}")))
}

impl crate::connect::Sinks {
    /// Waits for the sinks to send what the app produced, then reports (`--stats`).
    fn finish_and_report(self, stats: &crate::EngineStats, all: bool, mut lines: Vec<String>) {
        lines.extend(self.report());
        self.finish();
        report_stats(stats, all);
        if all && !lines.is_empty() {
            let stderr = io::stderr();
            let mut err = stderr.lock();
            for l in lines {
                let _ = writeln!(err, "  {l}");
            }
        }
    }
}

/// Live mode: NDJSON events from stdin, timestamped by the wall clock. Timers fire on the wall
/// clock even while no input arrives. Ends when stdin closes.
fn live(app: App, printed: &[StreamId], stats: bool, flush: bool) -> Result<(), Failure> {
    let mut app = app.with_clock(ClockMode::Wall);
    let sinks = attach_sinks(&mut app)?;
    attach_printer(&mut app, printed, true)?;
    if crate::connect::has_sources(&app) {
        // Source connectors feed the app; it runs until they end (stdin is not read).
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        app.advance_to(wall_clock_ms());
        let lines = crate::connect::run_sources(&mut app, &sinks, &stop, &mut |app| {
            stop_on_failure(app, 0)
        })?;
        if flush {
            app.flush();
        }
        stop_on_failure(&mut app, 0)?;
        let final_stats = app.shutdown();
        sinks.finish_and_report(&final_stats, stats, lines);
        return Ok(());
    }
    let decoder = EnvelopeDecoder::new(app.plan());
    // A bounded queue: a slow engine slows the reader instead of buffering without limit.
    let (tx, rx) = mpsc::sync_channel::<io::Result<String>>(1024);
    std::thread::spawn(move || {
        let stdin = io::stdin();
        for line in stdin.lock().lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut values = Vec::new();
    let mut batch = Batch::new(0);
    let mut line_no = 0u64;
    app.advance_to(wall_clock_ms());
    loop {
        let wait = app
            .engine_mut()
            .next_deadline()
            .map(|d| Duration::from_millis((d - wall_clock_ms()).clamp(0, 60_000) as u64))
            .unwrap_or(Duration::from_secs(60));
        let msg = match rx.recv_timeout(wait) {
            Ok(m) => m,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                app.advance_to(wall_clock_ms());
                stop_on_failure(&mut app, 0)?;
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        line_no += 1;
        let line = match msg {
            Ok(l) => l,
            Err(e) => {
                eprintln!("line {line_no}: {e}");
                continue;
            }
        };
        app.advance_to(wall_clock_ms());
        match decoder.decode(&line, &mut values) {
            Ok(InputLine::Empty | InputLine::Tick { .. }) => {}
            Ok(InputLine::Event { stream, kind, .. }) => {
                batch.reset(values.len());
                batch.push_vec(app.now(), kind, &mut values);
                app.send_batch_unchecked(crate::Input { stream }, &batch);
            }
            Err(e) => eprintln!("line {line_no}: {e}"),
        }
        stop_on_failure(&mut app, line_no)?;
    }
    stop_on_failure(&mut app, 0)?;
    let final_stats = app.shutdown();
    sinks.finish_and_report(&final_stats, stats, Vec::new());
    Ok(())
}
