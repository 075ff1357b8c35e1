//! Which process owns a flow: each platform answers through [`SocketOwners`] (Linux:
//! `os::linux::sockets`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::flow::FlowKey;
use crate::process::ProcessInfo;

/// A platform's answer to "which process owns the socket of this flow?".
pub trait SocketOwners: Send {
    /// Looks the flows up in the socket tables now; flows whose socket is gone or whose owner
    /// cannot be read are left out of the answer.
    fn lookup(&mut self, flows: &[FlowKey]) -> HashMap<FlowKey, Arc<ProcessInfo>>;
}

/// Answers no flow: for platforms without a socket scan (the capture source may still tag
/// packets with their process).
#[derive(Debug, Default)]
pub struct NoOwners;

impl SocketOwners for NoOwners {
    fn lookup(&mut self, _flows: &[FlowKey]) -> HashMap<FlowKey, Arc<ProcessInfo>> {
        HashMap::new()
    }
}
