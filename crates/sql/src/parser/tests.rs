//! Parser tests: every example of LANGUAGE.md, statement shapes, spans and error recovery.
//! Expression precedence and pattern shapes are in `tests_expr.rs` and `tests_pattern.rs`.

use super::parse;
use crate::ast::*;
use crate::diagnostic::{render_all, Severity};
use crate::span::line_col;

/// Parses `src`, asserting that there are no diagnostics.
pub(crate) fn ok(src: &str) -> App {
    let (app, diags) = parse(src);
    assert!(diags.is_empty(), "{}", render_all(&diags, "test.sql", src));
    app
}

/// The diagnostics of `src` as `(line, col, message)`.
pub(crate) fn errors(src: &str) -> Vec<(usize, usize, String)> {
    let (_, diags) = parse(src);
    diags
        .iter()
        .map(|d| {
            let (l, c) = line_col(src, d.span.start);
            (l, c, d.message.clone())
        })
        .collect()
}

/// The single query of `src`.
pub(crate) fn query(src: &str) -> Query {
    let mut app = ok(src);
    assert_eq!(app.statements.len(), 1, "{src}");
    match app.statements.remove(0) {
        Statement::Query(q) => q,
        other => panic!("not a query: {other:?}"),
    }
}

fn text(src: &str, span: crate::span::Span) -> &str {
    &src[span.start as usize..span.end as usize]
}

fn stream(q: &Query) -> &StreamRef {
    match &q.from {
        FromClause::Stream(s) => s,
        other => panic!("not a single stream: {other:?}"),
    }
}

// -------------------------------------------------------------------------------------------
// LANGUAGE.md examples, section by section
// -------------------------------------------------------------------------------------------

#[test]
fn spec_3_streams() {
    let app = ok("CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);\n\
                  DEFINE STREAM Trades (symbol STRING, price DOUBLE, volume INT);      -- same thing");
    assert_eq!(app.statements.len(), 2);
    let (Statement::CreateStream(c), Statement::CreateStream(d)) =
        (&app.statements[0], &app.statements[1])
    else {
        panic!()
    };
    assert_eq!(c.columns.len(), d.columns.len());
    let Statement::CreateStream(s) = &app.statements[0] else {
        panic!()
    };
    assert_eq!(s.name.name, "Trades");
    let cols: Vec<(&str, TypeKind)> = s
        .columns
        .iter()
        .map(|c| (c.name.name.as_str(), c.ty.kind))
        .collect();
    assert_eq!(
        cols,
        [
            ("symbol", TypeKind::String),
            ("price", TypeKind::Double),
            ("volume", TypeKind::Int)
        ]
    );
    assert!(s.watermark.is_none() && s.options.is_empty());
}

#[test]
fn spec_3_1_event_time() {
    let src = "CREATE STREAM Readings (sensor STRING, temp DOUBLE, ts TIMESTAMP,
                        WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
WITH ('late.stream' = 'LateReadings', 'watermark.idle' = '30 sec');";
    let app = ok(src);
    let Statement::CreateStream(s) = &app.statements[0] else {
        panic!()
    };
    assert_eq!(s.columns.len(), 3);
    assert_eq!(s.columns[2].ty.kind, TypeKind::Timestamp);
    let wm = s.watermark.as_ref().expect("watermark");
    assert_eq!(wm.column.name, "ts");
    assert_eq!(
        text(src, wm.span),
        "WATERMARK FOR ts AS ts - INTERVAL '5' SECOND"
    );
    let ExprKind::Binary { op, left, right } = &wm.expr.kind else {
        panic!("{:?}", wm.expr)
    };
    assert_eq!(*op, BinaryOp::Sub);
    assert!(matches!(&left.kind, ExprKind::Column(c) if c.name.name == "ts"));
    assert_eq!(right.kind, ExprKind::Duration(5_000));
    assert_eq!(text(src, right.span), "INTERVAL '5' SECOND");
    let opts: Vec<(&str, String)> = s
        .options
        .iter()
        .map(|o| (o.key.as_str(), o.value.as_text()))
        .collect();
    assert_eq!(
        opts,
        [
            ("late.stream", "LateReadings".to_string()),
            ("watermark.idle", "30 sec".to_string())
        ]
    );
    assert_eq!(text(src, s.options[0].key_span), "'late.stream'");
    assert_eq!(text(src, s.options[0].value_span), "'LateReadings'");
}

