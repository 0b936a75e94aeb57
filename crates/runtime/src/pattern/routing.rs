//! Which partial matches an event can affect: instances registered at the leaves they wait
//! at, by correlation key where a leaf's filter has one.

use crate::value::{KeyValue, Value};
use eventflux_planner::expr::{EventPick, TypedExpr, TypedExprKind as K};
use eventflux_planner::pattern::PatternNode;
use eventflux_sql::ast::BinaryOp;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The leaves an instance waits at, with their correlation keys; stored inline for the common
/// single leaf (no allocation per partial match).
#[derive(Debug, Clone, Default)]
pub(super) enum Leaves {
    #[default]
    None,
    One([(usize, Option<KeyValue>); 1]),
    Many(Box<[(usize, Option<KeyValue>)]>),
}

impl Leaves {
    pub(super) fn from_slice(v: &[(usize, Option<KeyValue>)]) -> Leaves {
        match v {
            [] => Leaves::None,
            [one] => Leaves::One([one.clone()]),
            many => Leaves::Many(many.into()),
        }
    }

    pub(super) fn as_slice(&self) -> &[(usize, Option<KeyValue>)] {
        match self {
            Leaves::None => &[],
            Leaves::One(one) => one,
            Leaves::Many(m) => m,
        }
    }
}

/// Instances waiting at one leaf: all of them, or by correlation key.
pub(super) enum Waiting {
    Plain(BTreeSet<u64>),
    Keyed(HashMap<KeyValue, Ids>),
    /// By the bound side of an inequality, in order.
    Ranged(BTreeMap<Ordered, Ids>),
}

/// Instance ids under one correlation key, ascending; usually exactly one.
#[derive(Debug, Clone)]
pub(super) enum Ids {
    One(u64),
    Many(Vec<u64>),
}

impl Ids {
    pub(super) fn insert(&mut self, id: u64) {
        match self {
            Ids::One(a) if *a == id => {}
            Ids::One(a) => {
                let a = *a;
                *self = Ids::Many(if a < id { vec![a, id] } else { vec![id, a] });
            }
            Ids::Many(v) => {
                if let Err(p) = v.binary_search(&id) {
                    v.insert(p, id);
                }
            }
        }
    }

    /// Removes `id`; true when the set is now empty.
    pub(super) fn remove(&mut self, id: u64) -> bool {
        match self {
            Ids::One(a) => *a == id,
            Ids::Many(v) => {
                if let Ok(p) = v.binary_search(&id) {
                    v.remove(p);
                }
                match v.as_slice() {
                    [] => true,
                    [only] => {
                        *self = Ids::One(*only);
                        false
                    }
                    _ => false,
                }
            }
        }
    }

    pub(super) fn as_slice(&self) -> &[u64] {
        match self {
            Ids::One(a) => std::slice::from_ref(a),
            Ids::Many(v) => v,
        }
    }
}

/// A range index that stays a sorted vector while small (no node allocation as it shrinks and
/// grows around a handful of entries, as per-key patterns do) and becomes a B-tree when large.
pub(super) enum RangeIndex {
    Small(Vec<(Ordered, u64)>),
    Large(BTreeMap<Ordered, Ids>),
}

/// Entries beyond which a small range index becomes a tree.
const RANGE_SMALL_MAX: usize = 64;

impl Default for RangeIndex {
    fn default() -> Self {
        RangeIndex::Small(Vec::new())
    }
}

impl RangeIndex {
    pub(super) fn insert(&mut self, key: Ordered, id: u64) {
        match self {
            RangeIndex::Small(v) => {
                if v.len() < RANGE_SMALL_MAX {
                    let at = v.partition_point(|e| *e <= (key, id));
                    v.insert(at, (key, id));
                    return;
                }
                let mut tree: BTreeMap<Ordered, Ids> = BTreeMap::new();
                for &(k, i) in v.iter() {
                    match tree.get_mut(&k) {
                        Some(ids) => ids.insert(i),
                        None => {
                            tree.insert(k, Ids::One(i));
                        }
                    }
                }
                *self = RangeIndex::Large(tree);
                self.insert(key, id);
            }
            RangeIndex::Large(tree) => match tree.get_mut(&key) {
                Some(ids) => ids.insert(id),
                None => {
                    tree.insert(key, Ids::One(id));
                }
            },
        }
    }

    pub(super) fn remove(&mut self, key: Ordered, id: u64) {
        match self {
            RangeIndex::Small(v) => {
                if let Ok(at) = v.binary_search(&(key, id)) {
                    v.remove(at);
                }
            }
            RangeIndex::Large(tree) => {
                if tree.get_mut(&key).is_some_and(|ids| ids.remove(id)) {
                    tree.remove(&key);
                }
            }
        }
    }

    /// Ids whose key is at most `p` (`below`) or at least `p`, in key order.
    pub(super) fn collect(&self, p: Ordered, below: bool, out: &mut Vec<u64>) {
        match self {
            RangeIndex::Small(v) => {
                if below {
                    let end = v.partition_point(|e| e.0 <= p);
                    out.extend(v[..end].iter().map(|e| e.1));
                } else {
                    let start = v.partition_point(|e| e.0 < p);
                    out.extend(v[start..].iter().map(|e| e.1));
                }
            }
            RangeIndex::Large(tree) => {
                if below {
                    for ids in tree.range(..=p).map(|(_, ids)| ids) {
                        out.extend_from_slice(ids.as_slice());
                    }
                } else {
                    for ids in tree.range(p..).map(|(_, ids)| ids) {
                        out.extend_from_slice(ids.as_slice());
                    }
                }
            }
        }
    }
}

