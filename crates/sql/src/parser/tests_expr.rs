//! Expression tests: precedence, literals, durations, column references, calls and spans.

use super::tests::{errors, query};
use crate::ast::*;

/// The first SELECT item of `SELECT {e} FROM S`.
fn expr(e: &str) -> Expr {
    let q = query(&format!("SELECT {e} FROM S"));
    match q.select.items.into_iter().next() {
        Some(SelectItem::Expr { expr, .. }) => expr,
        other => panic!("{other:?}"),
    }
}

/// An S-expression rendering of an expression tree.
fn sx(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Literal(Literal::Integer { value, long }) => {
            format!("{value}{}", if *long { "L" } else { "" })
        }
        ExprKind::Literal(Literal::Decimal { value, float }) => {
            format!("{value:?}{}", if *float { "f" } else { "" })
        }
        ExprKind::Literal(Literal::String(s)) => format!("'{s}'"),
        ExprKind::Literal(Literal::Bool(b)) => b.to_string(),
        ExprKind::Literal(Literal::Null) => "null".into(),
        ExprKind::Duration(ms) => format!("{ms}ms"),
        ExprKind::Column(c) => col(c),
        ExprKind::Unary { op, expr } => {
            let op = if *op == UnaryOp::Neg { "neg" } else { "not" };
            format!("({op} {})", sx(expr))
        }
        ExprKind::Binary { op, left, right } => {
            format!("({} {} {})", op.symbol(), sx(left), sx(right))
        }
        ExprKind::IsNull { expr, negated } => {
            format!(
                "(is{} null {})",
                if *negated { "-not" } else { "" },
                sx(expr)
            )
        }
        ExprKind::InList {
            expr,
            list,
            negated,
        } => format!("({}in {} [{}])", neg(*negated), sx(expr), list_sx(list)),
        ExprKind::InTable {
            expr,
            table,
            negated,
        } => format!("({}in {} table:{})", neg(*negated), sx(expr), table.name),
        ExprKind::Between {
            expr,
            low,
            high,
            negated,
        } => format!(
            "({}between {} {} {})",
            neg(*negated),
            sx(expr),
            sx(low),
            sx(high)
        ),
        ExprKind::Like {
            expr,
            pattern,
            negated,
        } => format!("({}like {} {})", neg(*negated), sx(expr), sx(pattern)),
        ExprKind::Case {
            operand,
            whens,
            else_result,
        } => {
            let mut s = "(case".to_string();
            if let Some(o) = operand {
                s += &format!(" {}", sx(o));
            }
            for (w, t) in whens {
                s += &format!(" (when {} {})", sx(w), sx(t));
            }
            if let Some(e) = else_result {
                s += &format!(" (else {})", sx(e));
            }
            s + ")"
        }
        ExprKind::Cast { expr, ty } => format!("(cast {} {:?})", sx(expr), ty.kind),
        ExprKind::Function {
            name,
            args,
            distinct,
            star,
        } => {
            let inner = if *star {
                "*".to_string()
            } else {
                list_sx(args)
            };
            let d = if *distinct { "distinct " } else { "" };
            format!("{}({d}{inner})", name.name)
        }
    }
}

fn neg(n: bool) -> &'static str {
    if n {
        "not-"
    } else {
        ""
    }
}

fn list_sx(list: &[Expr]) -> String {
    list.iter().map(sx).collect::<Vec<_>>().join(", ")
}

fn col(c: &ColumnRef) -> String {
    let mut s = String::new();
    if let Some(q) = &c.qualifier {
        s += &q.name;
    }
    match c.index {
        Some(EventIndex::At(n)) => s += &format!("[{n}]"),
        Some(EventIndex::Last) => s += "[last]",
        Some(EventIndex::FromLast(n)) => s += &format!("[last-{n}]"),
        None => {}
    }
    if c.qualifier.is_some() {
        s.push('.');
    }
    s + &c.name.name
}

fn check(src: &str, want: &str) {
    assert_eq!(sx(&expr(src)), want, "{src}");
}

