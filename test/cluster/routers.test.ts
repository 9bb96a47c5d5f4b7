// Routers keep nothing (docs/router.md): the route is in the lab's id. So a router restarted, or
// a second replica next to the first, reaches every lab: one opened through router A is attached
// through router B with `?lab=`, and still there after A has been stopped and started again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rootOrSkip } from '../helpers/env.ts';
import { useCluster } from '../helpers/use-cluster.ts';
import { type Cluster, connect, execIn, openLab } from '../helpers/cluster.ts';
import { ok, type TestClient } from '../helpers/ws.ts';

const skip = rootOrSkip('the cluster tests');
let cluster: Cluster;

useCluster(skip, { hosts: 3 }, (c) => {
  cluster = c;
});

/** What a lab's container pane has printed, as a client attached to it saw it. */
function screen(c: TestClient, lab: string): string {
  return Buffer.concat(c.frames.filter((f) => f.key === `${lab}/container`).map((f) => f.payload)).toString();
}

async function seen(c: TestClient, lab: string, text: string): Promise<void> {
  for (let i = 0; i < 300 && !screen(c, lab).includes(text); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(screen(c, lab).includes(text), `${lab}: "${text}" on screen; saw ${JSON.stringify(screen(c, lab).slice(-300))}`);
}

test('two router replicas, and a router restarted: every lab stays reachable', { skip, timeout: 240_000 }, async () => {
  const a = await cluster.startRouter();
  const b = await cluster.startRouter();
  for (const r of [a, b]) await r.waitAgents('three healthy agents', (x) => x.filter((y) => y.healthy).length === 3);

  // Labs opened through A; each one typed into.
  const labs: string[] = [];
  const opener = await connect(a.url, { token: cluster.token });
  for (let i = 0; i < 6; i++) {
    const c = i === 0 ? opener : await connect(a.url, { token: cluster.token });
    const lab = await openLab(c, 'uts');
    await ok(c, { type: 'attach', lab, pane: 'container', cols: 80, rows: 24 });
    c.send({ type: 'input', lab, pane: 'container', data: `echo mark-${i}-$((40+2))\n` });
    await seen(c, lab, `mark-${i}-42`);
    labs.push(lab);
    if (c !== opener) c.close();
  }
  assert.ok(new Set(labs.map((l) => cluster.hostOf(l)!.n)).size >= 2, 'the labs sit on more than one agent');

  // Through B, with the lab's id: the same lab, its screen replayed.
  for (const [i, lab] of labs.entries()) {
    const c = await connect(b.url, { token: cluster.token, lab });
    await ok(c, { type: 'attach', lab, pane: 'container', cols: 80, rows: 24 });
    await seen(c, lab, `mark-${i}-42`);
    assert.equal(await execIn(c, lab, ['echo', 'via-b']), 'via-b\n');
    c.close();
  }

  // A restarted (on the same port, as a Service's address stays): it learns the agents again
  // and reaches every lab; B never noticed.
  const port = a.port;
  await a.stop();
  assert.notEqual((await opener.waitClosed(10_000)).code, 4410, 'a router going away is not a lost lab');
  const a2 = await cluster.startRouter({ port });
  assert.equal(a2.port, port);
  await a2.waitAgents('three healthy agents', (x) => x.filter((y) => y.healthy).length === 3);
  for (const [i, lab] of labs.entries()) {
    for (const r of [a2, b]) {
      const c = await connect(r.url, { token: cluster.token, lab });
      await ok(c, { type: 'attach', lab, pane: 'container', cols: 80, rows: 24 });
      await seen(c, lab, `mark-${i}-42`);
      c.close();
    }
  }
  for (const lab of labs) {
    const c = await connect(b.url, { token: cluster.token, lab });
    assert.deepEqual(await ok(c, { type: 'close', lab }), { closed: true });
    c.close();
  }
  await a2.stop();
  await b.stop();
});
