//! The benchmark harness (`eventflux bench`): named workloads run in-process (throughput with
//! batched sends, per-event latency with single sends) and end to end (replay of a generated
//! NDJSON file through the real binary, output to /dev/null).

use crate::{App, Batch, EventKind, Value};
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A named workload: an app, its input streams and a deterministic event generator.
pub struct Workload {
    pub name: &'static str,
    pub description: &'static str,
    pub sql: &'static str,
    /// Input streams; the generator says which one each event goes to.
    pub inputs: &'static [&'static str],
    pub output: &'static str,
    /// Fills `out` with the values of event number `i` and returns its input's index.
    pub generate: fn(&mut Gen, u64, &mut Vec<Value>) -> usize,
    /// Distinct symbols the generator draws from.
    pub symbols: usize,
    /// Events per second of (virtual) time; 0 keeps every event at time 0.
    pub events_per_sec: u64,
    /// Number of events for the in-process run, whatever `--events` says (0: `--events`).
    pub default_events: u64,
    /// Events do not depend on their number: the in-process run may cycle through a pool of
    /// pre-generated batches (restamped with fresh times) instead of generating every event.
    pub cyclic: bool,
    /// Rows sent before the measured events (e.g. a table loaded through an INSERT INTO
    /// query); they are not timed in-process, and come first in the replay file.
    pub preload: Option<Preload>,
    /// Prepares what the workload needs outside the engine (an external table), before every run.
    pub setup: Option<fn() -> Result<(), String>>,
}

/// Rows sent to one stream before a workload's events.
pub struct Preload {
    pub stream: &'static str,
    pub rows: u64,
    /// Fills the values of row number `i`.
    pub generate: fn(u64, &mut Vec<Value>),
}

impl Workload {
    fn ts(&self, i: u64) -> i64 {
        if self.events_per_sec == 0 {
            0
        } else {
            (i as u128 * 1000 / self.events_per_sec as u128) as i64
        }
    }
}

/// Deterministic generator state (xorshift64*) plus interned strings, so generating events does
/// not allocate and every run sees the same events.
pub struct Gen {
    state: u64,
    pub symbols: Vec<Value>,
    /// Per-symbol random-walk prices.
    pub prices: Vec<f64>,
}

