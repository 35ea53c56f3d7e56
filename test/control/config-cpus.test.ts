// Worker placement in the node config: a CPU list, the default, and `cpus: none`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, ConfigError } from '../../src/control/config.js';

const BASE = { node: 'n1', workers: 2 };

test('cpus: a list pins each worker, nothing means worker i on CPU i, none means not pinned', () => {
  const listed = parseConfig({ ...BASE, cpus: [1, 0] }, 't');
  assert.deepEqual(listed.cpus, [1, 0]);
  assert.equal(listed.pinWorkers, true);
  const dflt = parseConfig(BASE, 't');
  assert.deepEqual(dflt.cpus, []);
  assert.equal(dflt.pinWorkers, true);
  const none = parseConfig({ ...BASE, cpus: 'none' }, 't');
  assert.equal(none.pinWorkers, false);
  assert.deepEqual(none.cpus, []);
});

test('cpus: anything else is refused with the field named', () => {
  for (const bad of ['all', [-1], [1.5], ['x'], 3]) {
    assert.throws(
      () => parseConfig({ ...BASE, cpus: bad }, 't'),
      (e: Error) => e instanceof ConfigError && /cpus/.test(e.message),
      JSON.stringify(bad),
    );
  }
});
