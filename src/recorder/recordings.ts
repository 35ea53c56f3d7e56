// Recordings on the control thread: validates a request, programs its filters into the shared
// tables, drains the workers' capture rings into one pcap file per recording, and stops a
// recording at its packet, byte or time limit (or when asked). Limits are enforced here, as
// records are written, so `packetLimit: 100` gives exactly 100 packets in the file.
import { mkdirSync, openSync, writeSync, closeSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  RecorderError,
  type Filter,
  type FilterMask,
  parseFilters,
  formatFilter,
  filterMask,
  maskName,
  maskSpecificity,
} from './filter.js';
import {
  type RecorderTables,
  MAX_RECORDINGS,
  CAPLEN_FULL,
  CAPTURE_META_WORDS,
  META_ORIG_LEN,
  META_SEC,
  META_USEC,
} from './tables.js';
import { pcapFileHeader, writePcapRecordHeader, PCAP_RECORD_HEADER_LEN } from './pcap.js';

export interface RecordingRequest {
  filters: string[];
  /** Bytes kept of each packet; 0 or absent: the whole frame. */
  maxCaptureLen?: number;
  packetLimit?: number;
  bytesLimit?: number;
  timeLimitMs?: number;
  filePrefix?: string;
}

export type StopReason = 'packet-limit' | 'bytes-limit' | 'time-limit' | 'stopped' | 'agent-stopping' | 'write-error';

export interface RecordingInfo {
  id: number;
  filters: string[];
  file: string;
  state: 'running' | 'done';
  stopReason?: StopReason;
  /** Packets and captured bytes (record payloads) written to the file. */
  packets: number;
  bytes: number;
  /** Captures lost because a worker's ring was full (the packets themselves went on). */
  lost: number;
  startedAt: string;
  endedAt?: string;
  maxCaptureLen: number;
  packetLimit: number;
  bytesLimit: number;
  timeLimitMs: number;
}

export interface RecorderOptions {
  node: string;
  directory: string;
  maxMasks: number;
  tables: RecorderTables;
}

/** tcpdump's default snap length: the file header's snaplen for full captures. */
const FULL_SNAPLEN = 262144;
const WRITE_BUFFER = 1 << 20;
const FINISHED_KEPT = 32;
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

interface Recording {
  info: RecordingInfo;
  slot: number;
  filters: Filter[];
  masks: string[];
  fd: number;
  buf: Buffer;
  used: number;
  lostBase: number;
  timer?: NodeJS.Timeout;
}

function limit(v: unknown, what: string, max: number): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    throw new RecorderError(`${what} must be an integer in 0..${max} (0 = no limit), got ${JSON.stringify(v)}`);
  return v;
}

export class Recorder {
  private readonly slots: Array<Recording | undefined> = new Array(MAX_RECORDINGS);
  private nextSlot = 0;
  private nextId = 1;
  private readonly masks = new Map<string, { id: number; mask: FilterMask; refs: number }>();
  private readonly finished: RecordingInfo[] = [];
  private readonly scratch = new Uint8Array(4 * CAPTURE_META_WORDS + FULL_SNAPLEN);
  private readonly meta = new Int32Array(this.scratch.buffer, 0, CAPTURE_META_WORDS);

  constructor(private readonly o: RecorderOptions) {}

  start(req: RecordingRequest): RecordingInfo {
    if (typeof req !== 'object' || req === null) throw new RecorderError('a recording request must be an object');
    const filters = parseFilters(req.filters);
    const maxCaptureLen = limit(req.maxCaptureLen, 'maxCaptureLen', FULL_SNAPLEN);
    const packetLimit = limit(req.packetLimit, 'packetLimit', Number.MAX_SAFE_INTEGER);
    const bytesLimit = limit(req.bytesLimit, 'bytesLimit', Number.MAX_SAFE_INTEGER);
    const timeLimitMs = limit(req.timeLimitMs, 'timeLimitMs', 2 ** 31 - 1);
    const prefix = req.filePrefix ?? 'weft';
    if (typeof prefix !== 'string' || !PREFIX.test(prefix))
      throw new RecorderError(`file prefix ${JSON.stringify(prefix)} must be 1-64 letters, digits, "_", "." or "-"`);
    const slot = this.freeSlot();
    if (slot < 0) throw new RecorderError(`${MAX_RECORDINGS} recordings are already running`);
    const maskNames = filters.map((f) => maskName(filterMask(f)));
    const newMasks = new Set(maskNames.filter((m) => !this.masks.has(m)));
    if (this.masks.size + newMasks.size > this.o.maxMasks) {
      throw new RecorderError(
        `these filters need ${newMasks.size} new filter masks (prefix lengths, port and protocol wildcards), but ` +
          `${this.masks.size} of at most ${this.o.maxMasks} are in use (recorder.maxMasks)`,
      );
    }
    const file = this.createFile(prefix, maxCaptureLen);
    const rec: Recording = {
      info: {
        id: this.nextId++,
        filters: filters.map(formatFilter),
        file: file.path,
        state: 'running',
        packets: 0,
        bytes: 0,
        lost: 0,
        startedAt: new Date().toISOString(),
        maxCaptureLen,
        packetLimit,
        bytesLimit,
        timeLimitMs,
      },
      slot,
      filters,
      masks: maskNames,
      fd: file.fd,
      buf: Buffer.allocUnsafe(WRITE_BUFFER),
      used: 0,
      lostBase: this.o.tables.lostFor(slot),
    };
    try {
      this.program(rec);
    } catch (e) {
      closeSync(file.fd);
      unlinkSync(file.path);
      throw e;
    }
    this.slots[slot] = rec;
    this.nextSlot = (slot + 1) % MAX_RECORDINGS;
    if (timeLimitMs > 0) {
      rec.timer = setTimeout(() => this.finish(rec, 'time-limit'), timeLimitMs);
      rec.timer.unref();
    }
    return { ...rec.info };
  }

