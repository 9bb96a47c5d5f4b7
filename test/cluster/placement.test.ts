// Where new labs go (docs/router.md): by the agents' free room, never to a full one, and when
// none has room the router says so; a fourth agent that joins takes new labs, and no existing lab
// moves (every one still answers on the agent its id names).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rootOrSkip } from '../helpers/env.ts';
import { useCluster } from '../helpers/use-cluster.ts';
import { type Cluster, ROUTER_CLOSE, connect, execIn, openLab, type Router } from '../helpers/cluster.ts';
import type { TestClient } from '../helpers/ws.ts';

const skip = rootOrSkip('the cluster tests');
let cluster: Cluster;
let router: Router;

useCluster(skip, { hosts: 3, router: true }, (c, r) => void ([cluster, router] = [c, r!]));

/** Wait until the router's view of each host's free room is exactly `free` (by host number). */
async function routerSees(free: Record<number, number>): Promise<void> {
  await router.waitAgents(`free room ${JSON.stringify(free)}`, (agents) =>
    Object.entries(free).every(([n, f]) => agents.some((a) => a.id === cluster.host(Number(n)).id && a.healthy && a.free === f)),
  );
}

const held: Array<{ c: TestClient; lab: string }> = [];

/** A new lab through the router, kept open (its connection too). */
async function openThroughRouter(): Promise<string> {
  const c = await connect(router.url, { token: cluster.token });
  const lab = await openLab(c, 'uts');
  held.push({ c, lab });
  return lab;
}

async function closeAll(): Promise<void> {
  for (const { c, lab } of held.splice(0)) {
    await c.request({ type: 'close', lab });
    c.close();
  }
}

test('new labs go by free room: never to a full agent, evenly over the others, and nowhere when all are full', { skip, timeout: 240_000 }, async () => {
  const full = cluster.host(1);
  const max = 6;
  await routerSees({ 1: max, 2: max, 3: max });
  // Fill host 1 to its maximum, directly.
  const admin = await connect(full.url, { token: cluster.token });
  const direct: string[] = [];
  for (let i = 0; i < max; i++) direct.push(await openLab(admin, 'uts'));
  assert.equal((await full.health()).body.capacity.free, 0);
  await routerSees({ 1: 0, 2: max, 3: max });

  // Through the router, one at a time (each after the router has seen the last one): none on
  // host 1, and the freer of the two others each time, so they end even.
  const count = { 2: 0, 3: 0 } as Record<number, number>;
  for (let i = 0; i < 6; i++) {
    const lab = await openThroughRouter();
    const host = cluster.hostOf(lab);
    assert.ok(host, `the lab id ${lab} names one of the hosts`);
    assert.notEqual(host.n, 1, `lab ${i} went to the full host1`);
    count[host.n]!++;
    // The lab is where its id says.
    assert.ok((await host.health()).body.capacity.open >= 1);
    await routerSees({ 1: 0, 2: max - count[2]!, 3: max - count[3]! });
  }
  assert.deepEqual(count, { 2: 3, 3: 3 }, 'the freer agent wins each time');

  // Fill the rest; then a new lab has nowhere to go, and the client is told so.
  // Each after the router has seen the last: its view is a health round old.
  for (let i = 0; i < 6; i++) {
    const lab = await openThroughRouter();
    const seen = count as Record<number, number>;
    seen[cluster.hostOf(lab)!.n]!++;
    await routerSees({ 1: 0, 2: max - seen[2]!, 3: max - seen[3]! });
  }
  await routerSees({ 1: 0, 2: 0, 3: 0 });
  const turnedAway = await connect(router.url, { token: cluster.token });
  assert.deepEqual(await turnedAway.waitClosed(10_000), ROUTER_CLOSE.noRoom);
  // A lab that exists is still reached, full or not.
  const back = await connect(router.url, { token: cluster.token, lab: direct[0] });
  assert.equal(await execIn(back, direct[0]!, ['echo', 'here']), 'here\n');
  back.close();

  for (const lab of direct) await admin.request({ type: 'close', lab });
  admin.close();
  await closeAll();
  await routerSees({ 1: max, 2: max, 3: max });
});

test('a fourth agent joins: it takes new labs, and no existing lab moves', { skip, timeout: 240_000 }, async () => {
  const before: string[] = [];
  for (let i = 0; i < 5; i++) before.push(await openThroughRouter());
  const where = new Map(before.map((lab) => [lab, cluster.hostOf(lab)!.n]));
  // Something in each lab that only that lab has.
  for (const { c, lab } of held) await execIn(c, lab, ['sh', '-c', `echo ${lab} > /tmp/mark`]);

  const fourth = cluster.addHost(4);
  await fourth.start();
  await router.waitAgents('host4 healthy', (agents) => agents.some((a) => a.id === 'host4' && a.healthy && a.free === 6));

  // Every existing lab: on the agent its id names, still answering there, through the router and
  // directly, with what it had.
  for (const { c, lab } of held) {
    const n = where.get(lab)!;
    assert.equal(await execIn(c, lab, ['cat', '/tmp/mark']), `${lab}\n`, 'its old connection still works');
    const again = await connect(router.url, { token: cluster.token, lab });
    assert.equal(await execIn(again, lab, ['cat', '/tmp/mark']), `${lab}\n`, 'a new connection through the router reaches it');
    again.close();
    const direct = await connect(cluster.host(n).url, { token: cluster.token });
    const list = (await direct.request({ type: 'list' })).data as Array<{ id: string }>;
    assert.ok(
      list.some((l) => l.id === lab),
      `${lab} is still on host${n}`,
    );
    direct.close();
    const fourthList = await connect(fourth.url, { token: cluster.token });
    assert.ok(!((await fourthList.request({ type: 'list' })).data as Array<{ id: string }>).some((l) => l.id === lab), 'and not on host4');
    fourthList.close();
  }

  // New labs: host4 has the most room, so it wins every draw it is in; a few opens reach it.
  let onFourth = 0;
  for (let i = 0; i < 8 && onFourth < 2; i++) {
    const lab = await openThroughRouter();
    if (cluster.hostOf(lab)?.n === 4) onFourth++;
    const counts = { 1: 0, 2: 0, 3: 0, 4: 0 } as Record<number, number>;
    for (const h of held) counts[cluster.hostOf(h.lab)!.n]!++;
    await routerSees({ 1: 6 - counts[1]!, 2: 6 - counts[2]!, 3: 6 - counts[3]!, 4: 6 - counts[4]! });
  }
  assert.equal(onFourth, 2, 'the new agent receives new labs');
  await closeAll();
});
