// Bulk-transfer integrity for the netns tests: one random file per test file, carried over TCP
// from one namespace to another (tools/integrity_xfer.py) and hashed at the receiver; optionally
// tcpdump on the receiving side, its capture read back with -vv to count checksums tcpdump finds
// incorrect; and the receiving kernel's own count of TCP checksum errors.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentHandle, type Topology, REPO, sleep, waitExit } from './harness.js';
import { addEndpoint, startNode, type ClusterNode } from './cluster.js';

const XFER = join(REPO, 'netns-tests', 'tools', 'integrity_xfer.py');

/** 512 MiB: the acceptance size. */
export const BIG = 512 << 20;

export interface BigFile {
  path: string;
  bytes: number;
  sha256: string;
  remove: () => void;
}

/** A file of random bytes in a directory of its own, and its sha256 (`remove` deletes both). */
export async function bigFile(bytes = BIG): Promise<BigFile> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-integrity-'));
  const path = join(dir, 'random');
  try {
    execFileSync('sh', ['-c', `head -c ${bytes} /dev/urandom > ${path}`], { timeout: 120000 });
    const h = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
    return { path, bytes, sha256: h.digest('hex'), remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

export interface Transfer {
  /** The receiving namespace, and its interface that tcpdump watches when `capture` is set. */
  recvNs: string;
  sendNs: string;
  /** The address the connecting side dials (the receiver's, or the sender's when the sender listens). */
  host: string;
  port: number;
  /** Who listens: the receiver (default) or the sender (a download: the receiver connects). */
  listener?: 'receiver' | 'sender';
  /** Capture the transfer's first `packets` packets on this interface of the receiving namespace. */
  capture?: { iface: string; packets?: number };
  timeoutMs?: number;
}

export interface Capture {
  packets: number;
  /** TCP checksums tcpdump verified as correct. */
  correct: number;
  /** Lines where tcpdump found a checksum incorrect (TCP) or bad (IPv4 header). */
  bad: string[];
}

export interface TransferResult {
  bytes: number;
  sha256: string;
  seconds: number;
  /** The receiving namespace's TcpInCsumErrors over the transfer. */
  csumErrors: number;
  capture?: Capture;
}

/** The receiving namespace's kernel count of TCP segments with a bad checksum. */
function tcpInCsumErrors(t: Topology, ns: string): number {
  const lines = t
    .must(ns, ['cat', '/proc/net/snmp'])
    .split('\n')
    .filter((l) => l.startsWith('Tcp:'));
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf('InCsumErrors')]);
}

