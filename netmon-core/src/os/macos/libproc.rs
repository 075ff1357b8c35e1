//! Safe wrappers over the libproc calls netmon uses, and the `<sys/proc_info.h>` structures they
//! fill.
//!
//! The functions (`proc_listallpids`, `proc_pidinfo`, `proc_pidfdinfo`, `proc_pidpath`,
//! `proc_name`) and `proc_fdinfo` are declared by the `libc` crate. The socket structures are
//! not, so they are mirrored here from xnu's `bsd/sys/proc_info.h` (the header shipped in the
//! macOS SDK as `<sys/proc_info.h>`), field for field, with the offsets asserted at compile
//! time. Only the prefix netmon reads is typed; the protocol union is padded to the size of its
//! largest member (`un_sockinfo`, 528 bytes), and the kernel accepts any buffer at least as
//! large as its own structure.

use std::ffi::{c_int, c_void};
use std::mem::{offset_of, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `PROC_PIDFDSOCKETINFO`: `proc_pidfdinfo` flavor returning a `socket_fdinfo`.
const PROC_PIDFDSOCKETINFO: c_int = 3;
/// `PROC_PIDPATHINFO_MAXSIZE` (4 × MAXPATHLEN).
const PATH_MAX_SIZE: usize = 4096;
/// `2 × MAXCOMLEN + 1`: room for `proc_name`'s answer.
const NAME_MAX_SIZE: usize = 33;
/// `socket_info.soi_kind` values (`SOCKINFO_IN`, `SOCKINFO_TCP`).
const SOCKINFO_IN: c_int = 1;
const SOCKINFO_TCP: c_int = 2;
/// `SOCKINFO_KERN_CTL`: a kernel control socket (`PF_SYSTEM`), such as a utun device's.
const SOCKINFO_KERN_CTL: c_int = 6;
/// `MAX_KCTL_NAME`.
const MAX_KCTL_NAME: usize = 96;
/// The kernel control that utun devices are opened through.
const UTUN_CONTROL: &[u8] = b"com.apple.net.utun_control";
/// `in_sockinfo.insi_vflag` bits.
const INI_IPV4: u8 = 0x1;
const INI_IPV6: u8 = 0x2;

/// `struct proc_fileinfo`.
#[repr(C)]
#[derive(Clone, Copy)]
struct ProcFileInfo {
    fi_openflags: u32,
    fi_status: u32,
    fi_offset: i64,
    fi_type: i32,
    fi_guardflags: u32,
}

/// `struct sockbuf_info`.
#[repr(C)]
#[derive(Clone, Copy)]
struct SockbufInfo {
    sbi_cc: u32,
    sbi_hiwat: u32,
    sbi_mbcnt: u32,
    sbi_mbmax: u32,
    sbi_lowat: u32,
    sbi_flags: i16,
    sbi_timeo: i16,
}

/// `struct in_sockinfo`. Ports are in network byte order in the low 16 bits; addresses are
/// `in4in6_addr` (12 bytes of padding, then the IPv4 address) or `in6_addr`, in network order.
#[repr(C)]
#[derive(Clone, Copy)]
struct InSockInfo {
    insi_fport: c_int,
    insi_lport: c_int,
    insi_gencnt: u64,
    insi_flags: u32,
    insi_flow: u32,
    insi_vflag: u8,
    insi_ip_ttl: u8,
    rfu_1: u32,
    insi_faddr: [u8; 16],
    insi_laddr: [u8; 16],
    /// `insi_v4` (1 byte) and `insi_v6` (12 bytes, 4-aligned) with their padding.
    insi_v4_v6: [u32; 4],
}

/// `struct kern_ctl_info`: a kernel control socket's control and unit.
#[repr(C)]
#[derive(Clone, Copy)]
struct KernCtlInfo {
    kcsi_id: u32,
    kcsi_reg_unit: u32,
    kcsi_flags: u32,
    kcsi_recvbufsize: u32,
    kcsi_sendbufsize: u32,
    kcsi_unit: u32,
    kcsi_name: [u8; MAX_KCTL_NAME],
}

/// `union soi_proto`: `in_sockinfo` is the prefix of `tcp_sockinfo`, so it is read for both
/// `SOCKINFO_IN` and `SOCKINFO_TCP`; `pri_kern_ctl` for `SOCKINFO_KERN_CTL`; `reserve` sizes
/// the union like its largest member.
#[repr(C)]
#[derive(Clone, Copy)]
union SocketProto {
    pri_in: InSockInfo,
    pri_kern_ctl: KernCtlInfo,
    reserve: [u64; 66],
}

/// `struct socket_info`.
#[repr(C)]
#[derive(Clone, Copy)]
struct SocketInfo {
    soi_stat: libc::vinfo_stat,
    soi_so: u64,
    soi_pcb: u64,
    soi_type: c_int,
    soi_protocol: c_int,
    soi_family: c_int,
    soi_options: i16,
    soi_linger: i16,
    soi_state: i16,
    soi_qlen: i16,
    soi_incqlen: i16,
    soi_qlimit: i16,
    soi_timeo: i16,
    soi_error: u16,
    soi_oobmark: u32,
    soi_rcv: SockbufInfo,
    soi_snd: SockbufInfo,
    soi_kind: c_int,
    rfu_1: u32,
    soi_proto: SocketProto,
}

/// `struct socket_fdinfo`: what `proc_pidfdinfo(PROC_PIDFDSOCKETINFO)` fills.
#[repr(C)]
#[derive(Clone, Copy)]
struct SocketFdInfo {
    pfi: ProcFileInfo,
    psi: SocketInfo,
}

// The layout above, checked against the offsets that follow from `<sys/proc_info.h>`.
const _: () = {
    assert!(size_of::<ProcFileInfo>() == 24);
    assert!(size_of::<libc::vinfo_stat>() == 136);
    assert!(size_of::<SockbufInfo>() == 24);
    assert!(size_of::<InSockInfo>() == 80);
    assert!(size_of::<KernCtlInfo>() == 120);
    assert!(offset_of!(KernCtlInfo, kcsi_name) == 24);
    assert!(offset_of!(InSockInfo, insi_faddr) == 32);
    assert!(offset_of!(InSockInfo, insi_laddr) == 48);
    assert!(size_of::<SocketProto>() == 528);
    assert!(offset_of!(SocketInfo, soi_protocol) == 156);
    assert!(offset_of!(SocketInfo, soi_rcv) == 184);
    assert!(offset_of!(SocketInfo, soi_kind) == 232);
    assert!(offset_of!(SocketInfo, soi_proto) == 240);
    assert!(size_of::<SocketFdInfo>() == 792);
};

/// An internet socket read from a process's descriptor table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InetSocket {
    /// IP protocol number (`soi_protocol`).
    pub protocol: u8,
    pub local: SocketAddr,
    /// `None` when the socket has no peer (listening, unconnected UDP).
    pub remote: Option<SocketAddr>,
}

