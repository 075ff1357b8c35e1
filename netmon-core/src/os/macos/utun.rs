//! Tunnel holders on macOS: a process that opened a utun device holds a kernel control socket
//! of `com.apple.net.utun_control` whose unit names the interface (`utun3`), read through
//! libproc like the socket scan. Only processes netmon may inspect are found (all of them as
//! root; the user's own otherwise).

use super::libproc;
use crate::process::ProcessInfo;
use crate::tunnel::Holder;

/// Every process holding a utun control socket, with its interface.
pub fn holders() -> Vec<Holder> {
    libproc::all_pids()
        .into_iter()
        .flat_map(|pid| {
            let interfaces: Vec<String> = libproc::socket_fds(pid)
                .into_iter()
                .filter_map(|fd| libproc::utun_interface(pid, fd))
                .collect();
            Holder::each(interfaces, || {
                let name = libproc::process_name(pid)?;
                Some(ProcessInfo::new(pid, name, libproc::executable_path(pid)))
            })
        })
        .collect()
}
