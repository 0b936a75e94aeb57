//! Windows (§7). Each window keeps its events in flat buffers (no allocation per event) and
//! drives a [`Selector`] with the sliding or the batch protocol. Time windows schedule at most one
//! pending timer at a time on the app clock.

use crate::aggregate::Removal;
use crate::batch::Batch;
use crate::operators::OpCtx;
use crate::select::Selector;
use crate::value::{KeyValue, Value};
use eventflux_planner::cron::CronSchedule;
use eventflux_planner::window::WindowKind;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Events in arrival order, stored flat in a ring buffer: pushing and popping move values, so a
/// full length window costs no allocation per event. A queue may keep only some columns (those
/// its consumers read); the others come back as NULL. Sequence numbers must be consecutive, so
/// they are not stored.
#[derive(Debug, Clone, Default)]
pub struct RowQueue {
    /// Columns of the full row.
    arity: usize,
    /// Positions kept (all when `None`).
    keep: Option<Vec<usize>>,
    /// Stored values per row.
    width: usize,
    /// `cap * width` slots; row `i` of the ring lives at `((head + i) % cap) * width`.
    values: Vec<Value>,
    /// Timestamps, unless the consumers never read them (then every row reads as time 0).
    ts: Vec<i64>,
    store_ts: bool,
    cap: usize,
    head: usize,
    len: usize,
    head_seq: u64,
}

impl RowQueue {
    pub fn new(arity: usize) -> RowQueue {
        RowQueue {
            arity,
            width: arity,
            store_ts: true,
            ..RowQueue::default()
        }
    }

