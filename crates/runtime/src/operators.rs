//! Query operators. Each works on whole batches (one dynamic call per batch, not per event);
//! stateless steps are fused into a single loop.

use crate::batch::Batch;
use crate::compile::{
    compile_expr, compile_predicate, CompileError, CompiledExpr, CompiledPredicate, EvalCtx,
};
use crate::timer::{TimerOwner, TimerService};
use eventflux_planner::plan::{Operator, QueryPlan};

/// What an operator may use while processing: the clock and the timer service.
pub struct OpCtx<'a> {
    pub now: i64,
    pub query: u32,
    pub operator: u32,
    pub timers: &'a mut TimerService,
}

impl OpCtx<'_> {
    /// Asks for `on_timer(token)` to be called when the clock reaches `at`.
    pub fn schedule(&mut self, at: i64, token: u64) {
        self.timers.schedule(
            at,
            TimerOwner {
                query: self.query,
                operator: self.operator,
                token,
            },
        );
    }
}

pub trait BatchOperator: Send {
    /// Processes `input`, appending result rows to `out`.
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch);
    /// A timer this operator scheduled is due.
    fn on_timer(&mut self, token: u64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let _ = (token, ctx, out);
    }
    fn output_arity(&self) -> usize;
}

/// Filters followed by a projection, fused: one pass over the batch, rows that fail a filter are
/// never copied.
pub struct StatelessStage {
    filters: Vec<CompiledPredicate>,
    projection: Option<Vec<CompiledExpr>>,
    arity: usize,
}

impl BatchOperator for StatelessStage {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let now = ctx.now;
        for row in input.rows() {
            let ec = EvalCtx {
                row: row.values,
                ts: row.ts,
                now,
            };
            if !self.filters.iter().all(|f| f(&ec)) {
                continue;
            }
            match &self.projection {
                Some(p) => out.push_iter(row.ts, row.kind, p.iter().map(|e| e(&ec))),
                None => out.push(row.ts, row.kind, row.values),
            }
        }
    }

    fn output_arity(&self) -> usize {
        self.arity
    }
}

/// Compiles a query's operators into a pipeline.
pub fn build_pipeline(
    q: &QueryPlan,
    input_arity: usize,
    target_arity: usize,
) -> Result<Vec<Box<dyn BatchOperator>>, CompileError> {
    let mut pipeline: Vec<Box<dyn BatchOperator>> = Vec::new();
    let mut stage = StatelessStage {
        filters: Vec::new(),
        projection: None,
        arity: input_arity,
    };
    for op in &q.operators {
        match op {
            Operator::Filter(e) => stage.filters.push(compile_predicate(e)?),
            Operator::Project(cols) => {
                let exprs = cols
                    .iter()
                    .map(|(_, e)| compile_expr(e))
                    .collect::<Result<Vec<_>, _>>()?;
                stage.arity = exprs.len();
                stage.projection = Some(exprs);
            }
        }
    }
    debug_assert_eq!(stage.arity, target_arity);
    pipeline.push(Box::new(stage));
    Ok(pipeline)
}
