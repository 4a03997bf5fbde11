//! Counters, and the reason attached to every input the core discards.
//!
//! The core never panics on input: anything it cannot or will not handle is counted
//! under exactly one [`DropReason`] and dropped.

macro_rules! drop_reasons {
    ($( $(#[$doc:meta])* $name:ident => $text:literal, )*) => {
        /// Why an input (tap frame or socket event) was discarded.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum DropReason {
            $( $(#[$doc])* $name, )*
        }

        impl DropReason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];
            /// Number of reasons.
            pub const COUNT: usize = DropReason::ALL.len();

            /// A short, stable, human-readable name (used in logs and stats dumps).
            pub const fn name(self) -> &'static str {
                match self { $(DropReason::$name => $text,)* }
            }
        }
    };
}

drop_reasons! {
    /// Frame shorter than an Ethernet header.
    EthTruncated => "eth-truncated",
    /// Frame longer than 65535 bytes, or than the engine will handle.
    FrameTooLong => "frame-too-long",
    /// EtherType other than IPv4, IPv6 or ARP.
    EthUnknownType => "eth-unknown-type",
    /// Source MAC is multicast or zero.
    EthBadSource => "eth-bad-source",
    /// ARP that is not Ethernet/IPv4, or truncated.
    ArpMalformed => "arp-malformed",
    /// ARP we deliberately leave unanswered (replies, gratuitous, the guest's own address).
    ArpIgnored => "arp-ignored",
    /// IPv4 header invalid (version, IHL, total length).
    Ipv4Malformed => "ipv4-malformed",
    /// IPv4 fragment (MF set or non-zero offset): reassembly is not supported.
    Ipv4Fragment => "ipv4-fragment",
    /// IPv6 header invalid (version, payload length, extension header chain).
    Ipv6Malformed => "ipv6-malformed",
    /// IPv6 fragment header: reassembly is not supported.
    Ipv6Fragment => "ipv6-fragment",
    /// IPv6 jumbogram (payload length 0 with a Jumbo Payload option).
    Ipv6Jumbogram => "ipv6-jumbogram",
    /// IPv6 "No Next Header".
    Ipv6NoNextHeader => "ipv6-no-next-header",
    /// Loopback, unspecified-destination or otherwise unusable address on the tap link.
    BadAddress => "bad-address",
    /// IP protocol we do not translate (SCTP, GRE, …).
    UnsupportedProtocol => "unsupported-protocol",
    /// ICMPv4 message malformed or truncated.
    Icmpv4Malformed => "icmpv4-malformed",
    /// ICMPv4 type we do not handle (only echo requests are proxied).
    Icmpv4Ignored => "icmpv4-ignored",
    /// ICMPv6 message malformed, truncated or with a bad NDP option.
    Icmpv6Malformed => "icmpv6-malformed",
    /// ICMPv6/NDP message we do not answer (RA/NA from the guest, DAD probes, …).
    Icmpv6Ignored => "icmpv6-ignored",
    /// UDP header malformed or length inconsistent.
    UdpMalformed => "udp-malformed",
    /// TCP header malformed (data offset, options).
    TcpMalformed => "tcp-malformed",
    /// DHCP message malformed.
    DhcpMalformed => "dhcp-malformed",
    /// DHCP message we do not answer (DECLINE, RELEASE, INFORM, replies…).
    DhcpIgnored => "dhcp-ignored",
    /// DHCPv6 message malformed.
    Dhcpv6Malformed => "dhcpv6-malformed",
    /// DHCPv6 message we do not answer (wrong server ID, RELEASE, …).
    Dhcpv6Ignored => "dhcpv6-ignored",
    /// A built-in service or protocol handler disabled by configuration.
    Disabled => "disabled",
    /// No handler for this traffic yet in this build (counted rather than silently lost).
    NoHandler => "no-handler",
    /// A TCP segment for no known connection (answered with RST unless it was one).
    TcpNoConnection => "tcp-no-connection",
    /// A TCP segment outside the acceptable window, or an unexpected control flag.
    TcpOutOfWindow => "tcp-out-of-window",
    /// The flow table is full: the new flow is refused.
    FlowTableFull => "flow-table-full",
    /// The host refused to create a socket (EMFILE, EACCES, …): the flow is refused.
    HostSocketFailed => "host-socket-failed",
    /// A socket event for a `SockRef` whose slot has since been reused or freed.
    StaleSockRef => "stale-sockref",
    /// The transmit buffer lent by the shim is too small for a reply.
    TxBufferTooSmall => "tx-buffer-too-small",
    /// The host socket did not take a datagram (full send buffer, unreachable
    /// destination): the datagram is lost, as it would be on a network.
    UdpSendFailed => "udp-send-failed",
    /// A datagram from the host too large for a frame to the guest.
    DatagramTooBig => "datagram-too-big",
    /// The host forbids ping sockets (`net.ipv4.ping_group_range`): echo requests
    /// cannot be proxied.
    PingForbidden => "ping-forbidden",
    /// An ICMP echo request the ping socket did not take.
    PingSendFailed => "ping-send-failed",
    /// A listener whose `accept()` failed could not be remembered for a retry (too
    /// many listeners failing at once): its queued connections wait for the next one.
    AcceptRetryFull => "accept-retry-full",
}

