// The control side of tunnelling as the datapath reads it: config validation (messages name the
// field), the tunnel route value programRoute writes, and the VXLAN settings programVxlan publishes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, ConfigError, DEFAULT_VXLAN_MAC } from '../../src/control/config.js';
import { routesFromConfig, programRoute, programVxlan, tunnelRoute, routeTypeName } from '../../src/control/routes.js';
import { parseAddress, parsePrefix, type Prefix } from '../../src/wire/addr.js';
import { NodeSettings } from '../../src/datapath/node-settings.js';
import { PrefixTable } from '../../src/tables/prefix.js';
import { PortTable, PORT_KIND_TUNNEL } from '../../src/tables/port-table.js';
import {
  ROUTE_VALUE_WORDS,
  ROUTE_TYPE,
  ROUTE_PORT,
  ROUTE_NEXTHOP,
  ROUTE_AUX,
  ROUTE_INNER_MAC,
  ROUTE_AUX_INNER_MAC,
  ROUTE_TUNNEL,
  TUNNEL_PORT,
} from '../../src/tables/layout.js';
import { formatMac, parseMac } from '../../src/wire/ethernet.js';

const BASE = {
  node: 'n1',
  workers: 1,
  gateway: { ipv4: '198.19.1.1', ipv6: '2001:db8:19:1::1' },
  ports: [
    { name: 'ep1', kind: 'endpoint', netns: 'ep1', ipv4: '198.19.1.10' },
    { name: 'up0', kind: 'uplink', addresses: ['198.18.0.1/24'] },
  ],
};

function cfg(extra: Record<string, unknown>): ReturnType<typeof parseConfig> {
  return parseConfig({ ...BASE, ...extra }, 't');
}

function err(extra: Record<string, unknown>): string {
  try {
    cfg(extra);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.message;
  }
  assert.fail(`accepted ${JSON.stringify(extra)}`);
}

function prefix(s: string): Prefix {
  const p = parsePrefix(s, { allowHostBits: false });
  assert.ok(typeof p !== 'string', s);
  return p;
}

test('vxlan settings: defaults, enabled by a vxlan section or a tunnel route, off otherwise', () => {
  const off = cfg({});
  assert.equal(off.vxlan.enabled, false);
  assert.equal(off.vxlan.vni, 2);
  assert.equal(off.vxlan.port, 8472);
  assert.equal(formatMac(off.vxlan.mac), DEFAULT_VXLAN_MAC);
  const on = cfg({ vxlan: { vni: 0xabcdef, port: 4789, mac: '02:00:00:00:aa:01' } });
  assert.deepEqual(
    [on.vxlan.enabled, on.vxlan.vni, on.vxlan.port, formatMac(on.vxlan.mac)],
    [true, 0xabcdef, 4789, '02:00:00:00:aa:01'],
  );
  assert.equal(cfg({ vxlan: {} }).vxlan.enabled, true);
  const byRoute = cfg({ routes: [{ prefix: '198.19.2.0/24', type: 'tunnel', remote: '198.18.0.2', port: 'up0' }] });
  assert.equal(byRoute.vxlan.enabled, true);
  assert.equal(byRoute.routes[0].type, 'tunnel');
});

test('config errors name the field', () => {
  const t = (r: Record<string, unknown>): string =>
    err({ routes: [{ prefix: '198.19.2.0/24', type: 'tunnel', port: 'up0', remote: '198.18.0.2', ...r }] });
  assert.match(
    err({ routes: [{ prefix: '198.19.2.0/24', type: 'tunnel', port: 'up0' }] }),
    /routes\[0\]\.remote: a tunnel route needs the remote VTEP's underlay address/,
  );
  assert.match(t({ remote: 'nowhere' }), /routes\[0\]\.remote: "nowhere" is not an IPv4 or IPv6 address/);
  assert.match(t({ remote: '2001:db8:18::2' }), /routes\[0\]\.remote: uplink "up0" has no IPv6 address to send from/);
  assert.match(t({ via: '198.18.0.254' }), /routes\[0\]\.via: a tunnel route takes remote/);
  assert.match(t({ port: undefined }), /routes\[0\]\.port: a tunnel route needs the uplink port/);
  assert.match(
    t({ port: 'ep1' }),
    /routes\[0\]\.port: tunnel routes leave through an uplink port; "ep1" is of kind endpoint/,
  );
  assert.match(t({ port: 'nope' }), /routes\[0\]\.port: no port named "nope"/);
  assert.match(t({ innerMac: 'zz' }), /routes\[0\]\.innerMac: "zz" is not a MAC address/);
  assert.match(t({ innerMac: '01:00:5e:00:00:01' }), /routes\[0\]\.innerMac: .* group \(multicast\) address/);
  assert.match(
    err({ routes: [{ prefix: '198.19.2.0/24', via: '198.18.0.254', port: 'up0', innerMac: '02:00:00:00:00:01' }] }),
    /routes\[0\]\.innerMac: only tunnel routes take innerMac/,
  );
  assert.match(
    err({ routes: [{ prefix: '198.19.2.0/24', via: '198.18.0.254', port: 'up0', remote: '198.18.0.2' }] }),
    /routes\[0\]\.remote: only tunnel routes take remote/,
  );
  assert.match(
    err({ routes: [{ prefix: '198.19.2.0/24', type: 'tunnell' }] }),
    /routes\[0\]\.type: "tunnell" is not one of via, connected, blackhole, unreachable, tunnel/,
  );
  assert.match(err({ vxlan: { vni: 1 << 24 } }), /t: vxlan\.vni: must be an integer in 0\.\.16777215/);
  assert.match(err({ vxlan: { port: 0 } }), /t: vxlan\.port: must be an integer in 1\.\.65535/);
  assert.match(err({ vxlan: { mac: 'ff:ff:ff:ff:ff:ff' } }), /t: vxlan\.mac: .* group/);
  assert.match(err({ vxlan: { vnid: 2 } }), /t: vxlan\.vnid: unknown field \(expected one of: vni, port, mac\)/);
  assert.match(err({ vxlan: 7 }), /t: vxlan: must be a mapping/);
});

