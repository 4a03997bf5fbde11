//! `ndp` frames (waiting for the core's wire module).

/// A `ndp` frame description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NdpSpec;

impl NdpSpec {
    /// Parse the tokens after `ndp`.
    pub fn parse(_t: &[&str]) -> Result<NdpSpec, String> {
        Err("frame kind 'ndp' is not available yet".into())
    }

    /// Build the frame.
    pub fn build(&self) -> Result<Vec<u8>, String> {
        Err("frame kind 'ndp' is not available yet".into())
    }

    /// Check a frame.
    pub fn check(&self, _frame: &[u8]) -> Result<(), String> {
        Err("frame kind 'ndp' is not available yet".into())
    }
}
