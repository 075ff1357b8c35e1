//! Which messages of a BSD routing socket (`PF_ROUTE`, macOS) announce an interface or address
//! change. Pure, so it is tested off macOS too; the message types are `<net/route.h>`'s, checked
//! against `libc` where it has them.

/// An address added to an interface.
const RTM_NEWADDR: u8 = 0xc;
/// An address removed from an interface.
const RTM_DELADDR: u8 = 0xd;
/// An interface going up or down, or appearing.
const RTM_IFINFO: u8 = 0xe;

#[cfg(target_os = "macos")]
const _: () = assert!(
    RTM_NEWADDR as libc::c_int == libc::RTM_NEWADDR
        && RTM_DELADDR as libc::c_int == libc::RTM_DELADDR
        && RTM_IFINFO as libc::c_int == libc::RTM_IFINFO
);

/// Whether one routing message (as one `recv` returns it) announces an address or interface
/// change. Every message starts with its length (2 bytes), version (1) and type (1); routes
/// resolved or missed (ARP, neighbour discovery), which come often, are not changes.
pub fn announces_change(message: &[u8]) -> bool {
    message
        .get(3)
        .is_some_and(|kind| [RTM_NEWADDR, RTM_DELADDR, RTM_IFINFO].contains(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message header: length, version 5, type, then padding.
    fn message(kind: u8) -> Vec<u8> {
        let mut bytes = vec![0u8; 20];
        bytes[..2].copy_from_slice(&20u16.to_ne_bytes());
        bytes[2] = 5;
        bytes[3] = kind;
        bytes
    }

    #[test]
    fn address_and_interface_messages_are_changes() {
        assert!(announces_change(&message(RTM_NEWADDR)));
        assert!(announces_change(&message(RTM_DELADDR)));
        assert!(announces_change(&message(RTM_IFINFO)));
    }

    #[test]
    fn route_lookups_and_short_reads_are_not() {
        // RTM_ADD (1), RTM_RESOLVE (0xb), RTM_MISS (7), RTM_NEWMADDR (0xf).
        [1, 0xb, 7, 0xf]
            .into_iter()
            .for_each(|kind| assert!(!announces_change(&message(kind)), "{kind}"));
        assert!(!announces_change(&[20, 0, 5]));
        assert!(!announces_change(&[]));
    }
}
