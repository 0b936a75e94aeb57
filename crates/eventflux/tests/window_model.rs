//! Windows and aggregates against a naive reference model (LANGUAGE.md §6–§8, docs/decisions.md).
//!
//! Each property builds an app over `S (k STRING, v INT, x DOUBLE, t LONG)`, drives it with a
//! random event sequence through the public embedding API, and compares every output row (kind,
//! timestamp, values) with a model that keeps the window as a plain `Vec` of events and recomputes
//! every aggregate from scratch for every row. The model never looks at the engine's code; it
//! follows the specification and the decisions file.
//!
//! Timestamps compared are the engine time of each emission (what `--replay` prints as `ts`,
//! §15), seen through `App::subscribe_listener`. `App::subscribe` must deliver the same rows; its
//! `Row::ts` is not compared, because for an expired row it is the expired event's own timestamp.

use eventflux::{App, Batch, EventKind, Input, StreamId, Value};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::sync::{Arc, Mutex};

// ---------------------------------------------------------------------------------------------
// Events and generators
// ---------------------------------------------------------------------------------------------

const SCHEMA: &str = "CREATE STREAM S (k STRING, v INT, x DOUBLE, t LONG);\n";
const KEYS: [&str; 3] = ["a", "b", "c"];

/// One input event with its arrival time (engine clock, ms).
#[derive(Clone, Debug)]
struct Ev {
    ts: i64,
    k: &'static str,
    v: Option<i32>,
    x: Option<f64>,
    t: Option<i64>,
}

impl Ev {
    fn values(&self) -> Vec<Value> {
        vec![
            Value::from(self.k),
            Value::from(self.v),
            Value::from(self.x),
            Value::from(self.t),
        ]
    }
}

/// Raw material for one event; times are made absolute by [`build`].
#[derive(Clone, Debug)]
struct Raw {
    gap: i64,
    k: usize,
    v: Option<i32>,
    x: Option<f64>,
    /// 0: NULL `t`, 1: `t` goes backwards by `t_gap`, otherwise `t` moves forward by `t_gap`.
    t_kind: u8,
    t_gap: i64,
    /// Move the clock half-way through the gap before sending (timers must not care).
    tick: bool,
}

fn raw() -> impl Strategy<Value = Raw> {
    let v = prop_oneof![1 => Just(None), 6 => (-20i32..20).prop_map(Some)];
    let x = prop_oneof![
        1 => Just(None),
        3 => (-400i32..400).prop_map(|q| Some(f64::from(q) / 4.0)),
        2 => (-1000.0f64..1000.0).prop_map(Some),
    ];
    (
        0i64..1500,
        0usize..KEYS.len(),
        v,
        x,
        0u8..10,
        0i64..1500,
        any::<bool>(),
    )
        .prop_map(|(gap, k, v, x, t_kind, t_gap, tick)| Raw {
            gap,
            k,
            v,
            x,
            t_kind,
            t_gap,
            tick,
        })
}

/// A run: a start time (not aligned to anything) and 0..60 events.
fn events() -> impl Strategy<Value = (i64, Vec<Raw>)> {
    (0i64..10_000, prop::collection::vec(raw(), 0..60))
}

