//! Link-layer header types, as numbered by tcpdump.org's LINKTYPE_
//! registry (what pcap and pcapng files and libpcap name), and their names
//! in reports.

use super::LinkType;

pub(crate) const NULL: LinkType = 0;
pub(crate) const ETHERNET: LinkType = 1;
/// Raw IP as some BSDs number it in files.
pub(crate) const RAW_BSD_12: LinkType = 12;
pub(crate) const RAW_BSD_14: LinkType = 14;
pub(crate) const RAW: LinkType = 101;
pub(crate) const LOOP: LinkType = 108;
pub(crate) const LINUX_SLL: LinkType = 113;
pub(crate) const IPV4: LinkType = 228;
pub(crate) const IPV6: LinkType = 229;
pub(crate) const LINUX_SLL2: LinkType = 276;
/// Not a link type: a pcapng interface past
/// [`MAX_INTERFACES`](crate::capture::MAX_INTERFACES), not kept.
pub(crate) const NOT_KEPT: LinkType = -1;

/// A short name for reports.
pub fn name(link: LinkType) -> String {
    match link {
        NOT_KEPT => "interface past the description limit".into(),
        NULL => "NULL".into(),
        ETHERNET => "ETHERNET".into(),
        RAW | RAW_BSD_12 | RAW_BSD_14 => "RAW".into(),
        LOOP => "LOOP".into(),
        LINUX_SLL => "LINUX_SLL".into(),
        IPV4 => "IPV4".into(),
        IPV6 => "IPV6".into(),
        LINUX_SLL2 => "LINUX_SLL2".into(),
        other => format!("LINKTYPE_{other}"),
    }
}
