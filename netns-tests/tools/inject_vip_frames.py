#!/usr/bin/python3
# Hostile and unusual frames to a VIP, sent with scapy; prints what each must count as.
#   inject_vip_frames.py IFACE LB_MAC VIP COUNT
import json, sys
from scapy.all import Ether, IP, UDP, Raw, sendp, get_if_hwaddr, conf

conf.verb = 0
iface, lbmac, vip, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
eth = Ether(dst=lbmac, src=get_if_hwaddr(iface))
src = '198.18.0.100'
cases = [
    # A later fragment carries no ports: Cilium drops it without fragment tracking; so do we.
    ('dropLbFragment', eth / IP(src=src, dst=vip, proto=17, frag=10, flags=0) / Raw(b'x' * 40)),
    # Fewer than 4 bytes of UDP: no ports to balance on.
    ('dropL4Truncated', eth / IP(src=src, dst=vip, proto=17) / Raw(b'\x9c\x40')),
    # Ports present but a UDP header cut short.
    ('dropL4Truncated', eth / IP(src=src, dst=vip, proto=17) / Raw(b'\x9c\x40\x00\x35\x00')),
    # SCTP to the VIP is not a service: routed as usual, and the LB has no route to the VIP.
    ('dropNoRoute', eth / IP(src=src, dst=vip, proto=132) / Raw(b'y' * 20)),
]
balanced = [
    # IP options and a first fragment with a full UDP header are balanced like any datagram.
    eth / IP(src=src, dst=vip, options=b'\x01\x01\x01\x00') / UDP(sport=40100, dport=53) / Raw(b'q'),
    eth / IP(src=src, dst=vip, flags='MF', id=7) / UDP(sport=40101, dport=53, len=200) / Raw(b'q' * 64),
]
expected = {}
for name, f in cases:
    expected[name] = expected.get(name, 0) + count
    sendp([f] * count, iface=iface)
sendp(balanced * count, iface=iface)
expected['lbForwarded'] = 2 * count
print(json.dumps(expected))