#[test]
fn spec_3_2_sources_and_sinks() {
    let src = r#"CREATE STREAM Orders (id STRING, amount DOUBLE)
WITH (type = 'source', extension = 'nats', format = 'json',
      "nats.url" = 'nats://127.0.0.1:4222', "nats.subject" = 'orders');
CREATE STREAM Alerts (id STRING, reason STRING)
WITH (type = 'sink', extension = 'webhook', format = 'json', "webhook.url" = 'http://…');"#;
    let app = ok(src);
    let Statement::CreateStream(s) = &app.statements[0] else {
        panic!()
    };
    let keys: Vec<&str> = s.options.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        keys,
        ["type", "extension", "format", "nats.url", "nats.subject"]
    );
    assert_eq!(
        s.options[3].value,
        OptionValue::String("nats://127.0.0.1:4222".into())
    );
    let Statement::CreateStream(a) = &app.statements[1] else {
        panic!()
    };
    assert_eq!(a.options[3].value.as_text(), "http://…");
}

#[test]
fn with_option_values_and_keys() {
    let app = ok(
        "CREATE STREAM S (a INT) WITH (cache.size = 10, \"x\" = -1.5, `k` = TRUE, \
                  b = false, 'q' = \"dq\", max_size = 10L, env = '${HOME:/tmp}')",
    );
    let Statement::CreateStream(s) = &app.statements[0] else {
        panic!()
    };
    let got: Vec<(&str, &OptionValue)> = s
        .options
        .iter()
        .map(|o| (o.key.as_str(), &o.value))
        .collect();
    assert_eq!(
        got,
        [
            ("cache.size", &OptionValue::Number("10".into())),
            ("x", &OptionValue::Number("-1.5".into())),
            ("k", &OptionValue::Bool(true)),
            ("b", &OptionValue::Bool(false)),
            ("q", &OptionValue::String("dq".into())),
            ("max_size", &OptionValue::Number("10L".into())),
            ("env", &OptionValue::String("${HOME:/tmp}".into())),
        ]
    );
    ok("CREATE STREAM S (a INT) WITH ()");
    let e = errors("CREATE STREAM S (a INT) WITH (type = source)");
    assert_eq!(e.len(), 1);
    assert!(e[0].2.contains("as the value of option 'type'"), "{e:?}");
}

#[test]
fn spec_4_tables() {
    let src = r#"CREATE TABLE Users (id INT, name STRING, tier STRING, PRIMARY KEY (id));
CREATE TABLE Customers (id STRING, segment STRING, PRIMARY KEY (id))
WITH (extension = 'postgres', "postgres.url" = 'postgres://localhost/db', "postgres.table" = 'customers',
      "cache.policy" = 'LRU', "cache.size" = '10000', "cache.ttl" = '60 sec');"#;
    let app = ok(src);
    let Statement::CreateTable(t) = &app.statements[0] else {
        panic!()
    };
    assert_eq!(t.columns.len(), 3);
    assert_eq!(t.primary_key[0].name, "id");
    let Statement::CreateTable(c) = &app.statements[1] else {
        panic!()
    };
    assert_eq!(c.options.len(), 6);
    assert_eq!(c.options[5].key, "cache.ttl");
}

#[test]
fn table_indexes_and_inline_key() {
    let app = ok("DEFINE TABLE T (INDEX (b), a INT PRIMARY KEY, b STRING, c LONG, INDEX (b, c))");
    let Statement::CreateTable(t) = &app.statements[0] else {
        panic!()
    };
    assert_eq!(t.primary_key.len(), 1);
    assert_eq!(t.indexes.len(), 2);
    assert_eq!(t.indexes[1].len(), 2);
    let app = ok("CREATE TABLE T (a INT, b INT, PRIMARY KEY (a, b))");
    let Statement::CreateTable(t) = &app.statements[0] else {
        panic!()
    };
    assert_eq!(t.primary_key.len(), 2);
    assert_eq!(
        errors("CREATE TABLE T (a INT, PRIMARY KEY (a), PRIMARY KEY (a))").len(),
        1
    );
    assert_eq!(errors("CREATE STREAM T (a INT, PRIMARY KEY (a))").len(), 1);
    assert_eq!(
        errors("CREATE TABLE T (a INT, WATERMARK FOR a AS a)").len(),
        1
    );
}

#[test]
fn types() {
    let app = ok(
        "CREATE STREAM S (a INTEGER, b SMALLINT, c TINYINT, d BIGINT, e REAL, \
         f DOUBLE PRECISION, g DECIMAL(10, 2), h NUMERIC, i VARCHAR(20), j TEXT, k CHAR(1), \
         l BOOLEAN, m bool, n timestamp, o JSON, p object, q long, r float)",
    );
    let Statement::CreateStream(s) = &app.statements[0] else {
        panic!()
    };
    use TypeKind::*;
    let kinds: Vec<TypeKind> = s.columns.iter().map(|c| c.ty.kind).collect();
    assert_eq!(
        kinds,
        [
            Int, Int, Int, Long, Float, Double, Double, Double, String, String, String, Bool, Bool,
            Timestamp, Object, Object, Long, Float
        ]
    );
    let e = errors("CREATE STREAM S (a INTT, b STRNG)");
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0],
        (
            1,
            20,
            "unknown type 'INTT' (did you mean 'INT'?)".to_string()
        )
    );
}

