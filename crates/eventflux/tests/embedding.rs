//! The embedding API: building apps, sending events, subscribing, the clock, errors.

use eventflux::{App, Batch, ClockMode, Error, EventKind, Value};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

const W1: &str = "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
                  INSERT INTO Out SELECT symbol, price * volume AS notional FROM Trades WHERE price > 50;";

type Rows = Arc<Mutex<Vec<(i64, EventKind, Vec<Value>)>>>;

fn collect(app: &mut App, stream: &str) -> Rows {
    let rows: Rows = Arc::default();
    let sink = rows.clone();
    app.subscribe(stream, move |r| {
        sink.lock().unwrap().push((r.ts, r.kind, r.values.to_vec()))
    })
    .unwrap();
    rows
}

fn trade(sym: &str, price: f64, volume: i32) -> Vec<Value> {
    vec![Value::from(sym), Value::from(price), Value::from(volume)]
}

#[test]
fn app_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<App>();
}

#[test]
fn send_at_moves_the_clock_and_stamps_rows() {
    let mut app = App::from_sql(W1).unwrap();
    let out = collect(&mut app, "Out");
    let t = app.input("Trades").unwrap();
    app.send_at(t, 1000, &trade("IBM", 100.0, 2)).unwrap();
    app.send_at(t, 500, &trade("OLD", 60.0, 1)).unwrap(); // earlier ts: processed at the current clock
    app.send(t, &trade("LOW", 10.0, 1)).unwrap();
    assert_eq!(app.now(), 1000);
    let rows = out.lock().unwrap().clone();
    assert_eq!(
        rows,
        vec![
            (
                1000,
                EventKind::Current,
                vec![Value::from("IBM"), Value::from(200.0)]
            ),
            (
                1000,
                EventKind::Current,
                vec![Value::from("OLD"), Value::from(60.0)]
            ),
        ]
    );
}

#[test]
fn errors_name_the_problem() {
    match App::from_sql("CREATE STREAM T (a INT);\nINSERT INTO O SELECT b FROM T;") {
        Err(Error::Compile {
            diagnostics,
            rendered,
        }) => {
            assert_eq!(diagnostics.len(), 1);
            assert!(
                rendered.starts_with("app.sql:2:22: error: unknown attribute 'b' in stream 'T'"),
                "{rendered}"
            );
        }
        other => panic!("expected a compile error, got {:?}", other.err()),
    }
    let mut app = App::from_sql(W1).unwrap();
    let e = app.input("Trade").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown stream 'Trade' (did you mean 'Trades'?)"
    );
    let t = app.input("Trades").unwrap();
    let e = app
        .send(t, &[Value::from(1), Value::from(2.0), Value::from(3)])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "attribute 0 of stream 'Trades' is STRING, the row gives INT"
    );
    let e = app.send(t, &[Value::from("x")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "stream 'Trades' has 3 attributes, the row has 1"
    );
    assert!(app.subscribe("Nope", |_| {}).is_err());
}

#[test]
fn wall_clock_stamps_with_current_time() {
    let mut app = App::from_sql(W1).unwrap().with_clock(ClockMode::Wall);
    let out = collect(&mut app, "Out");
    let t = app.input("Trades").unwrap();
    let before = eventflux::wall_clock_ms();
    app.send(t, &trade("IBM", 100.0, 1)).unwrap();
    let after = eventflux::wall_clock_ms();
    let ts = out.lock().unwrap()[0].0;
    assert!(before <= ts && ts <= after, "{before} <= {ts} <= {after}");
}

#[test]
fn send_batch_checks_rows_and_keeps_their_timestamps() {
    let mut app = App::from_sql(W1).unwrap();
    let out = collect(&mut app, "Out");
    let t = app.input("Trades").unwrap();
    let mut b = Batch::new(3);
    b.push(10, EventKind::Current, &trade("A", 60.0, 1));
    b.push(20, EventKind::Current, &trade("B", 70.0, 1));
    app.send_batch(t, &b).unwrap();
    let ts: Vec<i64> = out.lock().unwrap().iter().map(|r| r.0).collect();
    assert_eq!(ts, vec![10, 20]);
    let mut bad = Batch::new(3);
    bad.push(
        0,
        EventKind::Current,
        &[Value::from(1), Value::Null, Value::Null],
    );
    assert!(app.send_batch(t, &bad).is_err());
}