    /// A queue that stores only the columns in `keep` of rows with `arity` columns, and their
    /// timestamps only if `store_ts`.
    pub fn with_columns(arity: usize, keep: Vec<usize>, store_ts: bool) -> RowQueue {
        let keep = (keep.len() != arity).then_some(keep);
        RowQueue {
            arity,
            width: keep.as_ref().map_or(arity, Vec::len),
            keep,
            store_ts,
            ..RowQueue::default()
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn cap(&self) -> usize {
        self.cap
    }

    fn ts_at(&self, slot: usize) -> i64 {
        if self.store_ts {
            self.ts[slot]
        } else {
            0
        }
    }

    fn slot(&self, i: usize) -> usize {
        let s = self.head + i;
        if s >= self.cap() {
            s - self.cap()
        } else {
            s
        }
    }

    /// Doubles the capacity, laying the rows out from slot 0.
    fn grow(&mut self) {
        let new_cap = (self.cap() * 2).max(4);
        let mut values = Vec::with_capacity(new_cap * self.width);
        let mut ts = Vec::with_capacity(if self.store_ts { new_cap } else { 0 });
        for i in 0..self.len {
            let s = self.slot(i);
            for a in 0..self.width {
                values.push(std::mem::take(&mut self.values[s * self.width + a]));
            }
            if self.store_ts {
                ts.push(self.ts[s]);
            }
        }
        values.resize(new_cap * self.width, Value::Null);
        if self.store_ts {
            ts.resize(new_cap, 0);
        }
        self.values = values;
        self.ts = ts;
        self.cap = new_cap;
        self.head = 0;
    }

    /// Appends a row; `seq` must follow the last pushed one.
    pub fn push(&mut self, seq: u64, ts: i64, row: &[Value]) {
        if self.len == 0 {
            self.head_seq = seq;
        }
        debug_assert_eq!(seq, self.head_seq + self.len as u64);
        if self.len == self.cap() {
            self.grow();
        }
        let s = self.slot(self.len);
        let dst = &mut self.values[s * self.width..(s + 1) * self.width];
        match &self.keep {
            None => dst.clone_from_slice(row),
            Some(keep) => {
                for (d, &k) in dst.iter_mut().zip(keep) {
                    *d = row.get(k).cloned().unwrap_or_default();
                }
            }
        }
        if self.store_ts {
            self.ts[s] = ts;
        }
        self.len += 1;
    }

    pub fn front_ts(&self) -> Option<i64> {
        (self.len > 0).then(|| self.ts_at(self.head))
    }

    fn expand(&self, slot: usize, buf: &mut Vec<Value>, take: Option<&mut Vec<Value>>) {
        let _ = take;
        let stored = &self.values[slot * self.width..(slot + 1) * self.width];
        buf.clear();
        match &self.keep {
            None => buf.extend_from_slice(stored),
            Some(keep) => {
                buf.resize(self.arity, Value::Null);
                for (v, &k) in stored.iter().zip(keep) {
                    buf[k] = v.clone();
                }
            }
        }
    }

    /// Removes the oldest row into `buf`, returning its sequence number and timestamp.
    pub fn pop(&mut self, buf: &mut Vec<Value>) -> Option<(u64, i64)> {
        if self.len == 0 {
            return None;
        }
        let s = self.head;
        buf.clear();
        match &self.keep {
            None => {
                for a in 0..self.width {
                    buf.push(std::mem::take(&mut self.values[s * self.width + a]));
                }
            }
            Some(keep) => {
                buf.resize(self.arity, Value::Null);
                for (a, &k) in keep.iter().enumerate() {
                    buf[k] = std::mem::take(&mut self.values[s * self.width + a]);
                }
            }
        }
        let seq = self.head_seq;
        self.head = self.slot(1);
        self.len -= 1;
        self.head_seq += 1;
        if self.len > 0 {
            // The next pop of a long window touches memory last seen long ago: start loading it
            // now, while other events are processed.
            prefetch(&self.values[self.head * self.width..]);
            if self.store_ts {
                prefetch(&self.ts[self.head..]);
            }
        }
        Some((seq, self.ts_at(s)))
    }

    pub fn get(&self, i: usize, buf: &mut Vec<Value>) -> (u64, i64) {
        let s = self.slot(i);
        self.expand(s, buf, None);
        (self.head_seq + i as u64, self.ts_at(s))
    }

    pub fn clear(&mut self) {
        for v in &mut self.values {
            *v = Value::Null;
        }
        self.head = 0;
        self.len = 0;
    }
}

/// Hints the CPU to load the cache line holding the start of `data`.
#[inline(always)]
fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    if let Some(first) = data.first() {
        // SAFETY: prefetching is only a hint; the pointer is valid for reads.
        unsafe {
            std::arch::x86_64::_mm_prefetch(
                first as *const T as *const i8,
                std::arch::x86_64::_MM_HINT_T0,
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

/// A window: receives input batches and timer callbacks, and calls the selector.
pub trait Window: Send {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch);
    fn on_timer(&mut self, token: u64, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        let _ = (token, ctx, sel, out);
    }
    /// End of time (`--flush`): close what is open.
    fn on_flush(&mut self, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        let _ = (ctx, sel, out);
    }
    /// Events currently retained (state-size metric).
    fn retained(&self) -> usize;
    /// Events evicted because the window reached `window.max_events`.
    fn evicted(&self) -> u64 {
        0
    }
    /// The retained events, oldest first (for OUTPUT SNAPSHOT without aggregation).
    fn contents(&self, f: &mut dyn FnMut(&[Value], i64)) {
        let _ = f;
    }
}

/// How rows leave a window of this kind, for the choice of aggregate data structures.
pub fn removal_of(kind: Option<&WindowKind>) -> Removal {
    match kind {
        Some(WindowKind::Sort { .. } | WindowKind::Unique(_)) => Removal::Arbitrary,
        _ => Removal::Fifo,
    }
}

/// Builds the window of a query (`None`: no window — aggregates over all events so far).
pub fn build_window(
    kind: Option<&WindowKind>,
    arity: usize,
    max_events: usize,
    sel: &Selector,
    retained: Vec<usize>,
    need_ts: bool,
) -> Result<Box<dyn Window>, String> {
    // Sliding windows hand stored rows back only as expired rows: keep just what those need.
    let sliding = |n: Option<usize>, d: Option<i64>, attr: Option<usize>| -> Box<dyn Window> {
        Box::new(Sliding::new(
            // Time-bounded windows expire by timestamp, so they always keep it.
            RowQueue::with_columns(
                arity,
                retained.clone(),
                need_ts || d.is_some() || attr.is_some(),
            ),
            n,
            d,
            attr,
            max_events,
        ))
    };
    let stream_batches = sel.aggregating() && !sel.keep_expired;
    Ok(match kind {
        None => Box::new(Unbounded { seq: 0 }),
        Some(WindowKind::Length(n)) => sliding(Some(*n), None, None),
        Some(WindowKind::Time(d)) => sliding(None, Some(*d), None),
        Some(WindowKind::TimeLength { time, n }) => sliding(Some(*n), Some(*time), None),
        Some(WindowKind::ExternalTime { attr, size }) => sliding(None, Some(*size), Some(*attr)),
        Some(WindowKind::LengthBatch(n)) => Box::new(Tumbling::new(
            arity,
            TumbleBy::Count(*n),
            stream_batches,
            max_events,
        )),
        Some(WindowKind::TimeBatch { size, offset }) => Box::new(Tumbling::new(
            arity,
            TumbleBy::Time {
                size: *size,
                offset: *offset,
            },
            stream_batches,
            max_events,
        )),
        Some(WindowKind::ExternalTimeBatch { attr, size }) => Box::new(Tumbling::new(
            arity,
            TumbleBy::External {
                attr: *attr,
                size: *size,
            },
            stream_batches,
            max_events,
        )),
        Some(WindowKind::Cron(expr)) => {
            let schedule = CronSchedule::parse(expr)?;
            Box::new(Tumbling::new(
                arity,
                TumbleBy::Cron(Box::new(schedule)),
                stream_batches,
                max_events,
            ))
        }
        Some(WindowKind::Sliding { size, slide }) => {
            Box::new(Hopping::new(arity, *size, *slide, max_events))
        }
        Some(WindowKind::Session { gap, key }) => {
            Box::new(Session::new(arity, *gap, *key, max_events))
        }
        Some(WindowKind::Sort { n, keys }) => Box::new(SortWindow {
            n: *n,
            keys: keys.clone(),
            rows: Vec::new(),
            seq: 0,
        }),
        Some(WindowKind::Unique(attr)) => Box::new(UniqueWindow {
            attr: *attr,
            rows: HashMap::new(),
            by_age: BTreeMap::new(),
            seq: 0,
            max_events,
            evicted: 0,
        }),
        Some(WindowKind::FirstUnique(attr)) => Box::new(FirstUniqueWindow {
            attr: *attr,
            seen: HashSet::new(),
            order: VecDeque::new(),
            seq: 0,
            max_events,
            evicted: 0,
        }),
        Some(WindowKind::Delay(d)) => Box::new(Delay {
            delay: *d,
            rows: RowQueue::new(arity),
            timer: None,
            seq: 0,
            buf: Vec::new(),
        }),
    })
}

/// No window: every event is a current event and nothing ever expires.
struct Unbounded {
    seq: u64,
}

impl Window for Unbounded {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        // Marked input (a join's arrivals, a pattern's events): one emission per mark;
        // otherwise one per row.
        let mut ends = input.emission_ends().iter().peekable();
        for (i, r) in input.rows().enumerate() {
            self.seq += 1;
            sel.current(self.seq, r.values, r.ts, ctx.now, out);
            match ends.peek() {
                None => sel.end_emission(out),
                Some(&&e) if e as usize == i + 1 => {
                    ends.next();
                    sel.end_emission(out);
                }
                Some(_) => {}
            }
        }
        sel.end_emission(out);
    }

    fn retained(&self) -> usize {
        0
    }
}

/// `length`, `time`, `timeLength`, `externalTime`: sliding windows bounded by count and/or time.
struct Sliding {
    evicted: u64,
    rows: RowQueue,
    max_len: Option<usize>,
    duration: Option<i64>,
    /// Attribute holding the time (externalTime); otherwise the event timestamp and the clock.
    time_attr: Option<usize>,
    /// Latest external time seen (external time must not go backwards).
    external_now: i64,
    timer: Option<i64>,
    seq: u64,
    max_events: usize,
    buf: Vec<Value>,
}

impl Sliding {
    fn new(
        rows: RowQueue,
        max_len: Option<usize>,
        duration: Option<i64>,
        time_attr: Option<usize>,
        max_events: usize,
    ) -> Sliding {
        Sliding {
            rows,
            max_len,
            duration,
            time_attr,
            external_now: i64::MIN,
            timer: None,
            seq: 0,
            max_events,
            evicted: 0,
            buf: Vec::new(),
        }
    }

    /// Expires every row whose time is up at `now` (time ≤ now − d).
    fn expire_until(&mut self, now: i64, ctx_now: i64, sel: &mut Selector, out: &mut Batch) {
        let Some(d) = self.duration else {
            return;
        };
        while let Some(t) = self.rows.front_ts() {
            if now < t.saturating_add(d) {
                break;
            }
            if let Some((seq, ts)) = self.rows.pop(&mut self.buf) {
                sel.expired(seq, &self.buf, ts, ctx_now, out);
            }
        }
    }

    fn schedule(&mut self, ctx: &mut OpCtx<'_>) {
        if self.time_attr.is_some() || self.timer.is_some() {
            return;
        }
        if let (Some(d), Some(t)) = (self.duration, self.rows.front_ts()) {
            let at = t.saturating_add(d);
            self.timer = Some(at);
            ctx.schedule(at, 0);
        }
    }
}

impl Window for Sliding {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        for r in input.rows() {
            // The row's time: its external attribute, else its timestamp.
            let t = match self.time_attr {
                Some(a) => {
                    let t = r
                        .values
                        .get(a)
                        .and_then(Value::as_i64)
                        .unwrap_or(self.external_now);
                    self.external_now = self.external_now.max(t);
                    self.external_now
                }
                None => r.ts,
            };
            self.expire_until(t, ctx.now, sel, out);
            let at_length = self.max_len.is_some_and(|n| self.rows.len() >= n);
            let over_bound = !at_length && self.rows.len() >= self.max_events;
            if over_bound {
                self.evicted += 1;
            }
            if at_length || over_bound {
                if let Some((seq, ts)) = self.rows.pop(&mut self.buf) {
                    sel.expired(seq, &self.buf, ts, ctx.now, out);
                }
            }
            self.seq += 1;
            self.rows.push(self.seq, t, r.values);
            sel.current(self.seq, r.values, r.ts, ctx.now, out);
            sel.end_emission(out);
            self.schedule(ctx);
        }
    }

    fn on_timer(&mut self, _token: u64, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        self.timer = None;
        self.expire_until(ctx.now, ctx.now, sel, out);
        sel.end_emission(out);
        self.schedule(ctx);
    }

    fn on_flush(&mut self, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        if self.time_attr.is_some() {
            self.expire_until(i64::MAX, ctx.now, sel, out);
            sel.end_emission(out);
        }
    }

    fn evicted(&self) -> u64 {
        self.evicted
    }

    fn retained(&self) -> usize {
        self.rows.len()
    }

    fn contents(&self, f: &mut dyn FnMut(&[Value], i64)) {
        let mut buf = Vec::new();
        for i in 0..self.rows.len() {
            let (_, ts) = self.rows.get(i, &mut buf);
            f(&buf, ts);
        }
    }
}

enum TumbleBy {
    Count(usize),
    Time { size: i64, offset: i64 },
    External { attr: usize, size: i64 },
    Cron(Box<CronSchedule>),
}

/// `lengthBatch`, `timeBatch`/`tumbling`, `externalTimeBatch`, `cron`: non-overlapping batches.
/// When the selector aggregates and nobody wants expired rows, rows stream straight into the
/// aggregates and nothing is retained.
struct Tumbling {
    evicted: u64,
    by: TumbleBy,
    stream: bool,
    current: RowQueue,
    previous: RowQueue,
    /// Rows in the open batch.
    count: usize,
    /// End of the open batch (time-based kinds).
    open_end: Option<i64>,
    seq: u64,
    max_events: usize,
    buf: Vec<Value>,
}

impl Tumbling {
    fn new(arity: usize, by: TumbleBy, stream: bool, max_events: usize) -> Tumbling {
        Tumbling {
            by,
            stream,
            current: RowQueue::new(arity),
            previous: RowQueue::new(arity),
            count: 0,
            open_end: None,
            seq: 0,
            max_events,
            evicted: 0,
            buf: Vec::new(),
        }
    }

    fn add(&mut self, row: &[Value], ts: i64, now: i64, sel: &mut Selector, out: &mut Batch) {
        self.seq += 1;
        self.count += 1;
        if self.stream {
            sel.batch_add(self.seq, row, ts, now, out);
        } else {
            if self.current.len() >= self.max_events {
                // Over the configured bound: the oldest row of the open batch is dropped.
                self.evicted += 1;
                let _ = self.current.pop(&mut self.buf);
            }
            self.current.push(self.seq, ts, row);
        }
    }

    fn close(&mut self, now: i64, sel: &mut Selector, out: &mut Batch) {
        if self.count == 0 {
            self.open_end = None;
            return;
        }
        if !self.stream {
            if sel.keep_expired {
                for i in 0..self.previous.len() {
                    self.previous.get(i, &mut self.buf);
                    sel.batch_expired(&self.buf, now, out);
                }
            }
            for i in 0..self.current.len() {
                let (seq, ts) = self.current.get(i, &mut self.buf);
                sel.batch_add(seq, &self.buf, ts, now, out);
            }
            std::mem::swap(&mut self.previous, &mut self.current);
            self.current.clear();
            if !sel.keep_expired {
                self.previous.clear();
            }
        }
        sel.batch_close(now, out);
        self.count = 0;
        self.open_end = None;
    }

    fn interval_end(&self, t: i64) -> Option<i64> {
        match &self.by {
            TumbleBy::Time { size, offset } => Some(crate::timer::next_boundary(t, *size, *offset)),
            TumbleBy::External { size, .. } => Some(crate::timer::next_boundary(t, *size, 0)),
            TumbleBy::Cron(c) => c.next_after(t),
            TumbleBy::Count(_) => None,
        }
    }
}

impl Window for Tumbling {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        for r in input.rows() {
            match &self.by {
                TumbleBy::Count(n) => {
                    let n = *n;
                    self.add(r.values, r.ts, ctx.now, sel, out);
                    if self.count >= n {
                        self.close(ctx.now, sel, out);
                    }
                }
                TumbleBy::External { attr, .. } => {
                    let Some(t) = r.values.get(*attr).and_then(Value::as_i64) else {
                        continue;
                    };
                    if let Some(end) = self.open_end {
                        if t >= end {
                            self.close(ctx.now, sel, out);
                        }
                    }
                    if self.open_end.is_none() {
                        self.open_end = self.interval_end(t);
                    }
                    self.add(r.values, r.ts, ctx.now, sel, out);
                }
                TumbleBy::Time { .. } | TumbleBy::Cron(_) => {
                    if self.open_end.is_none() {
                        if let Some(end) = self.interval_end(r.ts) {
                            self.open_end = Some(end);
                            ctx.schedule(end, 0);
                        }
                    }
                    self.add(r.values, r.ts, ctx.now, sel, out);
                }
            }
        }
    }

    fn on_timer(&mut self, _token: u64, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        self.close(ctx.now, sel, out);
    }

    fn on_flush(&mut self, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        // Count and external-time batches have no timer (and a time batch ending past the end
        // of representable time never got one): end of time closes the open batch.
        self.close(ctx.now, sel, out);
    }

    fn evicted(&self) -> u64 {
        self.evicted
    }

    fn retained(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    fn contents(&self, f: &mut dyn FnMut(&[Value], i64)) {
        let mut buf = Vec::new();
        for i in 0..self.current.len() {
            let (_, ts) = self.current.get(i, &mut buf);
            f(&buf, ts);
        }
    }
}

/// `sliding`/`hop`: epoch-aligned windows `[j·slide, j·slide + size)`, each emitted as a batch
/// at its end.
struct Hopping {
    evicted: u64,
    size: i64,
    slide: i64,
    rows: RowQueue,
    /// End of the next window to emit, if a timer is pending.
    next_end: Option<i64>,
    seq: u64,
    max_events: usize,
    buf: Vec<Value>,
}

impl Hopping {
    fn new(arity: usize, size: i64, slide: i64, max_events: usize) -> Hopping {
        Hopping {
            size,
            slide,
            rows: RowQueue::new(arity),
            next_end: None,
            seq: 0,
            max_events,
            evicted: 0,
            buf: Vec::new(),
        }
    }

    /// End of the first window containing time `t`, if `t` falls in any window.
    fn first_end(&self, t: i64) -> Option<i64> {
        // The first window [j·slide, j·slide + size) with j·slide + size > t.
        let j = t
            .saturating_sub(self.size)
            .div_euclid(self.slide)
            .checked_add(1)?;
        let start = j.checked_mul(self.slide)?;
        (start <= t).then(|| start.saturating_add(self.size))
    }

    fn schedule(&mut self, after: i64, ctx: &mut OpCtx<'_>) {
        if self.next_end.is_some() {
            return;
        }
        let Some(t0) = self.rows.front_ts() else {
            return;
        };
        let mut end = match self.first_end(t0) {
            Some(e) => e,
            None => return,
        };
        if end <= after {
            // Windows ending at or before `after` were emitted already.
            let k = after
                .saturating_sub(end)
                .div_euclid(self.slide)
                .saturating_add(1);
            end = end.saturating_add(k.saturating_mul(self.slide));
        }
        self.next_end = Some(end);
        ctx.schedule(end, 0);
    }
}

impl Window for Hopping {
    fn process(
        &mut self,
        input: &Batch,
        ctx: &mut OpCtx<'_>,
        _sel: &mut Selector,
        _out: &mut Batch,
    ) {
        for r in input.rows() {
            if self.first_end(r.ts).is_none() {
                continue; // in a gap between windows (slide > size)
            }
            if self.rows.len() >= self.max_events {
                self.evicted += 1;
                let _ = self.rows.pop(&mut self.buf);
            }
            self.seq += 1;
            self.rows.push(self.seq, r.ts, r.values);
            self.schedule(ctx.now, ctx);
        }
    }

    fn on_timer(&mut self, _token: u64, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        let Some(end) = self.next_end.take() else {
            return;
        };
        let start = end.saturating_sub(self.size);
        let mut any = false;
        for i in 0..self.rows.len() {
            let (seq, ts) = self.rows.get(i, &mut self.buf);
            if ts >= start && ts < end {
                sel.batch_add(seq, &self.buf, ts, ctx.now, out);
                any = true;
            }
        }
        if any {
            sel.batch_close(ctx.now, out);
        }
        // Rows before the next window's start are in no later window.
        let next_start = start.saturating_add(self.slide);
        while self.rows.front_ts().is_some_and(|t| t < next_start) {
            let _ = self.rows.pop(&mut self.buf);
        }
        self.schedule(end, ctx);
    }

    fn evicted(&self) -> u64 {
        self.evicted
    }

    fn retained(&self) -> usize {
        self.rows.len()
    }
}

struct SessionState {
    rows: RowQueue,
    last: i64,
    timer: bool,
    /// Sequence numbers are per session (consecutive within its queue).
    next_seq: u64,
}

/// `session`: per key, a batch closed when no event of the key arrives for `gap`.
struct Session {
    evicted: u64,
    gap: i64,
    key_attr: Option<usize>,
    arity: usize,
    sessions: HashMap<Vec<KeyValue>, u64>,
    states: HashMap<u64, (Vec<KeyValue>, SessionState)>,
    next_id: u64,
    seq: u64,
    max_events: usize,
    key: Vec<KeyValue>,
    buf: Vec<Value>,
}

impl Session {
    fn new(arity: usize, gap: i64, key_attr: Option<usize>, max_events: usize) -> Session {
        Session {
            gap,
            key_attr,
            arity,
            sessions: HashMap::new(),
            states: HashMap::new(),
            next_id: 0,
            seq: 0,
            max_events,
            evicted: 0,
            key: Vec::new(),
            buf: Vec::new(),
        }
    }
}

impl Window for Session {
    fn process(
        &mut self,
        input: &Batch,
        ctx: &mut OpCtx<'_>,
        sel: &mut Selector,
        _out: &mut Batch,
    ) {
        for r in input.rows() {
            self.key.clear();
            match self.key_attr {
                Some(a) => self
                    .key
                    .push(KeyValue(r.values.get(a).cloned().unwrap_or_default())),
                None => sel.group_key(r.values, r.ts, ctx.now, &mut self.key),
            }
            let id = match self.sessions.get(&self.key[..]) {
                Some(&id) => id,
                None => {
                    self.next_id += 1;
                    let id = self.next_id;
                    self.sessions.insert(self.key.clone(), id);
                    self.states.insert(
                        id,
                        (
                            self.key.clone(),
                            SessionState {
                                rows: RowQueue::new(self.arity),
                                last: r.ts,
                                timer: false,
                                next_seq: 0,
                            },
                        ),
                    );
                    id
                }
            };
            self.seq += 1;
            if let Some((_, s)) = self.states.get_mut(&id) {
                if s.rows.len() >= self.max_events {
                    self.evicted += 1;
                    let _ = s.rows.pop(&mut self.buf);
                }
                s.next_seq += 1;
                s.rows.push(s.next_seq, r.ts, r.values);
                s.last = r.ts;
                if !s.timer {
                    s.timer = true;
                    ctx.schedule(r.ts.saturating_add(self.gap), id);
                }
            }
        }
    }

    fn on_timer(&mut self, token: u64, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        let Some((_, s)) = self.states.get_mut(&token) else {
            return;
        };
        let due = s.last.saturating_add(self.gap);
        if ctx.now < due {
            // Events arrived since the timer was set: wait for the new deadline.
            ctx.schedule(due, token);
            return;
        }
        let Some((key, s)) = self.states.remove(&token) else {
            return;
        };
        self.sessions.remove(&key[..]);
        for i in 0..s.rows.len() {
            let (seq, ts) = s.rows.get(i, &mut self.buf);
            sel.batch_add(seq, &self.buf, ts, ctx.now, out);
        }
        sel.batch_close(ctx.now, out);
    }

    fn evicted(&self) -> u64 {
        self.evicted
    }

    fn retained(&self) -> usize {
        self.states.values().map(|(_, s)| s.rows.len()).sum()
    }
}

/// `sort`: keeps the `n` first events by the sort keys.
struct SortWindow {
    n: usize,
    keys: Vec<(usize, bool)>,
    /// Sorted by the keys, ties by arrival.
    rows: Vec<(u64, i64, Vec<Value>)>,
    seq: u64,
}

impl SortWindow {
    fn cmp(
        keys: &[(usize, bool)],
        a: &(u64, i64, Vec<Value>),
        b: &(u64, i64, Vec<Value>),
    ) -> Ordering {
        for &(k, desc) in keys {
            let o = a.2[k].sort_cmp(&b.2[k]);
            let o = if desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.0.cmp(&b.0)
    }
}

impl Window for SortWindow {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        for r in input.rows() {
            self.seq += 1;
            let entry = (self.seq, r.ts, r.values.to_vec());
            let pos = self
                .rows
                .binary_search_by(|e| Self::cmp(&self.keys, e, &entry))
                .unwrap_or_else(|p| p);
            self.rows.insert(pos, entry);
            if self.rows.len() > self.n {
                let pushed_out = self.rows.pop();
                match pushed_out {
                    Some((seq, ts, row)) if seq == self.seq => {
                        // The arrival itself sorts last: it enters and leaves at once.
                        sel.current(seq, &row, ts, ctx.now, out);
                        sel.expired(seq, &row, ts, ctx.now, out);
                    }
                    Some((seq, ts, row)) => {
                        sel.expired(seq, &row, ts, ctx.now, out);
                        sel.current(self.seq, r.values, r.ts, ctx.now, out);
                    }
                    None => {}
                }
            } else {
                sel.current(self.seq, r.values, r.ts, ctx.now, out);
            }
            sel.end_emission(out);
        }
    }

    fn retained(&self) -> usize {
        self.rows.len()
    }

    fn contents(&self, f: &mut dyn FnMut(&[Value], i64)) {
        for (_, ts, row) in &self.rows {
            f(row, *ts);
        }
    }
}

/// `unique`: the latest event per key; a replaced event expires.
struct UniqueWindow {
    attr: usize,
    rows: HashMap<KeyValue, (u64, i64, Vec<Value>)>,
    /// Keys by the arrival of their current row: the oldest goes when `window.max_events`
    /// distinct keys are held.
    by_age: BTreeMap<u64, KeyValue>,
    seq: u64,
    max_events: usize,
    evicted: u64,
}

impl Window for UniqueWindow {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        for r in input.rows() {
            self.seq += 1;
            let key = KeyValue(r.values.get(self.attr).cloned().unwrap_or_default());
            if !self.rows.contains_key(&key) && self.rows.len() >= self.max_events {
                if let Some((_, oldest)) = self.by_age.pop_first() {
                    if let Some((seq, ts, old)) = self.rows.remove(&oldest) {
                        self.evicted += 1;
                        sel.expired(seq, &old, ts, ctx.now, out);
                    }
                }
            }
            self.by_age.insert(self.seq, key.clone());
            if let Some((seq, ts, old)) = self.rows.insert(key, (self.seq, r.ts, r.values.to_vec()))
            {
                self.by_age.remove(&seq);
                sel.expired(seq, &old, ts, ctx.now, out);
            }
            sel.current(self.seq, r.values, r.ts, ctx.now, out);
            sel.end_emission(out);
        }
    }

    fn retained(&self) -> usize {
        self.rows.len()
    }

    fn evicted(&self) -> u64 {
        self.evicted
    }

    fn contents(&self, f: &mut dyn FnMut(&[Value], i64)) {
        let mut rows: Vec<&(u64, i64, Vec<Value>)> = self.rows.values().collect();
        rows.sort_by_key(|r| r.0);
        for (_, ts, row) in rows {
            f(row, *ts);
        }
    }
}

/// `firstUnique`: only events with a key not seen before pass.
struct FirstUniqueWindow {
    attr: usize,
    seen: HashSet<KeyValue>,
    /// Keys in the order first seen: past `window.max_events` keys the oldest is forgotten
    /// (and counted), so its next event passes again.
    order: VecDeque<KeyValue>,
    seq: u64,
    max_events: usize,
    evicted: u64,
}

impl Window for FirstUniqueWindow {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        for r in input.rows() {
            let key = KeyValue(r.values.get(self.attr).cloned().unwrap_or_default());
            if self.seen.contains(&key) {
                continue;
            }
            if self.seen.len() >= self.max_events {
                if let Some(oldest) = self.order.pop_front() {
                    self.seen.remove(&oldest);
                    self.evicted += 1;
                }
            }
            self.seen.insert(key.clone());
            self.order.push_back(key);
            self.seq += 1;
            sel.current(self.seq, r.values, r.ts, ctx.now, out);
            sel.end_emission(out);
        }
    }

