//! The pattern engine against a brute-force reference (LANGUAGE.md §11, docs/patterns.md).
//!
//! Each property generates a random pattern over `A`, `B`, `C (id INT, x INT)` and a short random
//! run (0..=12 events over 2 or 3 of the streams, `x` in 0..6 or NULL, non-decreasing times,
//! `id` = position + 1), compiles `INSERT INTO Out SELECT <every alias> FROM PATTERN|SEQUENCE (…)
//! [WITHIN d ms]` through the public embedding API (`App::from_sql`, `input`, `send_at`,
//! `subscribe`, then `flush`), and compares the emitted rows — values, row timestamp, multiset
//! and order — with a reference written in this file from the specification only.
//!
//! The generated sub-grammar (everything the references model exactly):
//!
//! ```text
//! pattern := steps with at most one EVERY:     1..=4 steps
//!            s1 -> … -> EVERY sK -> …          on one step, or
//!            s1 -> … -> EVERY (sK -> … -> sM) -> …   around a run of steps
//! step    := elem | '(' side AND side ')' | '(' side OR side ')'
//! side    := elem | '(' elem -> elem ')'                (single elements inside AND / OR)
//! elem    := eN=S ['[' atom (AND atom)* ']'] [quant]   (quantifiers on plain steps only)
//! atom    := x op <const> | x op eJ.x | x op eJ[last].x   (eJ bound earlier: an earlier step,
//!                                                          or earlier in the same side)
//! quant   := {m,n} | {n} | {m,} | + | ? | *             (small m, n)
//! ```
//!
//! Restrictions that keep every case inside what LANGUAGE.md §11 and docs/patterns.md define:
//! a minimum of 0 only on a middle step that is not the EVERY step; steps before a middle EVERY
//! have no quantifier (an EVERY reached by "offering the event to the following steps" is not
//! described); a group `EVERY (…)` that does not reach the end of the pattern does not end in a
//! quantified step (whether its inner quantifier is "trailing" is not described); middle EVERY
//! only in PATTERN mode. SELECT reads `eN.id` for a single alias and `count(eN), eN[0].id,
//! eN[last].id` for a counted one (any quantifier other than exactly one).
//!
//! Two references:
//!
//! * [`declarative`] — for chains of single elements (with or without one EVERY, with or without
//!   WITHIN): an instance binds, for each next element, the *earliest* later event of its stream
//!   passing its filter (docs: one deterministic automaton per instance; PATTERN ignores other
//!   events). The root instance binds the prefix before the EVERY step (the whole chain without
//!   EVERY) starting at the first event able to begin it; every later event that can bind the
//!   EVERY step then starts its own instance with the root's bindings. Without EVERY the query
//!   stops after its one match. WITHIN keeps a match iff last − first < d (first = the root's
//!   first event when the EVERY is in the middle); a root discarded by WITHIN is replaced by a
//!   fresh one that sees the events from first + d on. Matches are ordered by completing event,
//!   then by instance creation (oldest first).
//! * [`simulate`] — a step-list simulation written from docs/patterns.md for the whole
//!   sub-grammar: greedy quantifiers (a matching event is added while fewer than `max` are
//!   collected; the next step may take an event the current one does not once `min` are
//!   collected), a trailing quantifier completing at its minimum, AND (offered to the left side,
//!   then the right) and OR (first side to complete wins, the other side's aliases are NULL),
//!   EVERY spawning (a spawned instance is younger than every live one, so among matches
//!   completed by one event it comes last), one match at most for a PATTERN without EVERY,
//!   WITHIN, and SEQUENCE strict contiguity (an event of a pattern stream that an instance does
//!   not take breaks it; without EVERY the root restarts after every match and failure and is
//!   offered the breaking event; events of streams the pattern does not read are ignored).
//!
//! For chains the engine is compared with [`declarative`], after checking that [`simulate`]
//! agrees with it; otherwise the engine is compared with [`simulate`].

use eventflux::{App, Value};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::sync::{Arc, Mutex};

// ---------------------------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------------------------

const STREAMS: [&str; 3] = ["A", "B", "C"];
const UNBOUNDED: usize = usize::MAX;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Gt,
    Lt,
    Ge,
    Le,
    Eq,
    Ne,
}

/// Comparison operators, loose ones more often (so that filters pass now and then).
const OPS: [Op; 8] = [
    Op::Gt,
    Op::Lt,
    Op::Ge,
    Op::Le,
    Op::Eq,
    Op::Ne,
    Op::Ge,
    Op::Le,
];

