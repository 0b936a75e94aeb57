//! Partitions (§12): a query inside `PARTITION WITH (…) BEGIN … END` keeps separate state per
//! key. The stateful part of its pipeline is instantiated once per key on first use; idle keys
//! are purged after `'purge.idle'`.

use crate::batch::Batch;
use crate::compile::{
    compile_expr, compile_predicate, CompileError, CompiledExpr, CompiledPredicate, EvalCtx,
};
use crate::operators::{BatchOperator, OpCtx};
use crate::value::{KeyValue, Value};
use eventflux_planner::plan::PartitionKeyPlan;
use rustc_hash::FxHashMap;

/// Builds a fresh copy of the stateful operators for a new key.
pub type InstanceFactory =
    Box<dyn Fn() -> Result<Vec<Box<dyn BatchOperator>>, CompileError> + Send>;

enum KeyFn {
    /// The key is an input attribute: looked up by reference, no clone per event.
    Column(usize),
    Value(CompiledExpr),
    Range(Vec<(CompiledPredicate, KeyValue)>),
}

struct Instance {
    ops: Vec<Box<dyn BatchOperator>>,
    buffers: Vec<Batch>,
    key: KeyValue,
    last_seen: i64,
}

/// Timer token of the idle-key purge (instance 0 is never a real instance).
const PURGE_INSTANCE: u32 = 0;

pub struct Partitioned {
    /// The key of each input stream.
    keys_by_stream: Vec<(usize, KeyFn)>,
    factory: InstanceFactory,
    index: FxHashMap<KeyValue, u32>,
    /// Instances by id; ids are never reused, so a stale timer cannot reach a new key's state.
    /// Walks that emit (flush) sort the ids: creation order.
    instances: FxHashMap<u32, Instance>,
    next_id: u32,
    purge_idle: Option<i64>,
    purge_pending: bool,
    arity: usize,
    scratch: Batch,
    keys: Vec<KeyValue>,
    /// Instances created and purged, for metrics.
    pub created: u64,
    pub purged: u64,
}

impl Partitioned {
    pub fn new(
        keys: &[(usize, PartitionKeyPlan)],
        purge_idle: Option<i64>,
        input_arity: usize,
        output_arity: usize,
        factory: InstanceFactory,
    ) -> Result<Partitioned, CompileError> {
        let mut keys_by_stream = Vec::new();
        for (stream, key) in keys {
            let f = match key {
                PartitionKeyPlan::Value(e) => match &e.kind {
                    eventflux_planner::expr::TypedExprKind::Column(c) => KeyFn::Column(c.index),
                    _ => KeyFn::Value(compile_expr(e)?),
                },
                PartitionKeyPlan::Range(cases) => KeyFn::Range(
                    cases
                        .iter()
                        .map(|(c, label)| {
                            Ok((compile_predicate(c)?, KeyValue(Value::string(label))))
                        })
                        .collect::<Result<_, CompileError>>()?,
                ),
            };
            keys_by_stream.push((*stream, f));
        }
        Ok(Partitioned {
            keys_by_stream,
            factory,
            index: FxHashMap::default(),
            instances: FxHashMap::default(),
            next_id: 1,
            purge_idle,
            purge_pending: false,
            arity: output_arity,
            scratch: Batch::new(input_arity),
            keys: Vec::new(),
            created: 0,
            purged: 0,
        })
    }

    fn instance_for(&mut self, key: &KeyValue) -> Option<u32> {
        if let Some(&id) = self.index.get(key) {
            return Some(id);
        }
        // The factory compiled successfully once when the query was built, so it cannot fail
        // here; if it somehow does, the event is dropped rather than crashing the engine.
        let ops = (self.factory)().ok()?;
        let buffers = ops.iter().map(|op| Batch::new(op.output_arity())).collect();
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.instances.insert(
            id,
            Instance {
                ops,
                buffers,
                key: key.clone(),
                last_seen: i64::MIN,
            },
        );
        self.index.insert(key.clone(), id);
        self.created += 1;
        Some(id)
    }

    /// Runs `input` through an instance's operators from `stage` on, appending results to `out`.
    fn run(
        inst: &mut Instance,
        id: u32,
        first: usize,
        input: Option<&Batch>,
        token: Option<u64>,
        ctx: &mut OpCtx<'_>,
        out: &mut Batch,
    ) {
        let outer_instance = ctx.instance;
        let outer_stage = ctx.stage;
        ctx.instance = id;
        if inst.ops.len() == 1 && first == 0 {
            // One stage: write straight into the caller's batch, no copy.
            ctx.stage = 0;
            match (input, token) {
                (Some(b), _) => inst.ops[0].process(b, ctx, out),
                (None, Some(t)) => inst.ops[0].on_timer(t, ctx, out),
                (None, None) => inst.ops[0].on_flush(ctx, out),
            }
            ctx.instance = outer_instance;
            ctx.stage = outer_stage;
            return;
        }
        for stage in first..inst.ops.len() {
            ctx.stage = stage as u32;
            let mut buf = std::mem::take(&mut inst.buffers[stage]);
            buf.clear();
            if stage == first {
                match (input, token) {
                    (Some(b), _) => inst.ops[stage].process(b, ctx, &mut buf),
                    (None, Some(t)) => inst.ops[stage].on_timer(t, ctx, &mut buf),
                    (None, None) => inst.ops[stage].on_flush(ctx, &mut buf),
                }
            } else {
                let prev = std::mem::take(&mut inst.buffers[stage - 1]);
                if !prev.is_empty() {
                    inst.ops[stage].process(&prev, ctx, &mut buf);
                }
                inst.buffers[stage - 1] = prev;
            }
            inst.buffers[stage] = buf;
        }
        if let Some(last) = inst.buffers.last() {
            for r in last.rows() {
                out.push(r.ts, r.kind, r.values);
            }
        }
        ctx.instance = outer_instance;
        ctx.stage = outer_stage;
    }