    fn retained(&self) -> usize {
        self.seen.len()
    }

    fn evicted(&self) -> u64 {
        self.evicted
    }
}

/// `delay`: each event is re-emitted `delay` after it arrived.
struct Delay {
    delay: i64,
    rows: RowQueue,
    timer: Option<i64>,
    seq: u64,
    buf: Vec<Value>,
}

impl Delay {
    fn schedule(&mut self, ctx: &mut OpCtx<'_>) {
        if self.timer.is_none() {
            if let Some(t) = self.rows.front_ts() {
                let at = t.saturating_add(self.delay);
                self.timer = Some(at);
                ctx.schedule(at, 0);
            }
        }
    }

    fn release(&mut self, now: i64, sel: &mut Selector, out: &mut Batch) {
        while self
            .rows
            .front_ts()
            .is_some_and(|t| t.saturating_add(self.delay) <= now)
        {
            if let Some((seq, ts)) = self.rows.pop(&mut self.buf) {
                sel.current(seq, &self.buf, ts, now, out);
                sel.end_emission(out);
            }
        }
    }
}

impl Window for Delay {
    fn process(&mut self, input: &Batch, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        for r in input.rows() {
            self.seq += 1;
            self.rows.push(self.seq, r.ts, r.values);
        }
        // A zero delay releases at once.
        self.release(ctx.now, sel, out);
        self.schedule(ctx);
    }

