// Helpers shared by the CLI's subcommands: finding the agent's socket, reading input files, printing tables.
import { readdirSync, readFileSync } from 'node:fs';
import { InputError } from './args.js';

export function defaultSocket(node?: string): string {
  if (node) return `/run/weft/${node}.sock`;
  let socks: string[] = [];
  try {
    socks = readdirSync('/run/weft').filter((f) => f.endsWith('.sock'));
  } catch {
    // No agent has run here.
  }
  if (socks.length === 1) return `/run/weft/${socks[0]}`;
  if (socks.length === 0) throw new Error('no agent socket in /run/weft (is weft agent running? pass --api)');
  throw new Error(`several agents in /run/weft (${socks.join(', ')}): pass --node or --api`);
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A file the user named (a policy, services), read before anything talks to the agent. */
export function readInput(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`${file}: cannot read: ${(e as Error).message}`);
  }
}
