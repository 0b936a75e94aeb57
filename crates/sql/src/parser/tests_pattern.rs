//! Pattern grammar tests: shapes of `FROM PATTERN/SEQUENCE (…)`.

use super::tests::{errors, query};
use crate::ast::*;

fn pattern(src: &str) -> PatternQuery {
    let q = query(&format!("SELECT * FROM {src}"));
    match q.from {
        FromClause::Pattern(p) => p,
        other => panic!("{other:?}"),
    }
}

/// A compact rendering of a pattern tree.
fn px(p: &PatternExpr) -> String {
    match p {
        PatternExpr::FollowedBy(steps, _) => {
            let s: Vec<String> = steps.iter().map(px).collect();
            format!("(-> {})", s.join(" "))
        }
        PatternExpr::Every(e, _) => format!("(every {})", px(e)),
        PatternExpr::And(a, b, _) => format!("(and {} {})", px(a), px(b)),
        PatternExpr::Or(a, b, _) => format!("(or {} {})", px(a), px(b)),
        PatternExpr::Group(e, _) => format!("[{}]", px(e)),
        PatternExpr::Element(e) => {
            let mut s = String::new();
            if let Some(a) = &e.alias {
                s += &format!("{}=", a.name);
            }
            s += &e.stream.name;
            if e.filter.is_some() {
                s += "[f]";
            }
            if let Some(q) = e.quantifier {
                match q.max {
                    Some(m) => s += &format!("{{{},{m}}}", q.min),
                    None => s += &format!("{{{},}}", q.min),
                }
            }
            s
        }
        PatternExpr::Absent(a) => {
            let mut s = format!("!{}", a.stream.name);
            if a.filter.is_some() {
                s += "[f]";
            }
            if let Some(d) = a.duration {
                s += &format!("/{}", d.millis);
            }
            s
        }
    }
}

fn check(body: &str, want: &str) {
    let p = pattern(&format!("PATTERN ({body})"));
    assert_eq!(px(&p.expr), want, "{body}");
}

#[test]
fn sequences_and_single_steps() {
    check("e1=A", "e1=A");
    check("A", "A");
    check("e1=A -> e2=B -> e3=C", "(-> e1=A e2=B e3=C)");
    check("e1=A[x > 1] -> B[y = e1.x]", "(-> e1=A[f] B[f])");
    let p = pattern("SEQUENCE (e1=A -> e2=B) WITHIN 5 sec");
    assert_eq!(p.mode, PatternMode::Sequence);
    assert_eq!(p.within.map(|d| d.millis), Some(5_000));
    // WITHIN inside the parentheses, at the end.
    let p = pattern("PATTERN (e1=A -> e2=B WITHIN 1 min)");
    assert_eq!(p.within.map(|d| d.millis), Some(60_000));
    assert_eq!(
        errors("SELECT * FROM PATTERN (A -> B WITHIN 1 min) WITHIN 2 min").len(),
        1
    );
    assert_eq!(
        errors("SELECT * FROM PATTERN ((A WITHIN 1 min) -> B)").len(),
        1
    );
}

#[test]
fn logical_terms() {
    check("e1=A AND e2=B", "(and e1=A e2=B)");
    check("e1=A OR e2=B", "(or e1=A e2=B)");
    check("A AND B OR C", "(or (and A B) C)");
    check("A OR B AND C", "(or A (and B C))");
    check("A AND B AND C", "(and (and A B) C)");
    check("A OR B OR C AND D", "(or (or A B) (and C D))");
    check("(e1=A AND e2=B) -> e3=C", "(-> [(and e1=A e2=B)] e3=C)");
    check("e1=A -> (e2=B OR e3=C)", "(-> e1=A [(or e2=B e3=C)])");
    check("e1=A -> e2=B OR e3=C -> D", "(-> e1=A (or e2=B e3=C) D)");
}

#[test]
fn nested_groups_and_every() {
    check("EVERY (e1=A -> e2=B)", "(every [(-> e1=A e2=B)])");
    check("EVERY e1=A -> e2=B", "(-> (every e1=A) e2=B)");
    check("EVERY e1=A AND e2=B -> C", "(-> (every (and e1=A e2=B)) C)");
    check(
        "((A -> B) OR (C AND D)) -> EVERY (E -> (F OR G))",
        "(-> [(or [(-> A B)] [(and C D)])] (every [(-> E [(or F G)])]))",
    );
    check("A AND EVERY B", "(and A (every B))");
    check("EVERY EVERY A", "(every (every A))");
    check("(((A)))", "[[[A]]]");
}

