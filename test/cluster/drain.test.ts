// Draining (docs/router.md): an agent told to drain takes no new lab (directly: refused with
// `draining`; through the router: none is placed there), keeps serving the labs it has, and its
// process exits 0 once the last of them has closed, or once the drain's deadline has passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rootOrSkip } from '../helpers/env.ts';
import { useCluster } from '../helpers/use-cluster.ts';
import { type Cluster, connect, execIn, openLab, type Router } from '../helpers/cluster.ts';
import { refused } from '../helpers/ws.ts';
import { waitFor } from '../helpers/wait.ts';

const skip = rootOrSkip('the cluster tests');
let cluster: Cluster;

useCluster(skip, { hosts: 3 }, (c) => {
  cluster = c;
});

async function drain(url: string, token: string | null, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/api/drain`, {
    method: 'POST',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

test('a draining agent refuses new labs, keeps its own, and exits 0 when the last one closes', { skip, timeout: 180_000 }, async () => {
  const host = cluster.host(2);
  const admin = await connect(host.url, { token: cluster.token });
  const labs = [await openLab(admin, 'uts'), await openLab(admin, 'pid')];
  for (const lab of labs) assert.ok(lab.startsWith(host.tag), `${lab} names ${host.id}`);

  // Only the token holder may drain it; a malformed body is told what is wrong.
  assert.equal((await drain(host.url, null)).status, 401);
  assert.equal((await drain(host.url, 'wrong-token-wrong-token')).status, 401);
  const bad = await drain(host.url, cluster.token, { deadlineS: 'soon' });
  assert.equal(bad.status, 400);
  assert.match(bad.body.message, /deadlineS/);
  assert.equal((await host.health()).body.agent.draining, false, 'a refused drain changes nothing');

  host.expectExit();
  const exited = host.exited(120_000);
  const r = await drain(host.url, cluster.token, { deadlineS: 600 });
  assert.equal(r.status, 202);
  assert.equal(r.body.draining, true);
  assert.equal(r.body.labs, 2);
  const deadline = Date.parse(r.body.deadline);
  assert.ok(Number.isFinite(deadline) && deadline > Date.now() + 500_000, `the deadline is about 600 s away: ${r.body.deadline}`);

  // Still healthy (its labs are served), but no room for anyone.
  const health = await host.health();
  assert.equal(health.status, 200);
  assert.equal(health.body.agent.draining, true);
  assert.equal(health.body.capacity.free, 0);
  assert.equal(health.body.capacity.open, 2);
  assert.match(await refused(admin, { type: 'open', lesson: 'uts' }, 'draining'), /opens no new lab/);

  // Its labs still work, on the old connection and on a new one.
  assert.equal(await execIn(admin, labs[0]!, ['echo', 'still-here']), 'still-here\n');
  const again = await connect(host.url, { token: cluster.token });
  assert.equal(await execIn(again, labs[1]!, ['echo', 'also-here']), 'also-here\n');
  again.close();

  assert.deepEqual((await admin.request({ type: 'close', lab: labs[0] })).data, { closed: true });
  assert.equal(host.running, true, 'one lab is left: the agent stays');
  assert.equal((await host.health()).body.capacity.open, 1);
  assert.deepEqual((await admin.request({ type: 'close', lab: labs[1] })).data, { closed: true });
  const how = await exited;
  assert.deepEqual(how, { code: 0, signal: null }, 'it exits 0 by itself once its last lab has closed');
  assert.deepEqual(host.labProcesses(), [], 'and leaves no lab process behind');
  admin.close();
  // Back for the next test.
  await host.start();
});

test('a drain whose deadline passes closes the agent with its labs still open', { skip, timeout: 120_000 }, async () => {
  const host = cluster.host(3);
  const admin = await connect(host.url, { token: cluster.token });
  const lab = await openLab(admin, 'uts');
  await execIn(admin, lab, ['sh', '-c', 'sleep 1000 >/dev/null 2>&1 & echo started']);
  host.expectExit();
  const exited = host.exited(60_000);
  const r = await drain(host.url, cluster.token, { deadlineS: 1 });
  assert.equal(r.status, 202);
  assert.equal(r.body.labs, 1);
  assert.deepEqual(await exited, { code: 0, signal: null });
  await admin.waitClosed(10_000);
  await waitFor('no lab process of the drained agent', () => host.labProcesses().length === 0, 10_000);
  await host.start();
  admin.close();
});

test('through the router: a draining agent gets no new lab, the others do', { skip, timeout: 180_000 }, async () => {
  const router: Router = await cluster.startRouter();
  const host = cluster.host(1);
  await router.waitAgents('three healthy agents', (a) => a.filter((x) => x.healthy).length === 3);
  const admin = await connect(host.url, { token: cluster.token });
  const kept = await openLab(admin, 'uts');
  host.expectExit();
  const exited = host.exited(120_000);
  assert.equal((await drain(host.url, cluster.token)).status, 202);
  const agents = await router.waitAgents(`${host.id} draining`, (a) => a.some((x) => x.id === host.id && x.draining && x.free === 0));
  assert.equal(agents.find((x) => x.id === host.id).healthy, true, 'draining is not unhealthy: its labs are still reached');

  const clients = [];
  for (let i = 0; i < 6; i++) {
    const c = await connect(router.url, { token: cluster.token });
    const lab = await openLab(c, 'uts');
    assert.ok(!lab.startsWith(host.tag), `lab ${i} went elsewhere than the draining ${host.id}`);
    assert.ok(cluster.hostOf(lab), `lab ${i} names one of the hosts: ${lab}`);
    clients.push({ c, lab });
  }
  // The lab it kept is still reached through the router.
  const viaRouter = await connect(router.url, { token: cluster.token, lab: kept });
  assert.equal(await execIn(viaRouter, kept, ['echo', 'kept']), 'kept\n');
  await viaRouter.request({ type: 'close', lab: kept });
  assert.deepEqual(await exited, { code: 0, signal: null });
  const gone = await router.waitAgents(`${host.id} gone`, (a) => a.some((x) => x.id === host.id && !x.healthy) || !a.some((x) => x.id === host.id));
  assert.ok(gone);
  for (const { c, lab } of clients) {
    await c.request({ type: 'close', lab });
    c.close();
  }
  admin.close();
  viaRouter.close();
});