    fn schedule_purge(&mut self, ctx: &mut OpCtx<'_>) {
        let (Some(idle), false) = (self.purge_idle, self.purge_pending) else {
            return;
        };
        if ctx.end_of_time {
            return;
        }
        let Some(oldest) = self.instances.values().map(|i| i.last_seen).min() else {
            return;
        };
        self.purge_pending = true;
        let (i, s) = (ctx.instance, ctx.stage);
        ctx.instance = PURGE_INSTANCE;
        ctx.schedule(oldest.saturating_add(idle), 0);
        ctx.instance = i;
        ctx.stage = s;
    }

    /// Number of live keys (state-size metric).
    pub fn keys(&self) -> usize {
        self.instances.len()
    }
}

impl BatchOperator for Partitioned {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let Some(k) = self
            .keys_by_stream
            .iter()
            .position(|(s, _)| *s == ctx.stream)
        else {
            return;
        };
        for r in input.rows() {
            let ec = EvalCtx {
                row: r.values,
                ts: r.ts,
                now: ctx.now,
                bindings: None,
            };
            if let KeyFn::Column(c) = self.keys_by_stream[k].1 {
                let key = KeyValue::from_ref(r.values.get(c).unwrap_or(&Value::Null));
                let id = match self.index.get(key) {
                    Some(&id) => Some(id),
                    None => {
                        let owned = key.clone();
                        self.instance_for(&owned)
                    }
                };
                if let Some(inst) = id.and_then(|id| self.instances.get_mut(&id).map(|i| (id, i))) {
                    inst.1.last_seen = ctx.now;
                    // A one-row batch goes to its key as it is; otherwise row by row.
                    let one = if input.len() == 1 {
                        input
                    } else {
                        self.scratch.reset(r.values.len());
                        self.scratch.push(r.ts, r.kind, r.values);
                        &self.scratch
                    };
                    Self::run(inst.1, inst.0, 0, Some(one), None, ctx, out);
                }
                continue;
            }
            self.keys.clear();
            match &self.keys_by_stream[k].1 {
                KeyFn::Column(_) => {}
                KeyFn::Value(e) => self.keys.push(KeyValue(e(&ec))),
                KeyFn::Range(cases) => {
                    for (cond, label) in cases {
                        if cond(&ec) {
                            self.keys.push(label.clone());
                        }
                    }
                }
            }
            self.scratch.reset(r.values.len());
            self.scratch.push(r.ts, r.kind, r.values);
            let keys = std::mem::take(&mut self.keys);
            for key in &keys {
                let Some(id) = self.instance_for(key) else {
                    continue;
                };
                if let Some(inst) = self.instances.get_mut(&id) {
                    inst.last_seen = ctx.now;
                    Self::run(inst, id, 0, Some(&self.scratch), None, ctx, out);
                }
            }
            self.keys = keys;
        }
        self.schedule_purge(ctx);
    }

    fn on_timer(&mut self, token: u64, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let id = ctx.instance;
        if id == PURGE_INSTANCE {
            self.purge_pending = false;
            if let Some(idle) = self.purge_idle {
                let now = ctx.now;
                let stale: Vec<u32> = self
                    .instances
                    .iter()
                    .filter(|(_, i)| i.last_seen.saturating_add(idle) <= now)
                    .map(|(id, _)| *id)
                    .collect();
                for id in stale {
                    if let Some(inst) = self.instances.remove(&id) {
                        self.index.remove(&inst.key);
                        self.purged += 1;
                    }
                }
            }
            self.schedule_purge(ctx);
            return;
        }
        let stage = ctx.stage as usize;
        if let Some(inst) = self.instances.get_mut(&id) {
            Self::run(inst, id, stage, None, Some(token), ctx, out);
        }
    }

    fn on_flush(&mut self, ctx: &mut OpCtx<'_>, out: &mut Batch) {
        let mut ids: Vec<u32> = self.instances.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(inst) = self.instances.get_mut(&id) {
                for stage in 0..inst.ops.len() {
                    Self::run(inst, id, stage, None, None, ctx, out);
                }
            }
        }
    }

    fn output_arity(&self) -> usize {
        self.arity
    }

    fn dropped_partial_matches(&self) -> u64 {
        self.instances
            .values()
            .flat_map(|i| i.ops.iter())
            .map(|o| o.dropped_partial_matches())
            .sum()
    }

    fn evicted(&self) -> u64 {
        self.instances
            .values()
            .flat_map(|i| i.ops.iter())
            .map(|o| o.evicted())
            .sum()
    }

    fn state_size(&self) -> usize {
        self.instances
            .values()
            .map(|i| i.ops.iter().map(|o| o.state_size()).sum::<usize>())
            .sum()
    }
}
