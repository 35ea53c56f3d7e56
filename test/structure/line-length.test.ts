// No line of TypeScript or JavaScript source is wider than 120 columns (biome.json's lineWidth):
// the formatter leaves long strings, regular expressions and comments alone, so this says it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAX_COLUMNS = 120;
const TREES = ['src', 'test', 'scripts', 'netns-tests'];

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (p.endsWith('.ts') || p.endsWith('.mjs')) out.push(p);
  }
  return out;
}

test(`no source line is wider than ${MAX_COLUMNS} columns`, () => {
  const wide: string[] = [];
  for (const tree of TREES) {
    for (const file of sources(join(ROOT, tree))) {
      const lines = readFileSync(file, 'utf8').split('\n');
      for (let i = 0; i < lines.length; i++) {
        if ([...lines[i]!].length > MAX_COLUMNS) wide.push(`${file.slice(ROOT.length)}:${i + 1}`);
      }
    }
  }
  assert.deepEqual(wide, []);
});
