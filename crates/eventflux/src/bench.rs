//! The benchmark harness (`eventflux bench`): named workloads run in-process (throughput with
//! batched sends, per-event latency with single sends) and end to end (replay of a generated
//! NDJSON file through the real binary, output to /dev/null).

use crate::{App, Batch, EventKind, Value};
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A named workload: an app, its input stream and a deterministic event generator.
pub struct Workload {
    pub name: &'static str,
    pub description: &'static str,
    pub sql: &'static str,
    pub input: &'static str,
    pub output: &'static str,
    /// Fills `out` with the values of event number `i`.
    pub generate: fn(&mut Gen, u64, &mut Vec<Value>),
    /// Distinct symbols the generator draws from.
    pub symbols: usize,
    /// Events per millisecond of (virtual) time; 0 keeps every event at time 0.
    pub events_per_ms: u64,
    /// Default number of events for the in-process run (0: the command's `--events`).
    pub default_events: u64,
}

/// Deterministic generator state (xorshift64*) plus interned strings, so generating events does
/// not allocate and every run sees the same events.
pub struct Gen {
    state: u64,
    pub symbols: Vec<Value>,
}

impl Gen {
    pub fn new(seed: u64, symbols: usize) -> Gen {
        Gen {
            state: seed.max(1),
            symbols: (0..symbols)
                .map(|i| Value::from(format!("S{i:05}").as_str()))
                .collect(),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn gen_trade(g: &mut Gen, _i: u64, out: &mut Vec<Value>) {
    out.clear();
    let k = (g.next_u64() % g.symbols.len() as u64) as usize;
    let sym = g.symbols[k].clone();
    // Prices uniform in [0, 100): half pass `price > 50`.
    let price = (g.next_f64() * 10_000.0).round() / 100.0;
    let volume = (g.next_u64() % 1000) as i32 + 1;
    out.extend([sym, Value::Double(price), Value::Int(volume)]);
}

pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "W1",
        description: "filter + projection: SELECT symbol, price * volume AS notional FROM Trades WHERE price > 50",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              INSERT INTO Out SELECT symbol, price * volume AS notional FROM Trades WHERE price > 50;\n",
        input: "Trades",
        output: "Out",
        generate: gen_trade,
        symbols: 100,
        events_per_ms: 0,
        default_events: 0,
    },
    Workload {
        name: "W2",
        description: "tumbling 1 sec, GROUP BY symbol (100 symbols), avg(price), sum(volume); 1M events per virtual second",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              INSERT INTO Out SELECT symbol, avg(price) AS avg_price, sum(volume) AS volume\n\
              FROM Trades WINDOW TUMBLING(1 sec) GROUP BY symbol;\n",
        input: "Trades",
        output: "Out",
        generate: gen_trade,
        symbols: 100,
        events_per_ms: 1000,
        default_events: 0,
    },
    Workload {
        name: "W3",
        description: "PARTITION WITH (symbol OF Trades) around WINDOW('length', 100) avg(price), 100 symbols",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              PARTITION WITH (symbol OF Trades) BEGIN\n\
              INSERT INTO Out SELECT symbol, avg(price) AS avg_price FROM Trades WINDOW('length', 100);\n\
              END;\n",
        input: "Trades",
        output: "Out",
        generate: gen_trade,
        symbols: 100,
        events_per_ms: 0,
        default_events: 0,
    },
    Workload {
        name: "W3-len10",
        description: "W3 with WINDOW('length', 10): cost must not depend on the window length",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              PARTITION WITH (symbol OF Trades) BEGIN\n\
              INSERT INTO Out SELECT symbol, avg(price) AS avg_price FROM Trades WINDOW('length', 10);\n\
              END;\n",
        input: "Trades",
        output: "Out",
        generate: gen_trade,
        symbols: 100,
        events_per_ms: 0,
        default_events: 0,
    },
    Workload {
        name: "W3-len10000",
        description: "W3 with WINDOW('length', 10000): cost must not depend on the window length",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              PARTITION WITH (symbol OF Trades) BEGIN\n\
              INSERT INTO Out SELECT symbol, avg(price) AS avg_price FROM Trades WINDOW('length', 10000);\n\
              END;\n",
        input: "Trades",
        output: "Out",
        generate: gen_trade,
        symbols: 100,
        events_per_ms: 0,
        default_events: 0,
    },
    Workload {
        name: "W3-mem",
        description: "W3 with 100 000 symbols: 10 M events retained (peak RSS must stay below 2 GB)",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              PARTITION WITH (symbol OF Trades) BEGIN\n\
              INSERT INTO Out SELECT symbol, avg(price) AS avg_price FROM Trades WINDOW('length', 100);\n\
              END;\n",
        input: "Trades",
        output: "Out",
        generate: gen_trade,
        symbols: 100_000,
        events_per_ms: 0,
        default_events: 12_000_000,
    },
];

pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name.eq_ignore_ascii_case(name))
}

