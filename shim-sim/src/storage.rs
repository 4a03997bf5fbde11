//! [`SimStorage`]: the memory a simulated engine borrows, owned in `Vec`s.

use passt_core::engine::{Flow, MAX_FRAME_LEN};
use passt_core::flow::{index_len_for, Slot};
use passt_core::Storage;

/// Flow slots a simulated engine gets unless told otherwise.
pub const DEFAULT_FLOWS: usize = 128;

/// Owned buffers to lend to one engine: the transmit buffer (room for the largest
/// frame) and the flow table's slots and index.
pub struct SimStorage {
    tx: Vec<u8>,
    flows: Vec<Slot<Flow>>,
    flow_index: Vec<u32>,
}

impl SimStorage {
    /// Storage for [`DEFAULT_FLOWS`] flows.
    pub fn new() -> SimStorage {
        SimStorage::with_flows(DEFAULT_FLOWS)
    }

    /// Storage for `flows` flows.
    pub fn with_flows(flows: usize) -> SimStorage {
        SimStorage {
            tx: vec![0; MAX_FRAME_LEN],
            flows: (0..flows).map(|_| Slot::default()).collect(),
            flow_index: vec![0; index_len_for(flows)],
        }
    }

    /// Lend everything to an engine.
    pub fn lend(&mut self) -> Storage<'_> {
        Storage {
            tx: (&mut self.tx[..]).into(),
            flows: (&mut self.flows[..]).into(),
            flow_index: (&mut self.flow_index[..]).into(),
        }
    }
}

impl Default for SimStorage {
    fn default() -> Self {
        SimStorage::new()
    }
}