    fn on_timer(&mut self, _token: u64, ctx: &mut OpCtx<'_>, sel: &mut Selector, out: &mut Batch) {
        self.timer = None;
        self.release(ctx.now, sel, out);
        self.schedule(ctx);
    }

    fn retained(&self) -> usize {
        self.rows.len()
    }
}

#[cfg(test)]
mod ring_tests {
    use super::*;

    #[test]
    fn ring_keeps_fifo_order_across_growth_and_wraparound() {
        let mut q = RowQueue::new(2);
        let mut buf = Vec::new();
        let mut next_pop = 0i64;
        for i in 0..100i64 {
            q.push(i as u64, i, &[Value::Long(i), Value::Long(-i)]);
            if i % 3 == 0 {
                let (seq, ts) = q.pop(&mut buf).unwrap();
                assert_eq!((seq as i64, ts), (next_pop, next_pop));
                assert_eq!(buf, vec![Value::Long(next_pop), Value::Long(-next_pop)]);
                next_pop += 1;
            }
        }
        assert_eq!(q.len(), 100 - 34);
        assert_eq!(q.front_ts(), Some(next_pop));
        let (_, ts) = q.get(q.len() - 1, &mut buf);
        assert_eq!(ts, 99);
        while q.pop(&mut buf).is_some() {}
        assert!(q.is_empty());
        assert_eq!(q.front_ts(), None);
    }
}
