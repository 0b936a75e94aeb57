//! The timer service: a min-heap of deadlines on the app clock. Windows, patterns and triggers
//! register timers here; the engine fires them in (time, registration) order as the clock moves,
//! so nothing ever sleeps per event.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Who a timer belongs to: an operator of a query, identified by indices, plus a token the
/// operator chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerOwner {
    pub query: u32,
    pub operator: u32,
    /// Partition instance and stage inside it (0 for unpartitioned operators).
    pub instance: u32,
    pub stage: u32,
    pub token: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    at: i64,
    seq: u64,
    owner: TimerOwner,
}

// Ordered by (time, registration): `seq` is unique, so the owner never decides and comparing
// two words keeps the heap's sifting cheap.
impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Deadlines ordered by time, then by registration order (deterministic ties).
#[derive(Debug, Default)]
pub struct TimerService {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

impl TimerService {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a timer. A deadline at `i64::MAX` (a computation that saturated past the end
    /// of representable time) is never due, so it is not kept: firing it would let its owner
    /// re-arm at the same instant for ever.
    pub fn schedule(&mut self, at: i64, owner: TimerOwner) {
        if at == i64::MAX {
            return;
        }
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            owner,
        }));
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Removes and returns the earliest timer due at or before `now`.
    pub fn pop_due(&mut self, now: i64) -> Option<(i64, TimerOwner)> {
        match self.heap.peek() {
            Some(Reverse(e)) if e.at <= now => {
                let Reverse(e) = self.heap.pop()?;
                Some((e.at, e.owner))
            }
            _ => None,
        }
    }

    /// Keeps only the timers whose owner satisfies `keep`.
    pub fn retain(&mut self, mut keep: impl FnMut(&TimerOwner) -> bool) {
        self.heap.retain(|Reverse(e)| keep(&e.owner));
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// The first time `k·period + offset` strictly after `t` (saturating at `i64::MAX`: times near
/// the end of the representable range never overflow).
pub fn next_boundary(t: i64, period: i64, offset: i64) -> i64 {
    let period = period.max(1);
    let k = t.saturating_sub(offset).div_euclid(period);
    k.checked_add(1)
        .and_then(|k| k.checked_mul(period))
        .and_then(|b| b.checked_add(offset))
        .unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn boundaries_saturate() {
        use super::next_boundary;
        assert_eq!(next_boundary(0, 1000, 0), 1000);
        assert_eq!(next_boundary(999, 1000, 0), 1000);
        assert_eq!(next_boundary(1000, 1000, 0), 2000);
        assert_eq!(next_boundary(-1, 1000, 0), 0);
        assert_eq!(next_boundary(1500, 1000, 200), 2200);
        assert_eq!(next_boundary(i64::MAX, 1000, 0), i64::MAX);
        let b = next_boundary(i64::MAX - 10, 7, 3);
        assert!(b > i64::MAX - 10 && (b - 3) % 7 == 0);
        assert_eq!(next_boundary(i64::MAX - 2, 7, 3), i64::MAX);
    }

    use super::*;

    fn owner(token: u64) -> TimerOwner {
        TimerOwner {
            query: 0,
            operator: 0,
            instance: 0,
            stage: 0,
            token,
        }
    }

    #[test]
    fn fires_in_time_then_registration_order() {
        let mut t = TimerService::new();
        t.schedule(30, owner(1));
        t.schedule(10, owner(2));
        t.schedule(30, owner(3));
        t.schedule(20, owner(4));
        assert_eq!(t.next_deadline(), Some(10));
        assert_eq!(t.pop_due(5), None);
        let fired: Vec<u64> = std::iter::from_fn(|| t.pop_due(30))
            .map(|(_, o)| o.token)
            .collect();
        assert_eq!(fired, vec![2, 4, 1, 3]);
        assert!(t.is_empty());
    }
}
