// weft record: n-tuple packet recordings into pcap files, through an agent's API.
import { UsageError } from './args.js';
import { defineCommand } from './runner.js';
import { apiCall } from '../control/api.js';
import { table } from './common.js';
import { parseFilters, RecorderError } from '../recorder/filter.js';
import type { RecordingInfo, RecordingRequest } from '../recorder/recordings.js';

const USAGE = `Usage:
  weft record FILTER [FILTER...] [options]   record matching packets until a limit or Ctrl-C
  weft record list [--json]                  running and recent recordings
  weft record stop ID                        stop a recording (its file is complete)

A FILTER is one argument in hubble's syntax: "SRC_PREFIX SRC_PORT DST_PREFIX DST_PORT PROTO",
e.g. "198.18.0.0/24 0 198.18.100.1/32 80 TCP" or "2001:db8::/32 0 2001:db8:18:100::1/128 0 ANY".
Port 0 matches any port; PROTO is TCP, UDP, ICMP, ICMPv6 or ANY. Packets are captured as they
arrive (before load balancing, NAT or decapsulation) and, for matching flows, again as they
leave (after encapsulation), into one pcap file per recording (microsecond timestamps,
Ethernet link type) in the agent's recorder.directory. The file's path is printed on stdout;
progress goes to stderr.

Options:
  --max-capture-len N   bytes kept of each packet (default: the whole frame)
  --packet-limit N      stop after N packets
  --bytes-limit N       stop after N captured bytes
  --time-limit D        stop after D: 30s, 5m, 1h, 500ms (a plain number is seconds)
  --file-prefix P       file name prefix (default weft): P_<unix time>_<random>_<node>.pcap
  --node NAME | --api SOCKET   the agent to record on
  --json                list as JSON
  -h, --help            this help
`;

function count(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new UsageError(`${flag} "${v}" is not a non-negative integer`);
  return Number(v);
}

export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v);
  if (!m) throw new UsageError(`--time-limit "${v}" is not a duration (e.g. 30s, 5m, 500ms)`);
  const ms = Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] ?? 's']!;
  if (ms < 1 || ms > 2 ** 31 - 1) throw new UsageError(`--time-limit "${v}" must be between 1 ms and about 24 days`);
  return Math.round(ms);
}

function human(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

function progress(i: RecordingInfo): string {
  return `recording ${i.id}: ${i.packets} packets, ${human(i.bytes)}, ${i.lost} lost`;
}

async function record(sock: string, req: RecordingRequest): Promise<number> {
  const started = (await apiCall(sock, 'POST', '/v1/recordings', req, 10000)) as RecordingInfo;
  process.stderr.write(`recording ${started.id} into ${started.file} (Ctrl-C to stop)\n`);
  const tty = process.stderr.isTTY;
  let stopping = false;
  const onSigint = (): void => {
    stopping = true;
  };
  process.on('SIGINT', onSigint);
  let last = '';
  let lastPrinted = 0;
  let info = started;
  try {
    for (;;) {
      if (stopping) {
        info = (await apiCall(sock, 'DELETE', `/v1/recordings/${started.id}`, undefined, 10000)) as RecordingInfo;
        break;
      }
      info = (await apiCall(sock, 'GET', `/v1/recordings/${started.id}`)) as RecordingInfo;
      if (info.state === 'done') break;
      const line = progress(info);
      // On a terminal one line updated in place; otherwise a line every 2 s when it changed.
      if (tty) process.stderr.write(`\r${line}\x1b[K`);
      else if (line !== last && Date.now() - lastPrinted >= 2000) {
        process.stderr.write(`${line}\n`);
        lastPrinted = Date.now();
      }
      last = line;
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (tty) process.stderr.write('\r\x1b[K');
  process.stderr.write(`${progress(info)} (${info.stopReason ?? 'stopped'})\n`);
  process.stdout.write(`${info.file}\n`);
  return 0;
}

function formatList(list: RecordingInfo[]): string {
  return `${table([
    ['ID', 'STATE', 'PACKETS', 'BYTES', 'LOST', 'FILTERS', 'FILE'],
    ...list.map((i) => [
      String(i.id),
      i.state === 'done' ? `done (${i.stopReason})` : i.state,
      String(i.packets),
      String(i.bytes),
      String(i.lost),
      i.filters.join('; '),
      i.file,
    ]),
  ])}\n`;
}

export const recordCommand = defineCommand({
  name: 'record',
  usage: USAGE,
  inputErrors: [RecorderError],
  options: {
    'max-capture-len': { type: 'string' },
    'packet-limit': { type: 'string' },
    'bytes-limit': { type: 'string' },
    'time-limit': { type: 'string' },
    'file-prefix': { type: 'string' },
    json: { type: 'boolean' },
  },
  // weft record FILTER...: the filters are the operands.
  defaultVerb: '',
  verbs: {
    '': {
      operands: ['FILTER...'],
      options: ['max-capture-len', 'packet-limit', 'bytes-limit', 'time-limit', 'file-prefix'],
      prepare: ({ values, operands }) => {
        // Checked here too, so a typo is reported before anything talks to the agent.
        parseFilters(operands);
        const req: RecordingRequest = {
          filters: operands,
          maxCaptureLen: count(values['max-capture-len'], '--max-capture-len'),
          packetLimit: count(values['packet-limit'], '--packet-limit'),
          bytesLimit: count(values['bytes-limit'], '--bytes-limit'),
          timeLimitMs: values['time-limit'] === undefined ? undefined : parseDuration(values['time-limit']),
          filePrefix: values['file-prefix'],
        };
        return (sock) => record(sock, req);
      },
    },
    list: {
      options: ['json'],
      prepare:
        ({ values }) =>
        async (sock) => {
          const list = (await apiCall(sock, 'GET', '/v1/recordings')) as RecordingInfo[];
          process.stdout.write(values.json ? `${JSON.stringify(list, null, 2)}\n` : formatList(list));
        },
    },
    stop: {
      operands: ['ID'],
      prepare: ({ operands: [id] }) => {
        if (!/^\d+$/.test(id)) throw new UsageError(`"${id}" is not a recording ID (see weft record list)`);
        return async (sock) => {
          const info = (await apiCall(sock, 'DELETE', `/v1/recordings/${id}`, undefined, 10000)) as RecordingInfo;
          process.stderr.write(`${progress(info)} (${info.stopReason ?? 'stopped'})\n`);
          process.stdout.write(`${info.file}\n`);
        };
      },
    },
  },
});
