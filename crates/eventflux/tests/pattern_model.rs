//! The pattern engine against a brute-force reference (LANGUAGE.md §11, docs/patterns.md).
//!
//! Each property generates a random pattern over `A`, `B`, `C (id INT, x INT)` and a short random
//! run (0..=12 events, non-decreasing times, `id` = position + 1), compiles
//! `INSERT INTO Out SELECT <every alias> FROM PATTERN|SEQUENCE (…) [WITHIN d ms]` through the
//! public embedding API, and compares the emitted rows — values, row timestamp, multiset and
//! order — with a reference written in this file from the specification only.
//!
//! The generated sub-grammar (everything the reference models exactly):
//!
//! ```text
//! pattern := [EVERY] step (-> step)*          1..=4 steps; EVERY on the first step, or
//!          | EVERY '(' step (-> step)* ')'    around the whole pattern
//! step    := elem | '(' elem AND elem ')' | '(' elem OR elem ')'    (AND/OR: single elements)
//! elem    := eK=S ['[' atom (AND atom)* ']'] [quantifier]           (quantifier: `elem` steps only)
//! atom    := x op <const> | x op eJ.x | x op eJ[last].x             (eJ of an earlier step)
//! quant   := {m,n} | {n} | {m,} | + | ? | *      small m, n; minimum 0 only on a middle step
//! ```
//!
//! SELECT reads `eK.id` for a single alias and `count(eK), eK[0].id, eK[last].id` for a counted
//! one (any quantifier other than exactly one). `x` is NULL now and then (comparisons with NULL
//! are not TRUE).
//!
//! Two references:
//!
//! * [`declarative`] — for chains of single elements only: an instance started by the event at
//!   position `s` binds, for each next element, the *earliest* later event that passes its filter
//!   (deterministic automaton, events ignored in PATTERN mode). EVERY starts one instance per
//!   event that passes the first element; without EVERY the instance starts at the first such
//!   event and the query stops after its match. WITHIN keeps a match iff last − first < d; a root
//!   instance discarded by WITHIN is replaced by a fresh one that sees the events from
//!   first + d on. Matches are ordered by completing event, then by start (oldest instance first).
//! * [`simulate`] — a step-list simulation written from docs/patterns.md for the whole
//!   sub-grammar: greedy quantifiers (a matching event is added while fewer than `max` are
//!   collected; the next step may take an event the current one does not, once `min` are
//!   collected), a trailing quantifier completing at its minimum, AND (left side first, then
//!   right) and OR (first side to bind wins, the other alias NULL), EVERY spawning (a new instance
//!   is younger than every live one, so among matches completed by one event it comes last),
//!   one match at most for a PATTERN without EVERY, WITHIN, and SEQUENCE strict contiguity
//!   (an event of a pattern stream that an instance does not take breaks it; without EVERY the
//!   root restarts after every match and failure and is offered the breaking event).
//!
//! The chain properties check the engine against [`declarative`] and check that [`simulate`]
//! agrees with it; the other properties check the engine against [`simulate`].

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

#[derive(Clone, Debug)]
enum Step {
    One(Elem),
    And(Elem, Elem),
    Or(Elem, Elem),
}

