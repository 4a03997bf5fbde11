//! `dhcpv6` frames (waiting for the core's wire module).

/// A `dhcpv6` frame description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcpv6Spec;

impl Dhcpv6Spec {
    /// Parse the tokens after `dhcpv6`.
    pub fn parse(_t: &[&str]) -> Result<Dhcpv6Spec, String> {
        Err("frame kind 'dhcpv6' is not available yet".into())
    }

    /// Build the frame.
    pub fn build(&self) -> Result<Vec<u8>, String> {
        Err("frame kind 'dhcpv6' is not available yet".into())
    }

    /// Check a frame.
    pub fn check(&self, _frame: &[u8]) -> Result<(), String> {
        Err("frame kind 'dhcpv6' is not available yet".into())
    }
}
