//! Property tests: the parser never panics, whatever it is fed, and its spans stay inside the
//! source; generated well-formed apps parse without diagnostics.

use eventflux_sql::ast::Statement;
use eventflux_sql::{parse, Diagnostic};
use proptest::prelude::*;

/// Keywords, names, literals, durations and punctuation, including broken pieces.
const VOCAB: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "HAVING",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "OUTPUT",
    "INSERT",
    "INTO",
    "WINDOW",
    "JOIN",
    "ON",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "BETWEEN",
    "LIKE",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "LEFT",
    "RIGHT",
    "FULL",
    "INNER",
    "OUTER",
    "UNIDIRECTIONAL",
    "EVERY",
    "WITHIN",
    "FOR",
    "PATTERN",
    "SEQUENCE",
    "PARTITION",
    "BEGIN",
    "CREATE",
    "DEFINE",
    "STREAM",
    "TABLE",
    "TRIGGER",
    "WITH",
    "UPDATE",
    "DELETE",
    "UPSERT",
    "SET",
    "USING",
    "TRUE",
    "FALSE",
    "CAST",
    "INTERVAL",
    "DISTINCT",
    "ASC",
    "DESC",
    "EVENTS",
    "CURRENT",
    "EXPIRED",
    "ALL",
    "FIRST",
    "LAST",
    "SNAPSHOT",
    "OF",
    "AT",
    "START",
    "CRON",
    "WATERMARK",
    "PRIMARY",
    "KEY",
    "INDEX",
    "INT",
    "LONG",
    "DOUBLE",
    "PRECISION",
    "STRING",
    "VARCHAR",
    "BOOL",
    "TIMESTAMP",
    "Trades",
    "e1",
    "e2",
    "x",
    "price",
    "count",
    "min",
    "last",
    "sec",
    "ms",
    "MINUTES",
    "SECOND",
    "`quoted`",
    "\"dq\"",
    "'str'",
    "'it''s'",
    "42",
    "42L",
    "0",
    "3.5",
    "3.5f",
    ".5",
    "1e3",
    "99999999999999999999",
    "5 sec",
    "1 min",
    "1.5 hours",
    "INTERVAL '5' SECOND",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ".",
    "@",
    "?",
    ":",
    "->",
    "=",
    "==",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "||",
    "-- comment\n",
    "/* c */",
    "'",
    "\"",
    "`",
    "/*",
    "#",
    "!",
    "é",
    "∑",
    "\n",
    "\t",
];

/// Well-formed statements, used as seeds for mutation.
const SEEDS: &[&str] = &[
    "CREATE STREAM Trades (symbol STRING, price DOUBLE, volume INT);",
    "CREATE STREAM R (s STRING, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) \
     WITH ('late.stream' = 'Late', format = 'json');",
    "CREATE TABLE Users (id INT, name STRING, PRIMARY KEY (id), INDEX (name));",
    "CREATE TRIGGER Tick AT EVERY 5 SECONDS;",
    "@name('q') INSERT INTO Out SELECT symbol, price * volume AS n FROM Trades WHERE price > 50;",
    "SELECT t.symbol, count() AS c FROM Trades WINDOW('time', 1 min) AS t GROUP BY t.symbol \
     HAVING c > 1 ORDER BY c DESC LIMIT 5 OFFSET 1 OUTPUT LAST EVERY 5 EVENTS \
     INSERT ALL EVENTS INTO Out;",
    "SELECT a.x, b.y FROM A WINDOW('length', 10) AS a LEFT OUTER JOIN B AS b ON a.k = b.k;",
    "INSERT INTO Alerts SELECT e1.card FROM PATTERN (EVERY e1=Txn[amount < 1.0] -> \
     NOT T2[card = e1.card] FOR 5 sec -> e2=Txn{2,} ) WITHIN 10 MINUTES;",
    "UPDATE Users SET tier = e.tier FROM Changes AS e ON Users.id = e.id;",
    "DELETE FROM Users USING Removals AS r ON Users.id = r.id;",
    "PARTITION WITH (symbol OF Trades, price < 10 AS 'low' OR price >= 10 AS 'high' OF T) \
     BEGIN SELECT CASE WHEN a IS NULL THEN 1 ELSE 2 END AS c FROM Trades; END;",
    "SELECT id FROM S UPDATE OR INSERT INTO T SET T.a = a ON T.id = id;",
];

fn tokens() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCAB), 0..150).prop_map(|v| v.join(" "))
}

fn tokens_glued() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCAB), 0..150).prop_map(|v| v.concat())
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Insert(usize, &'static str),
    Swap(usize, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), prop::sample::select(VOCAB)).prop_map(|(i, t)| Edit::Insert(i, t)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Edit::Swap(i, j)),
    ];
    prop::collection::vec(edit, 1..6)
}

