// weft status: ask an agent for its status and print it for people (or as JSON).
import { defineCommand } from './runner.js';
import { apiGet } from '../control/api.js';
import type { Status } from '../control/status.js';
import { table } from './common.js';
import { formatEgressStatus } from './egress-command.js';

const USAGE = `Usage: weft status [--api SOCKET] [--node NAME] [--json]

Shows the agent's health, its ports (name, MAC, addresses, MTU, queues, whether TAP offloads
are on and the super-frames in and out) and workers (CPU, frames received / sent / dropped,
and drop reasons by name).

Options:
  --api SOCKET   the agent's API socket (default /run/weft/<node>.sock)
  --node NAME    node name, used for the default socket (default: the only agent running)
  --json         print the raw JSON
  -h, --help     show this help
`;

export function formatStatus(s: Status): string {
  const out: string[] = [];
  out.push(`Node:     ${s.node}`);
  out.push(`Health:   ${s.health}`);
  out.push(`Uptime:   ${s.uptimeSec}s`);
  out.push('');
  out.push('Ports:');
  out.push(
    table([
      ['NAME', 'KIND', 'MAC', 'MTU', 'QUEUES', 'OFFLOADS', 'SUPER IN/OUT', 'NETNS', 'ADDRESSES'],
      ...s.ports.map((p) => [
        p.name,
        p.kind,
        p.mac,
        String(p.mtu),
        String(p.queues),
        p.offloads ? 'on' : 'off',
        p.offloads ? `${p.rxSuperFrames}/${p.txSuperFrames}` : '-',
        p.netns ?? '-',
        p.addresses.join(', '),
      ]),
    ]),
  );
  const t = s.totals;
  if ((t.rxSuperFrames ?? 0) + (t.segmentsMade ?? 0) + (t.checksumsFinished ?? 0) > 0) {
    out.push(
      `Super-frames: ${t.rxSuperFrames ?? 0} in, ${t.txSuperFrames ?? 0} out whole, ` +
        `${t.segmented ?? 0} cut into ${t.segmentsMade ?? 0} segments in software, ` +
        `${t.checksumsFinished ?? 0} checksums finished in software`,
    );
  }
  out.push('');
  out.push('Workers:');
  out.push(
    table([
      ['WORKER', 'CPU', 'STATE', 'RX', 'TX', 'DROPS'],
      ...s.workers.map((w) => [
        String(w.index),
        w.cpu < 0 ? 'any' : String(w.cpu),
        w.alive ? 'running' : 'dead',
        String(w.rx),
        String(w.tx),
        String(w.drops),
      ]),
    ]),
  );
  const reasons = new Map<string, number[]>();
  s.workers.forEach((w, i) => {
    for (const [k, v] of Object.entries(w.dropReasons)) {
      if (!reasons.has(k))
        reasons.set(
          k,
          s.workers.map(() => 0),
        );
      reasons.get(k)![i] = v;
    }
  });
  out.push('');
  if (reasons.size === 0) out.push('Drops:    none');
  else {
    out.push('Drop reasons:');
    out.push(
      table([
        ['REASON', ...s.workers.map((w) => `W${w.index}`)],
        ...[...reasons].map(([k, v]) => [k, ...v.map(String)]),
      ]),
    );
  }
  if (s.nodes) {
    out.push('');
    out.push('Cluster nodes:');
    out.push(
      table([
        ['NODE', 'HEALTH', 'UNDERLAY', 'POD CIDRS'],
        ...s.nodes.map((n) => [
          n.self ? `${n.name} (self)` : n.name,
          n.health,
          n.underlay.join(', '),
          n.podCIDRs.join(', '),
        ]),
      ]),
    );
  }
  out.push('');
  out.push('Tables:');
  out.push(
    table([
      ['TABLE', 'SIZE', 'CAPACITY', 'REFUSED'],
      ...Object.entries(s.tables).map(([k, t]) => [k, String(t.size), String(t.capacity), String(t.full)]),
    ]),
  );
  out.push(...formatEgressStatus(s));
  out.push(...formatWireGuardStatus(s), ...formatRecorderStatus(s));
  return `${out.join('\n')}\n`;
}

/** The WireGuard device, when the agent has one (`wg show <interface>` has the peers). */
function formatWireGuardStatus(s: unknown): string[] {
  const w = (
    s as {
      wireguard?: {
        interface: string;
        publicKey: string;
        listenPort: number;
        peers: number;
        handshakes: number;
        refused: Record<string, number>;
      };
    }
  ).wireguard;
  if (!w) return [];
  const refused = Object.entries(w.refused)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const n = (k: number, word: string): string => `${k} ${word}${k === 1 ? '' : 's'}`;
  return [
    '',
    `WireGuard: ${w.interface} (wg show ${w.interface}), port ${w.listenPort}, ${n(w.peers, 'peer')}, ` +
      `${n(w.handshakes, 'handshake')}, public key ${w.publicKey}${refused ? `; refused: ${refused}` : ''}`,
  ];
}

function formatRecorderStatus(s: unknown): string[] {
  const r = (s as { recorder?: { recordings: number; masks: number; maxMasks: number; filters: number } }).recorder;
  if (!r || r.recordings === 0) return [];
  return [
    '',
    `Recorder: ${r.recordings} recordings, ${r.filters} filters under ${r.masks} masks (at most ${r.maxMasks})`,
  ];
}

export const statusCommand = defineCommand({
  name: 'status',
  usage: USAGE,
  options: { json: { type: 'boolean' } },
  defaultVerb: '',
  verbs: {
    '': {
      options: ['json'],
      prepare:
        ({ values }) =>
        async (sock) => {
          const s = (await apiGet(sock, '/v1/status')) as Status;
          process.stdout.write(values.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
        },
    },
  },
});
