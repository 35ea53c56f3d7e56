// weft service add|apply|list|describe|delete: load-balanced services, through an LB agent.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { parse, UsageError } from './args.js';
import { apiCall } from '../control/api.js';
import { defaultSocket, table } from './common.js';
import { parseService, ServiceSpec, ServiceError } from '../lb/service.js';

type Counters = { packets: number; bytes: number; backends: Record<string, { packets: number; bytes: number }> };

const USAGE = `Usage:
  weft service add NAME --vip IP --port N [--protocol tcp|udp] [--l4-xlate none|backend] [--conntrack]
                   --backend IP[:port][@weight] [--backend ...]
  weft service apply -f FILE          services from YAML (several documents with ---)
  weft service list [--json]
  weft service describe NAME          the service and how many Maglev slots each backend has
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

export async function runServiceCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parse(argv, {
      vip: { type: 'string' }, port: { type: 'string' }, protocol: { type: 'string' }, 'l4-xlate': { type: 'string' },
      backend: { type: 'string', multiple: true }, conntrack: { type: 'boolean' }, file: { type: 'string', short: 'f' }, json: { type: 'boolean' },
      node: { type: 'string' }, api: { type: 'string' },
    }, USAGE);
  } catch (e) {
    process.stderr.write(`weft service: ${(e as UsageError).message}`);
    return 2;
  }
  const [verb, name, ...extra] = args.positionals;
  if (args.values.help || verb === undefined) {
    process.stdout.write(USAGE);
    return args.values.help ? 0 : 2;
  }
  if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"\n\n${USAGE}`);
  const sock = args.values.api ?? defaultSocket(args.values.node);
  const post = async (spec: ServiceSpec): Promise<void> => {
    await apiCall(sock, 'POST', '/v1/services', spec, 10000);
    process.stdout.write(`service ${spec.name}: ${spec.vip}:${spec.port}/${spec.protocol} → ${spec.backends.length} backends\n`);
  };
  try {
    switch (verb) {
      case 'add': {
        if (!name) throw new UsageError(`service add needs a NAME\n\n${USAGE}`);
        const port = Number(args.values.port);
        const spec = parseService({
          name, vip: args.values.vip, port, protocol: (args.values.protocol ?? 'tcp').toUpperCase(),
          l4Xlate: args.values['l4-xlate'] ?? 'none',
          ...(args.values.conntrack ? { conntrack: true } : {}),
          backends: (args.values.backend ?? []).map((b) => parseBackendArg(b, port)),
        });
        await post(spec);
        return 0;
      }
      case 'apply': {
        if (!args.values.file) throw new UsageError(`service apply needs -f FILE\n\n${USAGE}`);
        const docs = parseAllDocuments(readFileSync(args.values.file, 'utf8'));
        // Validate everything before applying anything: a bad file changes nothing.
        const specs = docs.map((d, i) => {
          if (d.errors.length) throw new ServiceError(`${args.values.file} document ${i + 1}: ${d.errors[0].message.split('\n')[0]}`);
          return parseService(d.toJS(), `${args.values.file} document ${i + 1}`);
        });
        for (const s of specs) await post(s);
        return 0;
      }
      case 'list': {
        const list = (await apiCall(sock, 'GET', '/v1/services')) as Array<ServiceSpec & { counters?: Counters }>;
        if (args.values.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        else process.stdout.write(table([['NAME', 'VIP', 'PORT', 'PROTO', 'L4-XLATE', 'PACKETS', 'BYTES', 'BACKENDS (packets)'],
          ...list.map((s) => [s.name, s.vip, String(s.port), s.protocol, s.l4Xlate, String(s.counters?.packets ?? 0), String(s.counters?.bytes ?? 0),
            s.backends.map((b) => {
              const n = `${b.ip.includes(':') ? `[${b.ip}]` : b.ip}:${b.port}`;
              return `${n}${b.weight !== 1 ? `@${b.weight}` : ''}(${s.counters?.backends[n]?.packets ?? 0})`;
            }).join(' ') || '-'])]) + '\n');
        return 0;
      }
      case 'describe': {
        if (!name) throw new UsageError(`service describe needs a NAME\n\n${USAGE}`);
        const d = (await apiCall(sock, 'GET', `/v1/services/${encodeURIComponent(name)}`)) as ServiceSpec & { tableSize: number; slots: Record<string, number>; counters?: Counters };
        if (args.values.json) process.stdout.write(JSON.stringify(d, null, 2) + '\n');
        else {
          process.stdout.write(`Service ${d.name}: ${d.vip}:${d.port}/${d.protocol}, l4-xlate ${d.l4Xlate}, Maglev M=${d.tableSize}\n`);
          process.stdout.write(table([['BACKEND', 'WEIGHT', 'SLOTS', 'PACKETS', 'BYTES'], ...d.backends.map((b) => {
            const n = b.ip.includes(':') ? `[${b.ip}]:${b.port}` : `${b.ip}:${b.port}`;
            const c = d.counters?.backends[n];
            return [n, String(b.weight), String(d.slots[n] ?? 0), String(c?.packets ?? 0), String(c?.bytes ?? 0)];
          })]) + '\n');
        }
        return 0;
      }
      case 'delete': {
        if (!name) throw new UsageError(`service delete needs a NAME\n\n${USAGE}`);
        await apiCall(sock, 'DELETE', `/v1/services/${encodeURIComponent(name)}`, undefined, 10000);
        process.stdout.write(`service ${name} deleted\n`);
        return 0;
      }
      default:
        process.stderr.write(`weft service: unknown verb "${verb}"\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ServiceError || e instanceof UsageError) {
      process.stderr.write(`weft service: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
