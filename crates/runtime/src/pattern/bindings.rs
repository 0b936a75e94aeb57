//! The events bound to a partial match's aliases, and reading them from expressions.

use crate::compile::Bindings;
use crate::value::Value;
use eventflux_planner::expr::EventPick;
use eventflux_planner::functions::AggregateFn;
use std::sync::Arc;

/// A bound event's values, shared by every instance that bound it (one allocation).
pub(super) type Ev = [Value];

#[derive(Debug, Clone, Default)]
pub(super) enum Binding {
    #[default]
    Empty,
    One(Arc<Ev>),
    Many(Vec<Arc<Ev>>),
}

impl Binding {
    pub(super) fn events(&self) -> &[Arc<Ev>] {
        match self {
            Binding::Empty => &[],
            Binding::One(e) => std::slice::from_ref(e),
            Binding::Many(v) => v,
        }
    }

    pub(super) fn push(&mut self, e: Arc<Ev>) {
        *self = match std::mem::take(self) {
            Binding::Empty => Binding::One(e),
            Binding::One(a) => Binding::Many(vec![a, e]),
            Binding::Many(mut v) => {
                v.push(e);
                Binding::Many(v)
            }
        };
    }
}

pub(super) struct SlotView<'a> {
    pub(super) bindings: &'a [Binding],
}

pub(super) fn agg_value(func: AggregateFn, evs: &[Arc<Ev>], attr: Option<usize>) -> Value {
    if func == AggregateFn::Count {
        let n = match attr {
            None => evs.len(),
            Some(a) => evs.iter().filter(|e| !e[a].is_null()).count(),
        };
        return Value::Long(n as i64);
    }
    let Some(a) = attr else {
        return Value::Null;
    };
    let vals: Vec<&Value> = evs.iter().map(|e| &e[a]).filter(|v| !v.is_null()).collect();
    if vals.is_empty() {
        return Value::Null;
    }
    match func {
        AggregateFn::Sum => {
            if vals
                .iter()
                .all(|v| matches!(v, Value::Int(_) | Value::Long(_)))
            {
                Value::Long(
                    vals.iter()
                        .filter_map(|v| v.as_i64())
                        .fold(0i64, |a, b| a.wrapping_add(b)),
                )
            } else {
                Value::Double(vals.iter().filter_map(|v| v.as_f64()).sum())
            }
        }
        AggregateFn::Avg => {
            Value::Double(vals.iter().filter_map(|v| v.as_f64()).sum::<f64>() / vals.len() as f64)
        }
        AggregateFn::Stddev => {
            let xs: Vec<f64> = vals.iter().filter_map(|v| v.as_f64()).collect();
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
            Value::Double(var.max(0.0).sqrt())
        }
        AggregateFn::Min | AggregateFn::MinForever => vals
            .iter()
            .copied()
            .min_by(|a, b| a.compare(b).unwrap_or(std::cmp::Ordering::Equal))
            .cloned()
            .unwrap_or_default(),
        AggregateFn::Max | AggregateFn::MaxForever => vals
            .iter()
            .copied()
            .max_by(|a, b| a.compare(b).unwrap_or(std::cmp::Ordering::Equal))
            .cloned()
            .unwrap_or_default(),
        AggregateFn::First => vals[0].clone(),
        AggregateFn::Last => vals[vals.len() - 1].clone(),
        AggregateFn::DistinctCount => {
            let mut seen: Vec<crate::value::KeyValue> = Vec::new();
            for v in vals {
                let k = crate::value::KeyValue((*v).clone());
                if !seen.contains(&k) {
                    seen.push(k);
                }
            }
            Value::Long(seen.len() as i64)
        }
        AggregateFn::Count | AggregateFn::Percentile => Value::Null,
    }
}

impl Bindings for SlotView<'_> {
    fn attr(&self, slot: usize, pick: EventPick, attr: usize) -> Value {
        let evs = self.bindings.get(slot).map(Binding::events).unwrap_or(&[]);
        let e = match pick {
            EventPick::First => evs.first(),
            EventPick::At(i) => evs.get(i as usize),
            EventPick::Last => evs.last(),
            EventPick::FromLast(k) => evs
                .len()
                .checked_sub(1 + k as usize)
                .and_then(|i| evs.get(i)),
        };
        e.and_then(|e| e.get(attr).cloned()).unwrap_or_default()
    }

    fn aggregate(&self, func: AggregateFn, slot: usize, attr: Option<usize>) -> Value {
        let evs = self.bindings.get(slot).map(Binding::events).unwrap_or(&[]);
        agg_value(func, evs, attr)
    }
}
