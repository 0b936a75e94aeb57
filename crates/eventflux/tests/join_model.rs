//! Stream–stream joins against a naive nested-loop reference (LANGUAGE.md §9, docs/decisions.md).
//!
//! Each case joins `A (k INT, v INT)` and `B (k LONG, w INT)` — keys of two integer types, so the
//! hash lookup must compare them by value — with a random window on each side (none, `length`,
//! `time`), a random join kind and optionally a residual condition, drives it with random events
//! through the embedding API and compares every output row with a model that keeps each window
//! as a `Vec` and, for every arrival, scans the other side's window in arrival order.

use eventflux::{App, Batch, Input, StreamId, Value};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug)]
enum Win {
    None,
    Length(usize),
    Time(i64),
}

impl Win {
    fn sql(self) -> String {
        match self {
            Win::None => String::new(),
            Win::Length(n) => format!(" WINDOW('length', {n})"),
            Win::Time(d) => format!(" WINDOW('time', {d} ms)"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Inner,
    Left,
    Right,
    Full,
}

#[derive(Clone, Debug)]
struct Ev {
    ts: i64,
    /// false: A, true: B
    right: bool,
    k: Option<i64>,
    x: i32,
}

fn win() -> impl Strategy<Value = Win> {
    prop_oneof![
        1 => Just(Win::None),
        2 => (1usize..6).prop_map(Win::Length),
        2 => (1i64..40).prop_map(Win::Time),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Inner),
        Just(Kind::Left),
        Just(Kind::Right),
        Just(Kind::Full)
    ]
}

fn events() -> impl Strategy<Value = Vec<Ev>> {
    prop::collection::vec(
        (
            0i64..8,
            any::<bool>(),
            prop_oneof![1 => Just(None), 8 => (0i64..4).prop_map(Some)],
            -5i32..5,
        ),
        0..60,
    )
    .prop_map(|raw| {
        let mut ts = 1000;
        raw.into_iter()
            .map(|(gap, right, k, x)| {
                ts += gap;
                Ev { ts, right, k, x }
            })
            .collect()
    })
}

type Row = Vec<Value>;

/// The reference: windows as vectors; every arrival scans the other side in arrival order.
fn model(wa: Win, wb: Win, kind: Kind, residual: bool, evs: &[Ev]) -> Vec<(i64, Row)> {
    let mut a: Vec<(i64, Option<i64>, i32)> = Vec::new();
    let mut b: Vec<(i64, Option<i64>, i32)> = Vec::new();
    let mut out = Vec::new();
    let row = |l: Option<&(i64, Option<i64>, i32)>, r: Option<&(i64, Option<i64>, i32)>| {
        vec![
            l.map_or(Value::Null, |l| Value::from(l.1.map(|k| k as i32))),
            l.map_or(Value::Null, |l| Value::Int(l.2)),
            r.map_or(Value::Null, |r| Value::from(r.1)),
            r.map_or(Value::Null, |r| Value::Int(r.2)),
        ]
    };
    let matches = |l: &(i64, Option<i64>, i32), r: &(i64, Option<i64>, i32)| {
        l.1.is_some() && l.1 == r.1 && (!residual || l.2 < r.2)
    };
    for e in evs {
        let now = e.ts;
        for (w, buf) in [(wa, &mut a), (wb, &mut b)] {
            if let Win::Time(d) = w {
                buf.retain(|x| now < x.0 + d);
            }
        }
        let me = (e.ts, e.k, e.x);
        let (own_w, own, other) = if e.right {
            (wb, &mut b, &a)
        } else {
            (wa, &mut a, &b)
        };
        let mut any = false;
        for o in other.iter() {
            let (l, r) = if e.right { (o, &me) } else { (&me, o) };
            if matches(l, r) {
                out.push((now, row(Some(l), Some(r))));
                any = true;
            }
        }
        let outer = match kind {
            Kind::Full => true,
            Kind::Left => !e.right,
            Kind::Right => e.right,
            Kind::Inner => false,
        };
        if !any && outer {
            out.push((
                now,
                if e.right {
                    row(None, Some(&me))
                } else {
                    row(Some(&me), None)
                },
            ));
        }
        match own_w {
            Win::None => {}
            Win::Length(n) => {
                if own.len() >= n {
                    own.remove(0);
                }
                own.push(me);
            }
            Win::Time(_) => own.push(me),
        }
    }
    out
}

fn run(wa: Win, wb: Win, kind: Kind, residual: bool, evs: &[Ev]) -> Vec<(i64, Row)> {
    let k = match kind {
        Kind::Inner => "JOIN",
        Kind::Left => "LEFT OUTER JOIN",
        Kind::Right => "RIGHT JOIN",
        Kind::Full => "FULL OUTER JOIN",
    };
    let on = if residual {
        "a.k = b.k AND a.v < b.w"
    } else {
        "b.k = a.k"
    };
    let sql = format!(
        "CREATE STREAM A (k INT, v INT);\nCREATE STREAM B (k LONG, w INT);\n\
         INSERT INTO Out SELECT a.k AS ak, a.v, b.k AS bk, b.w, a.v - b.w AS d FROM A{} AS a {k} B{} AS b ON {on};\n",
        wa.sql(),
        wb.sql()
    );
    let mut app = App::from_sql(&sql).unwrap_or_else(|e| panic!("{sql}\n{e}"));
    let got: Arc<Mutex<Vec<(i64, Row)>>> = Arc::default();
    let sink = got.clone();
    let id = app.input("Out").unwrap().stream_id();
    app.subscribe_listener(
        &[id],
        Box::new(move |_: StreamId, now: i64, rows: &Batch| {
            let mut sink = sink.lock().unwrap();
            for r in rows.rows() {
                sink.push((now, r.values.to_vec()));
            }
        }),
    );
    let (ia, ib): (Input, Input) = (app.input("A").unwrap(), app.input("B").unwrap());
    for e in evs {
        app.advance_to(e.ts);
        if e.right {
            app.send_at(ib, e.ts, &[Value::from(e.k), Value::Int(e.x)])
                .unwrap();
        } else {
            app.send_at(
                ia,
                e.ts,
                &[Value::from(e.k.map(|k| k as i32)), Value::Int(e.x)],
            )
            .unwrap();
        }
    }
    // The computed column (evaluated by the join's fused projection) is checked, then dropped
    // so the rows compare with the model's.
    let rows = got.lock().unwrap().clone();
    rows.into_iter()
        .map(|(t, mut r)| {
            let d = r.pop().unwrap();
            let want = match (r[1].as_i64(), r[3].as_i64()) {
                (Some(v), Some(w)) => Some(v - w),
                _ => None,
            };
            assert_eq!(d.as_i64(), want, "a.v - b.w of {r:?}");
            (t, r)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn windowed_join_matches_nested_loops(
        wa in win(),
        wb in win(),
        kind in kind(),
        residual in any::<bool>(),
        evs in events(),
    ) {
        let want = model(wa, wb, kind, residual, &evs);
        let got = run(wa, wb, kind, residual, &evs);
        prop_assert_eq!(got, want, "A{:?} {:?} B{:?} residual={}", wa, kind, wb, residual);
    }
}

// ---------------------------------------------------------------------------------------------
// Chains of three inputs
// ---------------------------------------------------------------------------------------------

/// One retained event of side `s`: (key, value).
type Side = Vec<(Option<i64>, i32)>;

#[derive(Clone, Debug)]
struct Ev3 {
    ts: i64,
    side: usize,
    k: Option<i64>,
    x: i32,
}

fn events3() -> impl Strategy<Value = Vec<Ev3>> {
    prop::collection::vec(
        (
            0i64..5,
            0usize..3,
            prop_oneof![1 => Just(None), 8 => (0i64..3).prop_map(Some)],
            -3i32..3,
        ),
        0..40,
    )
    .prop_map(|raw| {
        let mut ts = 1000;
        raw.into_iter()
            .map(|(gap, side, k, x)| {
                ts += gap;
                Ev3 { ts, side, k, x }
            })
            .collect()
    })
}

/// The reference for `A JOIN B ON a.k = b.k JOIN C ON c.k = <a or b>.k` (kinds per step): the
/// left-deep join of the windows with the arriving side holding only the arrival, keeping the
/// rows that contain it (§9: an arrival emits its matches; outer sides pad with NULLs).
fn model3(wins: [Win; 3], kinds: [Kind; 2], c_on_b: bool, evs: &[Ev3]) -> Vec<(i64, Row)> {
    let mut sides: [Side; 3] = Default::default();
    let mut times: [Vec<i64>; 3] = Default::default();
    let mut out = Vec::new();
    for e in evs {
        for s in 0..3 {
            if let Win::Time(d) = wins[s] {
                let keep: Vec<bool> = times[s].iter().map(|t| e.ts < t + d).collect();
                let mut i = 0;
                sides[s].retain(|_| {
                    i += 1;
                    keep[i - 1]
                });
                times[s].retain(|t| e.ts < t + d);
            }
        }
        let me = (e.k, e.x);
        let contents = |s: usize| -> Side {
            if s == e.side {
                vec![me]
            } else {
                sides[s].clone()
            }
        };
        type Comp = Vec<Option<(Option<i64>, i32)>>;
        let mut comps: Vec<Comp> = contents(0).into_iter().map(|r| vec![Some(r)]).collect();
        for (step, &kind) in kinds.iter().enumerate() {
            let right = contents(step + 1);
            let key_of = |c: &Comp| -> Option<i64> {
                let from = if step == 0 || !c_on_b { 0 } else { 1 };
                c[from].and_then(|r| r.0)
            };
            let mut next: Vec<Comp> = Vec::new();
            let mut matched = vec![false; right.len()];
            for c in &comps {
                let mut any = false;
                for (j, r) in right.iter().enumerate() {
                    if key_of(c).is_some() && key_of(c) == r.0 {
                        let mut n = c.clone();
                        n.push(Some(*r));
                        next.push(n);
                        any = true;
                        matched[j] = true;
                    }
                }
                if !any && matches!(kind, Kind::Left | Kind::Full) {
                    let mut n = c.clone();
                    n.push(None);
                    next.push(n);
                }
            }
            if matches!(kind, Kind::Right | Kind::Full) {
                for (j, r) in right.iter().enumerate() {
                    if !matched[j] {
                        let mut n: Comp = vec![None; step + 1];
                        n.push(Some(*r));
                        next.push(n);
                    }
                }
            }
            comps = next;
        }
        for c in comps {
            if c[e.side].is_some() {
                let mut row = Vec::new();
                for v in &c {
                    row.push(v.map_or(Value::Null, |v| Value::from(v.0)));
                    row.push(v.map_or(Value::Null, |v| Value::Int(v.1)));
                }
                out.push((e.ts, row));
            }
        }
        match wins[e.side] {
            Win::None => {}
            Win::Length(n) => {
                if sides[e.side].len() >= n {
                    sides[e.side].remove(0);
                    times[e.side].remove(0);
                }
                sides[e.side].push(me);
                times[e.side].push(e.ts);
            }
            Win::Time(_) => {
                sides[e.side].push(me);
                times[e.side].push(e.ts);
            }
        }
    }
    out
}

fn run3(wins: [Win; 3], kinds: [Kind; 2], c_on_b: bool, evs: &[Ev3]) -> Vec<(i64, Row)> {
    let k = |k: Kind| match k {
        Kind::Inner => "JOIN",
        Kind::Left => "LEFT JOIN",
        Kind::Right => "RIGHT JOIN",
        Kind::Full => "FULL JOIN",
    };
    let sql = format!(
        "CREATE STREAM A (k LONG, v INT);\nCREATE STREAM B (k LONG, v INT);\nCREATE STREAM C (k LONG, v INT);\n\
         INSERT INTO Out SELECT a.k AS ak, a.v AS av, b.k AS bk, b.v AS bv, c.k AS ck, c.v AS cv\n\
         FROM A{} AS a {} B{} AS b ON a.k = b.k {} C{} AS c ON c.k = {}.k;\n",
        wins[0].sql(),
        k(kinds[0]),
        wins[1].sql(),
        k(kinds[1]),
        wins[2].sql(),
        if c_on_b { "b" } else { "a" }
    );
    let mut app = App::from_sql(&sql).unwrap_or_else(|e| panic!("{sql}\n{e}"));
    let got: Arc<Mutex<Vec<(i64, Row)>>> = Arc::default();
    let sink = got.clone();
    let id = app.input("Out").unwrap().stream_id();
    app.subscribe_listener(
        &[id],
        Box::new(move |_: StreamId, now: i64, rows: &Batch| {
            let mut sink = sink.lock().unwrap();
            for r in rows.rows() {
                sink.push((now, r.values.to_vec()));
            }
        }),
    );
    let inputs = [
        app.input("A").unwrap(),
        app.input("B").unwrap(),
        app.input("C").unwrap(),
    ];
    for e in evs {
        app.advance_to(e.ts);
        app.send_at(inputs[e.side], e.ts, &[Value::from(e.k), Value::Int(e.x)])
            .unwrap();
    }
    let rows = got.lock().unwrap().clone();
    rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn chain_of_three_matches_left_deep_reference(
        wins in [win(), win(), win()],
        kinds in [kind(), kind()],
        c_on_b in any::<bool>(),
        evs in events3(),
    ) {
        let want = model3(wins, kinds, c_on_b, &evs);
        let got = run3(wins, kinds, c_on_b, &evs);
        prop_assert_eq!(got, want, "{:?} {:?} c_on_b={}", wins, kinds, c_on_b);
    }
}
