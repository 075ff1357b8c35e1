"""A user-space VPN for netmon's end-to-end tests, built like wireguard-go or a macOS VPN app:
it opens a tun device and carries its packets over one UDP socket to its peer, each with a
16-byte header standing in for a real VPN's encryption overhead.

    tunvpn.py TUN_NAME LOCAL_IP:PORT PEER_IP:PORT STATS_FILE

The tun device is created by this process (TUNSETIFF on /dev/net/tun), so it is this process
that holds it, as a VPN does; the test gives the interface its address. STATS_FILE receives,
whenever the tunnel has been idle for 50 ms, the UDP datagrams and payload bytes sent and
received so far as JSON, so the test knows the outer IP bytes: payload + 28 per datagram.
"""

import fcntl
import json
import os
import select
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
HEADER = b"NMVPN" + b"\0" * 11
IDLE_SECONDS = 0.05


def open_tun(name):
    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return tun


def endpoint(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def write_stats(path, stats):
    temporary = path + ".tmp"
    with open(temporary, "w") as out:
        json.dump(stats, out)
    os.replace(temporary, path)


def main():
    name, local, peer, stats_path = sys.argv[1:5]
    tun = open_tun(name)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    udp.bind(endpoint(local))
    udp.connect(endpoint(peer))
    stats = {"sent_datagrams": 0, "sent_bytes": 0, "received_datagrams": 0, "received_bytes": 0}
    written = None
    while True:
        ready, _, _ = select.select([tun, udp], [], [], IDLE_SECONDS)
        if not ready and written != stats:
            write_stats(stats_path, stats)
            written = dict(stats)
        if tun in ready:
            datagram = HEADER + os.read(tun, 65535)
            try:
                udp.send(datagram)
            except OSError:
                continue  # the peer is not up yet: the packet is lost, as on a real link
            stats["sent_datagrams"] += 1
            stats["sent_bytes"] += len(datagram)
        if udp in ready:
            try:
                datagram = udp.recv(65535)
            except OSError:
                continue
            stats["received_datagrams"] += 1
            stats["received_bytes"] += len(datagram)
            if datagram.startswith(HEADER):
                os.write(tun, datagram[len(HEADER):])


if __name__ == "__main__":
    main()
