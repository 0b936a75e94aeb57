//! The two-step fast path (`EVERY e1=A[f1] -> e2=B[f2]` and `EVERY e1=A[f1] -> NOT B[f2] FOR
//! d`, each with an optional WITHIN; crates/runtime/src/pattern/pair.rs) must behave exactly like
//! the general automaton. Each case builds one random pattern of that shape — first and second
//! stream the same or different, step-two filters with an equality correlation (hash index), an
//! inequality against e1 (range index), no correlation, or none at all, step-one filters, WHERE,
//! WITHIN, per-key PARTITION, a small `pattern.max_partial_matches` — runs a random event
//! sequence (ties, gaps, clock jumps, NULLs) through it twice, once with
//! `@option('pattern.fast_path', 'false')`, and requires identical rows (values, timestamps,
//! order — across partition keys, rows due at one instant may interleave differently), state
//! sizes and dropped-match counts. Partitioned cases run the keyed fast path (one operator for
//! every key) or, with `purge.idle`, one fast-path operator per key.

use eventflux::{App, Value};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
struct Case {
    second_same_stream: bool,
    absence: bool,
    /// 0 none, 1 `k = e1.k`, 2 `x > e1.x + c`, 3 `x < e1.x`, 4 `x >= 2` (no correlation),
    /// 5 `k = e1.k AND x > e1.x`
    second_filter: u8,
    first_filter: bool,
    within: Option<i64>,
    duration: i64,
    partition: bool,
    /// With PARTITION: `purge.idle` (never reached) keeps one fast-path operator per key
    /// instead of the keyed fast path.
    per_key: bool,
    max_partial: Option<usize>,
    where_clause: bool,
}

#[derive(Debug, Clone)]
struct Ev {
    stream: usize,
    advance: i64,
    k: i32,
    x: Option<i64>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        any::<bool>(),
        0u8..6,
        any::<bool>(),
        prop::option::of(1i64..40),
        1i64..30,
        (any::<bool>(), any::<bool>()),
        prop::option::of(1usize..6),
        any::<bool>(),
    )
        .prop_map(
            |(same, absence, sf, ff, within, duration, (partition, per_key), max_partial, w)| {
                Case {
                    second_same_stream: same,
                    absence,
                    second_filter: sf,
                    first_filter: ff,
                    within,
                    duration,
                    partition,
                    per_key,
                    max_partial,
                    where_clause: w,
                }
            },
        )
}

fn events() -> impl Strategy<Value = Vec<Ev>> {
    prop::collection::vec(
        (
            0usize..2,
            prop_oneof![4 => 0i64..4, 1 => 4i64..60, 1 => Just(0i64)],
            0i32..3,
            prop::option::weighted(0.9, -3i64..6),
        )
            .prop_map(|(stream, advance, k, x)| Ev {
                stream,
                advance,
                k,
                x,
            }),
        0..60,
    )
}

fn sql(c: &Case, fast: bool) -> String {
    let second = if c.second_same_stream { "A" } else { "B" };
    let f2 = match c.second_filter {
        0 => String::new(),
        1 => "[k = e1.k]".into(),
        2 => "[x > e1.x + 1]".into(),
        3 => "[x < e1.x]".into(),
        4 => "[x >= 2]".into(),
        _ => "[k = e1.k AND x > e1.x]".into(),
    };
    let f1 = if c.first_filter { "[x <> 0]" } else { "" };
    let step2 = if c.absence {
        format!("NOT {second}{f2} FOR {} ms", c.duration)
    } else {
        format!("e2={second}{f2}")
    };
    let select = if c.absence {
        "e1.k AS k, e1.x AS x1"
    } else {
        "e1.k AS k, e1.x AS x1, e2.x AS x2"
    };
    let within = c
        .within
        .map(|w| format!(" WITHIN {w} ms"))
        .unwrap_or_default();
    let where_clause = if c.where_clause {
        " WHERE e1.k <> 1"
    } else {
        ""
    };
    let mut opts = String::new();
    if let Some(m) = c.max_partial {
        opts.push_str(&format!("@option('pattern.max_partial_matches', '{m}') "));
    }
    if !fast {
        opts.push_str("@option('pattern.fast_path', 'false') ");
    }
    let query = format!(
        "{opts}INSERT INTO Out SELECT {select} FROM PATTERN (EVERY e1=A{f1} -> {step2}){within}{where_clause};"
    );
    let body = if c.partition {
        let with = if c.per_key {
            " WITH ('purge.idle' = '1 hour')"
        } else {
            ""
        };
        format!("PARTITION WITH (k OF A, k OF B) BEGIN {query} END{with};")
    } else {
        query
    };
    format!("CREATE STREAM A (k INT, x LONG);\nCREATE STREAM B (k INT, x LONG);\n{body}\n")
}

type Rows = Vec<(i64, Vec<Value>)>;

