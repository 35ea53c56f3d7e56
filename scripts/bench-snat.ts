// The `snat` scenario of npm run bench (issue 6): the egress gateway's translation path.
// An endpoint selected by a policy on the gateway node itself (one Weft hop doing the SNAT, as
// the kernel router does in baselines.sh nftnat) → a plain router namespace → the server. Short
// FIN / TIME_WAIT timeouts and the widest port range, so that thousands of short connections per
// second do not pin every port for two minutes (the kernel reuses TIME_WAIT tuples instead).
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Topology, WEFT, REPO, sleep } from '../netns-tests/harness.js';
import { addEndpoint } from '../netns-tests/cluster.js';
import { outsideWorld, egressNode, policyYaml, EGRESS4, SERVER4 } from '../netns-tests/egress-topology.js';

const SECS = Number(process.env.SECS ?? 5);
const CRR = '/tmp/weft-bench-crr';

function iperf(t: Topology, client: string, server: string, udp: boolean): number {
  t.spawn(server, ['iperf3', '-s', '-1']);
  spawnSync('sleep', ['0.5']);
  const args = udp ? ['-u', '-b', '0', '-l', '64'] : [];
  const j = JSON.parse(
    t.must(client, ['iperf3', '-c', SERVER4, ...args, '-t', String(SECS), '-J'], (SECS + 20) * 1000),
  ) as {
    end: {
      sum_received?: { bits_per_second: number };
      sum?: { packets: number; lost_packets: number; seconds: number };
    };
  };
  if (!udp) return Math.round(j.end.sum_received!.bits_per_second / 1e7) / 100;
  const s = j.end.sum!;
  return Math.round((s.packets - s.lost_packets) / s.seconds);
}

function crr(t: Topology, client: string): number {
  const out = t.must(client, [CRR, 'client', SERVER4, '5001', String(SECS)], (SECS + 20) * 1000);
  return Number(/crr_per_s (\S+)/.exec(out)?.[1] ?? 0);
}

export async function snat(): Promise<Record<string, number>> {
  const cc = spawnSync('gcc', ['-O2', '-o', CRR, join(REPO, '..', 'shared', 'bench', 'crr.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cannot build crr.c: ${cc.stderr}`);
  const t = new Topology('bsn');
  try {
    const store = `dir:${join(t.dir, 'store')}`;
    const w = outsideWorld(t, { firewall: false });
    const gw = await egressNode(t, 3, store, {
      ownIPs: [EGRESS4],
      portMin: 1024,
      portMax: 65535,
      conntrackCapacity: 131072,
      timeouts: { tcpFinWait: 2, tcpCloseWait: 2, tcpTimeWait: 2, tcpClose: 2 },
    });
    const n1 = await egressNode(t, 1, store);
    const local = addEndpoint(t, gw, 'g1', 'app=bench');
    const remote = addEndpoint(t, n1, 'r1', 'app=bench');
    const file = join(t.dir, 'bench.yaml');
    writeFileSync(file, policyYaml('bench', 'bench', [EGRESS4], ['198.18.200.0/24']));
    t.must('', ['node', WEFT, 'egress', 'apply', '-f', file, '--api', gw.agent.api]);
    t.spawn(w.out, [CRR, 'server', '5001']);
    for (let i = 0; i < 40 && t.run(local.ns, ['ping', '-c', '1', '-W', '1', SERVER4]).code !== 0; i++)
      await sleep(250);
    t.must(remote.ns, ['ping', '-c', '2', '-i', '0.2', SERVER4], 20000);
    const figures = {
      tcp_gbps: iperf(t, local.ns, w.out, false),
      udp64_pps: iperf(t, local.ns, w.out, true),
      crr_per_s: crr(t, local.ns),
      crr_per_s_redirected: crr(t, remote.ns),
    };
    const s = (await gw.agent.status()) as unknown as {
      totals: Record<string, number>;
      egress: { conntrack: Record<string, number> };
    };
    console.log(
      `# snat gateway: ${s.totals.natTranslated ?? 0} packets translated, conntrack ` +
        `${JSON.stringify(s.egress.conntrack)}`,
    );
    return figures;
  } finally {
    await t.cleanup();
  }
}