impl Gen {
    pub fn new(seed: u64, symbols: usize) -> Gen {
        Gen {
            state: seed.max(1),
            symbols: (0..symbols)
                .map(|i| Value::from(format!("S{i:05}").as_str()))
                .collect(),
            prices: vec![100.0; symbols],
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

fn gen_trade(g: &mut Gen, _i: u64, out: &mut Vec<Value>) -> usize {
    out.clear();
    let k = (g.next_u64() % g.symbols.len() as u64) as usize;
    let sym = g.symbols[k].clone();
    // Prices uniform in [0, 100): half pass `price > 50`.
    let price = (g.next_f64() * 10_000.0).round() / 100.0;
    let volume = (g.next_u64() % 1000) as i32 + 1;
    out.extend([sym, Value::Double(price), Value::Int(volume)]);
    0
}

/// Trades whose prices follow a per-symbol random walk (steps of up to ±1 %).
fn gen_walk(g: &mut Gen, _i: u64, out: &mut Vec<Value>) -> usize {
    out.clear();
    let k = (g.next_u64() % g.symbols.len() as u64) as usize;
    let step = (g.next_f64() - 0.5) * 0.02;
    g.prices[k] = (g.prices[k] * (1.0 + step)).clamp(1.0, 10_000.0);
    let volume = (g.next_u64() % 1000) as i32 + 1;
    out.extend([
        g.symbols[k].clone(),
        Value::Double(g.prices[k]),
        Value::Int(volume),
    ]);
    0
}

/// Orders and payments: two orders then one payment, repeating; the payment pays the even
/// order placed `PAY_LAG` orders earlier (2.5 s before, at 20 000 orders/s), so half of the
/// orders are paid and the rest time out after 5 s.
fn gen_orders(_g: &mut Gen, i: u64, out: &mut Vec<Value>) -> usize {
    const PAY_LAG: u64 = 50_000;
    out.clear();
    let round = i / 3;
    match i % 3 {
        2 => {
            let paid = (round * 2).saturating_sub(PAY_LAG);
            out.extend([Value::Long(paid as i64), Value::Double(10.0)]);
            1
        }
        r => {
            out.extend([Value::Long((round * 2 + r) as i64), Value::Double(10.0)]);
            0
        }
    }
}

/// Readings with a step number 1..=5, for the five-step sequence.
fn gen_steps(g: &mut Gen, _i: u64, out: &mut Vec<Value>) -> usize {
    out.clear();
    let step = (g.next_u64() % 5) as i32 + 1;
    out.extend([Value::Int(step), Value::Double(g.next_f64())]);
    0
}

pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "W1",
        description: "filter + projection: SELECT symbol, price * volume AS notional FROM Trades WHERE price > 50",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              INSERT INTO Out SELECT symbol, price * volume AS notional FROM Trades WHERE price > 50;\n",
        inputs: &["Trades"],
        output: "Out",
        generate: gen_trade,
        symbols: 100,
        events_per_sec: 0,
        default_events: 0,
        cyclic: true,
        preload: None,
        setup: None,
    },
    Workload {
        name: "W2",
        description: "tumbling 1 sec, GROUP BY symbol (100 symbols), avg(price), sum(volume); 1M events per virtual second",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              INSERT INTO Out SELECT symbol, avg(price) AS avg_price, sum(volume) AS volume\n\
              FROM Trades WINDOW TUMBLING(1 sec) GROUP BY symbol;\n",
        inputs: &["Trades"],
        output: "Out",
        generate: gen_trade,
        symbols: 100,
        events_per_sec: 1_000_000,
        default_events: 0,
        cyclic: true,
        preload: None,
        setup: None,
    },
    Workload {
        name: "W3",
        description: "PARTITION WITH (symbol OF Trades) around WINDOW('length', 100) avg(price), 100 symbols",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              PARTITION WITH (symbol OF Trades) BEGIN\n\
              INSERT INTO Out SELECT symbol, avg(price) AS avg_price FROM Trades WINDOW('length', 100);\n\
              END;\n",
        inputs: &["Trades"],
        output: "Out",
        generate: gen_trade,
        symbols: 100,
        events_per_sec: 0,
        default_events: 0,
        cyclic: true,
        preload: None,
        setup: None,
    },
    Workload {
        name: "W3-len10",
        description: "W3 with WINDOW('length', 10): cost must not depend on the window length",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              PARTITION WITH (symbol OF Trades) BEGIN\n\
              INSERT INTO Out SELECT symbol, avg(price) AS avg_price FROM Trades WINDOW('length', 10);\n\
              END;\n",
        inputs: &["Trades"],
        output: "Out",
        generate: gen_trade,
        symbols: 100,
        events_per_sec: 0,
        default_events: 0,
        cyclic: true,
        preload: None,
        setup: None,
    },
    Workload {
        name: "W3-len10000",
        description: "W3 with WINDOW('length', 10000): cost must not depend on the window length",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              PARTITION WITH (symbol OF Trades) BEGIN\n\
              INSERT INTO Out SELECT symbol, avg(price) AS avg_price FROM Trades WINDOW('length', 10000);\n\
              END;\n",
        inputs: &["Trades"],
        output: "Out",
        generate: gen_trade,
        symbols: 100,
        events_per_sec: 0,
        default_events: 0,
        cyclic: true,
        preload: None,
        setup: None,
    },
    Workload {
        name: "W3-mem",
        description: "W3 with 100 000 symbols: 10 M events retained (peak RSS must stay below 2 GB)",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              PARTITION WITH (symbol OF Trades) BEGIN\n\
              INSERT INTO Out SELECT symbol, avg(price) AS avg_price FROM Trades WINDOW('length', 100);\n\
              END;\n",
        inputs: &["Trades"],
        output: "Out",
        generate: gen_trade,
        symbols: 100_000,
        events_per_sec: 0,
        default_events: 12_000_000,
        cyclic: true,
        preload: None,
        setup: None,
    },
    Workload {
        name: "W4",
        description: "PARTITION WITH (symbol OF Trades) + EVERY e1=Trades -> e2=Trades[price > e1.price * 1.05] WITHIN 1 sec; 100 symbols, random-walk prices, 2 events per symbol per second",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              PARTITION WITH (symbol OF Trades) BEGIN\n\
              INSERT INTO Out SELECT e1.symbol AS symbol, e1.price AS p1, e2.price AS p2\n\
              FROM PATTERN (EVERY e1=Trades -> e2=Trades[price > e1.price * 1.05]) WITHIN 1 sec;\n\
              END;\n",
        inputs: &["Trades"],
        output: "Out",
        generate: gen_walk,
        symbols: 100,
        events_per_sec: 200,
        default_events: 0,
        cyclic: true,
        preload: None,
        setup: None,
    },
    Workload {
        name: "W4-dense",
        description: "PARTITION WITH (symbol OF Trades) + EVERY e1=Trades -> e2=Trades[price > e1.price * 1.05] WITHIN 1 sec; 100 symbols, W4 with 10 events per symbol per second (10 live partial matches per symbol)",
        sql: "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
              PARTITION WITH (symbol OF Trades) BEGIN\n\
              INSERT INTO Out SELECT e1.symbol AS symbol, e1.price AS p1, e2.price AS p2\n\
              FROM PATTERN (EVERY e1=Trades -> e2=Trades[price > e1.price * 1.05]) WITHIN 1 sec;\n\
              END;\n",
        inputs: &["Trades"],
        output: "Out",
        generate: gen_walk,
        symbols: 100,
        events_per_sec: 1000,
        default_events: 0,
        cyclic: true,
        preload: None,
        setup: None,
    },
    Workload {
        name: "W5",
        description: "absence: EVERY e1=Orders -> NOT Payments[id = e1.id] FOR 5 sec; 20 000 orders/s (~100 000 open), half paid",
        sql: "CREATE STREAM Orders (id LONG, amount DOUBLE);\n\
              CREATE STREAM Payments (id LONG, amount DOUBLE);\n\
              INSERT INTO Unpaid SELECT e1.id AS id, e1.amount AS amount\n\
              FROM PATTERN (EVERY e1=Orders -> NOT Payments[id = e1.id] FOR 5 sec);\n",
        inputs: &["Orders", "Payments"],
        output: "Unpaid",
        generate: gen_orders,
        symbols: 1,
        events_per_sec: 30_000,
        default_events: 6_000_000,
        cyclic: false,
        preload: None,
        setup: None,
    },
    Workload {
        name: "W6",
        description: "five-step sequence with a {2,5} quantifier: EVERY e1=S[step=1] -> e2=S[step=2]{2,5} -> e3=S[step=3] -> e4=S[step=4] -> e5=S[step=5] WITHIN 1 sec",
        sql: "CREATE STREAM S (step INT, v DOUBLE);\n\
              INSERT INTO Out SELECT e1.v AS v1, count(e2) AS twos, e5.v AS v5\n\
              FROM PATTERN (EVERY e1=S[step == 1] -> e2=S[step == 2]{2,5} -> e3=S[step == 3]\n\
                            -> e4=S[step == 4] -> e5=S[step == 5]) WITHIN 1 sec;\n",
        inputs: &["S"],
        output: "Out",
        generate: gen_steps,
        symbols: 1,
        events_per_sec: 20_000,
        default_events: 0,
        cyclic: true,
        preload: None,
        setup: None,
    },
    Workload {
        name: "W7",
        description: "stream-table enrichment: Orders JOIN Products ON primary key, 100 000 products loaded through INSERT INTO before timing",
        sql: "CREATE TABLE Products (id LONG, name STRING, price DOUBLE, PRIMARY KEY (id));\n\
              CREATE STREAM ProductLoad (id LONG, name STRING, price DOUBLE);\n\
              CREATE STREAM Orders (product LONG, qty INT);\n\
              INSERT INTO Products SELECT id, name, price FROM ProductLoad;\n\
              INSERT INTO Out SELECT o.product, p.name, o.qty * p.price AS total\n\
              FROM Orders AS o JOIN Products AS p ON o.product = p.id;\n",
        inputs: &["Orders"],
        output: "Out",
        generate: gen_order,
        symbols: 1,
        events_per_sec: 0,
        default_events: 0,
        cyclic: true,
        preload: Some(Preload {
            stream: "ProductLoad",
            rows: PRODUCTS,
            generate: gen_product,
        }),
        setup: None,
    },
    Workload {
        name: "W8",
        description: "W7 against PostgreSQL: Products is a 'postgres' table (100 000 rows written through INSERT INTO before timing) behind an LRU cache of 95 000 rows (95 % hits for uniform keys); EVENTFLUX_BENCH_PG overrides the URL",
        sql: "CREATE TABLE Products (id LONG, name STRING, price DOUBLE, PRIMARY KEY (id))\n\
              WITH (extension = 'postgres',\n\
                    \"postgres.url\" = '${EVENTFLUX_BENCH_PG:postgres://postgres@127.0.0.1:5432/test}',\n\
                    \"postgres.table\" = 'eventflux_bench_products',\n\
                    \"cache.policy\" = 'LRU', \"cache.size\" = '95000');\n\
              CREATE STREAM ProductLoad (id LONG, name STRING, price DOUBLE);\n\
              CREATE STREAM Orders (product LONG, qty INT);\n\
              INSERT INTO Products SELECT id, name, price FROM ProductLoad;\n\
              INSERT INTO Out SELECT o.product, p.name, o.qty * p.price AS total\n\
              FROM Orders AS o JOIN Products AS p ON o.product = p.id;\n",
        inputs: &["Orders"],
        output: "Out",
        generate: gen_order,
        symbols: 1,
        events_per_sec: 0,
        default_events: 2_000_000,
        cyclic: false,
        preload: Some(Preload {
            stream: "ProductLoad",
            rows: PRODUCTS,
            generate: gen_product,
        }),
        setup: Some(setup_w8),
    },
    Workload {
        name: "W9",
        description: "stream-stream inner join, WINDOW('time', 1 sec) each side, ON symbol (1 000 symbols), 2 000 events per virtual second (1 000 retained per side, ~1 match per event)",
        sql: "CREATE STREAM Quotes (symbol STRING, bid DOUBLE);\n\
              CREATE STREAM Trades (symbol STRING, price DOUBLE);\n\
              INSERT INTO Out SELECT q.symbol, q.bid, t.price\n\
              FROM Quotes WINDOW('time', 1 sec) AS q JOIN Trades WINDOW('time', 1 sec) AS t\n\
              ON q.symbol = t.symbol;\n",
        inputs: &["Quotes", "Trades"],
        output: "Out",
        generate: gen_quote_or_trade,
        symbols: 1000,
        events_per_sec: 2_000,
        default_events: 0,
        cyclic: true,
        preload: None,
        setup: None,
    },
    Workload {
        name: "W9-dense",
        description: "W9 at 10 000 events per virtual second: 5 000 rows retained per side, ~5 matches per event",
        sql: "CREATE STREAM Quotes (symbol STRING, bid DOUBLE);\n\
              CREATE STREAM Trades (symbol STRING, price DOUBLE);\n\
              INSERT INTO Out SELECT q.symbol, q.bid, t.price\n\
              FROM Quotes WINDOW('time', 1 sec) AS q JOIN Trades WINDOW('time', 1 sec) AS t\n\
              ON q.symbol = t.symbol;\n",
        inputs: &["Quotes", "Trades"],
        output: "Out",
        generate: gen_quote_or_trade,
        symbols: 1000,
        events_per_sec: 10_000,
        default_events: 0,
        cyclic: true,
        preload: None,
        setup: None,
    },
];

/// W8's PostgreSQL table, created empty.
fn setup_w8() -> Result<(), String> {
    let url = std::env::var("EVENTFLUX_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut c = postgres::Client::connect(&url, postgres::NoTls)
        .map_err(|e| format!("W8 needs PostgreSQL at {url}: {e}"))?;
    c.batch_execute(
        "DROP TABLE IF EXISTS eventflux_bench_products;\n\
         CREATE TABLE eventflux_bench_products (id BIGINT PRIMARY KEY, name TEXT, price DOUBLE PRECISION);",
    )
    .map_err(|e| format!("W8 setup: {e}"))
}

/// Products in W7's table.
const PRODUCTS: u64 = 100_000;

fn gen_product(i: u64, out: &mut Vec<Value>) {
    out.clear();
    out.extend([
        Value::Long(i as i64),
        Value::from(format!("product-{i}")),
        Value::Double(1.0 + (i % 1000) as f64 / 10.0),
    ]);
}

/// Orders for a uniformly random product of W7's table.
fn gen_order(g: &mut Gen, _i: u64, out: &mut Vec<Value>) -> usize {
    out.clear();
    let product = (g.next_u64() % PRODUCTS) as i64;
    let qty = (g.next_u64() % 10) as i32 + 1;
    out.extend([Value::Long(product), Value::Int(qty)]);
    0
}

/// A quote or a trade (half each) for a random symbol.
fn gen_quote_or_trade(g: &mut Gen, _i: u64, out: &mut Vec<Value>) -> usize {
    out.clear();
    let r = g.next_u64();
    let k = ((r >> 1) % g.symbols.len() as u64) as usize;
    out.extend([g.symbols[k].clone(), Value::Double(g.next_f64() * 100.0)]);
    (r & 1) as usize
}

/// Cache figures of external tables, for a report.
fn store_figures(stats: &crate::EngineStats) -> String {
    let mut out = String::new();
    for t in &stats.table_stores {
        let lookups = t.cache.hits + t.cache.misses;
        if lookups > 0 {
            out.push_str(&format!(
                " {}_cache_hits={:.1}%",
                t.table,
                100.0 * t.cache.hits as f64 / lookups as f64
            ));
        }
        if t.failed_events > 0 {
            out.push_str(&format!(" {}_failed_events={}", t.table, t.failed_events));
        }
    }
    out
}

pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name.eq_ignore_ascii_case(name))
}

