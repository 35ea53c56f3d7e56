// The layering rule of docs/design-notes.md, read from the sources' own imports so it stays
// true: wire/ and native/ at the bottom, then tables/, then the feature cores (lb/, nat/,
// recorder/, wireguard/, bgp/), then datapath/, then control/, then cli/. Nothing imports
// upward or sideways between feature cores, and the datapath's files import each other without
// a circle (decapsulated frames re-enter through one dispatcher, not by calling back up).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(ROOT, 'src');

const RANK: Record<string, number> = {
  wire: 0,
  native: 0,
  tables: 1,
  lb: 2,
  nat: 2,
  recorder: 2,
  wireguard: 2,
  bgp: 2,
  datapath: 3,
  control: 4,
  cli: 5,
};

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every relative import and re-export of every file under src/, as paths relative to src/. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets: string[] = [];
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)) {
      targets.push(relative(SRC, normalize(join(dirname(file), m[1]!))).replace(/\.js$/, '.ts'));
    }
    graph.set(relative(SRC, file), targets);
  }
  return graph;
}

const layer = (path: string): string => path.split('/')[0]!;

test('every source file belongs to a known layer', () => {
  for (const file of importGraph().keys()) assert.ok(layer(file) in RANK, `${file}: not in a layer of the rule`);
});

test('nothing imports upward, nor sideways between feature cores', () => {
  const bad: string[] = [];
  for (const [from, targets] of importGraph()) {
    for (const to of targets) {
      const a = RANK[layer(from)]!,
        b = RANK[layer(to)]!;
      if (b > a || (b === a && layer(from) !== layer(to))) bad.push(`${from} → ${to}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('no import circle among the datapath files', () => {
  const graph = importGraph();
  const inDatapath = (f: string) => layer(f) === 'datapath';
  const state = new Map<string, number>(); // 1 on the stack, 2 done
  const stack: string[] = [];
  const circles: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 1);
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (!inDatapath(t)) continue;
      if (state.get(t) === 1) circles.push([...stack.slice(stack.indexOf(t)), t].join(' → '));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of graph.keys()) if (inDatapath(f) && !state.has(f)) visit(f);
  assert.deepEqual(circles, []);
});
