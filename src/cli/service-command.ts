// weft service add|apply|list|describe|delete: load-balanced services, through an LB agent.
import { parseAllDocuments } from 'yaml';
import { UsageError } from './args.js';
import { defineCommand } from './runner.js';
import { apiCall } from '../control/api.js';
import { readInput, table } from './common.js';
import { parseService, type ServiceSpec, ServiceError } from '../lb/service.js';

type Counters = { packets: number; bytes: number; backends: Record<string, { packets: number; bytes: number }> };
type Described = ServiceSpec & { tableSize: number; slots: Record<string, number>; counters?: Counters };

const USAGE = `Usage:
  weft service add NAME --vip IP --port N [--protocol tcp|udp] [--l4-xlate none|backend] [--conntrack]
                   --backend IP[:port][@weight] [--backend ...]
  weft service apply -f FILE          services from YAML (several documents with ---)
  weft service list [--json]
  weft service describe NAME [--json] the service and how many Maglev slots each backend has
  weft service delete NAME
Common: --node NODE | --api SOCKET (the LB agent), -h/--help.

Services live in the cluster store, so every LB agent with the same Maglev seed sends a
flow to the same backend. A backend of weight 0 takes no new flows (drained). With
--conntrack, established flows keep their backend when the backend set changes.
`;

function parseBackendArg(text: string, defPort: number): { ip: string; port: number; weight: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)|([0-9a-fA-F:]+))(?::(\d{1,5}))?(?:@(\d{1,5}))?$/.exec(text);
  if (!m) throw new UsageError(`--backend "${text}" is not IP[:port][@weight] (IPv6 as [IP]:port)`);
  return { ip: m[1] ?? m[2] ?? m[3], port: m[4] ? Number(m[4]) : defPort, weight: m[5] ? Number(m[5]) : 1 };
}

/** Every document of a file, validated before any is applied: a bad file changes nothing. */
function parseServiceFile(file: string): ServiceSpec[] {
  return parseAllDocuments(readInput(file)).map((d, i) => {
    if (d.errors.length) throw new ServiceError(`${file} document ${i + 1}: ${d.errors[0].message.split('\n')[0]}`);
    return parseService(d.toJS(), `${file} document ${i + 1}`);
  });
}

async function post(sock: string, spec: ServiceSpec): Promise<void> {
  await apiCall(sock, 'POST', '/v1/services', spec, 10000);
  const n = spec.backends.length;
  process.stdout.write(`service ${spec.name}: ${spec.vip}:${spec.port}/${spec.protocol} → ${n} backends\n`);
}

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function formatList(list: Array<ServiceSpec & { counters?: Counters }>): string {
  return `${table([
    ['NAME', 'VIP', 'PORT', 'PROTO', 'L4-XLATE', 'PACKETS', 'BYTES', 'BACKENDS (packets)'],
    ...list.map((s) => [
      s.name,
      s.vip,
      String(s.port),
      s.protocol,
      s.l4Xlate,
      String(s.counters?.packets ?? 0),
      String(s.counters?.bytes ?? 0),
      s.backends
        .map((b) => {
          const n = hostPort(b.ip, b.port);
          return `${n}${b.weight !== 1 ? `@${b.weight}` : ''}(${s.counters?.backends[n]?.packets ?? 0})`;
        })
        .join(' ') || '-',
    ]),
  ])}\n`;
}

function formatDescribed(d: Described): string {
  const head = `Service ${d.name}: ${d.vip}:${d.port}/${d.protocol}, l4-xlate ${d.l4Xlate}, Maglev M=${d.tableSize}\n`;
  return (
    head +
    table([
      ['BACKEND', 'WEIGHT', 'SLOTS', 'PACKETS', 'BYTES'],
      ...d.backends.map((b) => {
        const n = hostPort(b.ip, b.port);
        const c = d.counters?.backends[n];
        return [n, String(b.weight), String(d.slots[n] ?? 0), String(c?.packets ?? 0), String(c?.bytes ?? 0)];
      }),
    ]) +
    '\n'
  );
}

export const serviceCommand = defineCommand({
  name: 'service',
  usage: USAGE,
  inputErrors: [ServiceError],
  options: {
    vip: { type: 'string' },
    port: { type: 'string' },
    protocol: { type: 'string' },
    'l4-xlate': { type: 'string' },
    backend: { type: 'string', multiple: true },
    conntrack: { type: 'boolean' },
    file: { type: 'string', short: 'f' },
    json: { type: 'boolean' },
  },
  verbs: {
    add: {
      operands: ['NAME'],
      options: ['vip', 'port', 'protocol', 'l4-xlate', 'backend', 'conntrack'],
      prepare: ({ values, operands: [name] }) => {
        const port = Number(values.port);
        const spec = parseService({
          name,
          vip: values.vip,
          port,
          protocol: (values.protocol ?? 'tcp').toUpperCase(),
          l4Xlate: values['l4-xlate'] ?? 'none',
          ...(values.conntrack ? { conntrack: true } : {}),
          backends: (values.backend ?? []).map((b) => parseBackendArg(b, port)),
        });
        return (sock) => post(sock, spec);
      },
    },
    apply: {
      options: ['file'],
      prepare: ({ values }) => {
        if (!values.file) throw new UsageError('needs -f FILE');
        const specs = parseServiceFile(values.file);
        return async (sock) => {
          for (const s of specs) await post(sock, s);
        };
      },
    },
    list: {
      options: ['json'],
      prepare:
        ({ values }) =>
        async (sock) => {
          const list = (await apiCall(sock, 'GET', '/v1/services')) as Array<ServiceSpec & { counters?: Counters }>;
          process.stdout.write(values.json ? `${JSON.stringify(list, null, 2)}\n` : formatList(list));
        },
    },
    describe: {
      operands: ['NAME'],
      options: ['json'],
      prepare:
        ({ values, operands: [name] }) =>
        async (sock) => {
          const d = (await apiCall(sock, 'GET', `/v1/services/${encodeURIComponent(name)}`)) as Described;
          process.stdout.write(values.json ? `${JSON.stringify(d, null, 2)}\n` : formatDescribed(d));
        },
    },
    delete: {
      operands: ['NAME'],
      prepare:
        ({ operands: [name] }) =>
        async (sock) => {
          await apiCall(sock, 'DELETE', `/v1/services/${encodeURIComponent(name)}`, undefined, 10000);
          process.stdout.write(`service ${name} deleted\n`);
        },
    },
  },
});