/// Current or peak resident set size of this process, in bytes (Linux).
fn proc_status(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn peak_rss_self() -> Option<u64> {
    proc_status("VmHWM:")
}

pub fn rss_self() -> Option<u64> {
    proc_status("VmRSS:")
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
    /// Workload-specific figures (state size, bytes per partial match).
    pub extra: String,
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
            write!(f, "  latency p50={p50}ns p99={p99}ns")?;
        }
        if let Some(rss) = self.peak_rss {
            write!(f, "  peak_rss={:.1} MB", rss as f64 / (1024.0 * 1024.0))?;
        }
        if !self.extra.is_empty() {
            write!(f, "  {}", self.extra)?;
        }
        Ok(())
    }
}

struct Built {
    app: App,
    inputs: Vec<crate::Input>,
    arities: Vec<usize>,
    count: Arc<AtomicU64>,
}

fn build(w: &Workload) -> Result<Built, String> {
    if let Some(setup) = w.setup {
        setup()?;
    }
    let mut app = App::from_sql_named(w.name, w.sql).map_err(|e| e.to_string())?;
    let count = Arc::new(AtomicU64::new(0));
    let c = count.clone();
    app.subscribe_batches(w.output, move |b| {
        c.fetch_add(b.len() as u64, Ordering::Relaxed);
    })
    .map_err(|e| e.to_string())?;
    let mut inputs = Vec::new();
    let mut arities = Vec::new();
    for name in w.inputs {
        let input = app.input(name).map_err(|e| e.to_string())?;
        arities.push(app.plan().streams[input.stream_id()].schema.len());
        inputs.push(input);
    }
    if let Some(p) = &w.preload {
        let input = app.input(p.stream).map_err(|e| e.to_string())?;
        let arity = app.plan().streams[input.stream_id()].schema.len();
        let mut batch = Batch::new(arity);
        let mut vals = Vec::new();
        for i in 0..p.rows {
            (p.generate)(i, &mut vals);
            batch.push(0, EventKind::Current, &vals);
            if batch.len() == 1024 || i + 1 == p.rows {
                app.send_batch(input, &batch).map_err(|e| e.to_string())?;
                batch.clear();
            }
        }
    }
    Ok(Built {
        app,
        inputs,
        arities,
        count,
    })
}

