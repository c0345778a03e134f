//! The simulated LoadBalancer address pool (TEST-NET-2, 198.51.100.0/24, never routable): the
//! simulated clusters hand these out and rule templates name them (`lb_address`).

use std::net::IpAddr;

/// The first three octets of the pool.
const LB_POOL: [u8; 3] = [198, 51, 100];

/// The cluster index (modulo 8) whose LoadBalancer pool an address belongs to.
pub fn lb_address_owner(ip: &IpAddr) -> Option<usize> {
    match ip {
        IpAddr::V4(v4) if is_simulated_address(ip) => {
            Some(usize::from(v4.octets()[3].saturating_sub(1) / 32))
        }
        _ => None,
    }
}

/// The `n`th LoadBalancer address of cluster `index`: each cluster owns 30 addresses.
pub fn lb_address(index: usize, n: u32) -> String {
    let slice = (index % 8) as u32 * 32;
    format!(
        "{}.{}.{}.{}",
        LB_POOL[0],
        LB_POOL[1],
        LB_POOL[2],
        slice + 1 + n % 30
    )
}

/// Whether an address comes from the simulated LoadBalancer pool (198.51.100.0/24).
pub fn is_simulated_address(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[..3] == LB_POOL,
        IpAddr::V6(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_to_their_cluster() {
        let a = lb_address(2, 0);
        assert_eq!(a, "198.51.100.65");
        let ip: IpAddr = a.parse().unwrap();
        assert!(is_simulated_address(&ip));
        assert_eq!(lb_address_owner(&ip), Some(2));
        assert_eq!(lb_address_owner(&"10.0.0.1".parse().unwrap()), None);
    }
}