/// Every PID on the system (empty if the call fails).
pub fn all_pids() -> Vec<u32> {
    // SAFETY: a null buffer of size 0 asks only for the number of processes.
    let count = unsafe { libc::proc_listallpids(std::ptr::null_mut(), 0) };
    // Room for processes started between the two calls.
    let room = usize::try_from(count)
        .unwrap_or_default()
        .saturating_add(64);
    let mut pids = vec![0 as libc::pid_t; room];
    let bytes = c_int::try_from(room * size_of::<libc::pid_t>()).unwrap_or(c_int::MAX);
    // SAFETY: `pids` is writable for `bytes` bytes; the call writes at most that many and
    // returns how many PIDs it wrote.
    let written = unsafe { libc::proc_listallpids(pids.as_mut_ptr().cast::<c_void>(), bytes) };
    pids.truncate(usize::try_from(written).unwrap_or_default().min(room));
    pids.into_iter()
        .filter_map(|pid| u32::try_from(pid).ok())
        .filter(|&pid| pid > 0)
        .collect()
}

/// The socket descriptors of a process (empty if it exited or may not be read).
pub fn socket_fds(pid: u32) -> Vec<i32> {
    let Ok(pid) = c_int::try_from(pid) else {
        return Vec::new();
    };
    // SAFETY: a null buffer asks for the size the descriptor list needs, in bytes.
    let needed =
        unsafe { libc::proc_pidinfo(pid, libc::PROC_PIDLISTFDS, 0, std::ptr::null_mut(), 0) };
    let entry = size_of::<libc::proc_fdinfo>();
    let room = usize::try_from(needed).unwrap_or_default() / entry + 16;
    let mut fds: Vec<libc::proc_fdinfo> = (0..room)
        .map(|_| libc::proc_fdinfo {
            proc_fd: 0,
            proc_fdtype: 0,
        })
        .collect();
    let bytes = c_int::try_from(room * entry).unwrap_or(c_int::MAX);
    // SAFETY: `fds` is writable for `bytes` bytes of `proc_fdinfo` entries; the call returns
    // how many bytes it wrote.
    let written = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDLISTFDS,
            0,
            fds.as_mut_ptr().cast::<c_void>(),
            bytes,
        )
    };
    fds.truncate(usize::try_from(written).unwrap_or_default() / entry);
    let socket_type = u32::try_from(libc::PROX_FDTYPE_SOCKET).unwrap_or(u32::MAX);
    fds.into_iter()
        .filter(|fd| fd.proc_fdtype == socket_type)
        .map(|fd| fd.proc_fd)
        .collect()
}