/// Applies token-level edits to the whole seed corpus.
fn mutate(edits: &[Edit]) -> String {
    let joined = SEEDS.join("\n");
    let mut words: Vec<&str> = joined.split(' ').collect();
    for e in edits {
        let n = words.len().max(1);
        match *e {
            Edit::Delete(i) if !words.is_empty() => {
                words.remove(i % n);
            }
            Edit::Insert(i, t) => words.insert(i % (n + 1), t),
            Edit::Swap(i, j) if !words.is_empty() => words.swap(i % n, j % n),
            _ => {}
        }
    }
    words.join(" ")
}

/// Every span lies inside the source, on character boundaries.
fn check_spans(src: &str, diags: &[Diagnostic], statements: &[Statement]) {
    let ok = |start: u32, end: u32| {
        let (s, e) = (start as usize, end as usize);
        s <= e && e <= src.len() && src.is_char_boundary(s) && src.is_char_boundary(e)
    };
    for d in diags {
        assert!(ok(d.span.start, d.span.end), "diagnostic span {:?}", d.span);
        // Rendering must not panic either.
        let _ = d.render("fuzz.sql", src);
    }
    for s in statements {
        let sp = s.span();
        assert!(ok(sp.start, sp.end), "statement span {sp:?}");
    }
}

fn run(src: &str) {
    let (app, diags) = parse(src);
    check_spans(src, &diags, &app.statements);
    // Deterministic.
    assert_eq!(parse(src), (app, diags));
}

#[test]
fn seeds_are_valid() {
    for seed in SEEDS {
        let (app, diags) = parse(seed);
        assert!(diags.is_empty(), "{seed}: {diags:?}");
        assert_eq!(app.statements.len(), 1, "{seed}");
    }
    let (app, diags) = parse(&SEEDS.join("\n"));
    assert!(diags.is_empty());
    assert_eq!(app.statements.len(), SEEDS.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn random_token_sequences_never_panic(src in tokens()) {
        run(&src);
    }

    #[test]
    fn glued_token_sequences_never_panic(src in tokens_glued()) {
        run(&src);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        run(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_text_never_panics(src in "\\PC{0,300}") {
        run(&src);
    }

    #[test]
    fn mutated_apps_never_panic(edits in edits()) {
        run(&mutate(&edits));
    }

    #[test]
    fn truncated_apps_never_panic(cut in 0usize..2000) {
        let joined = SEEDS.join("\n");
        let mut cut = cut.min(joined.len());
        while !joined.is_char_boundary(cut) {
            cut -= 1;
        }
        run(&joined[..cut]);
    }
}

// ---------------------------------------------------------------------------------------------
// Generated well-formed queries parse cleanly.
// ---------------------------------------------------------------------------------------------

fn gen_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("x".to_string()),
        Just("t.price".to_string()),
        Just("e1[last].amount".to_string()),
        (0i64..1000).prop_map(|n| n.to_string()),
        Just("2.5".to_string()),
        Just("'abc'".to_string()),
        Just("5 sec".to_string()),
        Just("NULL".to_string()),
        Just("count()".to_string()),
    ];
    leaf.prop_recursive(4, 32, 3, |inner| {
        let bin = prop::sample::select(vec![
            "+", "-", "*", "/", "%", "||", "=", "!=", "<>", "<", "<=", ">", ">=", "AND", "OR",
        ]);
        prop_oneof![
            (inner.clone(), bin, inner.clone()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("NOT ({a})")),
            inner.clone().prop_map(|a| format!("-({a})")),
            inner.clone().prop_map(|a| format!("{a} IS NOT NULL")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} IN ({b}, 1)")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("{a} NOT BETWEEN ({b}) AND ({c})")),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("CASE WHEN {a} THEN {b} ELSE 0 END")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("coalesce({a}, {b})")),
            inner.prop_map(|a| format!("CAST({a} AS LONG)")),
        ]
    })
}

fn gen_pattern() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("e1=A".to_string()),
        Just("B[x > 1]".to_string()),
        Just("e2=C{2,3}".to_string()),
        Just("e3=D+".to_string()),
        Just("NOT E FOR 1 sec".to_string()),
        Just("NOT F[y = 2]".to_string()),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} -> {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) AND ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) OR ({b})")),
            inner.clone().prop_map(|a| format!("EVERY ({a})")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn generated_expressions_parse(e in gen_expr()) {
        let src = format!("SELECT {e} AS v FROM S WHERE {e} INSERT INTO Out;");
        let (app, diags) = parse(&src);
        prop_assert!(diags.is_empty(), "{src}: {diags:?}");
        prop_assert_eq!(app.statements.len(), 1);
    }

    #[test]
    fn generated_patterns_parse(p in gen_pattern(), seq in any::<bool>()) {
        let kind = if seq { "SEQUENCE" } else { "PATTERN" };
        let src = format!("SELECT * FROM {kind} ({p}) WITHIN 1 min");
        let (app, diags) = parse(&src);
        prop_assert!(diags.is_empty(), "{src}: {diags:?}");
        prop_assert_eq!(app.statements.len(), 1);
    }
}