/// How instances waiting at a leaf are indexed, from the leaf's filter (its AND-ed conjuncts).
pub(super) enum LeafKeyPlan {
    /// `attr = alias.attr`: by the bound value (hash index).
    Equal {
        col: usize,
        slot: usize,
        pick: EventPick,
        attr: usize,
    },
    /// `attr OP f(aliases)` with OP one of `< <= > >=`: by the bound side's value, in order, so
    /// an event reaches only the instances whose bound value its attribute can satisfy.
    /// `below` is true when the event's value must be above the bound value (`>`, `>=`).
    Range {
        col: usize,
        below: bool,
        bound: TypedExpr,
    },
}

/// The index of a leaf: an equality with a bound attribute if there is one, else an inequality
/// against an expression of bound attributes.
pub(super) fn leaf_key(n: &PatternNode) -> Option<LeafKeyPlan> {
    let filter = match n {
        PatternNode::Element { filter, .. } | PatternNode::Absent { filter, .. } => {
            filter.as_ref()?
        }
        _ => return None,
    };
    find_equal(filter).or_else(|| find_range(filter))
}

fn conjuncts<'e>(e: &'e TypedExpr, out: &mut Vec<&'e TypedExpr>) {
    match &e.kind {
        K::Binary {
            op: BinaryOp::And,
            left,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        _ => out.push(e),
    }
}

fn find_equal(filter: &TypedExpr) -> Option<LeafKeyPlan> {
    let mut cs = Vec::new();
    conjuncts(filter, &mut cs);
    cs.into_iter().find_map(|e| match &e.kind {
        K::Binary {
            op: BinaryOp::Eq,
            left,
            right,
        } => match (&left.kind, &right.kind) {
            (
                K::Column(c),
                K::PatternAttr {
                    slot, index, attr, ..
                },
            )
            | (
                K::PatternAttr {
                    slot, index, attr, ..
                },
                K::Column(c),
            ) if matches!(index, EventPick::First | EventPick::Last) => Some(LeafKeyPlan::Equal {
                col: c.index,
                slot: *slot,
                pick: *index,
                attr: *attr,
            }),
            _ => None,
        },
        _ => None,
    })
}

/// An expression of bound aliases only (no event attribute, no clock), reading at least one.
fn bound_only(e: &TypedExpr) -> bool {
    fn walk(e: &TypedExpr, seen: &mut bool) -> bool {
        match &e.kind {
            K::PatternAttr { .. } | K::PatternAggregate { .. } => {
                *seen = true;
                true
            }
            K::Constant(_) => true,
            K::Neg(a) | K::Cast(a) => walk(a, seen),
            K::Binary {
                op: BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div,
                left,
                right,
            } => walk(left, seen) && walk(right, seen),
            _ => false,
        }
    }
    let mut seen = false;
    walk(e, &mut seen) && seen
}

fn find_range(filter: &TypedExpr) -> Option<LeafKeyPlan> {
    let mut cs = Vec::new();
    conjuncts(filter, &mut cs);
    cs.into_iter().find_map(|e| match &e.kind {
        K::Binary { op, left, right }
            if matches!(
                op,
                BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq
            ) =>
        {
            if !left.ty.is_numeric() {
                return None;
            }
            // Normalise to `event_column OP bound`.
            let (col, op, bound) = match (&left.kind, &right.kind) {
                (K::Column(c), _) if bound_only(right) => (c.index, *op, right.as_ref()),
                (_, K::Column(c)) if bound_only(left) => {
                    let mirrored = match op {
                        BinaryOp::Lt => BinaryOp::Gt,
                        BinaryOp::LtEq => BinaryOp::GtEq,
                        BinaryOp::Gt => BinaryOp::Lt,
                        _ => BinaryOp::LtEq,
                    };
                    (c.index, mirrored, left.as_ref())
                }
                _ => return None,
            };
            Some(LeafKeyPlan::Range {
                col,
                below: matches!(op, BinaryOp::Gt | BinaryOp::GtEq),
                bound: bound.clone(),
            })
        }
        _ => None,
    })
}

/// A numeric value with a total order, for the range index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Ordered(pub(super) i64);

impl Ordered {
    /// NULL and NaN have no place in the order (they satisfy no comparison).
    pub(super) fn of(v: &Value) -> Option<Ordered> {
        let f = v.as_f64()?;
        if f.is_nan() {
            return None;
        }
        // -0.0 and 0.0 are equal: one key.
        let f = if f == 0.0 { 0.0 } else { f };
        // Order-preserving map from f64 to i64 (total order on non-NaN values).
        let bits = f.to_bits() as i64;
        Some(Ordered(if bits < 0 { bits ^ i64::MAX } else { bits }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_keys_follow_numeric_order() {
        let vals = [
            f64::NEG_INFINITY,
            -1e300,
            -2.0,
            -1.0,
            -1e-300,
            0.0,
            1e-300,
            1.0,
            2.0,
            1e300,
            f64::INFINITY,
        ];
        let keys: Vec<Ordered> = vals
            .iter()
            .map(|v| Ordered::of(&Value::Double(*v)).unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        assert_eq!(
            Ordered::of(&Value::Double(-0.0)),
            Ordered::of(&Value::Double(0.0))
        );
        assert_eq!(Ordered::of(&Value::Double(f64::NAN)), None);
        assert_eq!(Ordered::of(&Value::Null), None);
        assert!(Ordered::of(&Value::Long(3)) < Ordered::of(&Value::Int(4)));
    }
}
