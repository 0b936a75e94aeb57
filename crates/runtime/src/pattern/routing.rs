//! Which partial matches an event can affect: instances registered at the leaves they wait
//! at, by correlation key where a leaf's filter has one.

use crate::value::KeyValue;
use eventflux_planner::expr::EventPick;
use eventflux_planner::pattern::PatternNode;
use std::collections::{BTreeSet, HashMap};

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

/// `attr = alias.attr` (either order, no conversions) among the AND-ed conjuncts of a leaf's
/// filter: the index key of instances waiting there.
pub(super) fn correlation_key(n: &PatternNode) -> Option<(usize, usize, EventPick, usize)> {
    use eventflux_planner::expr::{TypedExpr, TypedExprKind as K};
    use eventflux_sql::ast::BinaryOp;
    let filter = match n {
        PatternNode::Element { filter, .. } | PatternNode::Absent { filter, .. } => {
            filter.as_ref()?
        }
        _ => return None,
    };
    pub(super) fn find(e: &TypedExpr) -> Option<(usize, usize, EventPick, usize)> {
        match &e.kind {
            K::Binary {
                op: BinaryOp::And,
                left,
                right,
            } => find(left).or_else(|| find(right)),
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
                ) if matches!(index, EventPick::First | EventPick::Last) => {
                    Some((c.index, *slot, *index, *attr))
                }
                _ => None,
            },
            _ => None,
        }
    }
    find(filter)
}