/// A prepared chunk of consecutive events of one input.
struct Chunk {
    input: usize,
    batch: Batch,
}

/// Throughput in-process: pre-generated batches (consecutive events of one input, up to
/// `batch_size`) sent back to back, the clock advanced to each batch's first event.
pub fn in_process(w: &Workload, events: u64, batch_size: usize) -> Result<Report, String> {
    let events = if w.default_events > 0 {
        w.default_events
    } else {
        events
    };
    let Built {
        mut app,
        inputs,
        arities,
        count,
    } = build(w)?;
    let mut gen = Gen::new(42, w.symbols);
    // Generate up front: a pool of 64 batches reused cyclically, or every event.
    let pregenerate = if w.cyclic {
        events.min(64 * batch_size as u64)
    } else {
        events
    };
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut vals = Vec::new();
    for i in 0..pregenerate {
        let input = (w.generate)(&mut gen, i, &mut vals);
        let ts = w.ts(i);
        match chunks.last_mut() {
            // A batch holds events of one input and one millisecond: the clock moves between
            // batches exactly as it would between events.
            Some(c)
                if c.input == input
                    && c.batch.len() < batch_size
                    && c.batch.timestamps().first() == Some(&ts) =>
            {
                c.batch.push(ts, EventKind::Current, &vals)
            }
            _ => {
                let mut batch = Batch::new(arities[input]);
                batch.push(ts, EventKind::Current, &vals);
                chunks.push(Chunk { input, batch });
            }
        }
    }
    let base_rss = rss_self().unwrap_or(0);
    let start = Instant::now();
    let mut sent = 0u64;
    'outer: loop {
        for c in chunks.iter_mut() {
            if sent >= events {
                break 'outer;
            }
            if w.events_per_sec > 0 {
                if w.cyclic {
                    for (k, ts) in c.batch.timestamps_mut().iter_mut().enumerate() {
                        *ts = w.ts(sent + k as u64);
                    }
                }
                app.advance_to(c.batch.timestamps()[0]);
            }
            app.send_batch_unchecked(inputs[c.input], &c.batch);
            sent += c.batch.len() as u64;
        }
        if !w.cyclic {
            break;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let stats = app.stats();
    let state: usize = stats.state_sizes.iter().map(|(_, n)| n).sum();
    let dropped: u64 = stats.window_evictions.iter().map(|(_, n)| n).sum();
    let rss = rss_self().unwrap_or(0);
    let mut extra = format!("live_state={state}");
    if state > 0 && rss > base_rss {
        extra.push_str(&format!(
            " bytes_per_state_entry={}",
            (rss - base_rss) / state as u64
        ));
    }
    if dropped > 0 {
        extra.push_str(&format!(" dropped={dropped}"));
    }
    extra.push_str(&store_figures(&stats));
    app.shutdown();
    Ok(Report {
        workload: w.name.into(),
        mode: "in-process",
        events: sent,
        outputs: count.load(Ordering::Relaxed),
        seconds,
        p50_ns: None,
        p99_ns: None,
        peak_rss: peak_rss_self(),
        extra,
    })
}

/// Per-event latency in-process: each event sent alone and timed from send to return (all
/// output caused by the event is delivered synchronously before `send` returns).
pub fn latency(w: &Workload, events: u64) -> Result<Report, String> {
    let Built {
        mut app,
        inputs,
        count,
        ..
    } = build(w)?;
    let mut gen = Gen::new(7, w.symbols);
    let mut vals = Vec::new();
    let mut samples = Vec::with_capacity(events as usize);
    // External tables: the latencies of events whose lookup missed the cache, apart.
    let external = !app.stats().table_stores.is_empty();
    let misses_now = |app: &App| -> u64 {
        app.stats()
            .table_stores
            .iter()
            .map(|t| t.cache.misses)
            .sum()
    };
    let mut miss_samples = Vec::new();
    let mut misses = if external { misses_now(&app) } else { 0 };
    let start = Instant::now();
    for i in 0..events {
        let input = (w.generate)(&mut gen, i, &mut vals);
        let t = Instant::now();
        if w.events_per_sec > 0 {
            app.advance_to(w.ts(i));
        }
        app.send(inputs[input], &vals).map_err(|e| e.to_string())?;
        let ns = t.elapsed().as_nanos() as u64;
        samples.push(ns);
        if external {
            let m = misses_now(&app);
            if m > misses {
                miss_samples.push(ns);
            }
            misses = m;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    app.shutdown();
    let pct = |samples: &mut Vec<u64>, p: f64| {
        samples.sort_unstable();
        samples
            .get(((samples.len() as f64 * p) as usize).min(samples.len().saturating_sub(1)))
            .copied()
    };
    let mut extra = String::new();
    if external {
        let n = miss_samples.len();
        if let (Some(p50), Some(p99)) = (pct(&mut miss_samples, 0.5), pct(&mut miss_samples, 0.99))
        {
            extra = format!("cache_misses={n} miss_latency p50={p50}ns p99={p99}ns");
        }
    }
    Ok(Report {
        workload: w.name.into(),
        mode: "latency",
        events,
        outputs: count.load(Ordering::Relaxed),
        seconds,
        p50_ns: pct(&mut samples, 0.50),
        p99_ns: pct(&mut samples, 0.99),
        peak_rss: peak_rss_self(),
        extra,
    })
}

/// Writes `events` replay lines for the workload.
pub fn write_replay_file(w: &Workload, events: u64, path: &std::path::Path) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let app =
        App::from_sql_named(w.name, w.sql).map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut encoders = Vec::new();
    for name in w.inputs {
        let id = app
            .plan()
            .stream_id(name)
            .ok_or_else(|| std::io::Error::other("no input stream"))?;
        encoders.push((
            format!("{{\"stream\": \"{name}\", \"ts\": "),
            eventflux_connectors::RowEncoder::new(&app.plan().streams[id].schema),
        ));
    }
    let mut vals = Vec::new();
    let mut line = Vec::with_capacity(256);
    if let Some(p) = &w.preload {
        let id = app
            .plan()
            .stream_id(p.stream)
            .ok_or_else(|| std::io::Error::other("no preload stream"))?;
        let encoder = eventflux_connectors::RowEncoder::new(&app.plan().streams[id].schema);
        for i in 0..p.rows {
            (p.generate)(i, &mut vals);
            line.clear();
            line.extend_from_slice(
                format!("{{\"stream\": \"{}\", \"ts\": 0, \"data\": ", p.stream).as_bytes(),
            );
            encoder.encode(&vals, &mut line);
            line.extend_from_slice(b"}\n");
            out.write_all(&line)?;
        }
    }
    let mut gen = Gen::new(42, w.symbols);
    for i in 0..events {
        let input = (w.generate)(&mut gen, i, &mut vals);
        let (prefix, encoder) = &encoders[input];
        line.clear();
        line.extend_from_slice(prefix.as_bytes());
        let ts = if w.events_per_sec > 0 {
            w.ts(i)
        } else {
            i as i64
        };
        line.extend_from_slice(ts.to_string().as_bytes());
        line.extend_from_slice(b", \"data\": ");
        encoder.encode(&vals, &mut line);
        line.extend_from_slice(b"}\n");
        out.write_all(&line)?;
    }
    out.flush()
}

/// End to end: `eventflux run APP --replay FILE > /dev/null` in a child process.
pub fn replay_end_to_end(w: &Workload, events: u64) -> Result<Report, String> {
    let dir = std::env::temp_dir().join(format!("eventflux-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let app_path = dir.join(format!("{}.sql", w.name));
    let input_path = dir.join(format!("{}.ndjson", w.name));
    std::fs::write(&app_path, w.sql).map_err(|e| e.to_string())?;
    write_replay_file(w, events, &input_path).map_err(|e| e.to_string())?;
    if let Some(setup) = w.setup {
        setup()?;
    }
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
        extra: String::new(),
    })
}

/// W1 end to end through NATS: a publisher sends trades to a NATS subject at `rate` events/s
/// (0: as fast as it can), the app (in this process, with its NATS source and sink connectors)
/// filters and projects them to another subject, and a subscriber records when each output
/// arrives. Latency is from publish to receipt (both clocks are this machine's).
pub fn nats_end_to_end(rate: u64, events: u64) -> Result<Report, String> {
    use futures_util::StreamExt;
    let url =
        std::env::var("EVENTFLUX_BENCH_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let (inp, out) = (
        format!("bench.w1.in.{}", std::process::id()),
        format!("bench.w1.out.{}", std::process::id()),
    );
    let sql = format!(
        "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT, sent LONG)\n\
         WITH (type = 'source', extension = 'nats', \"nats.url\" = '{url}', \"nats.subject\" = '{inp}');\n\
         CREATE STREAM Out (symbol STRING, notional DOUBLE, sent LONG)\n\
         WITH (type = 'sink', extension = 'nats', \"nats.url\" = '{url}', \"nats.subject\" = '{out}');\n\
         INSERT INTO Out SELECT symbol, price * volume AS notional, sent FROM Trades WHERE price > 50;\n"
    );
    let mut app = App::from_sql_named("W1-nats", &sql)
        .map_err(|e| e.to_string())?
        .with_clock(crate::ClockMode::Wall);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let engine = {
        let stop = stop.clone();
        std::thread::spawn(move || -> Result<(), String> {
            let sinks = crate::connect::Sinks::attach(&mut app)?;
            crate::connect::run_sources(&mut app, &sinks, &stop, &mut |_| Ok(()))
                .map_err(|f| f.message)?;
            app.shutdown();
            sinks.finish();
            Ok(())
        })
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let now_us = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64)
    };
    let result = rt.block_on(async {
        let client = async_nats::ConnectOptions::new()
            .subscription_capacity(1 << 20)
            .connect(url.as_str())
            .await
            .map_err(|e| format!("NATS at {url}: {e}"))?;
        let mut sub = client
            .subscribe(out.clone())
            .await
            .map_err(|e| e.to_string())?;
        // Wait until the app's source listens (core NATS keeps nothing for late subscribers).
        let probe = br#"{"symbol": "probe", "price": 100.0, "volume": 1, "sent": 0}"#;
        let start = Instant::now();
        loop {
            client
                .publish(inp.clone(), probe.as_slice().into())
                .await
                .map_err(|e| e.to_string())?;
            let _ = client.flush().await;
            if let Ok(Some(_)) =
                tokio::time::timeout(std::time::Duration::from_millis(100), sub.next()).await
            {
                break;
            }
            if start.elapsed() > std::time::Duration::from_secs(20) {
                return Err("the app's NATS source did not start".to_string());
            }
        }
        while let Ok(Some(_)) =
            tokio::time::timeout(std::time::Duration::from_millis(200), sub.next()).await
        {}
        let expected = events / 2;
        let receiver = tokio::spawn(async move {
            let mut samples = Vec::with_capacity(expected as usize);
            let mut last = Instant::now();
            while (samples.len() as u64) < expected {
                match tokio::time::timeout(std::time::Duration::from_secs(5), sub.next()).await {
                    Ok(Some(m)) => {
                        let text = std::str::from_utf8(&m.payload).unwrap_or("");
                        if let Some(sent) = text
                            .rsplit("\"sent\": ")
                            .next()
                            .and_then(|t| t.trim_end_matches('}').trim().parse::<i64>().ok())
                        {
                            if sent > 0 {
                                samples.push((now_us() - sent).max(0) as u64);
                            }
                        }
                        last = Instant::now();
                    }
                    _ => break,
                }
            }
            (samples, last)
        });
        let t0 = Instant::now();
        let mut payload = Vec::with_capacity(96);
        // Even ids pass the filter (price 101.5), odd ones do not.
        for i in 0..events {
            if rate > 0 && i % 100 == 0 {
                let due = t0 + std::time::Duration::from_nanos(i * 1_000_000_000 / rate);
                let now = Instant::now();
                if due > now {
                    tokio::time::sleep(due - now).await;
                }
            }
            payload.clear();
            let price = if i % 2 == 0 { 101.5 } else { 20.0 };
            payload.extend_from_slice(
                format!(
                    "{{\"symbol\": \"S{}\", \"price\": {price}, \"volume\": 10, \"sent\": {}}}",
                    i % 100,
                    now_us()
                )
                .as_bytes(),
            );
            client
                .publish(inp.clone(), payload.clone().into())
                .await
                .map_err(|e| e.to_string())?;
        }
        let _ = client.flush().await;
        let (samples, last) = receiver.await.map_err(|e| e.to_string())?;
        Ok::<_, String>((samples, last.duration_since(t0).as_secs_f64()))
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = engine.join();
    let (mut samples, seconds) = result?;
    let received = samples.len() as u64;
    samples.sort_unstable();
    let pct = |p: f64| {
        samples
            .get(((samples.len() as f64 * p) as usize).min(samples.len().saturating_sub(1)))
            .map(|us| us * 1000)
    };
    Ok(Report {
        workload: "W1".into(),
        mode: "nats",
        events,
        outputs: received,
        seconds,
        p50_ns: pct(0.5),
        p99_ns: pct(0.99),
        peak_rss: peak_rss_self(),
        extra: format!(
            "offered={} received={received}/{} outputs",
            if rate == 0 {
                "max".to_string()
            } else {
                format!("{rate}/s")
            },
            events / 2
        ),
    })
}