impl Step {
    fn elems(&self) -> Vec<&Elem> {
        match self {
            Step::One(e) => vec![e],
            Step::And(l, r) | Step::Or(l, r) => vec![l, r],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Every {
    No,
    First,
    Whole,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Pattern,
    Sequence,
}

#[derive(Clone, Debug)]
struct Pat {
    mode: Mode,
    every: Every,
    steps: Vec<Step>,
    within: Option<i64>,
}

impl Pat {
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

fn step_sql(s: &Step) -> String {
    match s {
        Step::One(e) => elem_sql(e),
        Step::And(l, r) => format!("({} AND {})", elem_sql(l), elem_sql(r)),
        Step::Or(l, r) => format!("({} OR {})", elem_sql(l), elem_sql(r)),
    }
}

fn pattern_sql(p: &Pat) -> String {
    let steps: Vec<String> = p.steps.iter().map(step_sql).collect();
    let body = match p.every {
        Every::No => steps.join(" -> "),
        Every::First => format!("EVERY {}", steps.join(" -> ")),
        Every::Whole => format!("EVERY ({})", steps.join(" -> ")),
    };
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
// Events
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Ev {
    stream: usize,
    id: i32,
    x: Option<i32>,
    ts: i64,
}

/// An expected or emitted row: timestamp and values.
type Out = Vec<(i64, Vec<Value>)>;

/// The row of a complete match (`bind[alias]` = positions of the bound events).
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

/// Whether the event at `i` passes `e`'s filter given the bindings (NULL compares as not TRUE).
fn passes(e: &Elem, evs: &[Ev], i: usize, bind: &[Vec<usize>]) -> bool {
    e.filter.iter().all(|a| {
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

/// For a chain of single elements: the earliest-binding completion of the instance whose first
/// element is the event at `s` — (positions per element, completing position).
fn chain_from(p: &Pat, evs: &[Ev], s: usize) -> Option<Vec<usize>> {
    let elems = p.elems();
    let mut bind: Vec<Vec<usize>> = vec![Vec::new(); elems.len()];
    bind[0].push(s);
    let mut pos = vec![s];
    for e in &elems[1..] {
        let prev = *pos.last().unwrap();
        let next = (prev + 1..evs.len())
            .find(|&q| evs[q].stream == e.stream && passes(e, evs, q, &bind))?;
        bind[e.alias].push(next);
        pos.push(next);
    }
    Some(pos)
}

fn declarative(p: &Pat, evs: &[Ev]) -> Out {
    assert!(p.is_chain() && p.mode == Mode::Pattern);
    let first = p.elems()[0];
    let begins = |s: usize| evs[s].stream == first.stream && passes(first, evs, s, &[]);
    let in_time = |pos: &[usize]| {
        p.within
            .is_none_or(|d| evs[*pos.last().unwrap()].ts - evs[pos[0]].ts < d)
    };
    let to_row = |pos: &[usize]| {
        let bind: Vec<Vec<usize>> = pos.iter().map(|&q| vec![q]).collect();
        row(p, evs, &bind, *pos.last().unwrap())
    };
    if p.every == Every::No {
        // The root takes the first event that can begin the chain; when WITHIN discards it, a
        // fresh root looks from first + d on.
        let mut from = 0;
        while let Some(s) = (from..evs.len()).find(|&s| begins(s)) {
            match chain_from(p, evs, s) {
                Some(pos) if in_time(&pos) => return vec![to_row(&pos)],
                _ => {
                    let Some(d) = p.within else { return vec![] };
                    let limit = evs[s].ts + d;
                    from = (s..evs.len())
                        .find(|&q| evs[q].ts >= limit)
                        .unwrap_or(evs.len());
                }
            }
        }
        return vec![];
    }
    let mut matches: Vec<Vec<usize>> = (0..evs.len())
        .filter(|&s| begins(s))
        .filter_map(|s| chain_from(p, evs, s))
        .filter(|pos| in_time(pos))
        .collect();
    matches.sort_by_key(|pos| (*pos.last().unwrap(), pos[0]));
    matches.iter().map(|pos| to_row(pos)).collect()
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

/// The element of `step` that takes the event at `i`, if any (AND/OR: left side first).
fn takes(step: &Step, evs: &[Ev], i: usize, bind: &[Vec<usize>]) -> Option<usize> {
    step.elems()
        .into_iter()
        .find(|e| {
            evs[i].stream == e.stream && bind[e.alias].len() < e.max && passes(e, evs, i, bind)
        })
        .map(|e| e.alias)
}

/// Enough events bound for the next step to take events.
fn satisfied(step: &Step, bind: &[Vec<usize>]) -> bool {
    match step {
        Step::One(e) => bind[e.alias].len() >= e.min,
        Step::And(l, r) => !bind[l.alias].is_empty() && !bind[r.alias].is_empty(),
        Step::Or(l, r) => !bind[l.alias].is_empty() || !bind[r.alias].is_empty(),
    }
}

/// The sequence moves past the step: an element at its maximum, a trailing element at its
/// minimum, a complete AND/OR.
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
            inst.cur = if finished(step, &inst.bind, j + 1 == k) {
                j + 1
            } else {
                j
            };
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
    if p.every == Every::No {
        let mut root = Inst::new(p);
        for i in 0..evs.len() {
            // WITHIN timers fire before an event at the same time; a fresh root replaces.
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
    }
    // EVERY: live instances in creation order; each event may start one more (the youngest).
    let mut live: Vec<Inst> = Vec::new();
    for i in 0..evs.len() {
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
                next.push(inst);
            }
        }
        let mut new = Inst::new(p);
        if offer(p, &mut new, evs, i) {
            if new.complete(p) {
                out.push(row(p, evs, &new.bind, i));
            } else {
                next.push(new);
            }
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
    atoms: Vec<(u8, u8, i32, usize)>,
    quant: u8,
    m: usize,
    n: usize,
}

#[derive(Clone, Debug)]
struct RawStep {
    kind: u8,
    a: RawElem,
    b: RawElem,
}

#[derive(Clone, Debug)]
struct RawPat {
    streams: usize,
    steps: Vec<RawStep>,
    every: u8,
    within: i64,
}

/// Which constructs a property generates.
#[derive(Clone, Copy, Debug)]
struct Grammar {
    mode: Mode,
    quantifiers: bool,
    logical: bool,
    /// `None`: no EVERY; `Some(true)`: always; `Some(false)`: sometimes.
    every: Option<bool>,
    within: bool,
}

fn raw_elem() -> impl Strategy<Value = RawElem> {
    (
        0usize..3,
        prop_oneof![
            6 => Just(0usize),
            3 => Just(1usize),
            1 => Just(2usize),
        ]
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

fn raw_pat() -> impl Strategy<Value = RawPat> {
    (
        2usize..=3,
        prop_oneof![2 => Just(1usize), 4 => Just(2), 3 => Just(3), 2 => Just(4)].prop_flat_map(
            |n| {
                prop::collection::vec(
                    (0u8..3, raw_elem(), raw_elem()).prop_map(|(kind, a, b)| RawStep {
                        kind,
                        a,
                        b,
                    }),
                    n,
                )
            },
        ),
        0u8..3,
        1i64..21,
    )
        .prop_map(|(streams, steps, every, within)| RawPat {
            streams,
            steps,
            every,
            within,
        })
}

/// Builds the element for alias `alias` at step `j` of `k`; `earlier` are the aliases of the
/// earlier steps (and whether they are counted).
fn build_elem(
    r: &RawElem,
    g: &Grammar,
    streams: usize,
    alias: usize,
    quantified: bool,
    end: bool,
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
    let (mut min, max, mut quant) = if g.quantifiers && quantified {
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
    if min == 0 && end {
        // A minimum of 0 only on a middle step.
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
    let mut earlier: Vec<(usize, bool)> = Vec::new();
    let mut steps = Vec::new();
    let mut alias = 0;
    for (j, s) in r.steps.iter().enumerate() {
        let end = j == 0 || j + 1 == k;
        let kind = if g.logical { s.kind } else { 0 };
        let step = if kind == 0 {
            let e = build_elem(&s.a, g, r.streams, alias, true, end, &earlier);
            alias += 1;
            Step::One(e)
        } else {
            let l = build_elem(&s.a, g, r.streams, alias, false, end, &earlier);
            let rr = build_elem(&s.b, g, r.streams, alias + 1, false, end, &earlier);
            alias += 2;
            if kind == 1 {
                Step::And(l, rr)
            } else {
                Step::Or(l, rr)
            }
        };
        earlier.extend(step.elems().iter().map(|e| (e.alias, e.counted())));
        steps.push(step);
    }
    let every = match g.every {
        None => Every::No,
        Some(true) if r.every % 2 == 0 => Every::First,
        Some(true) => Every::Whole,
        Some(false) => [Every::No, Every::First, Every::Whole][r.every as usize],
    };
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

/// Runs one case: the engine against [`simulate`], and for chains also against [`declarative`]
/// (checking first that the two references agree).
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
    every: None,
    within: false,
};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(600)
}

proptest! {
    #![proptest_config(config())]

    /// (a) Chains of 1..=4 single elements, no EVERY: one match at most, earliest bindings.
    #[test]
    fn chain_once(raw in raw_pat(), (start, evs) in events()) {
        check(CHAIN, &raw, start, &evs)?;
    }

    /// (a') Chains with EVERY on the first element or around the whole chain.
    #[test]
    fn chain_every(raw in raw_pat(), (start, evs) in events()) {
        check(Grammar { every: Some(true), ..CHAIN }, &raw, start, &evs)?;
    }

    /// (d) Chains, EVERY or not, with WITHIN (last − first < d).
    #[test]
    fn chain_within(raw in raw_pat(), (start, evs) in events()) {
        check(Grammar { every: Some(false), within: true, ..CHAIN }, &raw, start, &evs)?;
    }

    /// (b) Quantified elements anywhere (greedy; trailing completes at its minimum), EVERY or not.
    #[test]
    fn quantifiers(raw in raw_pat(), (start, evs) in events()) {
        check(Grammar { quantifiers: true, every: Some(false), ..CHAIN }, &raw, start, &evs)?;
    }

    /// (c) AND / OR of two single elements as steps, EVERY or not.
    #[test]
    fn and_or(raw in raw_pat(), (start, evs) in events()) {
        check(Grammar { logical: true, every: Some(false), ..CHAIN }, &raw, start, &evs)?;
    }

    /// Everything in PATTERN mode: quantifiers, AND/OR, EVERY or not, WITHIN.
    #[test]
    fn mixed_within(raw in raw_pat(), (start, evs) in events()) {
        let g = Grammar { quantifiers: true, logical: true, every: Some(false), within: true, ..CHAIN };
        check(g, &raw, start, &evs)?;
    }

    /// SEQUENCE mode (strict contiguity, restart after match and failure), single elements and
    /// quantifiers, EVERY or not, WITHIN or not.
    #[test]
    fn sequence(raw in raw_pat(), (start, evs) in events(), within in any::<bool>()) {
        let g = Grammar { mode: Mode::Sequence, quantifiers: true, every: Some(false), within, ..CHAIN };
        check(g, &raw, start, &evs)?;
    }

    /// SEQUENCE mode with AND / OR steps.
    #[test]
    fn sequence_and_or(raw in raw_pat(), (start, evs) in events()) {
        let g = Grammar { mode: Mode::Sequence, logical: true, every: Some(false), ..CHAIN };
        check(g, &raw, start, &evs)?;
    }
}