/// What a connection we gave up on was waiting for from the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    /// Its part of the handshake (SYN-ACK, or the ACK of ours).
    Handshake,
    /// An answer to a keep-alive probe of a half-closed connection.
    KeepAlive,
    /// An answer to a probe of its closed window.
    WindowProbe,
    /// An acknowledgement of data or FIN we (re)sent.
    Acknowledgement,
}

impl Unanswered {
    /// A short name for logs.
    pub const fn name(self) -> &'static str {
        match self {
            Unanswered::Handshake => "handshake segments",
            Unanswered::KeepAlive => "keep-alive probes",
            Unanswered::WindowProbe => "zero-window probes",
            Unanswered::Acknowledgement => "retransmissions",
        }
    }
}

/// A TCP connection given up on because the guest stopped answering, as it stood then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpTimeout {
    /// The guest's end.
    pub guest: core::net::SocketAddr,
    /// The address and port the guest connected to (or was connected from).
    pub remote: core::net::SocketAddr,
    /// What went unanswered.
    pub unanswered: Unanswered,
    /// How many times we tried.
    pub tries: u8,
    /// The guest's last advertised receive window, in bytes (1 while we probe a
    /// closed one).
    pub guest_window: u32,
    /// Bytes sent to the guest and not acknowledged.
    pub in_flight: u32,
    /// The window we advertised to the guest.
    pub window_to_guest: u32,
}