#[test]
fn quantifiers() {
    check("e1=A{3}", "e1=A{3,3}");
    check("e1=A{2,5}", "e1=A{2,5}");
    check("e1=A{2,}", "e1=A{2,}");
    check("e1=A[x > 0]{,4} -> B", "(-> e1=A[f]{0,4} B)");
    check("e1=A+ -> e2=B", "(-> e1=A{1,} e2=B)");
    check("e1=A* -> e2=B", "(-> e1=A{0,} e2=B)");
    check("e1=A? -> e2=B", "(-> e1=A{0,1} e2=B)");
    check("e1=A<2:4> -> e2=B", "(-> e1=A{2,4} e2=B)");
    check("e1=A<2:> -> e2=B", "(-> e1=A{2,} e2=B)");
    assert_eq!(errors("SELECT * FROM PATTERN (e1=A{5,2})").len(), 1);
    assert_eq!(errors("SELECT * FROM PATTERN (e1=A{0})").len(), 1);
    assert_eq!(errors("SELECT * FROM PATTERN (e1=A{x})").len(), 1);
}

#[test]
fn absence() {
    // At the start, in the middle, at the end.
    check("NOT A[x > 1] FOR 5 sec -> e2=B", "(-> !A[f]/5000 e2=B)");
    check("e1=A -> NOT B FOR 1 min -> e3=C", "(-> e1=A !B/60000 e3=C)");
    check(
        "e1=A -> NOT B[y = e1.y] FOR 10 sec",
        "(-> e1=A !B[f]/10000)",
    );
    // NOT … AND: an And with an absent left side without FOR.
    check("e1=A -> NOT B[cond] AND e3=C", "(-> e1=A (and !B[f] e3=C))");
    check("EVERY NOT A FOR 1 sec", "(every !A/1000)");
    assert_eq!(
        errors("SELECT * FROM PATTERN (NOT e1=A FOR 1 sec)").len(),
        1
    );
    assert_eq!(errors("SELECT * FROM PATTERN (NOT A FOR 5)").len(), 1);
}

#[test]
fn pattern_spans_and_errors() {
    let src = "SELECT * FROM PATTERN (EVERY (e1=A -> e2=B[x > 1]{2,3}) -> NOT C FOR 1 sec)";
    let q = query(src);
    let FromClause::Pattern(p) = &q.from else {
        panic!()
    };
    let t = |s: crate::span::Span| &src[s.start as usize..s.end as usize];
    let PatternExpr::FollowedBy(steps, span) = &p.expr else {
        panic!()
    };
    assert_eq!(
        t(*span),
        "EVERY (e1=A -> e2=B[x > 1]{2,3}) -> NOT C FOR 1 sec"
    );
    assert_eq!(t(steps[0].span()), "EVERY (e1=A -> e2=B[x > 1]{2,3})");
    assert_eq!(t(steps[1].span()), "NOT C FOR 1 sec");
    let PatternExpr::Every(g, _) = &steps[0] else {
        panic!()
    };
    let PatternExpr::Group(inner, gspan) = &**g else {
        panic!()
    };
    assert_eq!(t(*gspan), "(e1=A -> e2=B[x > 1]{2,3})");
    let PatternExpr::FollowedBy(inner_steps, _) = &**inner else {
        panic!()
    };
    assert_eq!(t(inner_steps[1].span()), "e2=B[x > 1]{2,3}");

    for bad in [
        "SELECT * FROM PATTERN ()",
        "SELECT * FROM PATTERN (A ->)",
        "SELECT * FROM PATTERN (A -> -> B)",
        "SELECT * FROM PATTERN (e1= -> B)",
        "SELECT * FROM PATTERN (A[x > 1 -> B)",
        "SELECT * FROM PATTERN (A AND)",
        "SELECT * FROM PATTERN A -> B",
        "SELECT * FROM PATTERN (A B)",
    ] {
        assert_eq!(errors(bad).len(), 1, "{bad}");
    }
    let e = errors("SELECT * FROM PATTERN (e1=A -> e2=B");
    assert_eq!(
        e[0].2,
        "expected ')' to close the pattern (or '->', AND, OR, WITHIN), found end of input"
    );
}
