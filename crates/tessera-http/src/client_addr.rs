//! Which address a request came from, for per-address limits. Behind proxies the socket peer is
//! the nearest proxy, and `X-Forwarded-For` lists the hops — but its leftmost entries are
//! whatever the client wrote, so the address is read from the right: the entry the trusted
//! proxy itself added (`TESSERA_TRUSTED_PROXIES`). On Lambda the API Gateway request context
//! names the source (the binary puts it in [`SourceAddr`]) and the header is not read at all.

use std::net::IpAddr;
use std::str::FromStr;

/// The client address a platform vouches for (API Gateway's `requestContext` source IP): when
/// a request carries it, it is the client address, whatever the headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceAddr(pub IpAddr);

/// Which proxies in front of the server are trusted to add `X-Forwarded-For` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TrustedProxies {
    /// None: the socket peer is the client.
    #[default]
    None,
    /// This many proxies, each adding one entry: the client is the n-th entry from the right.
    Hops(usize),
    /// Proxies at these networks: entries are read from the right, skipping those inside them.
    Networks(Vec<Network>),
}

/// An address block (`10.0.0.0/8`, `fd00::/8`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u8) {
            match a {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        // An IPv4 client may reach a dual-stack socket as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v) => v.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let ((net, width), (host, host_width)) = (bits(self.addr), bits(ip));
        if width != host_width {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        net.checked_shr(shift).unwrap_or(0) == host.checked_shr(shift).unwrap_or(0)
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr =
            addr.trim().parse().map_err(|_| format!("{s:?} is not an address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: bad prefix length"))?,
            None => max,
        };
        Ok(Network { addr, prefix })
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// `""`/`none`/`0`: none; a number: that many hops; otherwise a comma-separated list of
    /// addresses and CIDR blocks.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") || s == "0" {
            return Ok(TrustedProxies::None);
        }
        if let Ok(n) = s.parse::<usize>() {
            return Ok(TrustedProxies::Hops(n));
        }
        s.split(',').map(str::parse).collect::<Result<Vec<_>, _>>().map(TrustedProxies::Networks)
    }
}

impl TrustedProxies {
    /// The client address of a request from `peer` with this `X-Forwarded-For` (if any).
    pub fn client_addr(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let entries = || -> Vec<Option<IpAddr>> {
            forwarded_for
                .map(|v| v.split(',').map(|e| e.trim().parse::<IpAddr>().ok()).collect())
                .unwrap_or_default()
        };
        match self {
            TrustedProxies::None => peer,
            TrustedProxies::Hops(n) => {
                let e = entries();
                if e.is_empty() {
                    return peer;
                }
                // Fewer entries than hops: none was written by the client; the leftmost is a proxy's.
                let at = e.len().saturating_sub(*n);
                e[at]
            }
            TrustedProxies::Networks(nets) => {
                let trusted = |ip: IpAddr| nets.iter().any(|n| n.contains(ip));
                if !peer.is_some_and(trusted) {
                    return peer;
                }
                let e = entries();
                for entry in e.iter().rev() {
                    match entry {
                        Some(ip) if trusted(*ip) => continue,
                        // An entry that is no address: nothing left of it can be trusted.
                        other => return *other,
                    }
                }
                e.first().copied().flatten().or(peer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn the_leftmost_entry_is_never_taken_on_trust() {
        let one: TrustedProxies = "1".parse().unwrap();
        // The client wrote "1.1.1.1"; the proxy appended the address it saw.
        assert_eq!(one.client_addr(ip("10.0.0.2"), Some("1.1.1.1, 203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(one.client_addr(ip("10.0.0.2"), Some("203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(one.client_addr(ip("10.0.0.2"), None), ip("10.0.0.2"));
        let two: TrustedProxies = "2".parse().unwrap();
        assert_eq!(
            two.client_addr(ip("10.0.0.2"), Some("6.6.6.6, 203.0.113.9, 10.0.0.7")),
            ip("203.0.113.9")
        );
        // Nothing trusted: the header is ignored.
        let none: TrustedProxies = "".parse().unwrap();
        assert_eq!(none.client_addr(ip("198.51.100.1"), Some("1.1.1.1")), ip("198.51.100.1"));
    }

    #[test]
    fn networks_skip_trusted_hops_from_the_right() {
        let t: TrustedProxies = "10.0.0.0/8, 192.168.1.1, fd00::/8".parse().unwrap();
        assert_eq!(
            t.client_addr(ip("10.1.2.3"), Some("1.1.1.1, 203.0.113.9, 192.168.1.1")),
            ip("203.0.113.9")
        );
        assert_eq!(t.client_addr(ip("::ffff:10.1.2.3"), Some("203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(t.client_addr(ip("fd00::1"), Some("2001:db8::5")), ip("2001:db8::5"));
        // A peer outside the trusted networks is the client, whatever it sends.
        assert_eq!(t.client_addr(ip("198.51.100.1"), Some("1.1.1.1")), ip("198.51.100.1"));
        // Garbage to the right of the trusted hops is not skipped over.
        assert_eq!(t.client_addr(ip("10.1.2.3"), Some("1.1.1.1, junk")), None);
    }

    #[test]
    fn parsing() {
        assert_eq!("none".parse::<TrustedProxies>().unwrap(), TrustedProxies::None);
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("proxy.local".parse::<TrustedProxies>().is_err());
        assert!("0.0.0.0/0".parse::<TrustedProxies>().is_ok());
    }
}