/// The `socket_fdinfo` of descriptor `fd` of process `pid`, if it is a socket.
fn socket_info(pid: u32, fd: i32) -> Option<SocketFdInfo> {
    let pid = c_int::try_from(pid).ok()?;
    // SAFETY: every field of `SocketFdInfo` is a plain integer (or an array or union of them),
    // for which all-zero bytes are a valid value.
    let mut info: SocketFdInfo = unsafe { std::mem::zeroed() };
    let size = c_int::try_from(size_of::<SocketFdInfo>()).ok()?;
    // SAFETY: `info` is writable for `size` bytes; the kernel writes at most that many and
    // returns how many it wrote.
    let written = unsafe {
        libc::proc_pidfdinfo(
            pid,
            fd,
            PROC_PIDFDSOCKETINFO,
            (&raw mut info).cast::<c_void>(),
            size,
        )
    };
    (written >= size).then_some(info)
}

/// The utun interface (`utun3`) whose control socket is descriptor `fd` of process `pid`, if
/// it is one: utun unit N is control unit N + 1.
pub fn utun_interface(pid: u32, fd: i32) -> Option<String> {
    let info = socket_info(pid, fd)?;
    if info.psi.soi_kind != SOCKINFO_KERN_CTL {
        return None;
    }
    // SAFETY: for SOCKINFO_KERN_CTL the union holds a `kern_ctl_info`, and any bytes are a
    // valid `KernCtlInfo` (plain integers and bytes).
    let control = unsafe { info.psi.soi_proto.pri_kern_ctl };
    let name = control.kcsi_name.split(|byte| *byte == 0).next()?;
    (name == UTUN_CONTROL)
        .then(|| control.kcsi_unit.checked_sub(1))
        .flatten()
        .map(|unit| format!("utun{unit}"))
}

/// The internet socket behind descriptor `fd` of process `pid`, if it is one.
pub fn inet_socket(pid: u32, fd: i32) -> Option<InetSocket> {
    let info = socket_info(pid, fd)?;
    let socket = &info.psi;
    if !matches!(socket.soi_kind, SOCKINFO_IN | SOCKINFO_TCP) {
        return None;
    }
    // SAFETY: for SOCKINFO_IN and SOCKINFO_TCP the union holds an `in_sockinfo` prefix, and any
    // bytes are a valid `InSockInfo` (plain integers).
    let inet = unsafe { socket.soi_proto.pri_in };
    let protocol = u8::try_from(socket.soi_protocol).ok()?;
    let local = SocketAddr::new(
        address(inet.insi_vflag, inet.insi_laddr)?,
        port(inet.insi_lport),
    );
    let remote = SocketAddr::new(
        address(inet.insi_vflag, inet.insi_faddr)?,
        port(inet.insi_fport),
    );
    let connected = !remote.ip().is_unspecified() || remote.port() != 0;
    Some(InetSocket {
        protocol,
        local,
        remote: connected.then_some(remote),
    })
}

/// The executable path of a process.
pub fn executable_path(pid: u32) -> Option<String> {
    let pid = c_int::try_from(pid).ok()?;
    let mut buffer = vec![0u8; PATH_MAX_SIZE];
    let size = u32::try_from(buffer.len()).ok()?;
    // SAFETY: `buffer` is writable for `size` bytes; the call returns the path's length.
    let length = unsafe { libc::proc_pidpath(pid, buffer.as_mut_ptr().cast::<c_void>(), size) };
    text(&buffer, length)
}

/// A process's name (`p_name`, up to 32 characters).
pub fn process_name(pid: u32) -> Option<String> {
    let pid = c_int::try_from(pid).ok()?;
    let mut buffer = [0u8; NAME_MAX_SIZE];
    let size = u32::try_from(buffer.len()).ok()?;
    // SAFETY: `buffer` is writable for `size` bytes; the call returns the name's length.
    let length = unsafe { libc::proc_name(pid, buffer.as_mut_ptr().cast::<c_void>(), size) };
    text(&buffer, length)
}

/// The first `length` bytes of `buffer` as text, if the call succeeded.
fn text(buffer: &[u8], length: c_int) -> Option<String> {
    let length = usize::try_from(length).ok().filter(|&length| length > 0)?;
    let bytes = buffer.get(..length)?;
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// A port: the kernel copies the `in_port_t` (network byte order) into an `int`.
fn port(raw: c_int) -> u16 {
    u16::from_be(u16::try_from(raw & 0xffff).unwrap_or_default())
}

/// The address of an `in_sockinfo` field, by its `insi_vflag`.
fn address(vflag: u8, raw: [u8; 16]) -> Option<IpAddr> {
    if vflag & INI_IPV4 != 0 {
        let v4: [u8; 4] = raw.get(12..16)?.try_into().ok()?;
        Some(IpAddr::V4(Ipv4Addr::from(v4)))
    } else if vflag & INI_IPV6 != 0 {
        Some(IpAddr::V6(Ipv6Addr::from(raw)))
    } else {
        None
    }
}
