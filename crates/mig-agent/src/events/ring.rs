//! A bounded buffer of events, numbered: readers take what came after the last number they
//! saw; a full buffer pushes its oldest event out and counts it as dropped when no reader had
//! taken it yet.

use std::collections::VecDeque;
use std::sync::Mutex;

pub struct Ring<T> {
    name: &'static str,
    capacity: usize,
    inner: Mutex<Inner<T>>,
}

struct Inner<T> {
    events: VecDeque<(u64, T)>,
    /// The number the next event gets (from 1).
    next: u64,
    /// The highest number any reader took.
    read: u64,
    total: u64,
    dropped: u64,
    active: bool,
}

impl<T: Clone> Ring<T> {
    pub fn new(name: &'static str, capacity: usize) -> Ring<T> {
        Ring {
            name,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                events: VecDeque::new(),
                next: 1,
                read: 0,
                total: 0,
                dropped: 0,
                active: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn push(&self, event: T) {
        let mut g = self.lock();
        if g.events.len() == self.capacity {
            if let Some((n, _)) = g.events.pop_front() {
                if n > g.read {
                    g.dropped += 1;
                }
            }
        }
        let n = g.next;
        g.next += 1;
        g.total += 1;
        g.events.push_back((n, event));
    }

    /// Events the kernel lost before they reached the buffer.
    pub fn lost(&self, n: u64) {
        self.lock().dropped += n;
    }

    /// The events numbered after `after`, and the number of the last one (to pass next time).
    pub fn since(&self, after: u64) -> (Vec<T>, u64) {
        let mut g = self.lock();
        let taken: Vec<T> = g
            .events
            .iter()
            .filter(|(n, _)| *n > after)
            .map(|(_, e)| e.clone())
            .collect();
        let last = g.next - 1;
        g.read = g.read.max(last);
        (taken, last)
    }

    /// The number of the last event so far (a reader starting now takes what comes after).
    pub fn last(&self) -> u64 {
        self.lock().next - 1
    }

    pub fn set_active(&self, active: bool) {
        let mut g = self.lock();
        g.active = active;
        if !active {
            g.events.clear();
        }
    }

    pub fn stats(&self) -> mig_core::events::BufferStats {
        let g = self.lock();
        mig_core::events::BufferStats {
            name: self.name.to_string(),
            capacity: self.capacity as u64,
            buffered: g.events.len() as u64,
            events: g.total,
            dropped: g.dropped,
            active: g.active,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_take_what_is_new_and_unread_overflow_counts() {
        let r = Ring::new("t", 3);
        for n in 0..2 {
            r.push(n);
        }
        let (got, last) = r.since(0);
        assert_eq!((got, last), (vec![0, 1], 2));
        r.push(2);
        r.push(3);
        // Full (3): 0 goes out, but it had been read.
        assert_eq!(r.stats().dropped, 0);
        r.push(4);
        r.push(5);
        // 1 (read) and 2 (never read) went out.
        assert_eq!(r.stats().dropped, 1);
        let (got, last) = r.since(last);
        assert_eq!((got, last), (vec![3, 4, 5], 6));
        assert_eq!(r.stats().events, 6);
        assert_eq!(r.stats().buffered, 3);
    }
}
