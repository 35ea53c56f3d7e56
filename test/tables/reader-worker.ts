// Worker for concurrency.test: looks entries up in a tight loop until ctrl[0] != 0,
// checking every hit is internally consistent, then posts its counts.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SharedHashMap, PrefixTable } from '../../src/tables/index.js';
import { addrWord, keyTag, routeTag } from './helpers.js';

export interface ReaderData {
  mode: 'hash' | 'prefix';
  sab: SharedArrayBuffer;
  ctrl: SharedArrayBuffer;
  nKeys: number; // hash mode: keys are [k, ~k] for k < nKeys
  probes: { family: 4 | 6; addr: number[] }[]; // prefix mode
}
export interface ReaderResult {
  hits: number;
  misses: number;
  torn: number;
  backwards: number;
  lost: number;
  lens: Record<number, number>;
}

function hashReader(d: ReaderData, ctrl: Int32Array): ReaderResult {
  const m = SharedHashMap.attach(d.sab);
  const vw = m.valueWords,
    n = d.nKeys;
  const key = new Int32Array(2),
    out = new Int32Array(vw),
    last = new Int32Array(n).fill(-1);
  let hits = 0,
    misses = 0,
    torn = 0,
    backwards = 0,
    k = 0;
  for (let it = 0; ; it++) {
    if ((it & 1023) === 0 && Atomics.load(ctrl, 0) !== 0) break;
    key[0] = k;
    key[1] = ~k;
    if (m.lookup(key, 0, out, 0)) {
      hits++;
      const g = out[0]!;
      let ok = out[vw - 1] === keyTag(k);
      for (let i = 1; i < vw - 1; i++) if (out[i] !== g) ok = false;
      if (!ok) torn++;
      if (g < last[k]!) backwards++; // one reader must never see a key's generation go back
      last[k] = g;
    } else misses++;
    if (++k === n) k = 0;
  }
  return { hits, misses, torn, backwards, lost: 0, lens: {} };
}

function prefixReader(d: ReaderData, ctrl: Int32Array): ReaderResult {
  const t = PrefixTable.attach(d.sab);
  // All probe addresses live in one "packet" buffer at 4-byte aligned-or-not offsets.
  const pkt = new Uint8Array(3 + 16 * d.probes.length);
  const offs: number[] = [],
    fams: (4 | 6)[] = [],
    words: number[][] = [];
  d.probes.forEach((p, i) => {
    const off = 3 + 16 * i;
    pkt.set(p.addr, off);
    offs.push(off);
    fams.push(p.family);
    const b = Uint8Array.from(p.addr);
    words.push([addrWord(b, 0), addrWord(b, 1), addrWord(b, 2), addrWord(b, 3)]);
  });
  const out = new Int32Array(t.valueWords),
    lenHist = new Float64Array(129);
  let hits = 0,
    torn = 0,
    lost = 0,
    j = 0;
  for (let it = 0; ; it++) {
    if ((it & 1023) === 0 && Atomics.load(ctrl, 0) !== 0) break;
    const fam = fams[j]!,
      w = words[j]!;
    const len = t.lookup(fam, pkt, offs[j]!, out);
    if (len < (fam === 4 ? 8 : 32))
      lost++; // a permanent /8 (v4) or /32 (v6) covers every probe
    else {
      hits++;
      lenHist[len]!++;
      if (out[0] !== len || out[1] !== out[2] || out[3] !== routeTag(fam, len, w[0]!, w[1]!, w[2]!, w[3]!)) torn++;
    }
    if (++j === offs.length) j = 0;
  }
  const lens: Record<number, number> = {};
  lenHist.forEach((c, l) => {
    if (c) lens[l] = c;
  });
  return { hits, misses: 0, torn, backwards: 0, lost, lens };
}

if (!isMainThread && parentPort && workerData) {
  const d = workerData as ReaderData;
  const ctrl = new Int32Array(d.ctrl);
  parentPort.postMessage('ready');
  parentPort.postMessage(d.mode === 'hash' ? hashReader(d, ctrl) : prefixReader(d, ctrl));
}