  stop(id: number, reason: StopReason = 'stopped'): RecordingInfo | undefined {
    const rec = this.slots.find((r) => r?.info.id === id);
    if (rec) {
      this.drain(); // what the workers captured so far belongs in the file
      if (rec.info.state === 'running') this.finish(rec, reason);
      return { ...rec.info };
    }
    return this.finished.find((i) => i.id === id);
  }

  stopAll(reason: StopReason): void {
    this.drain();
    for (const r of this.slots) if (r) this.finish(r, reason);
  }

  get(id: number): RecordingInfo | undefined {
    const rec = this.slots.find((r) => r?.info.id === id);
    if (rec) return { ...rec.info, lost: this.lostOf(rec) };
    return this.finished.find((i) => i.id === id);
  }

  list(): RecordingInfo[] {
    const running = this.slots
      .filter((r): r is Recording => r !== undefined)
      .map((r) => ({ ...r.info, lost: this.lostOf(r) }));
    return [...running, ...this.finished].sort((a, b) => a.id - b.id);
  }

  usage(): { recordings: number; masks: number; maxMasks: number; filters: number } {
    return {
      recordings: this.slots.filter(Boolean).length,
      masks: this.masks.size,
      maxMasks: this.o.maxMasks,
      filters: this.o.tables.filterCount(),
    };
  }

  /** Moves every captured packet from the workers' rings into the recordings' files. */
  drain(): void {
    const s = this.scratch;
    const m = this.meta;
    for (const ring of this.o.tables.rings) {
      for (;;) {
        const n = ring.pop(s, 0);
        if (n < 0) break;
        const tag = ring.lastTag;
        const captured = n - 4 * CAPTURE_META_WORDS;
        for (let slot = 0; slot < MAX_RECORDINGS; slot++) {
          if (((tag >>> slot) & 1) === 0) continue;
          const rec = this.slots[slot];
          if (rec && rec.info.state === 'running')
            this.append(rec, m[META_SEC], m[META_USEC], m[META_ORIG_LEN], captured);
        }
      }
    }
    for (const r of this.slots) if (r) this.flush(r);
  }

  private append(rec: Recording, sec: number, usec: number, origLen: number, captured: number): void {
    const i = rec.info;
    const len = i.maxCaptureLen > 0 && captured > i.maxCaptureLen ? i.maxCaptureLen : captured;
    if (i.bytesLimit > 0 && i.bytes + len > i.bytesLimit) {
      this.finish(rec, 'bytes-limit');
      return;
    }
    if (rec.used + PCAP_RECORD_HEADER_LEN + len > rec.buf.length) this.flush(rec);
    writePcapRecordHeader(rec.buf, rec.used, sec, usec, len, origLen);
    rec.buf.set(
      this.scratch.subarray(4 * CAPTURE_META_WORDS, 4 * CAPTURE_META_WORDS + len),
      rec.used + PCAP_RECORD_HEADER_LEN,
    );
    rec.used += PCAP_RECORD_HEADER_LEN + len;
    i.packets++;
    i.bytes += len;
    if (i.packetLimit > 0 && i.packets >= i.packetLimit) this.finish(rec, 'packet-limit');
    else if (i.bytesLimit > 0 && i.bytes >= i.bytesLimit) this.finish(rec, 'bytes-limit');
  }