#[test]
fn spec_5_queries() {
    let q = query(
        "INSERT INTO Out SELECT symbol, price * volume AS notional FROM Trades WHERE price > 50;",
    );
    assert_eq!(
        q.output,
        QueryOutput::Insert {
            events: OutputEvents::Current,
            target: Ident {
                name: "Out".into(),
                span: crate::span::Span::new(12, 15)
            }
        }
    );
    assert_eq!(q.select.items.len(), 2);
    assert!(q.where_clause.is_some());
    let t = query("SELECT symbol, price FROM Trades WHERE price > 50 INSERT INTO Out;   -- trailing form, same thing");
    assert!(matches!(&t.output, QueryOutput::Insert { target, .. } if target.name == "Out"));

    let q = query("INSERT ALL EVENTS INTO Out SELECT * FROM Trades;");
    assert!(matches!(
        q.output,
        QueryOutput::Insert {
            events: OutputEvents::All,
            ..
        }
    ));
    assert!(matches!(q.select.items[0], SelectItem::Wildcard(_)));
    for (kw, ev) in [
        ("CURRENT", OutputEvents::Current),
        ("EXPIRED", OutputEvents::Expired),
        ("ALL", OutputEvents::All),
    ] {
        let q = query(&format!(
            "SELECT a FROM S WINDOW('length', 2) INSERT {kw} EVENTS INTO Out"
        ));
        assert!(matches!(q.output, QueryOutput::Insert { events, .. } if events == ev));
        let q = query(&format!("INSERT {kw} INTO Out SELECT a FROM S"));
        assert!(matches!(q.output, QueryOutput::Insert { events, .. } if events == ev));
    }

    let q = query(
        "@name('big-trades') INSERT INTO Out SELECT symbol FROM Trades;   -- optional query name",
    );
    assert_eq!(q.annotations[0].name.name, "name");
    assert_eq!(q.annotations[0].args[0].0, "big-trades");
    let q = query(
        "@option('pattern.max_partial_matches', '500000') INSERT INTO Out SELECT * FROM Trades;",
    );
    let args: Vec<&str> = q.annotations[0].args.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(args, ["pattern.max_partial_matches", "500000"]);

    let q = query("SELECT symbol FROM Trades");
    assert_eq!(q.output, QueryOutput::Default);
}