#[test]
fn arithmetic_precedence() {
    check("1 + 2 * 3", "(+ 1 (* 2 3))");
    check("1 * 2 + 3", "(+ (* 1 2) 3)");
    check("1 - 2 - 3", "(- (- 1 2) 3)");
    check("8 / 4 / 2", "(/ (/ 8 4) 2)");
    check("a % 2 * b", "(* (% a 2) b)");
    check("(1 + 2) * 3", "(* (+ 1 2) 3)");
    check("-a * b", "(* (neg a) b)");
    check("- -a", "(neg (neg a))");
    check("-5 + 3", "(+ -5 3)");
    check("a -5", "(- a 5)");
    check("a || b || c + d", "(|| (|| a b) (+ c d))");
    check("a || 'x' = b", "(= (|| a 'x') b)");
}

#[test]
fn logical_precedence() {
    check("a OR b AND c", "(OR a (AND b c))");
    check("a AND b OR c AND d", "(OR (AND a b) (AND c d))");
    check(
        "a = 1 AND b <> 2 OR c >= 3",
        "(OR (AND (= a 1) (!= b 2)) (>= c 3))",
    );
    check("a == 1", "(= a 1)");
    check("a < b + 1", "(< a (+ b 1))");
    check(
        "a <= 1 AND b > 2 AND c != 3",
        "(AND (AND (<= a 1) (> b 2)) (!= c 3))",
    );
    // LANGUAGE.md §6: NOT binds like unary minus, tighter than comparisons and AND.
    check("NOT a AND b", "(AND (not a) b)");
    check("NOT (a = b)", "(not (= a b))");
    check("NOT a = b", "(= (not a) b)");
    check("NOT NOT a", "(not (not a))");
}

#[test]
fn comparison_forms() {
    check("a IS NULL", "(is null a)");
    check("a IS NOT NULL AND b", "(AND (is-not null a) b)");
    check("a + 1 IS NULL", "(is null (+ a 1))");
    check("a IN (1, 2, 3)", "(in a [1, 2, 3])");
    check("a NOT IN ('x')", "(not-in a ['x'])");
    check("symbol IN Watchlist", "(in symbol table:Watchlist)");
    check(
        "symbol NOT IN Watchlist OR b",
        "(OR (not-in symbol table:Watchlist) b)",
    );
    check("a BETWEEN 1 AND 5", "(between a 1 5)");
    check("a BETWEEN 1 AND 5 AND b", "(AND (between a 1 5) b)");
    check(
        "a NOT BETWEEN b - 1 AND b + 1",
        "(not-between a (- b 1) (+ b 1))",
    );
    check("a BETWEEN 1 AND 2 OR c", "(OR (between a 1 2) c)");
    check("name LIKE 'a%_'", "(like name 'a%_')");
    check("name NOT LIKE 'a' || b", "(not-like name (|| 'a' b))");
    check("name LIKE \"x%\" AND c", "(AND (like name 'x%') c)");
}

#[test]
fn literals() {
    check("42", "42");
    check("42L", "42L");
    check("9223372036854775807", "9223372036854775807");
    check("-9223372036854775808", "-9223372036854775808");
    check("3.5", "3.5");
    check("3.5f", "3.5f");
    check(".5", "0.5");
    check("1e3", "1000.0");
    check("2d", "2.0");
    check("'it''s'", "'it's'");
    check("\"dq\"", "'dq'");
    check("TRUE", "true");
    check("false", "false");
    check("NuLL", "null");
    let e = errors("SELECT 9223372036854775808 FROM S");
    assert_eq!(e.len(), 1);
    assert!(e[0].2.contains("out of range"), "{e:?}");
    assert_eq!(errors("SELECT 1e999 FROM S").len(), 1);
}

