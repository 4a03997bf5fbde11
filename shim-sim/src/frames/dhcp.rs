//! `dhcp` frames (waiting for the core's wire module).

/// A `dhcp` frame description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpSpec;

impl DhcpSpec {
    /// Parse the tokens after `dhcp`.
    pub fn parse(_t: &[&str]) -> Result<DhcpSpec, String> {
        Err("frame kind 'dhcp' is not available yet".into())
    }

    /// Build the frame.
    pub fn build(&self) -> Result<Vec<u8>, String> {
        Err("frame kind 'dhcp' is not available yet".into())
    }

    /// Check a frame.
    pub fn check(&self, _frame: &[u8]) -> Result<(), String> {
        Err("frame kind 'dhcp' is not available yet".into())
    }
}
