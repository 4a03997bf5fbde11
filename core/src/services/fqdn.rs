//! `--fqdn`: the Client FQDN options of DHCP (option 81, RFC 4702) and DHCPv6
//! (option 39, RFC 4704), as the servers return them.
//!
//! A server returns the option only to a client that takes part in the exchange:
//! RFC 4702 §4 (servers SHOULD send it only to clients that included it) and RFC 4704
//! §5 (only if the client included it and requested it). For DHCP we also answer a
//! client that lists 81 in its Parameter Request List. The name is the configured
//! one, in canonical wire format (RFC 1035 §3.1, fully qualified).
//!
//! We never update DNS: the reply sets N (no updates, so S stays 0), and O when the
//! client had asked us to update (S set), since that preference is overridden
//! (RFC 4702 §2.1, RFC 4704 §4.1).

use crate::wire::ndisc::encode_domain_name;

/// DHCP option 81 flags (RFC 4702 §2.1): S, O, E, N.
const V4_S: u8 = 0x01;
const V4_O: u8 = 0x02;
const V4_E: u8 = 0x04;
const V4_N: u8 = 0x08;
/// DHCPv6 option 39 flags (RFC 4704 §4.1): S, O, N.
const V6_S: u8 = 0x01;
const V6_O: u8 = 0x02;
const V6_N: u8 = 0x04;
/// RCODE1 and RCODE2 as a server sends them (RFC 4702 §2.2).
const RCODE_SERVER: u8 = 255;

/// Longest option data: flags, two RCODEs and a name of at most 255 bytes.
pub const MAX_DATA_LEN: usize = 3 + 255;

/// Data of the DHCP option 81 to return for `name` to a client that sent option 81
/// with `client` data (its first byte the client's flags; `None`: the client only
/// requested it). Returns the length written to `out`, or `None` when the name can't
/// be encoded.
pub fn dhcpv4_data(name: &str, client: Option<&[u8]>, out: &mut [u8]) -> Option<usize> {
    let asked_update = client
        .and_then(|c| c.first())
        .is_some_and(|f| f & V4_S != 0);
    let flags = V4_E | V4_N | if asked_update { V4_O } else { 0 };
    let head = out.get_mut(..3)?;
    head.copy_from_slice(&[flags, RCODE_SERVER, RCODE_SERVER]);
    let len = encode_domain_name(name, out.get_mut(3..)?).ok()?;
    Some(3 + len)
}

/// Data of the DHCPv6 option 39 to return for `name` to a client whose option 39
/// carried `client` (flags first). Returns the length written, or `None` when the
/// name can't be encoded.
pub fn dhcpv6_data(name: &str, client: &[u8], out: &mut [u8]) -> Option<usize> {
    let asked_update = client.first().is_some_and(|f| f & V6_S != 0);
    let flags = V6_N | if asked_update { V6_O } else { 0 };
    *out.first_mut()? = flags;
    let len = encode_domain_name(name, out.get_mut(1..)?).ok()?;
    Some(1 + len)
}

#[cfg(test)]
mod tests;
