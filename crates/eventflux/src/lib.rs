//! EventFlux: a pattern-first complex event processing engine.
//!
//! This crate is the embedding API (and the `eventflux` binary). Build an app from SQL, subscribe
//! to streams, send events, drive the clock:
//!
//! ```
//! use eventflux::{App, Value};
//! use std::sync::{Arc, Mutex};
//!
//! let mut app = App::from_sql(
//!     "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
//!      INSERT INTO Big SELECT symbol, price * volume AS notional FROM Trades WHERE price > 50;",
//! )?;
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let sink = seen.clone();
//! app.subscribe("Big", move |row| {
//!     sink.lock().unwrap().push((row.ts, row.values.to_vec()));
//! })?;
//! let trades = app.input("Trades")?;
//! app.send_at(trades, 1000, &[Value::from("IBM"), Value::from(101.5), Value::from(10)])?;
//! app.send_at(trades, 2000, &[Value::from("XYZ"), Value::from(20.0), Value::from(5)])?;
//! app.shutdown();
//! assert_eq!(
//!     *seen.lock().unwrap(),
//!     vec![(1000, vec![Value::from("IBM"), Value::from(1015.0)])]
//! );
//! # Ok::<(), eventflux::Error>(())
//! ```

pub mod bench;
pub mod cli;
pub mod connect;

pub use eventflux_planner::plan::{AppPlan, StreamId};
pub use eventflux_runtime::{Batch, EngineStats, EventKind, Row, Value};

use eventflux_runtime::{Engine, OutputListener, RowError};
use eventflux_sql::Diagnostic;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The app does not compile; `rendered` holds compiler-style messages.
    #[error("{rendered}")]
    Compile {
        diagnostics: Vec<Diagnostic>,
        rendered: String,
    },
    #[error("unknown stream '{name}'{hint}")]
    UnknownStream { name: String, hint: String },
    #[error(transparent)]
    Row(#[from] RowError),
    /// An error under `'error.strategy' = 'fail'` stopped the app; it takes no more events.
    #[error("the app stopped: {0}")]
    Stopped(String),
}

/// Which clock drives the app (§14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// Time moves only when the caller says so (`send_at`, `advance_to`): deterministic.
    Virtual,
    /// Every send first moves the clock to the wall clock.
    Wall,
}

/// A handle to an input stream, resolved once so sends do no name lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    stream: StreamId,
}

impl Input {
    pub fn stream_id(self) -> StreamId {
        self.stream
    }
}

/// A compiled, running app.
pub struct App {
    plan: AppPlan,
    engine: Engine,
    clock: ClockMode,
    scratch: Batch,
}