#[test]
fn all_clauses_in_order() {
    let src = "SELECT t.symbol AS s, count() c, avg(price) \"avg\" FROM Trades[volume > 0] \
               WINDOW('time', 1 min) AS t WHERE price > 1 GROUP BY t.symbol, volume % 2 \
               HAVING c > 2 ORDER BY s DESC, c ASC, volume LIMIT 10 OFFSET 5 \
               OUTPUT LAST EVERY 5 EVENTS INSERT EXPIRED EVENTS INTO Out";
    let q = query(src);
    let aliases: Vec<Option<&str>> = q
        .select
        .items
        .iter()
        .map(|i| match i {
            SelectItem::Expr { alias, .. } => alias.as_ref().map(|a| a.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(aliases, [Some("s"), Some("c"), Some("avg")]);
    let s = stream(&q);
    assert!(s.filter.is_some());
    assert_eq!(
        s.window.as_ref().map(|w| w.kind.name.as_str()),
        Some("time")
    );
    assert_eq!(s.alias.as_ref().map(|a| a.name.as_str()), Some("t"));
    assert_eq!(q.group_by.len(), 2);
    assert!(q.having.is_some());
    let desc: Vec<bool> = q.order_by.iter().map(|o| o.descending).collect();
    assert_eq!(desc, [true, false, false]);
    assert_eq!(q.limit.map(|c| c.value), Some(10));
    assert_eq!(q.offset.map(|c| c.value), Some(5));
    assert_eq!(
        q.output_rate.map(|r| (r.mode, r.every)),
        Some((OutputRateMode::Last, RateUnit::Events(5)))
    );
    assert_eq!(text(src, q.span), src);
    assert_eq!(
        text(src, q.select.span),
        "SELECT t.symbol AS s, count() c, avg(price) \"avg\""
    );
    // Out-of-order clauses are reported with the expected order.
    let e = errors("SELECT a FROM S HAVING a > 1 GROUP BY a");
    assert_eq!(e.len(), 1);
    assert!(e[0].2.contains("GROUP BY is out of place"), "{e:?}");
    let e = errors("SELECT a FROM S WHERE a > 1 WINDOW('length', 5)");
    assert!(
        e[0].2
            .contains("WINDOW must be written right after the stream"),
        "{e:?}"
    );
}

#[test]
fn spec_7_windows() {
    let forms = [
        ("WINDOW('length', 100)", "length", 1),
        ("WINDOW('lengthBatch', 10)", "lengthBatch", 1),
        ("WINDOW('time', 5 sec)", "time", 1),
        ("WINDOW('timeBatch', 1 min, 10 sec)", "timeBatch", 2),
        ("WINDOW('tumbling', 1 min)", "tumbling", 1),
        ("WINDOW('sliding', 1 min, 10 sec)", "sliding", 2),
        ("WINDOW('hop', 1 min, 10 sec)", "hop", 2),
        ("WINDOW('session', 5 sec, symbol)", "session", 2),
        ("WINDOW('externalTime', ts, 5 sec)", "externalTime", 2),
        (
            "WINDOW('externalTimeBatch', ts, 5 sec)",
            "externalTimeBatch",
            2,
        ),
        (
            "WINDOW('sort', 10, price, 'desc', volume, 'asc')",
            "sort",
            5,
        ),
        ("WINDOW('unique', symbol)", "unique", 1),
        ("WINDOW('firstUnique', symbol)", "firstUnique", 1),
        ("WINDOW('delay', 1 hour)", "delay", 1),
        ("WINDOW('timeLength', 2 sec, 10)", "timeLength", 2),
        ("WINDOW('cron', '*/5 * * * * ?')", "cron", 1),
        ("WINDOW TUMBLING(1 min)", "TUMBLING", 1),
        ("WINDOW LENGTH(100)", "LENGTH", 1),
        ("WINDOW lengthBatch()", "lengthBatch", 0),
        ("WINDOW(\"length\", 3)", "length", 1),
    ];
    for (w, kind, nargs) in forms {
        let src = format!("SELECT symbol FROM Trades {w} INSERT INTO Out");
        let q = query(&src);
        let win = stream(&q).window.clone().expect("window");
        assert_eq!(win.kind.name, kind, "{w}");
        assert_eq!(win.args.len(), nargs, "{w}");
        assert_eq!(text(&src, win.span), w);
    }
    let q = query("SELECT a FROM S WINDOW('time', 1.5 sec)");
    let win = stream(&q).window.clone().expect("window");
    assert_eq!(win.args[0].kind, ExprKind::Duration(1_500));
    let q = query("SELECT a FROM S WINDOW TUMBLING(1 min)");
    let win = stream(&q).window.clone().expect("window");
    assert_eq!(win.args[0].kind, ExprKind::Duration(60_000));
    // Window before or after the alias.
    for src in [
        "SELECT t.a FROM Trades WINDOW('length', 10) AS t",
        "SELECT t.a FROM Trades AS t WINDOW('length', 10)",
        "SELECT t.a FROM Trades t WINDOW('length', 10)",
    ] {
        let q = query(src);
        let s = stream(&q);
        assert!(s.window.is_some() && s.alias.is_some(), "{src}");
    }
    assert_eq!(
        errors("SELECT a FROM S WINDOW('length', 1) WINDOW('length', 2)").len(),
        1
    );
}

#[test]
fn spec_8_output_rates() {
    let cases = [
        (
            "OUTPUT EVERY 5 EVENTS",
            OutputRateMode::All,
            RateUnit::Events(5),
        ),
        (
            "OUTPUT ALL EVERY 5 EVENTS",
            OutputRateMode::All,
            RateUnit::Events(5),
        ),
        (
            "OUTPUT FIRST EVERY 1 EVENT",
            OutputRateMode::First,
            RateUnit::Events(1),
        ),
        (
            "OUTPUT LAST EVERY 10 events",
            OutputRateMode::Last,
            RateUnit::Events(10),
        ),
    ];
    for (clause, mode, every) in cases {
        let q = query(&format!("SELECT a FROM S {clause} INSERT INTO O"));
        let r = q.output_rate.expect("rate");
        assert_eq!((r.mode, r.every), (mode, every), "{clause}");
    }
    for (clause, mode, ms) in [
        ("OUTPUT EVERY 1 sec", OutputRateMode::All, 1_000),
        (
            "OUTPUT FIRST EVERY 2 minutes",
            OutputRateMode::First,
            120_000,
        ),
        ("OUTPUT LAST EVERY 500 ms", OutputRateMode::Last, 500),
        (
            "OUTPUT SNAPSHOT EVERY 1 hour",
            OutputRateMode::Snapshot,
            3_600_000,
        ),
    ] {
        // OUTPUT may come before or after the trailing INSERT.
        for src in [
            format!("SELECT a FROM S {clause} INSERT INTO O"),
            format!("SELECT a FROM S INSERT INTO O {clause}"),
        ] {
            let r = query(&src).output_rate.expect("rate");
            assert_eq!(r.mode, mode);
            assert!(
                matches!(r.every, RateUnit::Time(d) if d.millis == ms),
                "{src}"
            );
        }
    }
    assert_eq!(
        errors("SELECT a FROM S OUTPUT SNAPSHOT EVERY 5 EVENTS").len(),
        1
    );
    assert_eq!(errors("SELECT a FROM S OUTPUT EVERY 5").len(), 1);
}

#[test]
fn spec_9_joins() {
    let src = "INSERT INTO Out
SELECT t.symbol, t.price, n.headline
FROM Trades WINDOW('time', 1 min) AS t
     LEFT OUTER JOIN News WINDOW('length', 100) AS n ON t.symbol = n.symbol
WHERE t.price > 10;";
    let q = query(src);
    let FromClause::Join(j) = &q.from else {
        panic!("{:?}", q.from)
    };
    assert_eq!(j.left.name.name, "Trades");
    assert_eq!(j.steps.len(), 1);
    assert_eq!(j.steps[0].kind, JoinKind::Left);
    assert_eq!(
        j.steps[0].right.alias.as_ref().map(|a| a.name.as_str()),
        Some("n")
    );
    assert!(j.steps[0].on.is_some());
    assert_eq!(
        text(src, j.span),
        "Trades WINDOW('time', 1 min) AS t\n     LEFT OUTER JOIN News WINDOW('length', 100) AS n ON t.symbol = n.symbol"
    );
    for (op, kind) in [
        ("JOIN", JoinKind::Inner),
        ("INNER JOIN", JoinKind::Inner),
        ("LEFT JOIN", JoinKind::Left),
        ("RIGHT OUTER JOIN", JoinKind::Right),
        ("RIGHT JOIN", JoinKind::Right),
        ("FULL OUTER JOIN", JoinKind::Full),
        ("full join", JoinKind::Full),
    ] {
        let q = query(&format!("SELECT * FROM A AS a {op} B AS b ON a.x = b.x"));
        let FromClause::Join(j) = &q.from else {
            panic!()
        };
        assert_eq!(j.steps[0].kind, kind, "{op}");
    }
    // Chained joins and UNIDIRECTIONAL in any position.
    let q = query(
        "SELECT * FROM A WINDOW('length', 1) AS a UNIDIRECTIONAL JOIN B AS b ON a.x = b.x \
         LEFT JOIN C UNIDIRECTIONAL ON b.y = C.y JOIN D d",
    );
    let FromClause::Join(j) = &q.from else {
        panic!()
    };
    assert!(j.left.unidirectional);
    assert_eq!(j.steps.len(), 3);
    assert!(j.steps[1].right.unidirectional);
    assert!(j.steps[2].on.is_none());
    assert_eq!(
        j.steps[2].right.alias.as_ref().map(|a| a.name.as_str()),
        Some("d")
    );
    let e = errors("SELECT * FROM A, B");
    assert!(e[0].2.contains("comma joins"), "{e:?}");
}

#[test]
fn spec_10_table_writes() {
    let src = "INSERT INTO Users SELECT id, name, tier FROM UserEvents;                    -- insert (replace on key)
UPDATE Users SET tier = e.tier FROM TierChanges AS e ON Users.id = e.id;     -- update matching rows
DELETE FROM Users USING Removals AS r ON Users.id = r.id;                    -- delete matching rows
UPSERT INTO Users SELECT id, name, tier FROM UserEvents;                    -- insert or replace
UPDATE OR INSERT INTO Users SET Users.tier = e.tier, name = e.name FROM TierChanges e ON Users.id = e.id;
SELECT id, tier FROM TierChanges UPDATE OR INSERT INTO Users SET Users.tier = tier ON Users.id = id;
SELECT id, tier FROM TierChanges UPDATE OR INSERT INTO Users ON Users.id = id;
SELECT id, tier FROM TierChanges UPDATE Users SET tier = tier ON Users.id = id;
SELECT id FROM Removals DELETE Users ON Users.id = id;";
    let app = ok(src);
    assert_eq!(app.statements.len(), 9);
    let Statement::Update(u) = &app.statements[1] else {
        panic!()
    };
    assert!(!u.or_insert);
    assert_eq!(u.table.name, "Users");
    assert_eq!(u.set.len(), 1);
    assert_eq!(u.set[0].column.name.name, "tier");
    assert_eq!(u.source.alias.as_ref().map(|a| a.name.as_str()), Some("e"));
    assert_eq!(
        text(src, u.span),
        "UPDATE Users SET tier = e.tier FROM TierChanges AS e ON Users.id = e.id"
    );
    let Statement::Delete(d) = &app.statements[2] else {
        panic!()
    };
    assert_eq!(d.table.name, "Users");
    assert_eq!(d.source.name.name, "Removals");
    let Statement::Query(q) = &app.statements[3] else {
        panic!()
    };
    assert!(matches!(&q.output, QueryOutput::Upsert { target } if target.name == "Users"));
    let Statement::Update(u) = &app.statements[4] else {
        panic!()
    };
    assert!(u.or_insert);
    assert_eq!(
        u.set[0].column.qualifier.as_ref().map(|q| q.name.as_str()),
        Some("Users")
    );
    let Statement::Query(q) = &app.statements[5] else {
        panic!()
    };
    assert!(matches!(&q.output, QueryOutput::UpdateOrInsert { set, .. } if set.len() == 1));
    let Statement::Query(q) = &app.statements[6] else {
        panic!()
    };
    assert!(matches!(&q.output, QueryOutput::UpdateOrInsert { set, .. } if set.is_empty()));
    let Statement::Query(q) = &app.statements[7] else {
        panic!()
    };
    assert!(matches!(&q.output, QueryOutput::Update { target, .. } if target.name == "Users"));
    let Statement::Query(q) = &app.statements[8] else {
        panic!()
    };
    assert!(matches!(&q.output, QueryOutput::Delete { target, .. } if target.name == "Users"));
    // Annotations before UPDATE / DELETE.
    let app = ok("@name('u') UPDATE T SET a = 1 FROM S ON T.k = S.k;\n\
                  @name('d') DELETE FROM T USING S WINDOW('length', 1) ON T.k = S.k;");
    let Statement::Delete(d) = &app.statements[1] else {
        panic!()
    };
    assert_eq!(d.annotations[0].args[0].0, "d");
    assert!(d.source.window.is_some());
}

#[test]
fn spec_11_pattern_example() {
    let src = "INSERT INTO Alerts
SELECT e1.card AS card, e1.amount AS small, e2.amount AS big
FROM PATTERN (EVERY e1=Txn[amount < 1.0] -> e2=Txn[card = e1.card AND amount > 500.0])
WITHIN 10 MINUTES;";
    let q = query(src);
    let FromClause::Pattern(p) = &q.from else {
        panic!()
    };
    assert_eq!(p.mode, PatternMode::Pattern);
    assert_eq!(p.within.map(|d| d.millis), Some(600_000));
    assert_eq!(
        text(src, p.span),
        "PATTERN (EVERY e1=Txn[amount < 1.0] -> e2=Txn[card = e1.card AND amount > 500.0])\nWITHIN 10 MINUTES"
    );
    let PatternExpr::FollowedBy(steps, _) = &p.expr else {
        panic!("{:?}", p.expr)
    };
    assert_eq!(steps.len(), 2);
    assert!(matches!(&steps[0], PatternExpr::Every(inner, _)
        if matches!(&**inner, PatternExpr::Element(e) if e.alias.as_ref().map(|a| a.name.as_str()) == Some("e1"))));
    let PatternExpr::Element(e2) = &steps[1] else {
        panic!()
    };
    assert_eq!(e2.stream.name, "Txn");
    assert_eq!(
        text(src, e2.span),
        "e2=Txn[card = e1.card AND amount > 500.0]"
    );
    // Other §11 forms.
    ok(
        "SELECT e1[0].amount AS a0, e1[last].amount AS al, e1[last - 1].amount AS ap, \
        sum(e1.amount) AS total, count(e1) AS n \
        FROM SEQUENCE (e1=Txn{2,5} -> e2=Txn[amount > 100]) WITHIN 1 hour",
    );
}

#[test]
fn spec_12_partitions() {
    let src = "PARTITION WITH (symbol OF Trades, card OF Txn)
BEGIN
  INSERT INTO Out SELECT symbol, count() AS c FROM Trades WINDOW('length', 10);
  INSERT INTO Alerts SELECT e2.card FROM PATTERN (EVERY e1=Txn -> e2=Txn[amount > e1.amount * 10]);
END;
PARTITION WITH (price < 100 AS 'low' OR price >= 100 AS 'high' OF Trades)
BEGIN
  INSERT INTO Out2 SELECT symbol FROM Trades
END WITH ('purge.idle' = '1 hour');";
    let app = ok(src);
    assert_eq!(app.statements.len(), 2);
    let Statement::Partition(p) = &app.statements[0] else {
        panic!()
    };
    assert_eq!(p.keys.len(), 2);
    assert!(matches!(&p.keys[1], PartitionKey::Value { stream, .. } if stream.name == "Txn"));
    assert_eq!(p.statements.len(), 2);
    assert!(text(src, p.span).starts_with("PARTITION") && text(src, p.span).ends_with("END"));
    let Statement::Partition(p) = &app.statements[1] else {
        panic!()
    };
    let PartitionKey::Range { ranges, stream, .. } = &p.keys[0] else {
        panic!()
    };
    assert_eq!(stream.name, "Trades");
    let labels: Vec<&str> = ranges.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["low", "high"]);
    assert_eq!(text(src, ranges[1].span), "price >= 100 AS 'high'");
    assert_eq!(p.options[0].key, "purge.idle");
    assert_eq!(p.statements.len(), 1);
}

#[test]
fn partition_annotations_and_statements() {
    let (app, diags) = parse(
        "@name('p') @option('k', 'v') PARTITION WITH (a OF S) BEGIN \
         @name('q') SELECT a FROM S; UPDATE T SET x = a FROM S ON T.a = S.a; \
         DELETE FROM T USING S ON T.a = S.a; END",
    );
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].severity, Severity::Warning);
    let Statement::Partition(p) = &app.statements[0] else {
        panic!()
    };
    assert_eq!(p.statements.len(), 3);
    let Statement::Query(q) = &p.statements[0] else {
        panic!()
    };
    let names: Vec<&str> = q.annotations.iter().map(|a| a.name.name.as_str()).collect();
    assert_eq!(names, ["name", "option"]);
    let e = errors("PARTITION WITH (a OF S) BEGIN CREATE STREAM X (a INT); SELECT a FROM S; END");
    assert_eq!(e.len(), 1);
    assert!(e[0].2.contains("inside a PARTITION block"), "{e:?}");
    assert_eq!(
        errors("PARTITION WITH (a OF S) BEGIN PARTITION WITH (a OF S) BEGIN END; END").len(),
        1
    );
    let e = errors("PARTITION WITH (a OF S) BEGIN SELECT a FROM");
    assert_eq!(e.len(), 1, "{e:?}");
    ok("PARTITION WITH (a OF S) BEGIN END");
    ok("PARTITION WITH (a OF S) BEGIN ;; SELECT a FROM S;; END;;");
}

