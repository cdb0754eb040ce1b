//! Sockets waiting for their `connection_init`, counted per client address.
//!
//! An unauthenticated socket costs memory (about 100 KiB with its buffers) and proves nothing
//! about its sender, so each address may hold only [`super::MAX_WAITING_PER_ADDRESS`] of them
//! at once; the [`INIT_TIMEOUT`](super::INIT_TIMEOUT) ends each within seconds. A plain mutex
//! is right here: one short critical section per upgrade and per handshake, never held across
//! an await.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
};

/// The count of waiting sockets per address; shared by every upgrade of the instance.
#[derive(Debug, Default, Clone)]
pub(crate) struct Waiting {
    by_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One waiting socket; leaving (the handshake, or the socket's end) frees its place.
#[derive(Debug)]
pub(crate) struct WaitingSlot {
    waiting: Waiting,
    ip: Option<IpAddr>,
}

impl Waiting {
    fn count(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.by_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for one more waiting socket from `ip`, or `None` when the address holds the
    /// most allowed. A socket without a known address (no peer information) is not counted.
    pub(crate) fn enter(&self, ip: Option<IpAddr>) -> Option<WaitingSlot> {
        if let Some(ip) = ip {
            let mut count = self.count();
            let waiting = count.entry(ip).or_default();
            if *waiting >= super::MAX_WAITING_PER_ADDRESS {
                return None;
            }
            *waiting += 1;
        }
        Some(WaitingSlot {
            waiting: self.clone(),
            ip,
        })
    }

    /// Sockets waiting from `ip` now.
    #[cfg(test)]
    fn from(&self, ip: IpAddr) -> usize {
        self.count().get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for WaitingSlot {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut count = self.waiting.count();
        if let Some(waiting) = count.get_mut(&ip) {
            *waiting -= 1;
            if *waiting == 0 {
                count.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_may_hold_a_bounded_number_of_waiting_sockets() {
        let waiting = Waiting::default();
        let ip: IpAddr = "198.51.100.7".parse().expect("ip");
        let other: IpAddr = "198.51.100.8".parse().expect("ip");
        let held: Vec<_> = (0..super::super::MAX_WAITING_PER_ADDRESS)
            .map(|_| waiting.enter(Some(ip)).expect("room"))
            .collect();
        assert!(waiting.enter(Some(ip)).is_none(), "one more is refused");
        assert!(
            waiting.enter(Some(other)).is_some(),
            "another address is not"
        );
        assert!(
            waiting.enter(None).is_some(),
            "unknown addresses are not counted"
        );
        drop(held);
        assert_eq!(waiting.from(ip), 0, "leaving frees every place");
        assert!(waiting.enter(Some(ip)).is_some());
    }
}
