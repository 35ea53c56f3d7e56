// Backend changes under load: while 32 UDP flows send steadily to a VIP, the service's backend
// list changes three times (a backend removed, added back with another weight, another
// drained). Flows whose backend did not change lose no datagram; nothing crashes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { withTopology, sleep, WEFT } from './harness.js';
import { lbTopology, VIP4 } from './lb-topology.js';

test('backend list changes under load lose no packet of unaffected flows', { timeout: 120000 }, async () => {
  await withTopology('lbu', async (t) => {
    const { lbs, client, backends } = await lbTopology(t, `dir:${join(t.dir, 'store')}`);
    const set = (list: Array<[number, number]>): void => {
      t.must('', [
        'node',
        WEFT,
        'service',
        'add',
        'dns',
        '--vip',
        VIP4,
        '--port',
        '53',
        '--protocol',
        'udp',
        ...list.flatMap(([i, w]) => ['--backend', `${backends[i].ipv4}:53@${w}`]),
        '--api',
        lbs[0].agent.api,
      ]);
    };
    const load = t.spawn(client, [
      'python3',
      '-c',
      `
import socket, select, time, json
flows = []
for i in range(32):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("", 41000 + i)); s.setblocking(False)
    flows.append({"s": s, "sent": 0, "got": 0, "names": []})
def drain(until, wait):
    while time.time() < until:
        r, _, _ = select.select([f["s"] for f in flows], [], [], wait)
        for sock in r:
            f = next(x for x in flows if x["s"] is sock)
            try:
                while True:
                    d = sock.recv(100); f["got"] += 1
                    if not f["names"] or f["names"][-1] != d.decode(): f["names"].append(d.decode())
            except BlockingIOError:
                pass
t0 = time.time()
for k in range(150):
    for f in flows:
        f["s"].sendto(b"q", ("${VIP4}", 53)); f["sent"] += 1
    drain(t0 + (k + 1) * 0.03, 0.005)
drain(time.time() + 1.5, 0.1)
print(json.dumps([{"sent": f["sent"], "got": f["got"], "names": f["names"]} for f in flows]))`,
    ]);
    await sleep(1200);
    set([
      [0, 1],
      [2, 1],
    ]); // a2 removed
    await sleep(1000);
    set([
      [0, 1],
      [1, 2],
      [2, 1],
    ]); // a2 back, weight 2
    await sleep(1000);
    set([
      [0, 1],
      [1, 2],
      [2, 0],
    ]); // b1 drained
    for (let i = 0; i < 100 && load.proc.exitCode === null; i++) await sleep(100);
    assert.equal(load.proc.exitCode, 0, load.output());
    const flows = JSON.parse(load.output().trim().split('\n').pop()!) as Array<{
      sent: number;
      got: number;
      names: string[];
    }>;
    const unaffected = flows.filter((f) => f.names.length === 1);
    assert.ok(unaffected.length >= 4, `some flows kept their backend throughout: ${unaffected.length}`);
    for (const f of unaffected)
      assert.equal(f.got, f.sent, `an unaffected flow (${f.names[0]}) lost ${f.sent - f.got} of ${f.sent}`);
    const sent = flows.reduce((a, f) => a + f.sent, 0);
    const got = flows.reduce((a, f) => a + f.got, 0);
    assert.ok(got >= sent * 0.99, `overall ${got}/${sent} answered`);
    assert.ok(
      flows.some((f) => f.names.length > 1),
      'some flows moved with the changes',
    );
    assert.equal((await lbs[0].agent.status()).health, 'ok');
  });
});