  private flush(rec: Recording): void {
    if (rec.used === 0 || rec.fd < 0) return;
    try {
      let done = 0;
      while (done < rec.used) done += writeSync(rec.fd, rec.buf, done, rec.used - done);
    } catch (e) {
      process.stderr.write(`weft: recording ${rec.info.id}: writing ${rec.info.file}: ${(e as Error).message}\n`);
      rec.used = 0;
      this.finish(rec, 'write-error');
      return;
    }
    rec.used = 0;
  }

  private finish(rec: Recording, reason: StopReason): void {
    if (rec.info.state !== 'running') return;
    rec.info.lost = this.lostOf(rec);
    rec.info.state = 'done';
    rec.info.stopReason = reason;
    rec.info.endedAt = new Date().toISOString();
    if (rec.timer) clearTimeout(rec.timer);
    this.unprogram(rec);
    this.flush(rec);
    if (rec.fd >= 0) closeSync(rec.fd);
    rec.fd = -1;
    // Records still in a ring with this slot's bit are ignored: the slot stays empty until
    // the round-robin comes back to it, long after the workers' rings have been drained.
    this.slots[rec.slot] = undefined;
    this.finished.push({ ...rec.info });
    if (this.finished.length > FINISHED_KEPT) this.finished.shift();
  }

  private lostOf(rec: Recording): number {
    return rec.info.state === 'running' ? this.o.tables.lostFor(rec.slot) - rec.lostBase : rec.info.lost;
  }

  private freeSlot(): number {
    for (let k = 0; k < MAX_RECORDINGS; k++) {
      const s = (this.nextSlot + k) % MAX_RECORDINGS;
      if (!this.slots[s]) return s;
    }
    return -1;
  }

  private createFile(prefix: string, maxCaptureLen: number): { path: string; fd: number } {
    const dir = this.o.directory;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new RecorderError(`recording directory ${dir}: ${(e as Error).message}`);
    }
    const node = this.o.node.replace(/[^A-Za-z0-9_.-]/g, '_');
    const path = join(dir, `${prefix}_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}_${node}.pcap`);
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600); // exclusive: never append to or replace another file
    } catch (e) {
      throw new RecorderError(`cannot create ${path}: ${(e as Error).message}`);
    }
    try {
      writeSync(fd, pcapFileHeader(maxCaptureLen > 0 ? maxCaptureLen : FULL_SNAPLEN));
    } catch (e) {
      closeSync(fd);
      unlinkSync(path);
      throw new RecorderError(`cannot write ${path}: ${(e as Error).message}`);
    }
    return { path, fd };
  }

  /** Capture length first, then filters, then masks: a worker never probes a half-made set. */
  private program(rec: Recording): void {
    const t = this.o.tables;
    t.setCaptureLength(rec.slot, rec.info.maxCaptureLen > 0 ? rec.info.maxCaptureLen : CAPLEN_FULL);
    const created: string[] = [];
    for (const name of rec.masks) {
      if (this.masks.has(name)) continue;
      const used = new Set([...this.masks.values()].map((m) => m.id));
      let id = 0;
      while (used.has(id)) id++;
      this.masks.set(name, { id, mask: filterMask(rec.filters[rec.masks.indexOf(name)]), refs: 0 });
      created.push(name);
    }
    let added = 0;
    for (; added < rec.filters.length; added++) {
      const m = this.masks.get(rec.masks[added])!;
      if (!t.addFilter(m.id, rec.filters[added], rec.slot)) break;
      m.refs++;
    }
    if (added < rec.filters.length) {
      for (let k = 0; k < added; k++) {
        const m = this.masks.get(rec.masks[k])!;
        t.removeFilter(m.id, rec.filters[k], rec.slot);
        m.refs--;
      }
      for (const name of created) this.masks.delete(name);
      t.setCaptureLength(rec.slot, 0);
      const st = t.filterStats();
      throw new RecorderError(
        `the filter table is full (${st.size} of ${st.capacity} filters in use; recorder.maxFilters)`,
      );
    }
    this.publish();
  }

  private unprogram(rec: Recording): void {
    const t = this.o.tables;
    for (let k = 0; k < rec.filters.length; k++) {
      const m = this.masks.get(rec.masks[k]);
      if (!m) continue;
      t.removeFilter(m.id, rec.filters[k], rec.slot);
      if (--m.refs === 0) this.masks.delete(rec.masks[k]);
    }
    this.publish();
    t.setCaptureLength(rec.slot, 0);
  }

  private publish(): void {
    const list = [...this.masks.values()].sort((a, b) => maskSpecificity(b.mask) - maskSpecificity(a.mask));
    this.o.tables.publishMasks(list.map((m) => ({ id: m.id, mask: m.mask })));
  }
}