impl Op {
    fn sql(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ne => "!=",
        }
    }

    fn holds(self, a: i32, b: i32) -> bool {
        match self {
            Op::Gt => a > b,
            Op::Lt => a < b,
            Op::Ge => a >= b,
            Op::Le => a <= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// The right-hand side of a filter atom `x op …`.
#[derive(Clone, Debug)]
enum Rhs {
    Const(i32),
    /// `eJ.x`: the (first) event bound to alias J.
    First(usize),
    /// `eJ[last].x`: the last event bound to the counted alias J.
    Last(usize),
}

#[derive(Clone, Debug)]
struct Atom {
    op: Op,
    rhs: Rhs,
}

/// How a quantifier is written.
#[derive(Clone, Copy, Debug, PartialEq)]
enum QForm {
    Range,
    Exact,
    AtLeast,
    Plus,
    Opt,
    Star,
}

#[derive(Clone, Debug)]
struct Elem {
    alias: usize,
    stream: usize,
    filter: Vec<Atom>,
    min: usize,
    max: usize,
    /// The quantifier as written (`None`: a single element).
    quant: Option<QForm>,
}

impl Elem {
    /// Bound to several events (any quantifier other than exactly one).
    fn counted(&self) -> bool {
        (self.min, self.max) != (1, 1)
    }
}

/// One side of an AND / OR: one element, or a chain of single elements.
type Side = Vec<Elem>;

#[derive(Clone, Debug)]
enum Step {
    One(Elem),
    And(Side, Side),
    Or(Side, Side),
}

impl Step {
    fn elems(&self) -> Vec<&Elem> {
        match self {
            Step::One(e) => vec![e],
            Step::And(l, r) | Step::Or(l, r) => l.iter().chain(r).collect(),
        }
    }
}

/// `EVERY` around the steps `at .. at + len`; `parens` writes `EVERY (…)` even around one step.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Every {
    at: usize,
    len: usize,
    parens: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Pattern,
    Sequence,
}

#[derive(Clone, Debug)]
struct Pat {
    mode: Mode,
    /// Disjoint EVERY groups, in step order.
    every: Vec<Every>,
    steps: Vec<Step>,
    within: Option<i64>,
}

impl Pat {
    /// An instance at the first step of an EVERY group that has bound nothing there is a
    /// template: it never takes events, it spawns instances.
    fn template(&self, inst: &Inst) -> bool {
        self.every.iter().any(|g| {
            inst.cur == g.at
                && self.steps[g.at]
                    .elems()
                    .iter()
                    .all(|e| inst.bind[e.alias].is_empty())
        })
    }

    fn elems(&self) -> Vec<&Elem> {
        self.steps.iter().flat_map(Step::elems).collect()
    }

    fn aliases(&self) -> usize {
        self.elems().len()
    }

    fn uses_stream(&self, s: usize) -> bool {
        self.elems().iter().any(|e| e.stream == s)
    }

    /// A chain of single elements (the sub-grammar of [`declarative`]).
    fn is_chain(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s, Step::One(e) if !e.counted()))
    }
}

// ---------------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------------

fn alias_name(a: usize) -> String {
    format!("e{}", a + 1)
}

fn elem_sql(e: &Elem) -> String {
    let mut s = format!("{}={}", alias_name(e.alias), STREAMS[e.stream]);
    if !e.filter.is_empty() {
        let atoms: Vec<String> = e
            .filter
            .iter()
            .map(|a| {
                let rhs = match a.rhs {
                    Rhs::Const(c) => c.to_string(),
                    Rhs::First(j) => format!("{}.x", alias_name(j)),
                    Rhs::Last(j) => format!("{}[last].x", alias_name(j)),
                };
                format!("x {} {rhs}", a.op.sql())
            })
            .collect();
        s.push_str(&format!("[{}]", atoms.join(" AND ")));
    }
    let max = |m: usize| {
        if m == UNBOUNDED {
            String::new()
        } else {
            m.to_string()
        }
    };
    match e.quant {
        None => {}
        Some(QForm::Range) => s.push_str(&format!("{{{},{}}}", e.min, max(e.max))),
        Some(QForm::Exact) => s.push_str(&format!("{{{}}}", e.min)),
        Some(QForm::AtLeast) => s.push_str(&format!("{{{},}}", e.min)),
        Some(QForm::Plus) => s.push('+'),
        Some(QForm::Opt) => s.push('?'),
        Some(QForm::Star) => s.push('*'),
    }
    s
}

fn side_sql(side: &Side) -> String {
    let elems: Vec<String> = side.iter().map(elem_sql).collect();
    if elems.len() == 1 {
        elems[0].clone()
    } else {
        format!("({})", elems.join(" -> "))
    }
}

