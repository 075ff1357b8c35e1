//! The live connections of a tracker fed packets as the monitor feeds them: who owns each open
//! flow, its name and provenance, its rates and bytes so far, closing, and the bound.

use std::time::{Duration, Instant};

use super::connections::{Connections, LiveConnections, MAX_CONNECTIONS, REFRESH};
use super::tests::{key, machine, tcp, tracker, udp, FakeOwners};
use super::Tracker;
use crate::domains::{DnsAnswer, Naming};
use crate::packet::{PacketMeta, TcpFlags, Transport};
use crate::sample::Provenance;

fn feed(tracker: &mut Tracker, packet: PacketMeta, now: Instant) {
    let placement = machine().place(&packet);
    tracker.record(&packet, placement, now);
}

fn with_flags(mut packet: PacketMeta, fin: bool, rst: bool) -> PacketMeta {
    if let Transport::Tcp { flags, .. } = &mut packet.transport {
        *flags = TcpFlags {
            fin,
            rst,
            ack: true,
            syn: false,
        };
    }
    packet
}

/// A tracker over `owners` that publishes its connections, and where it publishes them.
fn publishing(owners: &FakeOwners) -> (Tracker, LiveConnections) {
    let live = LiveConnections::default();
    (tracker(owners).with_connections(live.clone()), live)
}

/// Publishes at `now` (a snapshot is due) and returns it.
fn publish(tracker: &mut Tracker, live: &LiveConnections, now: Instant) -> Connections {
    tracker.attribute(now);
    tracker.publish_connections(now, 1_000);
    (*live.latest()).clone()
}

#[test]
fn open_flows_show_their_process_name_rates_and_bytes_and_go_when_closed() {
    let owners = FakeOwners::default();
    owners.open(key("10.0.0.2:5000", "192.0.2.7:443"), "firefox");
    owners.open(key("10.0.0.2:5001", "198.51.100.9:22"), "ssh");
    let (mut tracker, live) = publishing(&owners);
    let start = Instant::now();
    let hello = tcp("10.0.0.2:5000", "192.0.2.7:443", 500, true);
    feed(&mut tracker, hello, start);
    tracker.name(
        machine().place(&hello),
        &Naming::Server("www.netflix.com".into()),
    );
    feed(
        &mut tracker,
        tcp("10.0.0.2:5001", "198.51.100.9:22", 100, true),
        start,
    );
    let first = publish(&mut tracker, &live, start);
    assert_eq!(first.open, 2);
    assert_eq!(first.taken_ms, 1_000);

    let later = start + Duration::from_secs(2);
    feed(
        &mut tracker,
        tcp("192.0.2.7:443", "10.0.0.2:5000", 8_000, false),
        later,
    );
    let second = publish(&mut tracker, &live, later);
    let busiest = &second.connections[0];
    assert_eq!(busiest.app, "firefox");
    assert_eq!(busiest.pid, Some(42));
    assert_eq!(busiest.remote_address, "192.0.2.7");
    assert_eq!(busiest.remote_port, 443);
    assert_eq!(busiest.protocol, "tcp");
    assert_eq!(busiest.host.as_deref(), Some("www.netflix.com"));
    assert_eq!(busiest.provenance, Some(Provenance::Sni));
    assert_eq!(
        busiest.received_bytes_per_second, 4_000.0,
        "8000 B over 2 s"
    );
    assert_eq!(busiest.sent_bytes_per_second, 0.0, "nothing sent since");
    assert_eq!((busiest.sent_bytes, busiest.received_bytes), (500, 8_000));
    assert_eq!(busiest.age_seconds, 2);
    let ssh = &second.connections[1];
    assert_eq!(ssh.app, "ssh");
    assert_eq!(
        (ssh.host.clone(), ssh.provenance),
        (None, None),
        "applications not broken down by domain show no hostname"
    );

    let closing = later + REFRESH;
    let fin_out = with_flags(
        tcp("10.0.0.2:5000", "192.0.2.7:443", 40, false),
        true,
        false,
    );
    feed(&mut tracker, fin_out, closing);
    assert_eq!(publish(&mut tracker, &live, closing).open, 2, "half closed");
    let closed = closing + REFRESH;
    let fin_in = with_flags(
        tcp("192.0.2.7:443", "10.0.0.2:5000", 40, false),
        true,
        false,
    );
    feed(&mut tracker, fin_in, closed);
    let reset = with_flags(
        tcp("198.51.100.9:22", "10.0.0.2:5001", 40, false),
        false,
        true,
    );
    feed(&mut tracker, reset, closed);
    let gone = publish(&mut tracker, &live, closed);
    assert_eq!(gone.open, 0, "{gone:?}");
    assert!(gone.connections.is_empty());

    let reused = closed + REFRESH;
    feed(
        &mut tracker,
        tcp("10.0.0.2:5000", "192.0.2.7:443", 60, true),
        reused,
    );
    let again = publish(&mut tracker, &live, reused);
    assert_eq!(
        again.open, 1,
        "a new connection on the same port is open again"
    );
    assert_eq!(again.connections[0].sent_bytes, 60, "and counts from zero");
    assert_eq!(
        again.connections[0].provenance,
        Some(Provenance::Unresolved)
    );
}

