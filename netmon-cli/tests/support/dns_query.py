"""Asks a DNS server over UDP for a name's A records, offering a 4096-byte EDNS buffer (as
resolvers do), and prints the response's size then each address in the order it arrived.

Usage: dns_query.py SERVER NAME
"""

import socket
import struct
import sys


def encode(name):
    return b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"


def skip_name(message, at):
    while True:
        length = message[at]
        if length == 0:
            return at + 1
        if length & 0xC0 == 0xC0:
            return at + 2
        at += 1 + length


def main():
    server, name = sys.argv[1], sys.argv[2]
    header = struct.pack("!HHHHHH", 0x4E4D, 0x0100, 1, 0, 0, 1)
    question = encode(name) + struct.pack("!HH", 1, 1)
    opt = b"\0" + struct.pack("!HHIH", 41, 4096, 0, 0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(header + question + opt, (server, 53))
        message, _ = sock.recvfrom(65535)
    print(f"size {len(message)}")
    _, flags, questions, answers, _, _ = struct.unpack("!HHHHHH", message[:12])
    if flags & 0x0200:
        sys.exit("the response is truncated (TC): the server did not use the EDNS buffer")
    at = 12
    for _ in range(questions):
        at = skip_name(message, at) + 4
    for _ in range(answers):
        at = skip_name(message, at)
        kind, _, _, length = struct.unpack("!HHIH", message[at : at + 10])
        at += 10
        if kind == 1:
            print(socket.inet_ntoa(message[at : at + length]))
        at += length


main()