fn step_sql(s: &Step) -> String {
    match s {
        Step::One(e) => elem_sql(e),
        Step::And(l, r) => format!("({} AND {})", side_sql(l), side_sql(r)),
        Step::Or(l, r) => format!("({} OR {})", side_sql(l), side_sql(r)),
    }
}

fn pattern_sql(p: &Pat) -> String {
    let steps: Vec<String> = p.steps.iter().map(step_sql).collect();
    let mut parts: Vec<String> = Vec::new();
    let mut j = 0;
    while j < steps.len() {
        match p.every.iter().find(|g| g.at == j) {
            Some(g) => {
                let group = steps[j..j + g.len].join(" -> ");
                parts.push(if g.parens {
                    format!("EVERY ({group})")
                } else {
                    format!("EVERY {group}")
                });
                j += g.len;
            }
            None => {
                parts.push(steps[j].clone());
                j += 1;
            }
        }
    }
    let body = parts.join(" -> ");
    let mut cols = Vec::new();
    for e in p.elems() {
        let a = alias_name(e.alias);
        if e.counted() {
            cols.push(format!("count({a}) AS {a}_n"));
            cols.push(format!("{a}[0].id AS {a}_first"));
            cols.push(format!("{a}[last].id AS {a}_last"));
        } else {
            cols.push(format!("{a}.id AS {a}_id"));
        }
    }
    let mode = match p.mode {
        Mode::Pattern => "PATTERN",
        Mode::Sequence => "SEQUENCE",
    };
    let within = p
        .within
        .map(|d| format!(" WITHIN {d} ms"))
        .unwrap_or_default();
    format!(
        "CREATE STREAM A (id INT, x INT);\n\
         CREATE STREAM B (id INT, x INT);\n\
         CREATE STREAM C (id INT, x INT);\n\
         INSERT INTO Out SELECT {} FROM {mode} ({body}){within};",
        cols.join(", ")
    )
}

// ---------------------------------------------------------------------------------------------
// Events and rows
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Ev {
    stream: usize,
    id: i32,
    x: Option<i32>,
    ts: i64,
}

/// Emitted or expected rows: timestamp and values.
type Out = Vec<(i64, Vec<Value>)>;

/// The row of a match completed by the event at `at` (`bind[alias]` = bound positions).
fn row(p: &Pat, evs: &[Ev], bind: &[Vec<usize>], at: usize) -> (i64, Vec<Value>) {
    let id = |i: Option<&usize>| Value::from(i.map(|&i| evs[i].id));
    let mut vals = Vec::new();
    for e in p.elems() {
        let b = &bind[e.alias];
        if e.counted() {
            vals.push(Value::Long(b.len() as i64));
            vals.push(id(b.first()));
            vals.push(id(b.last()));
        } else {
            vals.push(id(b.first()));
        }
    }
    (evs[at].ts, vals)
}

/// Whether the event at `i` is of `e`'s stream and passes its filter given the bindings (a
/// comparison with NULL — an unbound alias or a NULL `x` — is not TRUE).
fn passes(e: &Elem, evs: &[Ev], i: usize, bind: &[Vec<usize>]) -> bool {
    evs[i].stream == e.stream
        && e.filter.iter().all(|a| {
            let rhs = match a.rhs {
                Rhs::Const(c) => Some(c),
                Rhs::First(j) => bind[j].first().and_then(|&k| evs[k].x),
                Rhs::Last(j) => bind[j].last().and_then(|&k| evs[k].x),
            };
            matches!((evs[i].x, rhs), (Some(x), Some(r)) if a.op.holds(x, r))
        })
}

// ---------------------------------------------------------------------------------------------
// Reference 1: declarative, chains of single elements
// ---------------------------------------------------------------------------------------------

/// Extends the bound positions `pos` of a chain with the earliest later event for each next
/// element up to `upto` elements (the first one searched from `from`); stops where none is left.
fn earliest(p: &Pat, evs: &[Ev], mut pos: Vec<usize>, from: usize, upto: usize) -> Vec<usize> {
    let elems = p.elems();
    while pos.len() < upto {
        let e = elems[pos.len()];
        let bind: Vec<Vec<usize>> = (0..elems.len())
            .map(|a| pos.get(a).map(|&q| vec![q]).unwrap_or_default())
            .collect();
        let after = pos.last().map_or(from, |&q| q + 1);
        match (after..evs.len()).find(|&q| passes(e, evs, q, &bind)) {
            Some(q) => pos.push(q),
            None => break,
        }
    }
    pos
}