#[test]
fn spec_13_triggers() {
    let src = "CREATE TRIGGER Tick AT EVERY 5 SECONDS; CREATE TRIGGER Boot AT START;
CREATE TRIGGER C AT CRON '0 */5 * * * *'; CREATE TRIGGER D AT '0 0 * * * *'; CREATE TRIGGER E AT 'start';
CREATE TRIGGER F AT EVERY INTERVAL '2' MINUTE";
    let app = ok(src);
    let schedules: Vec<TriggerSchedule> = app
        .statements
        .iter()
        .map(|s| match s {
            Statement::CreateTrigger(t) => t.schedule.clone(),
            _ => panic!(),
        })
        .collect();
    assert!(matches!(schedules[0], TriggerSchedule::Every(d) if d.millis == 5_000));
    assert_eq!(schedules[1], TriggerSchedule::Start);
    assert!(matches!(&schedules[2], TriggerSchedule::Cron { expr, .. } if expr == "0 */5 * * * *"));
    assert!(matches!(&schedules[3], TriggerSchedule::Cron { expr, .. } if expr == "0 0 * * * *"));
    assert_eq!(schedules[4], TriggerSchedule::Start);
    assert!(matches!(schedules[5], TriggerSchedule::Every(d) if d.millis == 120_000));
    assert_eq!(errors("CREATE TRIGGER T AT NOON").len(), 1);
}