/// Peak resident set size of this process, in bytes (Linux).
pub fn peak_rss_self() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Peak RSS of the largest waited-for child process, in bytes.
fn peak_rss_children() -> Option<u64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage struct into the pointer we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: getrusage succeeded, so the struct is initialised.
    let usage = unsafe { usage.assume_init() };
    Some(usage.ru_maxrss as u64 * 1024)
}

pub struct Report {
    pub workload: String,
    pub mode: &'static str,
    pub events: u64,
    pub outputs: u64,
    pub seconds: f64,
    pub p50_ns: Option<u64>,
    pub p99_ns: Option<u64>,
    pub peak_rss: Option<u64>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = self.events as f64 / self.seconds;
        write!(
            f,
            "{:<4} {:<11} events={:<10} outputs={:<10} time={:>7.3}s  throughput={:>7.2} M events/s",
            self.workload,
            self.mode,
            self.events,
            self.outputs,
            self.seconds,
            rate / 1e6
        )?;
        if let (Some(p50), Some(p99)) = (self.p50_ns, self.p99_ns) {
            write!(f, "  latency p50={}ns p99={}ns", p50, p99)?;
        }
        if let Some(rss) = self.peak_rss {
            write!(f, "  peak_rss={:.1} MB", rss as f64 / (1024.0 * 1024.0))?;
        }
        Ok(())
    }
}

fn build(w: &Workload) -> Result<(App, crate::Input, Arc<AtomicU64>), String> {
    let mut app = App::from_sql_named(w.name, w.sql).map_err(|e| e.to_string())?;
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    app.subscribe_batches(w.output, move |b| {
        c.fetch_add(b.len() as u64, Ordering::Relaxed);
    })
    .map_err(|e| e.to_string())?;
    let input = app.input(w.input).map_err(|e| e.to_string())?;
    Ok((app, input, count))
}

/// Throughput in-process: pre-generated batches of `batch_size`, sent back to back.
pub fn in_process(w: &Workload, events: u64, batch_size: usize) -> Result<Report, String> {
    let events = if w.default_events > 0 {
        w.default_events
    } else {
        events
    };
    let (mut app, input, count) = build(w)?;
    let mut gen = Gen::new(42, w.symbols);
    let arity = app.plan().streams[input.stream_id()].schema.len();
    // A pool of distinct batches reused cyclically keeps generation out of the measurement.
    let mut pool: Vec<Batch> = (0..64)
        .map(|b| {
            let mut batch = Batch::with_capacity(arity, batch_size);
            let mut vals = Vec::with_capacity(arity);
            for i in 0..batch_size {
                (w.generate)(&mut gen, (b * batch_size + i) as u64, &mut vals);
                batch.push(0, EventKind::Current, &vals);
            }
            batch
        })
        .collect();
    let batches = events.div_ceil(batch_size as u64);
    let pool_len = pool.len() as u64;
    let start = Instant::now();
    for b in 0..batches {
        let batch = &mut pool[(b % pool_len) as usize];
        if w.events_per_ms > 0 {
            let first = b * batch_size as u64;
            for (i, ts) in batch.timestamps_mut().iter_mut().enumerate() {
                *ts = ((first + i as u64).checked_div(w.events_per_ms).unwrap_or(0)) as i64;
            }
            app.advance_to(first.checked_div(w.events_per_ms).unwrap_or(0) as i64);
        }
        app.send_batch_unchecked(input, batch);
    }
    let seconds = start.elapsed().as_secs_f64();
    app.shutdown();
    Ok(Report {
        workload: w.name.into(),
        mode: "in-process",
        events: batches * batch_size as u64,
        outputs: count.load(Ordering::Relaxed),
        seconds,
        p50_ns: None,
        p99_ns: None,
        peak_rss: peak_rss_self(),
    })
}