/// Absolute arrival times (non-decreasing) and external times (mostly non-decreasing; sometimes
/// NULL or smaller than before, never NULL for the first event).
fn build(start: i64, raws: &[Raw]) -> Vec<Ev> {
    let mut ts = start;
    let mut t = 5_000_000i64;
    raws.iter()
        .enumerate()
        .map(|(i, r)| {
            ts += r.gap;
            let ext = match r.t_kind {
                0 if i > 0 => None,
                1 if i > 0 => Some(t - r.t_gap),
                _ => {
                    t += r.t_gap;
                    Some(t)
                }
            };
            Ev {
                ts,
                k: KEYS[r.k],
                v: r.v,
                x: r.x,
                t: ext,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running the engine
// ---------------------------------------------------------------------------------------------

type Got = Vec<(i64, EventKind, Vec<Value>)>;

struct Run {
    app: App,
    s: Input,
    /// Rows with the engine time of their emission.
    out: Arc<Mutex<Got>>,
    /// The same rows as `App::subscribe` delivers them (with `Row::ts`).
    subscribed: Arc<Mutex<Got>>,
}

impl Run {
    fn new(sql: &str) -> Run {
        let mut app =
            App::from_sql(&format!("{SCHEMA}{sql}")).unwrap_or_else(|e| panic!("{sql}\n{e}"));
        let out: Arc<Mutex<Got>> = Arc::default();
        let sink = out.clone();
        let id = app.input("Out").unwrap().stream_id();
        // The listener form sees the engine time of each emission (what the replay output prints
        // as `ts`); `Row::ts` of an expired row is the expired event's own timestamp.
        app.subscribe_listener(
            &[id],
            Box::new(move |_: StreamId, now: i64, rows: &Batch| {
                let mut sink = sink.lock().unwrap();
                for r in rows.rows() {
                    sink.push((now, r.kind, r.values.to_vec()));
                }
            }),
        );
        let subscribed: Arc<Mutex<Got>> = Arc::default();
        let sink = subscribed.clone();
        app.subscribe("Out", move |r| {
            sink.lock().unwrap().push((r.ts, r.kind, r.values.to_vec()))
        })
        .unwrap();
        let s = app.input("S").unwrap();
        Run {
            app,
            s,
            out,
            subscribed,
        }
    }

    /// Sends every event at its arrival time; with `ticks`, first moves the clock half-way
    /// through the gap for events that ask for it.
    fn send_all(&mut self, evs: &[Ev], raws: &[Raw], ticks: bool) {
        let mut prev = None;
        for (e, r) in evs.iter().zip(raws) {
            if ticks && r.tick {
                if let Some(p) = prev {
                    self.app.advance_to(p + (e.ts - p) / 2);
                }
            }
            self.app.advance_to(e.ts);
            self.app.send_at(self.s, e.ts, &e.values()).unwrap();
            prev = Some(e.ts);
        }
    }

    /// Compares the output with the model; `subscribe` must deliver the same rows (kinds and
    /// values) as the listener.
    fn check(&self, sql: &str, evs: &[Ev], want: &[Want]) -> Result<(), TestCaseError> {
        let got = self.out.lock().unwrap().clone();
        check(sql, evs, &got, want)?;
        let strip = |rows: &Got| -> Vec<(EventKind, Vec<Value>)> {
            rows.iter().map(|(_, k, v)| (*k, v.clone())).collect()
        };
        prop_assert_eq!(strip(&got), strip(&self.subscribed.lock().unwrap()));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Expected values and comparison
// ---------------------------------------------------------------------------------------------

/// An expected output value.
#[derive(Clone, Debug)]
enum M {
    Null,
    Int(i32),
    Long(i64),
    /// A DOUBLE, compared with a small relative tolerance.
    Double(f64),
    /// A number whose type the specification leaves open (compared exactly, any numeric type).
    Num(f64),
    Str(&'static str),
}

/// An expected output row; `ts: None` where the specification does not fix the timestamp
/// (rows emitted by `flush()` for count-based or external-time windows).
#[derive(Clone, Debug)]
struct Want {
    ts: Option<i64>,
    kind: EventKind,
    values: Vec<M>,
}

fn want(ts: i64, kind: EventKind, values: Vec<M>) -> Want {
    Want {
        ts: Some(ts),
        kind,
        values,
    }
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-7 * a.abs().max(b.abs()).max(1.0)
}

fn value_matches(got: &Value, want: &M) -> bool {
    match (got, want) {
        (Value::Null, M::Null) => true,
        (Value::Int(a), M::Int(b)) => a == b,
        (Value::Long(a), M::Long(b)) => a == b,
        (Value::Double(a), M::Double(b)) => close(*a, *b),
        (Value::String(a), M::Str(b)) => &**a == *b,
        (g, M::Num(b)) => g.as_f64() == Some(*b),
        _ => false,
    }
}

fn row_matches(got: &(i64, EventKind, Vec<Value>), want: &Want) -> bool {
    want.ts.is_none_or(|ts| ts == got.0)
        && got.1 == want.kind
        && got.2.len() == want.values.len()
        && got
            .2
            .iter()
            .zip(&want.values)
            .all(|(g, w)| value_matches(g, w))
}

fn check(sql: &str, evs: &[Ev], got: &Got, want: &[Want]) -> Result<(), TestCaseError> {
    let first_bad = (0..got.len().max(want.len())).find(|&i| match (got.get(i), want.get(i)) {
        (Some(g), Some(w)) => !row_matches(g, w),
        _ => true,
    });
    let Some(bad) = first_bad else {
        return Ok(());
    };
    let mut msg = format!("{sql}\nfirst difference at row {bad}\ninput:\n");
    for e in evs {
        msg.push_str(&format!(
            "  @{} k={} v={:?} x={:?} t={:?}\n",
            e.ts, e.k, e.v, e.x, e.t
        ));
    }
    msg.push_str("rows (engine | model):\n");
    for i in 0..got.len().max(want.len()) {
        let g = got
            .get(i)
            .map(|(ts, k, v)| format!("@{ts} {k:?} {v:?}"))
            .unwrap_or_else(|| "-".into());
        let w = want
            .get(i)
            .map(|w| format!("@{:?} {:?} {:?}", w.ts, w.kind, w.values))
            .unwrap_or_else(|| "-".into());
        let mark = if i == bad { ">>" } else { "  " };
        msg.push_str(&format!("{mark}{i:3}: {g}\n       {w}\n"));
    }
    Err(TestCaseError::fail(msg))
}

// ---------------------------------------------------------------------------------------------
// Naive aggregates over a slice of events (NULL arguments ignored; empty → NULL, count → 0)
// ---------------------------------------------------------------------------------------------

fn count(w: &[&Ev]) -> M {
    M::Long(w.len() as i64)
}

fn vs(w: &[&Ev]) -> Vec<i32> {
    w.iter().filter_map(|e| e.v).collect()
}

fn xs(w: &[&Ev]) -> Vec<f64> {
    w.iter().filter_map(|e| e.x).collect()
}

fn sum_v(w: &[&Ev]) -> M {
    let v = vs(w);
    if v.is_empty() {
        M::Null
    } else {
        M::Long(v.iter().map(|&a| i64::from(a)).sum())
    }
}

fn min_v(w: &[&Ev]) -> M {
    vs(w).into_iter().min().map_or(M::Null, M::Int)
}

fn max_v(w: &[&Ev]) -> M {
    vs(w).into_iter().max().map_or(M::Null, M::Int)
}

fn avg_x(w: &[&Ev]) -> M {
    let x = xs(w);
    if x.is_empty() {
        M::Null
    } else {
        M::Double(x.iter().sum::<f64>() / x.len() as f64)
    }
}

fn max_x(w: &[&Ev]) -> M {
    xs(w)
        .into_iter()
        .reduce(f64::max)
        .map_or(M::Null, M::Double)
}

fn stddev_x(w: &[&Ev]) -> M {
    let x = xs(w);
    if x.is_empty() {
        return M::Null;
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    M::Double((x.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / n).sqrt())
}

fn percentile_v(w: &[&Ev], p: u32) -> M {
    let mut v = vs(w);
    if v.is_empty() {
        return M::Null;
    }
    v.sort();
    let rank = (f64::from(p) / 100.0 * v.len() as f64).ceil().max(1.0) as usize;
    M::Num(f64::from(v[rank - 1]))
}

fn distinct_k(w: &[&Ev]) -> M {
    let mut k: Vec<&str> = w.iter().map(|e| e.k).collect();
    k.sort();
    k.dedup();
    M::Long(k.len() as i64)
}

fn refs(w: &[Ev]) -> Vec<&Ev> {
    w.iter().collect()
}

fn of_key<'a>(w: &'a [Ev], k: &str) -> Vec<&'a Ev> {
    w.iter().filter(|e| e.k == k).collect()
}

/// Groups of a batch in order of first appearance.
fn groups(batch: &[Ev]) -> Vec<&'static str> {
    let mut g: Vec<&'static str> = Vec::new();
    for e in batch {
        if !g.contains(&e.k) {
            g.push(e.k);
        }
    }
    g
}

fn opt_int(v: Option<i32>) -> M {
    v.map_or(M::Null, M::Int)
}

fn opt_double(x: Option<f64>) -> M {
    x.map_or(M::Null, M::Double)
}

use EventKind::{Current, Expired};

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/// `length(n)`, optionally grouped by `k`: on a full window the oldest event leaves first
/// (expired row, aggregates after the removal, for its group), then the arrival (current row).
fn model_length(n: usize, grouped: bool, evs: &[Ev]) -> Vec<Want> {
    let aggs = |win: &[Ev], k: &'static str| {
        let w = if grouped { of_key(win, k) } else { refs(win) };
        let mut row = if grouped { vec![M::Str(k)] } else { vec![] };
        row.extend([count(&w), sum_v(&w), avg_x(&w), min_v(&w), max_x(&w)]);
        row
    };
    let mut win: Vec<Ev> = Vec::new();
    let mut out = Vec::new();
    for e in evs {
        if win.len() == n {
            let f = win.remove(0);
            out.push(want(e.ts, Expired, aggs(&win, f.k)));
        }
        win.push(e.clone());
        out.push(want(e.ts, Current, aggs(&win, e.k)));
    }
    out
}

/// `time(d)`: an event leaves exactly when the clock reaches its arrival + d (before an arrival
/// at that instant), emitting an expired row stamped with that instant; the run ends with the
/// clock far in the future, so everything expires.
fn model_time(d: i64, evs: &[Ev]) -> Vec<Want> {
    let aggs = |win: &[Ev]| {
        let w = refs(win);
        vec![count(&w), sum_v(&w), min_v(&w), max_x(&w)]
    };
    let mut win: Vec<Ev> = Vec::new();
    let mut out = Vec::new();
    let expire_until = |now: i64, win: &mut Vec<Ev>, out: &mut Vec<Want>| {
        while win.first().is_some_and(|f| f.ts + d <= now) {
            let f = win.remove(0);
            out.push(want(f.ts + d, Expired, aggs(win)));
        }
    };
    for e in evs {
        expire_until(e.ts, &mut win, &mut out);
        win.push(e.clone());
        out.push(want(e.ts, Current, aggs(&win)));
    }
    expire_until(i64::MAX / 2, &mut win, &mut out);
    out
}

/// `lengthBatch(n)` grouped by `k`: one row per group of each complete batch, in order of first
/// appearance, non-aggregated attributes from the group's last event; `flush()` closes the
/// partial batch.
fn model_length_batch_grouped(n: usize, evs: &[Ev]) -> Vec<Want> {
    let emit = |batch: &[Ev], ts: Option<i64>, out: &mut Vec<Want>| {
        for k in groups(batch) {
            let w = of_key(batch, k);
            let last = w[w.len() - 1];
            out.push(Want {
                ts,
                kind: Current,
                values: vec![
                    M::Str(k),
                    count(&w),
                    sum_v(&w),
                    max_x(&w),
                    opt_int(last.v),
                    opt_double(last.x),
                ],
            });
        }
    };
    let mut batch: Vec<Ev> = Vec::new();
    let mut out = Vec::new();
    for e in evs {
        batch.push(e.clone());
        if batch.len() == n {
            emit(&batch, Some(e.ts), &mut out);
            batch.clear();
        }
    }
    emit(&batch, None, &mut out);
    out
}

/// `lengthBatch(n)` without aggregates, `INSERT ALL EVENTS`: at each complete batch, the previous
/// batch as expired rows, then the new batch as current rows, in arrival order.
fn model_length_batch_plain(n: usize, evs: &[Ev]) -> Vec<Want> {
    let row = |e: &Ev| vec![M::Str(e.k), opt_int(e.v), opt_double(e.x)];
    let mut batch: Vec<Ev> = Vec::new();
    let mut prev: Vec<Ev> = Vec::new();
    let mut out = Vec::new();
    for e in evs {
        batch.push(e.clone());
        if batch.len() == n {
            out.extend(prev.iter().map(|p| want(e.ts, Expired, row(p))));
            out.extend(batch.iter().map(|b| want(e.ts, Current, row(b))));
            prev = std::mem::take(&mut batch);
        }
    }
    out
}

/// `TUMBLING(d)` grouped by `k`: epoch-aligned intervals `[m·d, (m+1)·d)`, each emitted at its end
/// (before an arrival at exactly that instant), one row per group in order of first appearance;
/// `flush()` closes the last interval (still stamped with its end).
fn model_tumbling(d: i64, evs: &[Ev]) -> Vec<Want> {
    let emit = |end: i64, batch: &[Ev], out: &mut Vec<Want>| {
        for k in groups(batch) {
            let w = of_key(batch, k);
            out.push(want(end, Current, vec![M::Str(k), sum_v(&w), count(&w)]));
        }
    };
    let mut cur: Option<(i64, Vec<Ev>)> = None; // (interval end, events)
    let mut out = Vec::new();
    for e in evs {
        if let Some((end, batch)) = cur.take() {
            if e.ts >= end {
                emit(end, &batch, &mut out);
            } else {
                cur = Some((end, batch));
            }
        }
        let end = (e.ts.div_euclid(d) + 1) * d;
        cur.get_or_insert_with(|| (end, Vec::new()))
            .1
            .push(e.clone());
    }
    if let Some((end, batch)) = cur {
        emit(end, &batch, &mut out);
    }
    out
}

/// `externalTime(t, d)`: time is the latest `t` seen (a NULL or smaller `t` counts as that);
/// an arrival first expires every event with time + d <= its time (expired rows, aggregates after
/// each removal), then is added. Rows carry the engine clock; `flush()` expires the rest.
fn model_external_time(d: i64, evs: &[Ev]) -> Vec<Want> {
    let aggs = |win: &[(i64, Ev)]| {
        let w: Vec<&Ev> = win.iter().map(|(_, e)| e).collect();
        vec![count(&w), max_v(&w)]
    };
    let mut latest: Option<i64> = None;
    let mut win: Vec<(i64, Ev)> = Vec::new();
    let mut out = Vec::new();
    for e in evs {
        latest = match (latest, e.t) {
            (Some(l), Some(t)) => Some(l.max(t)),
            (l, t) => l.or(t),
        };
        let now = latest.expect("the first event has a time");
        while win.first().is_some_and(|(t, _)| t + d <= now) {
            win.remove(0);
            out.push(want(e.ts, Expired, aggs(&win)));
        }
        win.push((now, e.clone()));
        out.push(want(e.ts, Current, aggs(&win)));
    }
    while !win.is_empty() {
        win.remove(0);
        out.push(Want {
            ts: None,
            kind: Expired,
            values: aggs(&win),
        });
    }
    out
}

/// `sort(n, v, 'desc')`: keeps the n first events ordered by v descending (NULLs sort first
/// ascending, so last descending), ties by earlier arrival first. The event pushed out is expired
/// before the arrival's current row (aggregates after the removal); when the arrival itself sorts
/// last it is emitted as current, then as expired.
fn model_sort_desc(n: usize, evs: &[Ev]) -> Vec<Want> {
    let aggs = |win: &[(usize, Ev)]| {
        let w: Vec<&Ev> = win.iter().map(|(_, e)| e).collect();
        vec![count(&w), sum_v(&w)]
    };
    // Position in the order: v descending with NULL after every value, then arrival.
    let key = |(seq, e): &(usize, Ev)| (e.v.is_none(), std::cmp::Reverse(e.v), *seq);
    let mut win: Vec<(usize, Ev)> = Vec::new();
    let mut out = Vec::new();
    for (seq, e) in evs.iter().enumerate() {
        let before = win.clone();
        win.push((seq, e.clone()));
        win.sort_by_key(key);
        if win.len() <= n {
            out.push(want(e.ts, Current, aggs(&win)));
            continue;
        }
        let (out_seq, _) = win.pop().unwrap();
        if out_seq == seq {
            let mut with_arrival = before.clone();
            with_arrival.push((seq, e.clone()));
            out.push(want(e.ts, Current, aggs(&with_arrival)));
            out.push(want(e.ts, Expired, aggs(&before)));
        } else {
            let after_removal: Vec<(usize, Ev)> =
                before.into_iter().filter(|(s, _)| *s != out_seq).collect();
            out.push(want(e.ts, Expired, aggs(&after_removal)));
            out.push(want(e.ts, Current, aggs(&win)));
        }
    }
    out
}

/// `unique(k)`: the latest event per key; an arrival replacing an event expires it first.
fn model_unique(evs: &[Ev]) -> Vec<Want> {
    let aggs = |win: &[Ev]| {
        let w = refs(win);
        vec![count(&w), sum_v(&w)]
    };
    let mut win: Vec<Ev> = Vec::new();
    let mut out = Vec::new();
    for e in evs {
        if let Some(i) = win.iter().position(|w| w.k == e.k) {
            win.remove(i);
            out.push(want(e.ts, Expired, aggs(&win)));
        }
        win.push(e.clone());
        out.push(want(e.ts, Current, aggs(&win)));
    }
    out
}

/// No window: every aggregate runs over all events so far, one row per arrival.
fn model_running(p: u32, evs: &[Ev]) -> Vec<Want> {
    (0..evs.len())
        .map(|i| {
            let w = refs(&evs[..=i]);
            let min_forever = min_v(&w);
            want(
                evs[i].ts,
                Current,
                vec![
                    distinct_k(&w),
                    stddev_x(&w),
                    percentile_v(&w, p),
                    min_forever,
                ],
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const LENGTH_AGGS: &str = "count() AS c, sum(v) AS sv, avg(x) AS ax, min(v) AS mn, max(x) AS mx";

proptest! {
    /// 1. `length(n)` with `INSERT ALL EVENTS`.
    #[test]
    fn length_window(n in 1usize..6, (start, raws) in events()) {
        let sql = format!("INSERT ALL EVENTS INTO Out SELECT {LENGTH_AGGS} FROM S WINDOW('length', {n});");
        let evs = build(start, &raws);
        let mut run = Run::new(&sql);
        run.send_all(&evs, &raws, false);
        run.check(&sql, &evs, &model_length(n, false, &evs))?;
    }

    /// 2. `length(n)` with `GROUP BY k`: rows only for the arriving / expiring event's group.
    #[test]
    fn length_window_grouped(n in 1usize..6, (start, raws) in events()) {
        let sql = format!(
            "INSERT ALL EVENTS INTO Out SELECT k, {LENGTH_AGGS} FROM S WINDOW('length', {n}) GROUP BY k;"
        );
        let evs = build(start, &raws);
        let mut run = Run::new(&sql);
        run.send_all(&evs, &raws, false);
        run.check(&sql, &evs, &model_length(n, true, &evs))?;
    }

    /// 3. `time(d)`: expiry on timers, exactly at arrival + d, stamped with that instant.
    #[test]
    fn time_window(d in 100i64..3000, (start, raws) in events()) {
        let sql = format!(
            "INSERT ALL EVENTS INTO Out SELECT count() AS c, sum(v) AS sv, min(v) AS mn, max(x) AS mx \
             FROM S WINDOW('time', {d} ms);"
        );
        let evs = build(start, &raws);
        let mut run = Run::new(&sql);
        run.send_all(&evs, &raws, true);
        run.app.advance_to(i64::MAX / 2);
        run.check(&sql, &evs, &model_time(d, &evs))?;
    }

    /// 4a. `lengthBatch(n)` with `GROUP BY k`, then `flush()` closes the partial batch.
    #[test]
    fn length_batch_grouped(n in 1usize..7, (start, raws) in events()) {
        let sql = format!(
            "INSERT INTO Out SELECT k, count() AS c, sum(v) AS sv, max(x) AS mx, v AS lv, x AS lx \
             FROM S WINDOW('lengthBatch', {n}) GROUP BY k;"
        );
        let evs = build(start, &raws);
        let mut run = Run::new(&sql);
        run.send_all(&evs, &raws, false);
        run.app.flush();
        run.check(&sql, &evs, &model_length_batch_grouped(n, &evs))?;
    }

    /// 4b. `lengthBatch(n)` without aggregates, `INSERT ALL EVENTS`.
    #[test]
    fn length_batch_plain(n in 1usize..7, (start, raws) in events()) {
        let sql = format!(
            "INSERT ALL EVENTS INTO Out SELECT k, v, x FROM S WINDOW('lengthBatch', {n});"
        );
        let evs = build(start, &raws);
        let mut run = Run::new(&sql);
        run.send_all(&evs, &raws, false);
        run.check(&sql, &evs, &model_length_batch_plain(n, &evs))?;
    }

    /// 5. `TUMBLING(d)` with `GROUP BY k`, closed on the clock, last interval by `flush()`.
    #[test]
    fn tumbling_grouped(d in 100i64..3000, (start, raws) in events()) {
        let sql = format!(
            "INSERT INTO Out SELECT k, sum(v) AS sv, count() AS c FROM S WINDOW TUMBLING({d} ms) GROUP BY k;"
        );
        let evs = build(start, &raws);
        let mut run = Run::new(&sql);
        run.send_all(&evs, &raws, true);
        run.app.flush();
        run.check(&sql, &evs, &model_tumbling(d, &evs))?;
    }

    /// 6. `externalTime(t, d)`, then `flush()` expires what is left.
    #[test]
    fn external_time_window(d in 100i64..3000, (start, raws) in events()) {
        let sql = format!(
            "INSERT ALL EVENTS INTO Out SELECT count() AS c, max(v) AS mv \
             FROM S WINDOW('externalTime', t, {d} ms);"
        );
        let evs = build(start, &raws);
        let mut run = Run::new(&sql);
        run.send_all(&evs, &raws, true);
        run.app.flush();
        run.check(&sql, &evs, &model_external_time(d, &evs))?;
    }

    /// 7. `sort(n, v, 'desc')`.
    #[test]
    fn sort_window_desc(n in 1usize..6, (start, raws) in events()) {
        let sql = format!(
            "INSERT ALL EVENTS INTO Out SELECT count() AS c, sum(v) AS sv FROM S WINDOW('sort', {n}, v, 'desc');"
        );
        let evs = build(start, &raws);
        let mut run = Run::new(&sql);
        run.send_all(&evs, &raws, false);
        run.check(&sql, &evs, &model_sort_desc(n, &evs))?;
    }

    /// 8. `unique(k)`.
    #[test]
    fn unique_window((start, raws) in events()) {
        let sql = "INSERT ALL EVENTS INTO Out SELECT count() AS c, sum(v) AS sv FROM S WINDOW('unique', k);";
        let evs = build(start, &raws);
        let mut run = Run::new(sql);
        run.send_all(&evs, &raws, false);
        run.check(sql, &evs, &model_unique(&evs))?;
    }

    /// 9. No window: running `count(DISTINCT k)`, population `stddev`, nearest-rank
    /// `percentile`, `min_forever`.
    #[test]
    fn running_aggregates(
        p in prop::sample::select(vec![1u32, 25, 50, 50, 50, 90, 100]),
        (start, raws) in events(),
    ) {
        let sql = format!(
            "INSERT INTO Out SELECT count(DISTINCT k) AS dk, stddev(x) AS sd, \
             percentile(v, {p}) AS pv, min_forever(v) AS mf FROM S;"
        );
        let evs = build(start, &raws);
        let mut run = Run::new(&sql);
        run.send_all(&evs, &raws, false);
        run.check(&sql, &evs, &model_running(p, &evs))?;
    }
}
