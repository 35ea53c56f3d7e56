// weft lb maglev: prints the Maglev table Weft (and Cilium) build for a set of backends, so
// users can check and predict which backend a slot maps to.
import { UsageError } from './args.js';
import { defineCommand } from './runner.js';
import {
  buildMaglevTable,
  maglevSeed,
  sortBackends,
  checkTableSize,
  backendName,
  MaglevError,
  MAGLEV_DEFAULT_SEED,
  MAGLEV_DEFAULT_SIZE,
  MAGLEV_TABLE_SIZES,
} from '../lb/maglev.js';
import { parseAddress, formatAddress } from '../wire/addr.js';

const USAGE = `Usage: weft lb maglev [--table-size M] [--seed SEED] BACKEND...

Prints the Maglev lookup table for BACKENDs, one backend index per line (slot 0 first), as
Cilium 1.10 builds it: backends sorted by name, MurmurHash3 seeded from SEED. The legend
(index → backend) goes to standard error.

  BACKEND        IP:port or [IPv6]:port, optionally @weight (default 1; 0 drains it)
  --table-size M one of ${MAGLEV_TABLE_SIZES.join(', ')} (default ${MAGLEV_DEFAULT_SIZE})
  --seed SEED    12 bytes of base64 (default ${MAGLEV_DEFAULT_SEED})
`;

function parseBackend(text: string): { name: string; weight: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})(?:@(\d{1,6}))?$/.exec(text);
  const addr = m && parseAddress(m[1] ?? m[2]);
  const port = m ? Number(m[3]) : 0;
  if (!m || !addr || (m[1] !== undefined) !== (addr.family === 6) || port < 1 || port > 65535) {
    throw new UsageError(`backend "${text}" is not IP:port or [IPv6]:port (optionally @weight)`);
  }
  return { name: backendName(formatAddress(addr), port), weight: m[4] === undefined ? 1 : Number(m[4]) };
}

export const lbCommand = defineCommand({
  name: 'lb',
  usage: USAGE,
  inputErrors: [MaglevError],
  options: { 'table-size': { type: 'string' }, seed: { type: 'string' } },
  verbs: {
    maglev: {
      operands: ['BACKEND...'],
      options: ['table-size', 'seed'],
      agent: false,
      prepare: ({ values, operands }) => {
        const m = Number(values['table-size'] ?? MAGLEV_DEFAULT_SIZE);
        checkTableSize(m);
        const seed = maglevSeed(values.seed ?? MAGLEV_DEFAULT_SEED);
        const backends = sortBackends(operands.map(parseBackend));
        if (new Set(backends.map((b) => b.name)).size !== backends.length) {
          throw new UsageError('a backend is listed twice');
        }
        return () => {
          backends.forEach((b, i) => {
            process.stderr.write(`# ${i} ${b.name}${b.weight !== 1 ? ` weight ${b.weight}` : ''}\n`);
          });
          process.stdout.write(`${Array.from(buildMaglevTable(backends, m, seed)).join('\n')}\n`);
        };
      },
    },
  },
});
