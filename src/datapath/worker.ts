// A dataplane worker: owns one RX queue of every port, pinned to one CPU, and runs
// rxBatch → pipeline → txBatch until told to stop. Talks to the control thread only
// through shared memory; postMessage is used once at start and on a fatal error.
import { attachReverseXlate } from './lb-reverse.js';
import { workerData, parentPort } from 'node:worker_threads';
import { loadNative } from '../native/tap.js';
import { Datapath } from './state.js';
import { BATCH, HEADROOM } from './arena.js';
import { TX_PER_PORT } from './tx.js';
import { C, COUNTER_NAMES } from './counters.js';
import { receiveFrame } from './receive.js';
import { servicePending } from './neighbours.js';
import {
  PortTable,
  MAX_PORTS,
  PORT_COUNTERS,
  PORT_OFFLOADS,
  PC_RX_FRAMES,
  PC_RX_BYTES,
  PC_TX_FRAMES,
  PC_TX_BYTES,
  PC_RX_SUPER,
  PC_TX_SUPER,
} from '../tables/port-table.js';
import { VNET_WORDS, VNET_GSO_TYPE } from '../native/tap.js';
import { PrefixTable } from '../tables/prefix.js';
import { SharedHashMap } from '../tables/hashmap.js';
import { CounterBlock } from '../tables/counters.js';
import { FIRST_PSEUDO_PORT } from '../tables/layout.js';
import { NodeSettings } from './node-settings.js';
import { LbReader, type LbSabs } from '../lb/tables.js';
import { RecorderReader, type RecorderSabs } from '../recorder/tables.js';
import { WgWorker } from './wg-worker.js';
import { wgServiceControl } from './wg-send.js';
import type { WgSabs } from '../wireguard/dataplane-tables.js';

import { NatWorker, type NatSabs } from './nat-worker.js';

export interface WorkerInit {
  index: number;
  queue: number;
  /** The CPU this worker pins itself to; -1: not pinned (`cpus: none`). */
  cpu: number;
  maxFrame: number;
  /** Some port takes TAP offloads: 64 KB slots, a segment area (arena.ts). */
  superFrames: boolean;
  portsSab: SharedArrayBuffer;
  routesSab: SharedArrayBuffer;
  neighboursSab: SharedArrayBuffer;
  countersSab: SharedArrayBuffer;
  /** Node settings (NodeSettings: VXLAN); absent: VXLAN stays off in this worker. */
  settingsSab?: SharedArrayBuffer;
  /** The L4 load balancer's tables (LbTables.sabs); absent: this worker does not balance. */
  lbSabs?: LbSabs;
  /** (VIP, backend port, protocol) → service port, for DSR replies under l4Xlate backend. */
  reverseXlateSab?: SharedArrayBuffer;
  /** The recorder's filters and this worker's capture ring; absent: nothing is recorded. */
  recorderSabs?: RecorderSabs;
  /** WireGuard's keypairs, peers, allowed IPs and rings; absent: no WireGuard in this worker. */
  wgSabs?: WgSabs;
  /** The egress gateway / masquerade tables (nat-stage.ts); absent: no NAT in this worker. */
  natSabs?: NatSabs;
  /** Float64 per worker per port: PORT_COUNTERS (port-table.ts). */
  portCountersSab: SharedArrayBuffer;
  /** Int32 control words: [0] = stop flag, [1 + worker] = port-table generation seen. */
  controlSab: SharedArrayBuffer;
  wakeFd: number;
}

/** Idle wait when nothing is parked / when frames wait for a neighbour. */
const IDLE_WAIT_MS = 200;
const PENDING_WAIT_MS = 10;

const init = workerData as WorkerInit;
const native = loadNative();
const control = new Int32Array(init.controlSab);
const ports = PortTable.attach(init.portsSab);
const counters = CounterBlock.attach(init.countersSab, COUNTER_NAMES).row(init.index);
if (init.reverseXlateSab) attachReverseXlate(init.reverseXlateSab);
const dp = new Datapath(
  {
    ports,
    routes: PrefixTable.attach(init.routesSab),
    neighbours: SharedHashMap.attach(init.neighboursSab),
    settings: init.settingsSab ? NodeSettings.attach(init.settingsSab) : undefined,
    lb: init.lbSabs ? new LbReader(init.lbSabs, init.index) : undefined,
    recorder: init.recorderSabs ? new RecorderReader(init.recorderSabs, init.index) : undefined,
    wg: init.wgSabs ? newWgWorker(init.wgSabs, init.index) : undefined,
    nat: init.natSabs ? new NatWorker(init.natSabs, init.index) : undefined,
  },
  counters,
  init.maxFrame,
  init.superFrames,
);
const arena = dp.arena;

function newWgWorker(sabs: WgSabs, index: number): WgWorker {
  const w = new WgWorker(sabs, index);
  w.notifyControl = () => parentPort?.postMessage({ type: 'wg' });
  return w;
}
const portCtr = new Float64Array(
  init.portCountersSab,
  init.index * MAX_PORTS * PORT_COUNTERS * 8,
  MAX_PORTS * PORT_COUNTERS,
);
const tx = dp.tx;