/// Counters kept by the engine. Plain integers: cheap to copy out and compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Frames received from the tap side.
    pub frames_in: u64,
    /// Frames emitted toward the tap side.
    pub frames_out: u64,
    /// Frames answered by a built-in service (ARP, DHCP, NDP, DHCPv6).
    pub service_replies: u64,
    /// Frames the host failed to send to the guest (full tap queue, link down).
    pub tx_errors: u64,
    /// TCP connections created (either direction; spliced ones included).
    pub tcp_opened: u64,
    /// TCP connections torn down.
    pub tcp_closed: u64,
    /// Connections (or attempts) of the guest's that we reset: refused, aborted. The
    /// RSTs answering segments of no connection are counted as drops instead.
    pub tcp_resets_sent: u64,
    /// Retransmission timeouts toward the guest.
    pub tcp_retransmits: u64,
    /// Fast retransmits after three duplicate ACKs from the guest.
    pub tcp_fast_retransmits: u64,
    /// Guest segments that arrived after a gap (not kept; the guest retransmits).
    pub tcp_out_of_order: u64,
    /// Guest data the host socket could not take at once.
    pub tcp_send_blocked: u64,
    /// Host connections that failed (refused, unreachable, reset).
    pub tcp_host_errors: u64,
    /// Connections refused with a reset because the flow table was full: guest SYNs
    /// answered with RST, and host connections accepted on a forwarded port and reset.
    pub tcp_refused: u64,
    /// `accept()` on a forwarded port failed (out of descriptors or memory) and was
    /// retried later.
    pub tcp_accept_failures: u64,
    /// Connections reset because the guest stopped answering.
    pub tcp_timeouts: u64,
    /// The last of those, as it stood when we gave up (for the log).
    pub last_tcp_timeout: Option<TcpTimeout>,
    /// Payload bytes sent to the guest over TCP.
    pub tcp_bytes_to_guest: u64,
    /// Connections joined socket to socket (pasta's loopback bypass).
    pub tcp_spliced: u64,
    /// Bytes moved by spliced connections.
    pub tcp_bytes_spliced: u64,
    /// UDP flows created (either direction).
    pub udp_opened: u64,
    /// UDP flows torn down (idle timeout, socket error, link down).
    pub udp_closed: u64,
    /// Datagrams the guest sent that a host socket took.
    pub udp_datagrams_to_host: u64,
    /// Datagrams sent to the guest.
    pub udp_datagrams_to_guest: u64,
    /// Of the frames to the guest, those carrying a run of datagrams the link cuts
    /// apart (UDP segmentation offload).
    pub udp_runs_to_guest: u64,
    /// UDP flows joined socket to socket (pasta's loopback bypass).
    pub udp_spliced: u64,
    /// Datagrams moved by spliced UDP flows (either way).
    pub udp_datagrams_spliced: u64,
    /// ICMP echo flows created.
    pub ping_opened: u64,
    /// ICMP echo flows torn down.
    pub ping_closed: u64,
    /// Echo requests handed to a ping socket.
    pub echo_requests: u64,
    /// Echo replies sent to the guest.
    pub echo_replies: u64,
    drops: [u64; DropReason::COUNT],
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            frames_in: 0,
            frames_out: 0,
            service_replies: 0,
            tx_errors: 0,
            tcp_opened: 0,
            tcp_closed: 0,
            tcp_resets_sent: 0,
            tcp_retransmits: 0,
            tcp_fast_retransmits: 0,
            tcp_out_of_order: 0,
            tcp_send_blocked: 0,
            tcp_host_errors: 0,
            tcp_refused: 0,
            tcp_accept_failures: 0,
            tcp_timeouts: 0,
            last_tcp_timeout: None,
            tcp_bytes_to_guest: 0,
            tcp_spliced: 0,
            tcp_bytes_spliced: 0,
            udp_opened: 0,
            udp_closed: 0,
            udp_datagrams_to_host: 0,
            udp_datagrams_to_guest: 0,
            udp_runs_to_guest: 0,
            udp_spliced: 0,
            udp_datagrams_spliced: 0,
            ping_opened: 0,
            ping_closed: 0,
            echo_requests: 0,
            echo_replies: 0,
            drops: [0; DropReason::COUNT],
        }
    }
}

impl Stats {
    /// Count one discarded input.
    pub fn record_drop(&mut self, reason: DropReason) {
        let slot = &mut self.drops[reason as usize];
        *slot = slot.saturating_add(1);
    }

    /// How many inputs were dropped for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// All drops, whatever the reason.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// `(reason, count)` for every reason with a non-zero count.
    pub fn nonzero_drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|r| (*r, self.drops[*r as usize]))
            .filter(|(_, n)| *n != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_distinct_and_counted() {
        let mut s = Stats::default();
        s.record_drop(DropReason::Ipv4Fragment);
        s.record_drop(DropReason::Ipv4Fragment);
        s.record_drop(DropReason::ArpIgnored);
        assert_eq!(s.drops(DropReason::Ipv4Fragment), 2);
        assert_eq!(s.total_drops(), 3);
        assert_eq!(s.nonzero_drops().count(), 2);
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
            assert!(DropReason::ALL[i + 1..]
                .iter()
                .all(|o| o.name() != r.name()));
        }
    }
}