#[test]
fn annotations() {
    let src = "@app:name('x') @option('a', 1, -2.5, true) @flag SELECT a FROM S";
    let q = query(src);
    assert_eq!(q.annotations.len(), 3);
    assert_eq!(q.annotations[0].name.name, "app:name");
    assert_eq!(text(src, q.annotations[0].name.span), "app:name");
    assert_eq!(text(src, q.annotations[0].span), "@app:name('x')");
    let args: Vec<&str> = q.annotations[1].args.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(args, ["a", "1", "-2.5", "true"]);
    assert!(q.annotations[2].args.is_empty());
    assert_eq!(text(src, q.span), src);
    assert_eq!(errors("@info(name = 'q') SELECT a FROM S").len(), 1);
    // Not allowed before definitions: reported, but the definition is kept.
    let (app, diags) = parse("@name('x') CREATE STREAM S (a INT)");
    assert_eq!(app.statements.len(), 1);
    assert_eq!(diags.len(), 1);
    assert!(diags[0]
        .message
        .starts_with("annotations are not allowed before CREATE"));
    assert_eq!(errors("@name('x')").len(), 1);
}

// -------------------------------------------------------------------------------------------
// Error recovery
// -------------------------------------------------------------------------------------------

#[test]
fn several_errors_are_all_reported() {
    let src = "CREATE STREAM A (x INT);
SELECT x FROM A WINDOW('length', 10 FROM B;
INSERT INTO B SELECT x FROM A;
SELECT FROM A;
CREATE STREAM C (y INTT);
INSERT INTO D SELECT x FROM A";
    let (app, diags) = parse(src);
    let got: Vec<(usize, usize, String)> = diags
        .iter()
        .map(|d| {
            let (l, c) = line_col(src, d.span.start);
            (l, c, d.message.clone())
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                2,
                37,
                "expected ')' after window arguments, found 'FROM'".to_string()
            ),
            (4, 8, "expected an expression, found 'FROM'".to_string()),
            (
                5,
                20,
                "unknown type 'INTT' (did you mean 'INT'?)".to_string()
            ),
        ]
    );
    assert_eq!(app.statements.len(), 3);
    assert!(matches!(&app.statements[2], Statement::Query(q)
        if matches!(&q.output, QueryOutput::Insert { target, .. } if target.name == "D")));
}

