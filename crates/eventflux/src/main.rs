//! The `eventflux` command line (LANGUAGE.md §15).

use clap::{Parser, Subcommand};
use eventflux::bench;
use eventflux::cli::{self, Failure, RunOptions, EXIT_OK};
use std::io::Write;
use std::process::ExitCode;

// The binary's allocator: connector threads allocate messages that other threads free, which
// glibc's allocator handles poorly (consolidation and lock traffic showed in profiles). The
// embedding API leaves the allocator to the host program.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "eventflux",
    version,
    about = "EventFlux: a pattern-first complex event processing engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an app: live (stdin/stdout, wall clock) or replaying NDJSON on the virtual clock.
    Run {
        /// The app (.sql file).
        app: String,
        /// Replay this NDJSON file ('-' for stdin) on the virtual clock.
        #[arg(long, value_name = "FILE|-")]
        replay: Option<String>,
        /// At the end of the replay, advance every clock to the end of time (closes windows, fires timers).
        #[arg(long, requires = "replay")]
        flush: bool,
        /// Also print the rows of this stream (repeatable).
        #[arg(long, value_name = "STREAM")]
        print: Vec<String>,
        /// Print the engine's counters (rows, state sizes, late events, timers) to stderr at the end.
        #[arg(long)]
        stats: bool,
    },
    /// Parse and validate an app.
    Check { app: String },
    /// Print the operator graph of an app.
    Explain {
        app: String,
        /// 'text' or 'dot' (Graphviz).
        #[arg(long, default_value = "text")]
        format: String,
    },
    /// Run benchmark workloads.
    Bench {
        /// Workloads to run (default: all).
        workloads: Vec<String>,
        /// Events per in-process throughput run.
        #[arg(long, default_value_t = 20_000_000)]
        events: u64,
        /// Events for the latency run and the end-to-end replay run.
        #[arg(long, default_value_t = 2_000_000)]
        replay_events: u64,
        /// Events per batch in the throughput run.
        #[arg(long, default_value_t = 1024)]
        batch: usize,
        /// in-process, latency, replay, all, or nats (W1 end to end through NATS; not in all).
        #[arg(long, default_value = "all")]
        mode: String,
        /// Offered load of the nats mode in events/s (0: as fast as the publisher can).
        #[arg(long, default_value_t = 100_000)]
        rate: u64,
        /// In-process runs per workload; with more than one, a summary line gives the best and
        /// the median (this kind of machine varies run to run).
        #[arg(long, default_value_t = 1)]
        repeat: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<String, Failure> = match cli.command {
        Command::Run {
            app,
            replay,
            flush,
            print,
            stats,
        } => cli::run(
            &app,
            &RunOptions {
                replay,
                flush,
                print,
                stats,
            },
        )
        .map(|()| String::new()),
        Command::Check { app } => cli::check(&app),
        Command::Explain { app, format } => cli::explain(&app, &format),
        Command::Bench {
            workloads,
            events,
            replay_events,
            batch,
            mode,
            repeat,
            rate,
        } => {
            if mode == "nats" {
                bench::nats_end_to_end(rate, replay_events)
                    .map(|r| format!("{r}\n"))
                    .map_err(|m| Failure {
                        code: cli::EXIT_APP,
                        message: format!("error: {m}"),
                    })
            } else {
                run_bench(&workloads, events, replay_events, batch, &mode, repeat)
            }
        }
    };
    match result {
        Ok(out) => {
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::from(EXIT_OK as u8)
        }
        Err(f) => {
            eprint!("{}", f.message);
            if !f.message.ends_with('\n') {
                eprintln!();
            }
            ExitCode::from(f.code as u8)
        }
    }
}

fn run_bench(
    names: &[String],
    events: u64,
    replay_events: u64,
    batch: usize,
    mode: &str,
    repeat: usize,
) -> Result<String, Failure> {
    let usage = |m: String| Failure {
        code: cli::EXIT_USAGE,
        message: m,
    };
    let selected: Vec<&bench::Workload> = if names.is_empty() {
        bench::WORKLOADS.iter().collect()
    } else {
        names
            .iter()
            .map(|n| bench::find(n).ok_or_else(|| usage(format!("error: unknown workload '{n}'"))))
            .collect::<Result<_, _>>()?
    };
    if !matches!(mode, "all" | "in-process" | "latency" | "replay") {
        return Err(usage(format!(
            "error: unknown mode '{mode}' (in-process, latency, replay, all)"
        )));
    }
    let fail = |m: String| Failure {
        code: cli::EXIT_APP,
        message: m,
    };
    for w in selected {
        println!("# {}: {}", w.name, w.description);
        if matches!(mode, "all" | "in-process") {
            let mut rates = Vec::new();
            for _ in 0..repeat.max(1) {
                let report = bench::in_process(w, events, batch.max(1)).map_err(fail)?;
                rates.push(report.events as f64 / report.seconds / 1e6);
                println!("{report}");
            }
            if rates.len() > 1 {
                rates.sort_by(f64::total_cmp);
                println!(
                    "{:<4} in-process  best={:.2} median={:.2} worst={:.2} M events/s over {} runs",
                    w.name,
                    rates[rates.len() - 1],
                    rates[rates.len() / 2],
                    rates[0],
                    rates.len()
                );
            }
        }
        if matches!(mode, "all" | "latency") {
            println!("{}", bench::latency(w, replay_events).map_err(fail)?);
        }
        if matches!(mode, "all" | "replay") {
            println!(
                "{}",
                bench::replay_end_to_end(w, replay_events).map_err(fail)?
            );
        }
    }
    Ok(String::new())
}