fn run(sql: &str, evs: &[Ev]) -> (Rows, Vec<usize>, Vec<u64>) {
    let mut app = App::from_sql(sql).unwrap_or_else(|e| panic!("{sql}\n{e}"));
    let got: Arc<Mutex<Rows>> = Arc::default();
    let sink = got.clone();
    app.subscribe("Out", move |r| {
        sink.lock().unwrap().push((r.ts, r.values.to_vec()))
    })
    .unwrap();
    let inputs = [app.input("A").unwrap(), app.input("B").unwrap()];
    let mut now = 1_000;
    app.advance_to(now);
    let mut sizes = Vec::new();
    for e in evs {
        now += e.advance;
        app.advance_to(now);
        let x = e.x.map_or(Value::Null, Value::Long);
        app.send_at(inputs[e.stream], now, &[Value::Int(e.k), x])
            .unwrap();
        sizes.push(app.stats().state_sizes.iter().map(|(_, n)| n).sum());
    }
    let drops = app.stats().pattern_drops.iter().map(|d| d.1).collect();
    app.flush();
    let rows = got.lock().unwrap().clone();
    (rows, sizes, drops)
}

proptest! {
    // 600 cases unless PROPTEST_CASES says otherwise (CI runs 2000).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(600),
        ..ProptestConfig::default()
    })]

    #[test]
    fn fast_path_matches_the_general_automaton(c in case(), evs in events()) {
        let fast = run(&sql(&c, true), &evs);
        let general = run(&sql(&c, false), &evs);
        if c.partition {
            // Keys are independent: each key's rows in the same order, every row at the same
            // time; rows of different keys due at one instant may interleave differently (the
            // fast path emits them in creation order, per-key operators in timer order).
            let ts = |r: &Rows| r.iter().map(|(t, _)| *t).collect::<Vec<_>>();
            prop_assert_eq!(ts(&fast.0), ts(&general.0), "row times differ\n{}", sql(&c, true));
            for k in 0..3 {
                let of_key = |r: &Rows| -> Rows {
                    r.iter().filter(|(_, v)| v[0] == Value::Int(k)).cloned().collect()
                };
                prop_assert_eq!(of_key(&fast.0), of_key(&general.0), "key {} rows differ\n{}", k, sql(&c, true));
            }
        } else {
            prop_assert_eq!(&fast.0, &general.0, "rows differ\n{}", sql(&c, true));
        }
        // The fast path frees WITHIN-expired matches before each event it reads, and by a
        // timer at most WITHIN/8 later otherwise: after an A event (every case reads A) its
        // state size is exact; after a B event it may still hold expired matches.
        for (i, (f, g)) in fast.1.iter().zip(&general.1).enumerate() {
            let exact = evs[i].stream == 0 || c.per_key && c.partition;
            if exact {
                prop_assert_eq!(f, g, "state size after event {} differs\n{}", i, sql(&c, true));
            } else {
                prop_assert!(f >= g, "state size after event {} below the general's\n{}", i, sql(&c, true));
            }
        }
        prop_assert_eq!(fast.1.len(), general.1.len());
        prop_assert_eq!(&fast.2, &general.2, "dropped matches differ\n{}", sql(&c, true));
    }
}

/// The fast path is really taken for the shapes above (and only for them): the option that
/// turns it off must be accepted, and a bad value is a compile error.
#[test]
fn fast_path_option_is_validated() {
    let bad = "CREATE STREAM A (k INT, x LONG);\n\
               @option('pattern.fast_path', 'maybe') INSERT INTO Out SELECT e1.k AS k \
               FROM PATTERN (EVERY e1=A -> e2=A);";
    let err = App::from_sql(bad).err().expect("a bad value is an error");
    assert!(
        err.to_string()
            .contains("'pattern.fast_path' must be 'true' or 'false'"),
        "{err}"
    );
}

/// Without events, a WITHIN-expired match is freed by a timer at most WITHIN/8 after it
/// expired (here 800 ms / 8 = 100 ms): the bound on how long the fast path holds one.
#[test]
fn expired_matches_are_freed_within_an_eighth_of_within() {
    let sql = "CREATE STREAM A (k INT, x LONG);\n\
               INSERT INTO Out SELECT e1.k AS k FROM PATTERN (EVERY e1=A -> e2=A[x > e1.x]) \
               WITHIN 800 ms;";
    let mut app = App::from_sql(sql).unwrap();
    let a = app.input("A").unwrap();
    let live = |app: &App| -> usize { app.stats().state_sizes.iter().map(|(_, n)| n).sum() };
    app.advance_to(1_000);
    app.send_at(a, 1_000, &[Value::Int(1), Value::Long(5)])
        .unwrap();
    assert_eq!(live(&app), 2, "the template and one waiting match");
    app.advance_to(1_899);
    assert_eq!(
        live(&app),
        2,
        "expired at 1 800, freed by 1 900 at the latest"
    );
    app.advance_to(1_900);
    assert_eq!(live(&app), 1, "freed");
}