async function waitFor(what: string, out: () => string, re: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!re.test(out())) {
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${ms} ms:\n${out()}`);
    await sleep(50);
  }
}

/** Sends `file` from o.sendNs to o.recvNs over one TCP connection; the receiver's hash and count. */
export async function transfer(t: Topology, file: BigFile, o: Transfer): Promise<TransferResult> {
  const timeoutMs = o.timeoutMs ?? 150000;
  const before = tcpInCsumErrors(t, o.recvNs);
  const pcap = join(t.dir, `${o.recvNs}-${o.port}.pcap`);
  let dump: ReturnType<Topology['spawn']> | undefined;
  if (o.capture) {
    const n = String(o.capture.packets ?? 10000);
    dump = t.spawn(o.recvNs, [
      'tcpdump',
      '-n',
      '-i',
      o.capture.iface,
      '-s',
      '0',
      '-c',
      n,
      '-w',
      pcap,
      'tcp port',
      String(o.port),
    ]);
    await waitFor('tcpdump', dump.output, /listening on/, 10000);
  }
  const send = ['python3', XFER, 'send'];
  const recv = ['python3', XFER, 'recv'];
  const connect = ['connect', o.host, String(o.port)];
  const listen = ['listen', String(o.port)];
  const t0 = Date.now();
  let report: string;
  if (o.listener === 'sender') {
    const server = t.spawn(o.sendNs, [...send, ...listen, file.path]);
    await waitFor('sender', server.output, /ready/, 10000);
    report = t.must(o.recvNs, [...recv, ...connect], timeoutMs);
    await waitExit(server.proc, 5000);
  } else {
    const server = t.spawn(o.recvNs, [...recv, ...listen]);
    await waitFor('receiver', server.output, /ready/, 10000);
    t.must(o.sendNs, [...send, ...connect, file.path], timeoutMs);
    if ((await waitExit(server.proc, 10000)) === undefined)
      throw new Error(`receiver still running:\n${server.output()}`);
    report = server.output();
  }
  const seconds = (Date.now() - t0) / 1000;
  const got = JSON.parse(report.slice(report.lastIndexOf('{'))) as { bytes: number; sha256: string };
  const result: TransferResult = {
    bytes: got.bytes,
    sha256: got.sha256,
    seconds,
    csumErrors: tcpInCsumErrors(t, o.recvNs) - before,
  };
  if (dump) {
    if ((await waitExit(dump.proc, 3000)) === undefined) {
      dump.proc.kill('SIGINT');
      await waitExit(dump.proc, 3000);
    }
    const text = t.must('', ['tcpdump', '-vv', '-n', '-r', pcap], 60000);
    const lines = text.split('\n');
    result.capture = {
      packets: lines.filter((l) => /^\d\d:\d\d:\d\d/.test(l)).length,
      correct: lines.filter((l) => l.includes('(correct)')).length,
      bad: lines.filter((l) => /incorrect|bad cksum/.test(l)),
    };
    rmSync(pcap, { force: true });
  }
  return result;
}

/** Whether the agent's port `name` has TAP offloads, as `weft status` reports it. */
export async function portOffloads(agent: AgentHandle, name: string): Promise<boolean> {
  const s = (await agent.status()) as unknown as { ports: Array<{ name: string; offloads: boolean }> };
  const p = s.ports.find((q) => q.name === name);
  if (!p) throw new Error(`no port ${name} on ${agent.ns}`);
  return p.offloads;
}

/**
 * Runs one transfer and asserts the acceptance: every byte arrived, the sha256 matches, the receiving
 * kernel counted no TCP checksum error and, with a capture, tcpdump found no checksum incorrect
 * (and verified plenty as correct). `note` gets a line with the size, time and rate.
 */
export async function checkTransfer(
  t: Topology,
  file: BigFile,
  label: string,
  o: Transfer,
  note: (line: string) => void,
): Promise<TransferResult> {
  const r = await transfer(t, file, o);
  const rate = (r.bytes * 8) / r.seconds / 1e6;
  const cap = r.capture ? `, tcpdump: ${r.capture.correct} correct, ${r.capture.bad.length} bad` : '';
  note(`${label}: ${r.bytes} bytes in ${r.seconds.toFixed(1)} s (${rate.toFixed(0)} Mbit/s)${cap}`);
  assert.equal(r.bytes, file.bytes, `${label}: bytes received`);
  assert.equal(r.sha256, file.sha256, `${label}: sha256 at the receiver`);
  assert.equal(r.csumErrors, 0, `${label}: TcpInCsumErrors in the receiving namespace`);
  if (r.capture) {
    assert.deepEqual(r.capture.bad.slice(0, 5), [], `${label}: ${r.capture.bad.length} bad checksums in the capture`);
    assert.ok(r.capture.correct >= 1000, `${label}: tcpdump verified ${r.capture.correct} of ${r.capture.packets}`);
  }
  return r;
}

/**
 * The cluster paths: a1 on n1 sends 512 MiB to b1 on n2 (every TAP with offloads) and to c1 on n3
 * (its endpoints without: n3 cuts what arrives into segments), each on IPv4 and IPv6, with
 * direct routing, VXLAN or WireGuard between the nodes.
 */
export async function clusterIntegrity(
  t: Topology,
  file: BigFile,
  how: 'direct' | 'vxlan' | 'wireguard',
  note: (line: string) => void,
): Promise<void> {
  const store = `dir:${join(t.dir, 'store')}`;
  const mode = how === 'vxlan' ? 'vxlan' : 'direct';
  const node = (i: number, endpointOffloads?: 'off'): Promise<ClusterNode> =>
    how === 'wireguard'
      ? startNode(
          t,
          i,
          { store, mode, endpointOffloads },
          { encryption: 'wireguard' },
          // An interface name of this test's own (the default, wg-<node>, is the demo's too).
          { wireguard: { interface: `${t.prefix}w${i}`.slice(-15) } },
        )
      : startNode(t, i, { store, mode, endpointOffloads });
  const nodes = [await node(1), await node(2), await node(3, 'off')];
  const a1 = addEndpoint(t, nodes[0], 'a1');
  const b1 = addEndpoint(t, nodes[1], 'b1');
  const c1 = addEndpoint(t, nodes[2], 'c1');
  assert.equal(await portOffloads(nodes[1].agent, 'b1'), process.env.WEFT_OFFLOADS !== 'off');
  assert.equal(await portOffloads(nodes[2].agent, 'c1'), false);
  for (const [to, off] of [
    [b1, false],
    [c1, true],
  ] as const)
    for (const host of [to.ipv4, to.ipv6])
      await checkTransfer(
        t,
        file,
        `${how} ${host.includes(':') ? 'IPv6' : 'IPv4'} a1 → ${to.name} offloads ${off ? 'off' : 'on'}`,
        { recvNs: to.ns, sendNs: a1.ns, host, port: 5201, capture: off ? { iface: 'eth0' } : undefined },
        note,
      );
  for (const n of nodes) await checkAgent(n.agent, n.name, note);
}

/** Notes what an agent's workers did with super-frames; asserts it is healthy and wrote every frame. */
export async function checkAgent(agent: AgentHandle, name: string, note: (line: string) => void): Promise<void> {
  const s = await agent.status();
  const c = s.totals;
  const n = (k: string): number => c[k] ?? 0;
  note(
    `${name}: rxSuperFrames ${n('rxSuperFrames')}, segmented ${n('segmented')}, segmentsMade ${n('segmentsMade')}, ` +
      `checksumsFinished ${n('checksumsFinished')}, groMerged ${n('groMerged')}, dropTxError ${n('dropTxError')}`,
  );
  assert.equal(s.health, 'ok', `${name}: health`);
  // A frame the kernel refuses (a bad virtio header) is counted here.
  assert.equal(n('dropTxError'), 0, `${name}: frames the kernel refused`);
}