// This worker's view of the ports: indices and this queue's fd of each, plus the wake fd.
const portIdx = new Int32Array(MAX_PORTS);
/** 1 where the port takes offloads: its frames come and go with a virtio_net_hdr. */
const portOffloads = new Uint8Array(MAX_PORTS);
const rxVnet = new Int32Array(BATCH * VNET_WORDS);
const fds = new Int32Array(MAX_PORTS + 1);
const ready = new Int32Array(MAX_PORTS + 1);
let nports = 0;
let seenGeneration = -1;
const txStats = new Float64Array(1);

function refreshPorts(): void {
  seenGeneration = ports.generation();
  nports = 0;
  const limit = ports.limit();
  for (let p = 0; p < limit; p++) {
    // The tunnel pseudo-port has no fds: its frames are encapsulated onto an uplink.
    if (!ports.active(p) || p >= FIRST_PSEUDO_PORT) continue;
    portIdx[nports] = p;
    portOffloads[nports] = (ports.flags(p) & PORT_OFFLOADS) !== 0 ? 1 : 0;
    fds[nports] = ports.fd(p, init.queue);
    nports++;
  }
  fds[nports] = init.wakeFd;
  // Tell the control thread we no longer use fds of removed ports, so it may close them.
  Atomics.store(control, 1 + init.index, seenGeneration);
}

function flush(): void {
  for (let k = 0; k < tx.dirtyCount; k++) {
    const port = tx.dirty[k];
    const n = tx.count[port];
    tx.count[port] = 0;
    const first = port * TX_PER_PORT;
    let done = 0;
    txStats[0] = 0;
    const vnet = (ports.flags(port) & PORT_OFFLOADS) !== 0 ? tx.vnet : undefined;
    try {
      done = native.txBatch(ports.fd(port, init.queue), arena.bytes, tx.desc, first, n, txStats, vnet);
    } catch {
      dp.ctr[C.dropTxError] += n;
      continue;
    }
    const failed = txStats[0];
    let bytes = 0;
    for (let i = 0; i < done; i++) bytes += tx.desc[(first + i) * 2 + 1];
    portCtr[port * PORT_COUNTERS + PC_TX_FRAMES] += done - failed;
    portCtr[port * PORT_COUNTERS + PC_TX_BYTES] += bytes;
    if (vnet !== undefined) {
      let supers = 0;
      for (let i = 0; i < done; i++) if (vnet[(first + i) * VNET_WORDS + VNET_GSO_TYPE] !== 0) supers++;
      portCtr[port * PORT_COUNTERS + PC_TX_SUPER] += supers;
    }
    dp.ctr[C.txFrames] += done - failed;
    dp.ctr[C.txBytes] += bytes;
    dp.ctr[C.dropTxError] += failed;
    dp.ctr[C.dropTxQueueFull] += n - done;
  }
  tx.dirtyCount = 0;
  tx.highWater = 0;
  dp.gro.reset();
  arena.resetGen();
}

function run(): void {
  try {
    if (init.cpu >= 0) native.pin(init.cpu);
  } catch (e) {
    parentPort?.postMessage({
      type: 'warn',
      message: `worker ${init.index}: cannot pin to CPU ${init.cpu}: ${(e as Error).message}`,
    });
  }
  parentPort?.postMessage({ type: 'ready', index: init.index });
  const bytes = arena.bytes;
  const lens = arena.lens;
  const slot = arena.slotSize;
  while (Atomics.load(control, 0) === 0) {
    if (ports.generation() !== seenGeneration) refreshPorts();
    dp.now = performance.now();
    dp.recorder?.refresh();
    let got = 0;
    for (let i = 0; i < nports; i++) {
      let n = 0;
      const offloads = portOffloads[i] === 1;
      try {
        n = native.rxBatch(fds[i], bytes, 0, BATCH, slot, HEADROOM, lens, offloads ? rxVnet : undefined);
      } catch {
        // The port went away under us (fd closed by the control thread): re-read the table.
        seenGeneration = -1;
        continue;
      }
      if (n === 0) continue;
      const p = portIdx[i];
      let rxBytes = 0;
      let rxSuper = 0;
      for (let j = 0; j < n; j++) {
        rxBytes += lens[j];
        if (offloads) {
          for (let k = 0; k < VNET_WORDS; k++) dp.vnet[k] = rxVnet[j * VNET_WORDS + k];
          if (dp.vnet[VNET_GSO_TYPE] !== 0) rxSuper++;
          receiveFrame(dp, p, j * slot + HEADROOM, lens[j]);
          dp.vnet.fill(0);
        } else receiveFrame(dp, p, j * slot + HEADROOM, lens[j]);
        // Segments made in software fill the segment area and the queues fast: send before they overflow.
        if (tx.highWater > TX_PER_PORT / 2 || arena.segsLow()) flush();
      }
      portCtr[p * PORT_COUNTERS + PC_RX_FRAMES] += n;
      portCtr[p * PORT_COUNTERS + PC_RX_BYTES] += rxBytes;
      portCtr[p * PORT_COUNTERS + PC_RX_SUPER] += rxSuper;
      flush();
      got += n;
    }
    servicePending(dp);
    if (dp.wg !== null) wgServiceControl(dp);
    flush();
    if (got === 0) {
      const waitMs = dp.pending.count > 0 ? PENDING_WAIT_MS : IDLE_WAIT_MS;
      if (native.wait(fds, nports + 1, waitMs, ready) > 0 && ready[nports] === 1) native.eventfdDrain(init.wakeFd);
    }
  }
}

run();