#[test]
fn durations() {
    check("5 sec", "5000ms");
    check("5 min", "300000ms");
    check("1.5 sec", "1500ms");
    check("2 HOURS", "7200000ms");
    check("1 day + 1 week", "(+ 86400000ms 604800000ms)");
    check("100 ms", "100ms");
    check("3 s", "3000ms");
    check("7 millisec", "7ms");
    check("INTERVAL '5' SECOND", "5000ms");
    check("INTERVAL '5' SECONDS", "5000ms");
    check("INTERVAL 2 minute", "120000ms");
    check("INTERVAL '1.5' HOUR", "5400000ms");
    check("INTERVAL '10 sec'", "10000ms");
    check("ts - INTERVAL '5' SECOND", "(- ts 5000ms)");
    check("-5 sec", "(neg 5000ms)");
    // A unit word followed by '(' is a function call, not a unit.
    let q = query("SELECT 5, min(x) FROM S");
    assert_eq!(q.select.items.len(), 2);
    check("min(x)", "min(x)");
    // A unit word is not reserved.
    check("ms + s", "(+ ms s)");
    assert_eq!(errors("SELECT 99999999999999999 weeks FROM S").len(), 1);
    assert_eq!(errors("SELECT INTERVAL 'abc' SECOND FROM S").len(), 1);
    assert_eq!(errors("SELECT INTERVAL 5 FROM S").len(), 1);
}

#[test]
fn column_references() {
    check("x", "x");
    check("a.x", "a.x");
    check("e1[0].x", "e1[0].x");
    check("e1[last].x", "e1[last].x");
    check("e1[last-1].x", "e1[last-1].x");
    check("e1[LAST - 2].amount", "e1[last-2].amount");
    check("e1[last - 0].amount", "e1[last].amount");
    check("`select`", "select");
    check("t.`x y`", "t.x y");
    check("t.end", "t.end");
    assert_eq!(errors("SELECT e1[0] FROM S").len(), 1);
    assert_eq!(errors("SELECT e1[x].y FROM S").len(), 1);
    let src = "SELECT e1[last - 1].amount FROM S";
    let e = expr("e1[last - 1].amount");
    assert_eq!(
        &src[e.span.start as usize..e.span.end as usize],
        "e1[last - 1].amount"
    );
}

#[test]
fn function_calls() {
    check("count()", "count()");
    check("count(*)", "count(*)");
    check("count(DISTINCT x)", "count(distinct x)");
    check("round(x, 2)", "round(x, 2)");
    check("first(x)", "first(x)");
    check("last(x) + LEFT(s, 2)", "(+ last(x) LEFT(s, 2))");
    check("coalesce(a, b, 'z')", "coalesce(a, b, 'z')");
    check("if(a > 1, 'x', 'y')", "if((> a 1), 'x', 'y')");
    check("now()", "now()");
    check("f(g(h(1)))", "f(g(h(1)))");
    check("count(e1)", "count(e1)");
    // Keywords with their own syntax are not calls.
    assert_eq!(errors("SELECT select(1) FROM S").len(), 1);
    assert_eq!(errors("SELECT count(1 FROM S").len(), 1);
}

#[test]
fn case_and_cast() {
    check(
        "CASE WHEN a > 1 THEN 'x' WHEN a > 0 THEN 'y' ELSE 'z' END",
        "(case (when (> a 1) 'x') (when (> a 0) 'y') (else 'z'))",
    );
    check("CASE a WHEN 1 THEN 'one' END", "(case a (when 1 'one'))");
    check("CASE WHEN a THEN 1 END + 1", "(+ (case (when a 1)) 1)");
    check("CAST(a AS LONG)", "(cast a Long)");
    check("CAST(a + 1 AS double precision)", "(cast (+ a 1) Double)");
    check("CAST(a AS VARCHAR(10))", "(cast a String)");
    assert_eq!(errors("SELECT CASE END FROM S").len(), 1);
    assert_eq!(errors("SELECT CASE WHEN a THEN 1 FROM S").len(), 1);
    assert_eq!(errors("SELECT CAST(a AS LNG) FROM S").len(), 1);
}