#[test]
fn recovery_inside_partition_blocks() {
    let src = "PARTITION WITH (a OF S)
BEGIN
  SELECT CASE WHEN a THEN 1 ELSE ) END FROM S;
  SELECT a FROM S;
  SELECT a FROM WHERE
END;
SELECT b FROM T;";
    let (app, diags) = parse(src);
    let pos: Vec<(usize, usize)> = diags.iter().map(|d| line_col(src, d.span.start)).collect();
    assert_eq!(pos, [(3, 34), (5, 17)], "{diags:?}");
    assert_eq!(app.statements.len(), 2);
    let Statement::Partition(p) = &app.statements[0] else {
        panic!()
    };
    assert_eq!(p.statements.len(), 1);
}

#[test]
fn missing_semicolon_and_stray_tokens() {
    let e = errors("SELECT a FROM S SELECT b FROM T; SELECT c FROM U");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].2, "expected ';' after the statement, found 'SELECT'");
    let (app, diags) = parse("SELET a FROM S; SELECT b FROM T;");
    assert_eq!(app.statements.len(), 1);
    assert!(
        diags[0].message.contains("did you mean 'SELECT'"),
        "{diags:?}"
    );
    let (app, diags) = parse("END; ) ; SELECT b FROM T; @name('x') CREATE STREAM Z (a INT)");
    assert_eq!(app.statements.len(), 2);
    assert_eq!(diags.len(), 3, "{diags:?}");
}