#[test]
fn a_flow_whose_dns_answer_is_not_decided_yet_shows_the_answer_of_its_first_packet() {
    let owners = FakeOwners::default();
    owners.open(key("10.0.0.2:5000", "192.0.2.7:443"), "zen");
    let (mut tracker, live) = publishing(&owners);
    let now = Instant::now();
    tracker.learn_answers(&[DnsAnswer {
        ip: "192.0.2.7".parse().unwrap(),
        host: "video.example-cdn.net".into(),
        ttl: 60,
    }]);
    feed(
        &mut tracker,
        tcp("10.0.0.2:5000", "192.0.2.7:443", 60, true),
        now,
    );
    let snapshot = publish(&mut tracker, &live, now);
    let flow = &snapshot.connections[0];
    assert_eq!(flow.host.as_deref(), Some("video.example-cdn.net"));
    assert_eq!(flow.provenance, Some(Provenance::Dns));
}

#[test]
fn thousands_of_flows_keep_the_busiest_and_count_all() {
    let owners = FakeOwners::default();
    let (mut tracker, live) = publishing(&owners);
    let now = Instant::now();
    let flows = 3_000u32;
    (0..flows).for_each(|n| {
        let local = format!("10.0.0.2:{}", 10_000 + n);
        feed(
            &mut tracker,
            tcp("192.0.2.7:443", &local, 100 + n, false),
            now,
        );
    });
    let snapshot = publish(&mut tracker, &live, now);
    assert_eq!(snapshot.open, u64::from(flows));
    assert_eq!(snapshot.connections.len(), MAX_CONNECTIONS);
    let busiest: Vec<u64> = snapshot
        .connections
        .iter()
        .map(|c| c.received_bytes)
        .collect();
    let expected: Vec<u64> = (0..MAX_CONNECTIONS as u64)
        .map(|n| u64::from(100 + flows - 1) - n)
        .collect();
    assert_eq!(busiest, expected, "the busiest, busiest first");
    let taken = snapshot.taken_ms;
    assert_eq!(snapshot.busiest(3, taken).connections.len(), 3);
    assert_eq!(snapshot.busiest(3, taken).open, u64::from(flows));
}

#[test]
fn only_tcp_and_udp_flows_are_connections() {
    let owners = FakeOwners::default();
    let (mut tracker, live) = publishing(&owners);
    let now = Instant::now();
    let icmp = PacketMeta {
        transport: Transport::Other { protocol: 1 },
        ..tcp("192.0.2.7:0", "10.0.0.2:0", 84, false)
    };
    let datagram = udp("192.0.2.7:443", "10.0.0.2:5000", 84);
    feed(&mut tracker, icmp, now);
    feed(&mut tracker, datagram, now);
    let snapshot = publish(&mut tracker, &live, now);
    assert_eq!(snapshot.open, 1);
    assert_eq!(snapshot.connections[0].protocol, "udp");
    let silent = now + super::connections::DATAGRAM_OPEN;
    assert_eq!(
        publish(&mut tracker, &live, silent).open,
        0,
        "a UDP flow silent for 30 s is no longer open"
    );
}

#[test]
fn nothing_is_published_more_than_once_a_second_or_without_a_reader() {
    let owners = FakeOwners::default();
    let (mut tracker, live) = publishing(&owners);
    let now = Instant::now();
    feed(
        &mut tracker,
        tcp("192.0.2.7:443", "10.0.0.2:5000", 100, false),
        now,
    );
    assert_eq!(publish(&mut tracker, &live, now).open, 1);
    feed(
        &mut tracker,
        tcp("192.0.2.7:443", "10.0.0.2:5001", 100, false),
        now,
    );
    let soon = now + Duration::from_millis(300);
    assert_eq!(publish(&mut tracker, &live, soon).open, 1, "not due yet");
    assert_eq!(publish(&mut tracker, &live, now + REFRESH).open, 2);
}

#[test]
fn an_idle_monitor_wakes_for_the_connections_only_when_their_list_would_change() {
    let owners = FakeOwners::default();
    let (mut tracker, live) = publishing(&owners);
    let now = Instant::now();
    let quiet_tcp = tcp("192.0.2.7:443", "10.0.0.2:5000", 100, false);
    let datagram = udp("192.0.2.7:53", "10.0.0.2:5001", 100);
    feed(&mut tracker, quiet_tcp, now);
    feed(&mut tracker, datagram, now);
    assert_eq!(publish(&mut tracker, &live, now).open, 2);
    // Nothing changes until the UDP flow stops counting as open: their rates fall to 0 for
    // the readers (`Connections::busiest`), with no snapshot.
    let udp_open = super::connections::DATAGRAM_OPEN;
    assert_eq!(tracker.connections_due_in(now), Some(udp_open));
    let ended = now + udp_open;
    assert_eq!(publish(&mut tracker, &live, ended).open, 1);
    assert_eq!(
        tracker.connections_due_in(ended),
        None,
        "a quiet TCP flow changes only with a packet"
    );
    // A packet is news: a refresh after the snapshot.
    let packet_at = ended + Duration::from_secs(5);
    feed(&mut tracker, quiet_tcp, packet_at);
    assert_eq!(
        tracker.connections_due_in(packet_at),
        Some(Duration::ZERO),
        "the last snapshot is more than a refresh old"
    );
}