#[test]
fn spans_cover_source() {
    let src = "SELECT (a + b) * c AS x, count(DISTINCT y), CASE WHEN z THEN 1 END, -5, NOT q \
               FROM S";
    let q = query(src);
    let spans: Vec<&str> = q
        .select
        .items
        .iter()
        .map(|i| match i {
            SelectItem::Expr { expr, .. } => &src[expr.span.start as usize..expr.span.end as usize],
            _ => "",
        })
        .collect();
    assert_eq!(
        spans,
        [
            "(a + b) * c",
            "count(DISTINCT y)",
            "CASE WHEN z THEN 1 END",
            "-5",
            "NOT q"
        ]
    );
    let SelectItem::Expr { expr, alias } = &q.select.items[0] else {
        panic!()
    };
    let alias = alias.as_ref().map(|a| a.span).unwrap_or_default();
    assert_eq!(&src[alias.start as usize..alias.end as usize], "x");
    let ExprKind::Binary { left, right, .. } = &expr.kind else {
        panic!()
    };
    assert_eq!(
        &src[left.span.start as usize..left.span.end as usize],
        "(a + b)"
    );
    assert_eq!(
        &src[right.span.start as usize..right.span.end as usize],
        "c"
    );
}

#[test]
fn select_items_and_aliases() {
    let q = query("SELECT *, t.*, a AS b, c d, e \"f g\", h `i` FROM S");
    assert!(matches!(q.select.items[0], SelectItem::Wildcard(_)));
    assert!(matches!(&q.select.items[1], SelectItem::QualifiedWildcard(a) if a.name == "t"));
    let aliases: Vec<String> = q.select.items[2..]
        .iter()
        .map(|i| match i {
            SelectItem::Expr { alias, .. } => {
                alias.as_ref().map(|a| a.name.clone()).unwrap_or_default()
            }
            _ => String::new(),
        })
        .collect();
    assert_eq!(aliases, ["b", "d", "f g", "i"]);
    // A reserved word never becomes an implicit alias.
    let q = query("SELECT a FROM S WHERE a > 1");
    assert!(q.where_clause.is_some());
}

#[test]
fn spec_6_functions_and_aggregates() {
    let calls = [
        "abs(x)",
        "ceil(x)",
        "floor(x)",
        "round(x)",
        "round(x, 2)",
        "sqrt(x)",
        "power(x, 2)",
        "exp(x)",
        "ln(x)",
        "log(x)",
        "log10(x)",
        "sign(x)",
        "mod(x, 3)",
        "greatest(a, b, c)",
        "least(a, b)",
        "upper(s)",
        "lower(s)",
        "length(s)",
        "trim(s)",
        "ltrim(s)",
        "rtrim(s)",
        "substring(s, 1)",
        "substring(s, 2, 3)",
        "concat(a, b, 'c')",
        "replace(s, 'a', 'b')",
        "starts_with(s, 'a')",
        "ends_with(s, 'z')",
        "contains(s, 'm')",
        "regex_match(s, '^a.*$')",
        "lpad(s, 5, ' ')",
        "rpad(s, 5, '0')",
        "coalesce(a, b)",
        "ifnull(a, 0)",
        "nullif(a, 0)",
        "if(c, a, b)",
        "now()",
        "event_time()",
        "uuid()",
        "format_time(ts, 'yyyy-MM-dd')",
        "parse_time(s, 'HH:mm')",
        "count()",
        "count(*)",
        "count(x)",
        "count(DISTINCT x)",
        "sum(x)",
        "avg(x)",
        "min(x)",
        "max(x)",
        "first(x)",
        "last(x)",
        "distinct_count(x)",
        "distinctCount(x)",
        "min_forever(x)",
        "max_forever(x)",
        "minForever(x)",
        "maxForever(x)",
        "stddev(x)",
        "percentile(x, 95)",
    ];
    for c in calls {
        let e = expr(c);
        assert!(matches!(e.kind, ExprKind::Function { .. }), "{c}");
    }
    check(
        "count(*) + count(DISTINCT x)",
        "(+ count(*) count(distinct x))",
    );
}