#[test]
fn semicolons_inside_parentheses() {
    // A stray ';' inside parentheses does not end the statement…
    let (app, diags) = parse("SELECT f(a; b) FROM S; SELECT c FROM T;");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(app.statements.len(), 1);
    // …but a missing ')' does not swallow the statements that follow.
    let (app, diags) =
        parse("SELECT f(a FROM S; SELECT c FROM T; SELECT (d FROM U; SELECT e FROM V");
    assert_eq!(diags.len(), 2, "{diags:?}");
    assert_eq!(app.statements.len(), 2);
    let (app, diags) = parse(
        "PARTITION WITH (a OF S) BEGIN SELECT f(a FROM S; SELECT b FROM S END; SELECT 1 FROM T",
    );
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(app.statements.len(), 2);
}

#[test]
fn lexical_and_syntax_errors_together() {
    let src = "SELECT a # b FROM S;\nSELECT 'open FROM S";
    let e = errors(src);
    assert_eq!(e[0].0, 1);
    assert!(
        e.iter().any(|x| x.2.contains("unterminated string")),
        "{e:?}"
    );
}

#[test]
fn reserved_words_as_names() {
    let (_, diags) = parse("CREATE STREAM S (end INT)");
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].message, "expected an attribute name, found 'end'");
    assert!(diags[0].notes[0].contains("`end`"));
    let app = ok("CREATE STREAM S (`end` INT, \"from\" STRING); SELECT `end`, s.end FROM S AS s");
    assert_eq!(app.statements.len(), 2);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("SELECT {}1{} FROM S", "(".repeat(5000), ")".repeat(5000));
    let e = errors(&deep);
    assert_eq!(e.len(), 1);
    assert!(e[0].2.contains("nesting too deep"), "{e:?}");
    let long = format!("SELECT 1{} FROM S", " + 1".repeat(100_000));
    let e = errors(&long);
    assert!(e[0].2.contains("too complex"), "{e:?}");
    let nots = format!("SELECT {}a FROM S", "NOT ".repeat(10_000));
    assert_eq!(errors(&nots).len(), 1);
    let pat = format!(
        "SELECT * FROM PATTERN ({}A{})",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert_eq!(errors(&pat).len(), 1);
    let ands = format!("SELECT * FROM PATTERN (A{})", " AND A".repeat(10_000));
    assert_eq!(errors(&ands).len(), 1);
    let every = format!("SELECT * FROM PATTERN ({}A)", "EVERY ".repeat(10_000));
    assert_eq!(errors(&every).len(), 1);
    // Within the limits, fine.
    ok(&format!(
        "SELECT {}1{} FROM S",
        "(".repeat(60),
        ")".repeat(60)
    ));
    ok(&format!("SELECT 1{} FROM S", " + 1".repeat(200)));
}
