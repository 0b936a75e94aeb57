//! Where partial matches live: a slab of instances addressed by generation-checked ids. Removed
//! instances give their state and binding buffers back to a pool that new ones reuse, so
//! creating and expiring partial matches allocates nothing in the steady state. Creation order
//! (the "oldest first" of routing and of the partial-match bound) is each instance's `seq`,
//! with a queue of ids in that order for the oldest one.

use super::automaton::{Automaton, Instance};
use super::bindings::Binding;
use std::collections::VecDeque;

/// An instance's address: generation (31 bits) above the slot index (32 bits), so that a timer
/// token made for an instance never reaches the one that later reuses its slot.
pub(super) type Id = u64;

const GEN_MASK: u32 = 0x7FFF_FFFF;
/// Pooled buffers kept at most (a burst's worth is freed once it is over).
const POOL_MAX: usize = 4096;

#[derive(Default)]
struct Entry {
    gen: u32,
    inst: Option<Instance>,
}

/// Buffers of removed instances, reused by new ones.
#[derive(Default)]
pub(super) struct Pool {
    spare: Vec<Instance>,
}

#[derive(Default)]
pub(super) struct Store {
    entries: Vec<Entry>,
    free: Vec<u32>,
    /// Ids of non-root instances in creation order; entries of removed instances are skipped
    /// and compacted lazily.
    order: VecDeque<Id>,
    /// The root instance's id (kept out of `order`: it is never the one dropped).
    root: Option<Id>,
    live: usize,
    next_seq: u64,
}

fn slot(id: Id) -> usize {
    (id & 0xFFFF_FFFF) as usize
}

fn gen(id: Id) -> u32 {
    (id >> 32) as u32
}

impl Store {
    pub(super) fn len(&self) -> usize {
        self.live
    }

    pub(super) fn get(&self, id: Id) -> Option<&Instance> {
        let e = self.entries.get(slot(id))?;
        if e.gen != gen(id) {
            return None;
        }
        e.inst.as_ref()
    }

    pub(super) fn get_mut(&mut self, id: Id) -> Option<&mut Instance> {
        let e = self.entries.get_mut(slot(id))?;
        if e.gen != gen(id) {
            return None;
        }
        e.inst.as_mut()
    }

    /// Creation rank of a live instance (smaller is older).
    pub(super) fn seq(&self, id: Id) -> u64 {
        self.get(id).map_or(u64::MAX, |i| i.seq)
    }

    pub(super) fn insert(&mut self, mut inst: Instance) -> Id {
        self.next_seq += 1;
        inst.seq = self.next_seq;
        let s = match self.free.pop() {
            Some(s) => s as usize,
            None => {
                self.entries.push(Entry::default());
                self.entries.len() - 1
            }
        };
        let e = &mut self.entries[s];
        e.inst = Some(inst);
        let id = (u64::from(e.gen) << 32) | s as u64;
        self.live += 1;
        if e.inst.as_ref().is_some_and(|i| i.root) {
            self.root = Some(id);
            return id;
        }
        self.order.push_back(id);
        if self.order.len() > 2 * self.live + 64 {
            let entries = &self.entries;
            self.order.retain(|&id| {
                entries
                    .get(slot(id))
                    .is_some_and(|e| e.gen == gen(id) && e.inst.is_some())
            });
        }
        id
    }

    /// Removes an instance; give it back with [`Store::recycle`] once done with it.
    pub(super) fn take(&mut self, id: Id) -> Option<Instance> {
        let e = self.entries.get_mut(slot(id))?;
        if e.gen != gen(id) {
            return None;
        }
        let inst = e.inst.take()?;
        e.gen = (e.gen + 1) & GEN_MASK;
        self.free.push(slot(id) as u32);
        self.live -= 1;
        Some(inst)
    }

    /// The oldest live instance that is not the root.
    pub(super) fn oldest_non_root(&mut self) -> Option<Id> {
        while let Some(&front) = self.order.front() {
            if self.get(front).is_some() {
                return Some(front);
            }
            self.order.pop_front();
        }
        None
    }

    /// Every live instance, oldest first.
    pub(super) fn ids_in_order(&self, out: &mut Vec<Id>) {
        out.extend(
            self.order
                .iter()
                .copied()
                .filter(|&id| self.get(id).is_some()),
        );
        if let Some(r) = self.root.filter(|&r| self.get(r).is_some()) {
            let seq = self.seq(r);
            let at = out.partition_point(|&id| self.seq(id) < seq);
            out.insert(at, r);
        }
    }
}

impl Pool {
    /// Keeps a removed instance's buffers for reuse (its bound events are released now).
    pub(super) fn recycle(&mut self, mut inst: Instance) {
        if self.spare.len() >= POOL_MAX {
            return;
        }
        for b in inst.bindings.iter_mut() {
            *b = Binding::Empty;
        }
        inst.leaves = Default::default();
        self.spare.push(inst);
    }

    /// A fresh instance (the automaton's initial state), from the pool when possible.
    pub(super) fn fresh(&mut self, auto: &Automaton) -> Instance {
        match self.spare.pop() {
            Some(mut inst) => {
                inst.state.fill(0);
                inst.first_ts = None;
                inst.last_ts = i64::MIN;
                inst.root = false;
                inst
            }
            None => auto.fresh(),
        }
    }

    /// A copy of `template` (sharing its bound events), from the pool when possible.
    pub(super) fn copy_of(&mut self, template: &Instance, auto: &Automaton) -> Instance {
        let mut inst = self.fresh(auto);
        inst.state.copy_from_slice(&template.state);
        inst.bindings.clone_from_slice(&template.bindings);
        inst.first_ts = template.first_ts;
        inst.last_ts = template.last_ts;
        inst
    }
}