/// Milliseconds since the Unix epoch on the wall clock.
pub fn wall_clock_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl App {
    /// Compiles an app with the virtual clock. Errors are rendered against the name `app.sql`.
    pub fn from_sql(sql: &str) -> Result<App, Error> {
        App::from_sql_named("app.sql", sql)
    }

    /// Compiles an app; `file` names it in error messages.
    pub fn from_sql_named(file: &str, sql: &str) -> Result<App, Error> {
        let plan = eventflux_planner::compile(sql).map_err(|diagnostics| Error::Compile {
            rendered: eventflux_sql::render_all(&diagnostics, file, sql),
            diagnostics,
        })?;
        App::from_plan(plan).map_err(|e| {
            let diagnostics = vec![Diagnostic::error(e.span, e.message)];
            Error::Compile {
                rendered: eventflux_sql::render_all(&diagnostics, file, sql),
                diagnostics,
            }
        })
    }

    fn from_plan(plan: AppPlan) -> Result<App, eventflux_runtime::compile::CompileError> {
        // External tables (§4) open their stores through the connectors; connections are made
        // on first use.
        let engine = Engine::with_stores(&plan, &|table, spec| {
            eventflux_connectors::stores::open_store(
                &spec.extension,
                &spec.options,
                eventflux_runtime::external_table::store_schema(table),
            )
        })?;
        Ok(App {
            plan,
            engine,
            clock: ClockMode::Virtual,
            scratch: Batch::new(0),
        })
    }

    /// Switches the app to the wall clock (live use).
    pub fn with_clock(mut self, clock: ClockMode) -> App {
        self.clock = clock;
        self
    }

    pub fn plan(&self) -> &AppPlan {
        &self.plan
    }

    fn stream(&self, name: &str) -> Result<StreamId, Error> {
        self.plan
            .stream_id(name)
            .ok_or_else(|| Error::UnknownStream {
                name: name.to_string(),
                hint: eventflux_sql::suggestion_suffix(
                    name,
                    self.plan.streams.iter().map(|s| s.name.as_str()),
                ),
            })
    }

    /// Resolves a stream to send events to.
    pub fn input(&self, stream: &str) -> Result<Input, Error> {
        Ok(Input {
            stream: self.stream(stream)?,
        })
    }

    /// Calls `f` for every row inserted into `stream`.
    pub fn subscribe(
        &mut self,
        stream: &str,
        mut f: impl FnMut(Row<'_>) + Send + 'static,
    ) -> Result<(), Error> {
        let id = self.stream(stream)?;
        self.engine.subscribe(
            &[id],
            Box::new(move |_: StreamId, _: i64, rows: &Batch| {
                for r in rows.rows() {
                    f(r)
                }
            }),
        );
        Ok(())
    }

    /// Calls `f` with each batch of rows inserted into `stream` (lower overhead than per row).
    pub fn subscribe_batches(
        &mut self,
        stream: &str,
        mut f: impl FnMut(&Batch) + Send + 'static,
    ) -> Result<(), Error> {
        let id = self.stream(stream)?;
        self.engine.subscribe(
            &[id],
            Box::new(move |_: StreamId, _: i64, rows: &Batch| f(rows)),
        );
        Ok(())
    }

    /// Registers a listener for several streams at once (the command line uses this).
    pub fn subscribe_listener(&mut self, streams: &[StreamId], listener: Box<dyn OutputListener>) {
        self.engine.subscribe(streams, listener);
    }

    fn tick_wall_clock(&mut self) {
        if self.clock == ClockMode::Wall {
            self.engine.advance_to(wall_clock_ms());
        }
    }

    /// Errors reported since the last call, oldest first: events dropped because a table's
    /// store failed (`'error.strategy' = 'log'`), failed preloads. At most 10 000 are kept
    /// between calls; older ones are counted in [`EngineStats::errors_dropped`].
    pub fn take_errors(&mut self) -> Vec<String> {
        self.engine.take_errors()
    }

    /// Why the app stopped (an error under `'error.strategy' = 'fail'`), if it did.
    pub fn stopped(&self) -> Option<&str> {
        self.engine.failure()
    }

    fn check_running(&self) -> Result<(), Error> {
        match self.engine.failure() {
            Some(reason) => Err(Error::Stopped(reason.to_string())),
            None => Ok(()),
        }
    }

    /// Sends one event at the current engine time.
    pub fn send(&mut self, input: Input, values: &[Value]) -> Result<(), Error> {
        self.check_running()?;
        self.tick_wall_clock();
        self.engine.check_row(input.stream, values)?;
        self.scratch.reset(values.len());
        self.scratch
            .push(self.engine.now(), EventKind::Current, values);
        let batch = std::mem::take(&mut self.scratch);
        self.engine.send(input.stream, &batch);
        self.scratch = batch;
        self.check_running()
    }

    /// Moves the clock to `ts` (firing due timers), then sends one event.
    pub fn send_at(&mut self, input: Input, ts: i64, values: &[Value]) -> Result<(), Error> {
        self.engine.advance_to(ts);
        self.send(input, values)
    }

    /// Sends a batch of events. Rows keep the timestamps of the batch; the clock is not moved.
    pub fn send_batch(&mut self, input: Input, batch: &Batch) -> Result<(), Error> {
        self.check_running()?;
        self.tick_wall_clock();
        for row in batch.rows() {
            self.engine.check_row(input.stream, row.values)?;
        }
        self.engine.send(input.stream, batch);
        self.check_running()
    }

    /// Sends a batch without checking that its rows fit the schema: the caller guarantees it
    /// (rows that do not fit give NULL results, never a crash).
    pub fn send_batch_unchecked(&mut self, input: Input, batch: &Batch) {
        self.engine.send(input.stream, batch);
    }

    /// Moves the clock to `ts` (never backwards), firing every timer due.
    pub fn advance_to(&mut self, ts: i64) {
        self.engine.advance_to(ts);
    }

    pub fn now(&self) -> i64 {
        self.engine.now()
    }

    /// Advances to the end of time: closes every window and fires every timer.
    pub fn flush(&mut self) {
        self.engine.flush();
    }

    pub fn stats(&self) -> EngineStats {
        self.engine.stats()
    }

    pub(crate) fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Stops the app: listeners flush what they buffered. Returns the final counters.
    pub fn shutdown(mut self) -> EngineStats {
        self.engine.flush_listeners();
        self.engine.stats()
    }
}
