// Runs one contract case in this process: `node run-case.js URL CASE-NAME`. The etcd test
// starts it inside its network namespace, where the test runner itself cannot go.
// Prints "note: ..." lines for measurements; exits 0 on success, 1 on failure, 3 on an
// unhandled rejection (which the store must never cause).
import { contract, runCase } from './contract.js';

process.on('unhandledRejection', (e) => {
  console.error(`unhandled rejection: ${(e as Error)?.stack ?? e}`);
  process.exit(3);
});

const [url, name] = process.argv.slice(2);
const c = contract.find((x) => x.name === name);
if (!c) {
  console.error(`no contract case named ${JSON.stringify(name)}`);
  process.exit(2);
}
try {
  await runCase(c, url!, (msg) => console.log(`note: ${msg}`));
  process.exit(0);
} catch (e) {
  console.error((e as Error)?.stack ?? e);
  process.exit(1);
}