test("programRoute: a tunnel route's value words, with and without an inner MAC", () => {
  const c = cfg({
    routes: [
      { prefix: '198.19.2.0/24', type: 'tunnel', remote: '198.18.0.2', port: 'up0', innerMac: '02:00:00:00:02:01' },
      { prefix: '2001:db8:19:3::/64', type: 'tunnel', remote: '198.18.0.3', port: 'up0' },
    ],
  });
  const table = PrefixTable.create({ capacity: 64, valueWords: ROUTE_VALUE_WORDS });
  for (const r of routesFromConfig(c)) programRoute(table, r);
  const v = new Int32Array(ROUTE_VALUE_WORDS);
  assert.equal(table.lookup(4, parseAddress('198.19.2.7')!.bytes, 0, v), 24);
  assert.deepEqual(
    [...v],
    [
      ROUTE_TUNNEL,
      1,
      (198 << 24) | (18 << 16) | 2,
      0,
      0,
      0,
      4 | ROUTE_AUX_INNER_MAC | (0x02 << 24) | (0x01 << 16),
      0x02000000,
    ],
  );
  assert.equal(routeTypeName(v[ROUTE_TYPE]), 'tunnel');
  assert.equal(table.lookup(6, parseAddress('2001:db8:19:3::9')!.bytes, 0, v), 64);
  assert.equal(v[ROUTE_TYPE], ROUTE_TUNNEL);
  assert.equal(v[ROUTE_PORT], 1);
  assert.equal(v[ROUTE_NEXTHOP], (198 << 24) | (18 << 16) | 3);
  assert.equal(v[ROUTE_AUX], 4, 'IPv4 underlay, no inner MAC');
  assert.equal(v[ROUTE_INNER_MAC], 0);
  // The cluster code's entry point: an IPv6 underlay.
  programRoute(
    table,
    tunnelRoute(prefix('198.19.9.0/24'), parseAddress('2001:db8:18::9')!, 1, parseMac('02:00:00:00:09:01')),
  );
  assert.equal(table.lookup(4, parseAddress('198.19.9.1')!.bytes, 0, v), 24);
  assert.deepEqual(
    [v[ROUTE_NEXTHOP], v[ROUTE_NEXTHOP + 3], v[ROUTE_AUX] & 0xffff],
    [0x20010db8, 9, 6 | ROUTE_AUX_INNER_MAC],
  );
  assert.throws(
    () => programRoute(table, { prefix: prefix('198.19.8.0/24'), type: ROUTE_TUNNEL, port: 1 }),
    /no remote VTEP address/,
  );
  assert.throws(
    () =>
      programRoute(
        table,
        tunnelRoute(prefix('198.19.8.0/24'), parseAddress('198.18.0.8')!, 1, parseMac('01:00:00:00:00:01')),
      ),
    /unicast/,
  );
});

test('programVxlan publishes the tunnel pseudo-port and the shared settings, and takes them back', () => {
  const ports = PortTable.create();
  const settings = NodeSettings.create();
  const c = cfg({ vxlan: { vni: 77, port: 4789 } });
  const worker = NodeSettings.attach(settings.sab);
  assert.equal(worker.vxlanEnabled(), false);
  programVxlan(ports, settings, c.vxlan, c.gateway);
  assert.deepEqual([worker.vxlanEnabled(), worker.vxlanVni(), worker.vxlanPort()], [true, 77, 4789]);
  assert.ok(ports.active(TUNNEL_PORT));
  assert.equal(ports.kind(TUNNEL_PORT), PORT_KIND_TUNNEL);
  assert.equal(formatMac(ports.bytes, ports.macOff(TUNNEL_PORT)), DEFAULT_VXLAN_MAC);
  assert.deepEqual(
    [...ports.bytes.subarray(ports.ipv4Off(TUNNEL_PORT), ports.ipv4Off(TUNNEL_PORT) + 4)],
    [198, 19, 1, 1],
    'answers as the gateway',
  );
  programVxlan(ports, settings, { ...c.vxlan, enabled: false }, c.gateway);
  assert.equal(worker.vxlanEnabled(), false);
  assert.ok(!ports.active(TUNNEL_PORT));
  assert.throws(() => settings.setVxlan(true, -1, 8472), RangeError);
});