#[test]
fn chained_streams_deliver_depth_first() {
    let mut app = App::from_sql(
        "CREATE STREAM A (x INT);\n\
         INSERT INTO B SELECT x FROM A WHERE x > 0;\n\
         INSERT INTO C SELECT x * 10 AS y FROM B;",
    )
    .unwrap();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    for s in ["B", "C"] {
        let l = log.clone();
        app.subscribe(s, move |r| {
            l.lock().unwrap().push(format!("{s}{}", r.values[0]))
        })
        .unwrap();
    }
    let a = app.input("A").unwrap();
    for x in [1, -1, 2] {
        app.send(a, &[Value::from(x)]).unwrap();
    }
    assert_eq!(*log.lock().unwrap(), vec!["B1", "C10", "B2", "C20"]);
}

proptest! {
    /// Per stream, output does not depend on how the input is split into batches.
    #[test]
    fn output_is_independent_of_batching(
        events in proptest::collection::vec((0u8..5, 0.0f64..100.0, -5i32..1000), 0..200),
        cuts in proptest::collection::vec(1usize..17, 1..20),
    ) {
        let run = |chunks: &[usize]| {
            let mut app = App::from_sql(W1).unwrap();
            let out = collect(&mut app, "Out");
            let t = app.input("Trades").unwrap();
            let mut i = 0;
            let mut k = 0;
            while i < events.len() {
                let n = chunks[k % chunks.len()].min(events.len() - i);
                let mut b = Batch::new(3);
                for (j, (s, p, v)) in events[i..i + n].iter().enumerate() {
                    b.push((i + j) as i64, EventKind::Current, &trade(&format!("S{s}"), *p, *v));
                }
                app.send_batch(t, &b).unwrap();
                i += n;
                k += 1;
            }
            let rows = out.lock().unwrap().clone();
            rows
        };
        prop_assert_eq!(run(&[1]), run(&cuts));
    }
}

#[test]
fn join_and_table_state_is_bounded_and_visible_in_stats() {
    let sql = "CREATE STREAM A (k INT, v INT);\n\
               CREATE STREAM B (k INT, w INT);\n\
               CREATE TABLE T (k INT, v INT, PRIMARY KEY (k)) WITH (extension = 'cache', max_size = '2');\n\
               @name('j') @option('window.max_events', '3')\n\
               INSERT INTO Out SELECT a.v, b.w FROM A WINDOW('length', 100) AS a JOIN B WINDOW('time', 1 sec) AS b ON a.k = b.k;\n\
               INSERT INTO T SELECT k, v FROM A;";
    let mut app = App::from_sql(sql).unwrap();
    let out = collect(&mut app, "Out");
    let (a, b) = (app.input("A").unwrap(), app.input("B").unwrap());
    for i in 0..5 {
        app.send_at(a, 1000 + i, &[Value::Int(i as i32), Value::Int(i as i32)])
            .unwrap();
    }
    app.send_at(b, 1010, &[Value::Int(4), Value::Int(40)])
        .unwrap();
    app.send_at(b, 1011, &[Value::Int(0), Value::Int(0)])
        .unwrap(); // evicted from A's side
    let stats = app.stats();
    let state = |name: &str| stats.state_sizes.iter().find(|(n, _)| n == name).unwrap().1;
    let evicted = |name: &str| {
        stats
            .window_evictions
            .iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
    };
    // A keeps its 3 newest rows (window.max_events), B its 2 rows of the last second.
    assert_eq!(state("j"), 5);
    assert_eq!(evicted("j"), 2);
    assert_eq!(stats.table_sizes, vec![("T".to_string(), 2)]);
    assert_eq!(
        out.lock()
            .unwrap()
            .iter()
            .map(|r| r.2.clone())
            .collect::<Vec<_>>(),
        vec![vec![Value::Int(4), Value::Int(40)]]
    );
    // B's rows leave its time window: the join forgets them when it next runs.
    app.send_at(a, 5000, &[Value::Int(9), Value::Int(9)])
        .unwrap();
    let stats = app.stats();
    assert_eq!(
        stats.state_sizes.iter().find(|(n, _)| n == "j").unwrap().1,
        3
    );
}
