//! Absence and WITHIN deadlines of a pattern operator.

use crate::operators::OpCtx;
use std::collections::VecDeque;

/// The pattern's own deadlines (absence and WITHIN), kept in FIFO queues per delay — deadlines
/// made with the same delay arrive in order, so pushing is O(1) — with a single engine timer for
/// the earliest. The engine's timer heap then holds one entry per pattern, not one per partial
/// match.
/// Deadlines made with one delay: (due, seq, token), sorted by (due, seq).
pub(super) type DeadlineQueue = VecDeque<(i64, u64, u64)>;

#[derive(Default)]
pub(super) struct Deadlines {
    /// (delay, its queue).
    pub(super) queues: Vec<(i64, DeadlineQueue)>,
    pub(super) seq: u64,
    /// The time the engine timer is set for, if one is pending.
    pub(super) wake: Option<i64>,
}

/// Engine-timer token of the pattern's wake-up (its deadlines carry their own tokens).
pub(super) const WAKE: u64 = u64::MAX;
/// Distinct delays given their own queue; others share the last one (sorted insertion).
pub(super) const MAX_QUEUES: usize = 16;

impl Deadlines {
    pub(super) fn push(&mut self, ctx: &mut OpCtx<'_>, at: i64, token: u64) {
        self.seq += 1;
        self.insert(ctx.now, at, self.seq, token);
        if self.wake.is_none_or(|w| at < w) {
            self.wake = Some(at);
            ctx.schedule(at, WAKE);
        }
    }

    /// Adds a deadline without setting the engine timer (its owner does); `seq` orders ties.
    pub(super) fn insert(&mut self, now: i64, at: i64, seq: u64, token: u64) {
        let delay = at.saturating_sub(now);
        let q = match self.queues.iter().position(|(d, _)| *d == delay) {
            Some(q) => q,
            None if self.queues.len() < MAX_QUEUES => {
                self.queues.push((delay, VecDeque::new()));
                self.queues.len() - 1
            }
            None => self.queues.len() - 1,
        };
        let entry = (at, seq, token);
        let queue = &mut self.queues[q].1;
        if queue.back().is_none_or(|b| (b.0, b.1) <= (at, seq)) {
            queue.push_back(entry);
        } else {
            let pos = queue.partition_point(|e| (e.0, e.1) <= (at, seq));
            queue.insert(pos, entry);
        }
    }

    /// Takes the earliest deadline due at `now`.
    pub(super) fn pop_due(&mut self, now: i64) -> Option<u64> {
        let (_, _, q) = self.peek_due(now)?;
        self.queues[q].1.pop_front().map(|e| e.2)
    }

    /// The earliest deadline due at `now`: (due, seq, its queue).
    pub(super) fn peek_due(&self, now: i64) -> Option<(i64, u64, usize)> {
        if let [(_, only)] = self.queues.as_slice() {
            // One delay (the usual case): its queue is in order.
            return only.front().filter(|e| e.0 <= now).map(|e| (e.0, e.1, 0));
        }
        self.queues
            .iter()
            .enumerate()
            .filter_map(|(i, (_, q))| q.front().map(|e| (e.0, e.1, i)))
            .filter(|(at, _, _)| *at <= now)
            .min()
    }

    /// Removes the front deadline of queue `q` (from [`Deadlines::peek_due`]).
    pub(super) fn pop_queue(&mut self, q: usize) -> Option<u64> {
        self.queues.get_mut(q)?.1.pop_front().map(|e| e.2)
    }

    /// The engine woke the pattern at `now`: its timer is spent if it was due.
    pub(super) fn woken(&mut self, now: i64) {
        if self.wake.is_some_and(|w| w <= now) {
            self.wake = None;
        }
    }

    /// After the due deadlines were handled: the engine timer for the next one.
    pub(super) fn rearm(&mut self, ctx: &mut OpCtx<'_>) {
        if let Some(next) = self.next() {
            if self.wake.is_none_or(|w| next < w) {
                self.wake = Some(next);
                ctx.schedule(next, WAKE);
            }
        }
    }

    pub(super) fn next(&self) -> Option<i64> {
        self.queues
            .iter()
            .filter_map(|(_, q)| q.front().map(|e| e.0))
            .min()
    }
}

/// Timer tokens: instance id × 2 (+1 for the WITHIN expiry).
pub(super) fn absence_token(id: u64) -> u64 {
    id * 2
}
pub(super) fn within_token(id: u64) -> u64 {
    id * 2 + 1
}