/// Per-event latency in-process: each event sent alone and timed from send to return (all
/// output of a stateless query is delivered synchronously before `send` returns).
pub fn latency(w: &Workload, events: u64) -> Result<Report, String> {
    let (mut app, input, count) = build(w)?;
    let mut gen = Gen::new(7, w.symbols);
    let mut vals = Vec::new();
    let mut samples = Vec::with_capacity(events as usize);
    let start = Instant::now();
    for i in 0..events {
        (w.generate)(&mut gen, i, &mut vals);
        let t = Instant::now();
        if w.events_per_ms > 0 {
            app.advance_to(i.checked_div(w.events_per_ms).unwrap_or(0) as i64);
        }
        app.send(input, &vals).map_err(|e| e.to_string())?;
        samples.push(t.elapsed().as_nanos() as u64);
    }
    let seconds = start.elapsed().as_secs_f64();
    app.shutdown();
    samples.sort_unstable();
    let pct = |p: f64| {
        samples
            .get(((samples.len() as f64 * p) as usize).min(samples.len().saturating_sub(1)))
            .copied()
    };
    Ok(Report {
        workload: w.name.into(),
        mode: "latency",
        events,
        outputs: count.load(Ordering::Relaxed),
        seconds,
        p50_ns: pct(0.50),
        p99_ns: pct(0.99),
        peak_rss: peak_rss_self(),
    })
}

/// Writes `events` replay lines for the workload.
pub fn write_replay_file(w: &Workload, events: u64, path: &std::path::Path) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let app =
        App::from_sql_named(w.name, w.sql).map_err(|e| std::io::Error::other(e.to_string()))?;
    let id = app
        .plan()
        .stream_id(w.input)
        .ok_or_else(|| std::io::Error::other("no input stream"))?;
    let encoder = eventflux_connectors::RowEncoder::new(&app.plan().streams[id].schema);
    let mut gen = Gen::new(42, w.symbols);
    let mut vals = Vec::new();
    let mut line = Vec::with_capacity(256);
    let prefix = format!("{{\"stream\": \"{}\", \"ts\": ", w.input);
    for i in 0..events {
        (w.generate)(&mut gen, i, &mut vals);
        line.clear();
        line.extend_from_slice(prefix.as_bytes());
        let ts = i.checked_div(w.events_per_ms).unwrap_or(i);
        line.extend_from_slice(itoa_fmt(ts as i64).as_bytes());
        line.extend_from_slice(b", \"data\": ");
        encoder.encode(&vals, &mut line);
        line.extend_from_slice(b"}\n");
        out.write_all(&line)?;
    }
    out.flush()
}

fn itoa_fmt(v: i64) -> String {
    v.to_string()
}

/// End to end: `eventflux run APP --replay FILE > /dev/null` in a child process.
pub fn replay_end_to_end(w: &Workload, events: u64) -> Result<Report, String> {
    let dir = std::env::temp_dir().join(format!("eventflux-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let app_path = dir.join(format!("{}.sql", w.name));
    let input_path = dir.join(format!("{}.ndjson", w.name));
    std::fs::write(&app_path, w.sql).map_err(|e| e.to_string())?;
    write_replay_file(w, events, &input_path).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let status = std::process::Command::new(exe)
        .arg("run")
        .arg(&app_path)
        .arg("--replay")
        .arg(&input_path)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    if !status.success() {
        return Err(format!("replay exited with {status}"));
    }
    Ok(Report {
        workload: w.name.into(),
        mode: "replay",
        events,
        outputs: 0,
        seconds,
        p50_ns: None,
        p99_ns: None,
        peak_rss: peak_rss_children(),
    })
}
