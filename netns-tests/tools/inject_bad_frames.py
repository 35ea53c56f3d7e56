#!/usr/bin/python3
# Injects malformed frames into an interface with scapy (AF_PACKET), COUNT of each kind,
# and prints the drop counter each kind must land in as JSON {counter: frames}.
#   inject_bad_frames.py IFACE ROUTER_MAC COUNT
import json, sys
from scapy.all import Ether, IP, IPv6, UDP, ICMP, Raw, Dot1Q, IPv6ExtHdrHopByHop, \
    IPv6ExtHdrDestOpt, sendp, get_if_hwaddr, conf

conf.verb = 0
iface, router, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
me = get_if_hwaddr(iface)
SRC4, DST4, GW4 = '198.19.1.10', '198.19.1.20', '198.19.1.1'
SRC6, DST6 = '2001:db8:19:1::10', '2001:db8:19:1::20'
eth = Ether(dst=router, src=me)

def ip4(**kw):
    return bytearray(bytes(eth / IP(src=SRC4, dst=DST4, **kw) / UDP(sport=1234, dport=5678) / Raw(b'x' * 32)))

def fix_csum(b):
    b[24:26] = b'\0\0'
    s = sum((b[i] << 8) | b[i + 1] for i in range(14, 14 + (b[14] & 15) * 4, 2))
    while s > 0xffff:
        s = (s & 0xffff) + (s >> 16)
    b[24:26] = (~s & 0xffff).to_bytes(2, 'big')
    return b

cases = []
cases.append(('dropIpv4Truncated', bytes(ip4())[:14 + 12]))
b = ip4(); b[24] ^= 0xff; cases.append(('dropIpv4BadChecksum', bytes(b)))
b = ip4(); b[16:18] = (2000).to_bytes(2, 'big'); cases.append(('dropIpv4BadTotalLen', bytes(fix_csum(b))))
b = ip4(); b[14] = 0x44; cases.append(('dropIpv4BadHeaderLen', bytes(b)))
b = ip4(); b[14] = 0x55; cases.append(('dropIpv4BadVersion', bytes(b)))
cases.append(('dropUnknownEthertype', bytes(Ether(dst=router, src=me, type=0x88b5) / Raw(b'\0' * 46))))
cases.append(('dropVlanTagged', bytes(eth / Dot1Q(vlan=7) / IP(src=SRC4, dst=DST4) / UDP())))
cases.append(('dropNotForUs', bytes(Ether(dst='02:00:00:00:00:99', src=me) / IP(src=SRC4, dst=DST4) / UDP())))
cases.append(('dropL4Truncated', bytes(eth / IP(src=SRC4, dst=GW4, proto=1) / Raw(b'\x08\0\0'))))
v6 = bytes(eth / IPv6(src=SRC6, dst=DST6) / UDP(sport=1, dport=2) / Raw(b'y' * 16))
cases.append(('dropIpv6Truncated', v6[:14 + 30]))
b = bytearray(v6); b[18:20] = (900).to_bytes(2, 'big'); cases.append(('dropIpv6BadPayloadLen', bytes(b)))
b = bytearray(v6); b[14] = 0x70; cases.append(('dropIpv6BadVersion', bytes(b)))
# Hop-by-hop after another extension header is forbidden (RFC 8200 §4.1).
cases.append(('dropIpv6BadExtHeader', bytes(eth / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrDestOpt() / IPv6ExtHdrHopByHop() / UDP())))
# An extension header whose length runs past the end of the packet.
b = bytearray(bytes(eth / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrDestOpt() / UDP())); b[54 + 1] = 40
cases.append(('dropIpv6BadExtHeader', bytes(b)))
chain = IPv6(src=SRC6, dst=DST6)
for _ in range(9):
    chain = chain / IPv6ExtHdrDestOpt()
cases.append(('dropIpv6TooManyExtHeaders', bytes(eth / chain / UDP())))

expected = {}
for name, frame in cases:
    expected[name] = expected.get(name, 0) + count
    sendp([Raw(frame)] * count, iface=iface)
# A well-formed extension-header chain is forwarded, not dropped.
sendp([eth / IPv6(src=SRC6, dst=DST6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / UDP(sport=7, dport=7777) / Raw(b'ok')] * count, iface=iface)
print(json.dumps(expected))