fn declarative(p: &Pat, evs: &[Ev]) -> Out {
    assert!(p.is_chain() && p.mode == Mode::Pattern);
    let k = p.elems().len();
    // Elements the root binds itself: the prefix before the EVERY step, or all of them.
    let prefix = p.every.map_or(k, |e| e.at);
    let in_time = |pos: &[usize]| {
        p.within
            .is_none_or(|d| evs[pos[k - 1]].ts - evs[pos[0]].ts < d)
    };
    // (completing position, root generation, spawning position, bound positions)
    let mut found: Vec<(usize, usize, usize, Vec<usize>)> = Vec::new();
    let mut from = 0;
    for generation in 0.. {
        let root = earliest(p, evs, Vec::new(), from, prefix);
        if p.every.is_none() {
            if root.len() == k && in_time(&root) {
                found.push((root[k - 1], generation, 0, root));
                break;
            }
        } else if root.len() == prefix {
            // Every later event that can bind the EVERY step starts an instance.
            let after = root.last().map_or(0, |&q| q + 1);
            let bind: Vec<Vec<usize>> = (0..k)
                .map(|a| root.get(a).map(|&q| vec![q]).unwrap_or_default())
                .collect();
            for q in after..evs.len() {
                if passes(p.elems()[prefix], evs, q, &bind) {
                    let mut pos = root.clone();
                    pos.push(q);
                    let pos = earliest(p, evs, pos, 0, k);
                    if pos.len() == k && in_time(&pos) {
                        found.push((pos[k - 1], generation, q, pos));
                    }
                }
            }
        }
        // A root that bound an event is discarded by WITHIN at first + d; a fresh one follows.
        match (p.within, root.first()) {
            (Some(d), Some(&f)) => {
                let limit = evs[f].ts + d;
                match (f..evs.len()).find(|&q| evs[q].ts >= limit) {
                    Some(q) => from = q,
                    None => break,
                }
            }
            _ => break,
        }
    }
    found.sort_by_key(|(last, generation, q, _)| (*last, *generation, *q));
    found
        .iter()
        .map(|(last, _, _, pos)| {
            let bind: Vec<Vec<usize>> = pos.iter().map(|&q| vec![q]).collect();
            row(p, evs, &bind, *last)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reference 2: step-list simulation, the whole sub-grammar
// ---------------------------------------------------------------------------------------------

/// A partial match: the current step, the events bound per alias, the first bound position.
#[derive(Clone, Debug)]
struct Inst {
    cur: usize,
    bind: Vec<Vec<usize>>,
    first: Option<usize>,
}

impl Inst {
    fn new(p: &Pat) -> Inst {
        Inst {
            cur: 0,
            bind: vec![Vec::new(); p.aliases()],
            first: None,
        }
    }

    fn complete(&self, p: &Pat) -> bool {
        self.cur == p.steps.len()
    }
}

fn side_done(side: &Side, bind: &[Vec<usize>]) -> bool {
    side.iter().all(|e| !bind[e.alias].is_empty())
}

/// The alias of `step` that takes the event at `i`, if any: an element with fewer than `max`
/// events; for AND / OR the next element of the left side, else of the right side.
fn takes(step: &Step, evs: &[Ev], i: usize, bind: &[Vec<usize>]) -> Option<usize> {
    match step {
        Step::One(e) => (bind[e.alias].len() < e.max && passes(e, evs, i, bind)).then_some(e.alias),
        Step::And(l, r) | Step::Or(l, r) => [l, r].into_iter().find_map(|side| {
            let next = side.iter().find(|e| bind[e.alias].is_empty())?;
            passes(next, evs, i, bind).then_some(next.alias)
        }),
    }
}

/// Enough events bound for the next step to take events.
fn satisfied(step: &Step, bind: &[Vec<usize>]) -> bool {
    match step {
        Step::One(e) => bind[e.alias].len() >= e.min,
        Step::And(l, r) => side_done(l, bind) && side_done(r, bind),
        Step::Or(l, r) => side_done(l, bind) || side_done(r, bind),
    }
}

/// The sequence moves past the step: an element at its maximum, a trailing element at its
/// minimum, a complete AND / OR.
fn finished(step: &Step, bind: &[Vec<usize>], last: bool) -> bool {
    match step {
        Step::One(e) => {
            let n = bind[e.alias].len();
            n >= e.max || (last && n >= e.min)
        }
        _ => satisfied(step, bind),
    }
}

/// Offers the event at `i` to the instance; true if it was taken.
fn offer(p: &Pat, inst: &mut Inst, evs: &[Ev], i: usize) -> bool {
    let k = p.steps.len();
    let mut j = inst.cur;
    while j < k {
        let step = &p.steps[j];
        if let Some(a) = takes(step, evs, i, &inst.bind) {
            inst.bind[a].push(i);
            inst.first.get_or_insert(i);
            inst.cur = j;
            if finished(step, &inst.bind, j + 1 == k) {
                inst.cur = j + 1;
                if let Step::Or(l, r) = step {
                    // The first side to complete wins; the other side's aliases read NULL.
                    let loser = if side_done(l, &inst.bind) { r } else { l };
                    for e in loser {
                        inst.bind[e.alias].clear();
                    }
                }
            }
            return true;
        }
        if !satisfied(step, &inst.bind) {
            return false;
        }
        j += 1;
    }
    false
}

fn simulate(p: &Pat, evs: &[Ev]) -> Out {
    let mut out = Vec::new();
    let expired = |inst: &Inst, now: i64| match (p.within, inst.first) {
        (Some(d), Some(f)) => evs[f].ts + d <= now,
        _ => false,
    };
    let Some(every) = p.every else {
        // One root instance.
        let mut root = Inst::new(p);
        for i in 0..evs.len() {
            // WITHIN timers fire before an event at the same time; a fresh root follows.
            if expired(&root, evs[i].ts) {
                root = Inst::new(p);
            }
            if !p.uses_stream(evs[i].stream) {
                continue;
            }
            if offer(p, &mut root, evs, i) {
                if root.complete(p) {
                    out.push(row(p, evs, &root.bind, i));
                    if p.mode == Mode::Pattern {
                        break; // one match at most
                    }
                    root = Inst::new(p);
                }
            } else if p.mode == Mode::Sequence && root.first.is_some() {
                // Broken: restart, offering the breaking event to the new root.
                root = Inst::new(p);
                if offer(p, &mut root, evs, i) && root.complete(p) {
                    out.push(row(p, evs, &root.bind, i));
                    root = Inst::new(p);
                }
            }
        }
        return out;
    };
    // EVERY: the root binds the steps before the EVERY step, then stays there as a template;
    // every event that the EVERY step takes starts a new instance (a copy of the root).
    let mut root = Inst::new(p);
    let mut live: Vec<Inst> = Vec::new(); // spawned instances, oldest first
    for i in 0..evs.len() {
        if expired(&root, evs[i].ts) {
            root = Inst::new(p);
        }
        live.retain(|inst| !expired(inst, evs[i].ts));
        if !p.uses_stream(evs[i].stream) {
            continue;
        }
        let mut next = Vec::new();
        for mut inst in std::mem::take(&mut live) {
            if offer(p, &mut inst, evs, i) {
                if inst.complete(p) {
                    out.push(row(p, evs, &inst.bind, i));
                } else {
                    next.push(inst);
                }
            } else if p.mode == Mode::Pattern {
                next.push(inst); // SEQUENCE: broken
            }
        }
        if root.cur == every.at {
            let mut new = root.clone();
            if offer(p, &mut new, evs, i) {
                if new.complete(p) {
                    out.push(row(p, evs, &new.bind, i));
                } else {
                    next.push(new);
                }
            }
        } else {
            // The prefix before the EVERY step (PATTERN only): it cannot complete the pattern.
            offer(p, &mut root, evs, i);
        }
        live = next;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Running the engine and comparing
// ---------------------------------------------------------------------------------------------

fn run_engine(sql: &str, evs: &[Ev]) -> Result<Out, TestCaseError> {
    let mut app = App::from_sql(sql)
        .map_err(|e| TestCaseError::fail(format!("does not compile:\n{sql}\n{e}")))?;
    let got: Arc<Mutex<Out>> = Arc::default();
    let sink = got.clone();
    app.subscribe("Out", move |r| {
        sink.lock().unwrap().push((r.ts, r.values.to_vec()))
    })
    .unwrap();
    let inputs: Vec<_> = STREAMS.iter().map(|s| app.input(s).unwrap()).collect();
    for e in evs {
        app.send_at(
            inputs[e.stream],
            e.ts,
            &[Value::Int(e.id), Value::from(e.x)],
        )
        .unwrap();
    }
    app.flush();
    app.shutdown();
    let rows = got.lock().unwrap().clone();
    Ok(rows)
}

fn fmt_rows(rows: &Out) -> String {
    if rows.is_empty() {
        return "  (none)\n".into();
    }
    rows.iter()
        .map(|(ts, v)| {
            let vals: Vec<String> = v.iter().map(|v| format!("{v:?}")).collect();
            format!("  @{ts} [{}]\n", vals.join(", "))
        })
        .collect()
}

fn describe(sql: &str, evs: &[Ev]) -> String {
    let mut msg = format!("{}\ninput:\n", sql.lines().last().unwrap_or(sql));
    for e in evs {
        let x = e.x.map_or("NULL".to_string(), |x| x.to_string());
        msg.push_str(&format!(
            "  @{} {}(id={}, x={x})\n",
            e.ts, STREAMS[e.stream], e.id
        ));
    }
    msg
}

fn compare(what: &str, sql: &str, evs: &[Ev], got: &Out, want: &Out) -> Result<(), TestCaseError> {
    if got == want {
        return Ok(());
    }
    let key = |rows: &Out| {
        let mut k: Vec<String> = rows.iter().map(|r| format!("{r:?}")).collect();
        k.sort();
        k
    };
    let same_multiset = key(got) == key(want);
    Err(TestCaseError::fail(format!(
        "{}engine:\n{}{what}:\n{}same multiset, different order: {same_multiset}",
        describe(sql, evs),
        fmt_rows(got),
        fmt_rows(want)
    )))
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// Raw numbers for one element; [`build`] turns them into a valid element for its position.
#[derive(Clone, Debug)]
struct RawElem {
    stream: usize,
    /// (kind: 3 = refers to an earlier alias, op, constant, which alias)
    atoms: Vec<(u8, u8, i32, usize)>,
    quant: u8,
    m: usize,
    n: usize,
}

#[derive(Clone, Debug)]
struct RawStep {
    /// 0: element, 1: AND, 2: OR (when the grammar has them).
    kind: u8,
    /// The sides of AND / OR: up to two elements each.
    left: Vec<RawElem>,
    right: Vec<RawElem>,
}

#[derive(Clone, Debug)]
struct RawPat {
    streams: usize,
    steps: Vec<RawStep>,
    every: u8,
    every_at: usize,
    every_len: usize,
    parens: bool,
    within: i64,
}

/// Which constructs a property generates.
#[derive(Clone, Copy, Debug)]
struct Grammar {
    mode: Mode,
    quantifiers: bool,
    /// AND / OR steps; `chains`: their sides may be two-element chains.
    logical: bool,
    chains: bool,
    /// `None`: no EVERY; `Some(true)`: always; `Some(false)`: sometimes.
    every: Option<bool>,
    /// EVERY may start after the first step.
    middle_every: bool,
    within: bool,
}

fn raw_elem() -> impl Strategy<Value = RawElem> {
    (
        0usize..3,
        prop_oneof![6 => Just(0usize), 3 => Just(1usize), 1 => Just(2usize)]
            .prop_flat_map(|n| prop::collection::vec((0u8..4, 0u8..8, 0i32..6, 0usize..8), n)),
        0u8..8,
        0usize..3,
        0usize..3,
    )
        .prop_map(|(stream, atoms, quant, m, n)| RawElem {
            stream,
            atoms,
            quant,
            m,
            n,
        })
}

fn raw_step() -> impl Strategy<Value = RawStep> {
    let side = || prop::collection::vec(raw_elem(), 1..=2);
    (0u8..3, side(), side()).prop_map(|(kind, left, right)| RawStep { kind, left, right })
}

fn raw_pat() -> impl Strategy<Value = RawPat> {
    (
        2usize..=3,
        prop_oneof![2 => Just(1usize), 4 => Just(2), 3 => Just(3), 2 => Just(4)]
            .prop_flat_map(|n| prop::collection::vec(raw_step(), n)),
        0u8..3,
        0usize..4,
        0usize..4,
        any::<bool>(),
        1i64..21,
    )
        .prop_map(
            |(streams, steps, every, every_at, every_len, parens, within)| RawPat {
                streams,
                steps,
                every,
                every_at,
                every_len,
                parens,
                within,
            },
        )
}

/// Where an element sits, for the restrictions of the sub-grammar.
#[derive(Clone, Copy)]
struct Place {
    /// May have a quantifier.
    quantified: bool,
    /// Needs a minimum of at least 1.
    end: bool,
}

/// Builds the element for `alias`; `earlier` are the aliases bound before it (and whether they
/// are counted).
fn build_elem(
    r: &RawElem,
    g: &Grammar,
    streams: usize,
    alias: usize,
    place: Place,
    earlier: &[(usize, bool)],
) -> Elem {
    let filter = r
        .atoms
        .iter()
        .map(|&(kind, op, c, pick)| {
            let rhs = if kind == 3 && !earlier.is_empty() {
                let (j, counted) = earlier[pick % earlier.len()];
                if counted && pick % 2 == 1 {
                    Rhs::Last(j)
                } else {
                    Rhs::First(j)
                }
            } else {
                Rhs::Const(c)
            };
            Atom {
                op: OPS[op as usize],
                rhs,
            }
        })
        .collect();
    let (mut min, max, mut quant) = if g.quantifiers && place.quantified {
        match r.quant {
            4 => (r.m, r.m.max(1) + r.n % 2, Some(QForm::Range)),
            5 => (1 + r.n, 1 + r.n, Some(QForm::Exact)),
            6 if r.m == 0 => (1, UNBOUNDED, Some(QForm::Plus)),
            6 => (r.m, UNBOUNDED, Some(QForm::AtLeast)),
            7 if r.n % 2 == 0 => (0, 1, Some(QForm::Opt)),
            7 => (0, UNBOUNDED, Some(QForm::Star)),
            _ => (1, 1, None),
        }
    } else {
        (1, 1, None)
    };
    if min == 0 && place.end {
        min = 1;
        quant = match quant {
            Some(QForm::Star) => Some(QForm::Plus),
            Some(QForm::Opt) => Some(QForm::Exact),
            q => q,
        };
    }
    Elem {
        alias,
        stream: r.stream % streams,
        filter,
        min,
        max,
        quant,
    }
}

fn build(r: &RawPat, g: &Grammar) -> Pat {
    let k = r.steps.len();
    let every = match g.every {
        Some(always) if always || r.every > 0 => {
            let at = if g.middle_every && g.mode == Mode::Pattern {
                r.every_at % k
            } else {
                0
            };
            let len = 1 + r.every_len % (k - at);
            Some(Every {
                at,
                len,
                parens: r.parens || len > 1,
            })
        }
        _ => None,
    };
    let mut earlier: Vec<(usize, bool)> = Vec::new();
    let mut steps = Vec::new();
    let mut alias = 0;
    for (j, s) in r.steps.iter().enumerate() {
        let before_every = every.is_some_and(|e| j < e.at);
        let ends_inner_group =
            every.is_some_and(|e| e.len > 1 && e.at + e.len < k && j == e.at + e.len - 1);
        let place = Place {
            quantified: !before_every && !ends_inner_group,
            end: j == 0 || j + 1 == k || every.is_some_and(|e| j == e.at),
        };
        let kind = if g.logical { s.kind } else { 0 };
        let step = if kind == 0 {
            let e = build_elem(&s.left[0], g, r.streams, alias, place, &earlier);
            alias += 1;
            Step::One(e)
        } else {
            let single = Place {
                quantified: false,
                end: true,
            };
            let mut sides: Vec<Side> = Vec::new();
            for raw_side in [&s.left, &s.right] {
                let n = if g.chains { raw_side.len() } else { 1 };
                let mut seen = earlier.clone();
                let mut side = Vec::new();
                for re in &raw_side[..n] {
                    let e = build_elem(re, g, r.streams, alias, single, &seen);
                    alias += 1;
                    seen.push((e.alias, false));
                    side.push(e);
                }
                sides.push(side);
            }
            let right = sides.pop().unwrap();
            let left = sides.pop().unwrap();
            if kind == 1 {
                Step::And(left, right)
            } else {
                Step::Or(left, right)
            }
        };
        earlier.extend(step.elems().iter().map(|e| (e.alias, e.counted())));
        steps.push(step);
    }
    Pat {
        mode: g.mode,
        every,
        steps,
        within: g.within.then_some(r.within),
    }
}

/// 0..=12 events over the first `streams` streams; `x` in 0..6 or NULL; gaps of 0..=5 ms.
fn events() -> impl Strategy<Value = (i64, Vec<(usize, u8, u8)>)> {
    (
        0i64..50,
        prop_oneof![1 => 0usize..6, 4 => 6usize..=12]
            .prop_flat_map(|n| prop::collection::vec((0usize..3, 0u8..14, 0u8..7), n)),
    )
}

fn build_events(streams: usize, start: i64, raw: &[(usize, u8, u8)]) -> Vec<Ev> {
    let mut ts = start;
    raw.iter()
        .enumerate()
        .map(|(i, &(s, x, gap))| {
            ts += [0, 0, 1, 1, 2, 3, 5][gap as usize];
            Ev {
                stream: s % streams,
                id: i as i32 + 1,
                x: (x < 12).then_some(i32::from(x % 6)),
                ts,
            }
        })
        .collect()
}

/// Runs one case: the engine against [`declarative`] for chains (after checking that
/// [`simulate`] agrees with it), against [`simulate`] otherwise.
fn check(
    g: Grammar,
    raw: &RawPat,
    start: i64,
    evs_raw: &[(usize, u8, u8)],
) -> Result<(), TestCaseError> {
    let p = build(raw, &g);
    let evs = build_events(raw.streams, start, evs_raw);
    let sql = pattern_sql(&p);
    let got = run_engine(&sql, &evs)?;
    let sim = simulate(&p, &evs);
    eprintln!(
        "STAT {} {} {}",
        got.len(),
        sim.len(),
        sql.lines().last().unwrap()
    );
    if p.is_chain() && p.mode == Mode::Pattern {
        let dec = declarative(&p, &evs);
        prop_assert_eq!(
            &sim,
            &dec,
            "the two references disagree\n{}",
            describe(&sql, &evs)
        );
        compare("declarative reference", &sql, &evs, &got, &dec)
    } else {
        compare("simulation reference", &sql, &evs, &got, &sim)
    }
}

const CHAIN: Grammar = Grammar {
    mode: Mode::Pattern,
    quantifiers: false,
    logical: false,
    chains: false,
    every: None,
    middle_every: false,
    within: false,
};

/// 600 cases per property (10 properties), unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 600;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    /// (a) Chains of 1..=4 single elements without EVERY: one match at most, earliest bindings.
    #[test]
    fn chain_once(raw in raw_pat(), (start, evs) in events()) {
        check(CHAIN, &raw, start, &evs)?;
    }

    /// (a') Chains with EVERY on the first step or around a leading run of steps (the whole
    /// chain included).
    #[test]
    fn chain_every(raw in raw_pat(), (start, evs) in events()) {
        check(Grammar { every: Some(true), ..CHAIN }, &raw, start, &evs)?;
    }

    /// (a'') Chains with EVERY on a later step or run of steps: the root binds the prefix once,
    /// every later event that can bind the EVERY step starts an instance.
    #[test]
    fn chain_middle_every(raw in raw_pat(), (start, evs) in events()) {
        check(Grammar { every: Some(true), middle_every: true, ..CHAIN }, &raw, start, &evs)?;
    }

    /// (d) Chains, EVERY anywhere or not at all, with WITHIN (last − first < d).
    #[test]
    fn chain_within(raw in raw_pat(), (start, evs) in events()) {
        let g = Grammar { every: Some(false), middle_every: true, within: true, ..CHAIN };
        check(g, &raw, start, &evs)?;
    }

    /// (b) Quantified elements (greedy; a trailing one completes at its minimum), EVERY or not.
    #[test]
    fn quantifiers(raw in raw_pat(), (start, evs) in events()) {
        check(Grammar { quantifiers: true, every: Some(false), ..CHAIN }, &raw, start, &evs)?;
    }

    /// (c) AND / OR of two single elements as steps, EVERY or not.
    #[test]
    fn and_or(raw in raw_pat(), (start, evs) in events()) {
        check(Grammar { logical: true, every: Some(false), ..CHAIN }, &raw, start, &evs)?;
    }

    /// (c') AND / OR whose sides may be two-element chains (OR clears the losing side).
    #[test]
    fn and_or_chains(raw in raw_pat(), (start, evs) in events()) {
        let g = Grammar { logical: true, chains: true, every: Some(false), ..CHAIN };
        check(g, &raw, start, &evs)?;
    }

    /// Everything in PATTERN mode: quantifiers, AND / OR with chains, EVERY anywhere, WITHIN.
    #[test]
    fn mixed_within(raw in raw_pat(), (start, evs) in events()) {
        let g = Grammar {
            quantifiers: true,
            logical: true,
            chains: true,
            every: Some(false),
            middle_every: true,
            within: true,
            ..CHAIN
        };
        check(g, &raw, start, &evs)?;
    }

    /// SEQUENCE mode (strict contiguity, restart after match and failure): single elements and
    /// quantifiers, EVERY at the start or not, WITHIN or not.
    #[test]
    fn sequence(raw in raw_pat(), (start, evs) in events(), within in any::<bool>()) {
        let g = Grammar { mode: Mode::Sequence, quantifiers: true, every: Some(false), within, ..CHAIN };
        check(g, &raw, start, &evs)?;
    }

    /// SEQUENCE mode with AND / OR steps (sides may be chains).
    #[test]
    fn sequence_and_or(raw in raw_pat(), (start, evs) in events()) {
        let g = Grammar { mode: Mode::Sequence, logical: true, chains: true, every: Some(false), ..CHAIN };
        check(g, &raw, start, &evs)?;
    }
}
