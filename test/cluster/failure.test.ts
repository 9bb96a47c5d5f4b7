// One machine dies (SIGKILL of its agent): only the learners whose labs it held are told, with
// 4410 and a sentence; everyone else keeps working; new labs go to the others; nothing written to
// the store before is lost. It comes back and takes labs again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rootOrSkip } from '../helpers/env.ts';
import { useCluster } from '../helpers/use-cluster.ts';
import { type Cluster, ROUTER_CLOSE, connect, execIn, openLab, type Router } from '../helpers/cluster.ts';
import { TestClient, ok } from '../helpers/ws.ts';

const skip = rootOrSkip('the cluster tests');
let cluster: Cluster;
let router: Router;

useCluster(skip, { hosts: 3, router: true }, (c, r) => void ([cluster, router] = [c, r!]));

interface Learner {
  n: number;
  cookie: string;
  lab: string;
  /** Connected through the router, with the lab's id, as the page is after a reload. */
  c: TestClient;
}

test("an agent killed: its learners are told, the others keep working, the store keeps everyone's progress; it comes back", {
  skip,
  timeout: 240_000,
}, async () => {
  const learners: Learner[] = [];
  for (let n = 1; n <= 3; n++) {
    // A browser session (from the router: the signing key is in the shared store, so any agent's
    // cookie is every agent's), a lab on host n, and the uts lesson's first task done there.
    const cookie = await TestClient.sessionCookie(router.url);
    const host = cluster.host(n);
    const direct = await connect(host.url, { cookie, origin: host.url });
    const lab = await openLab(direct, 'uts');
    assert.ok(lab.startsWith(host.tag));
    await ok(direct, { type: 'watch', lab });
    await ok(direct, { type: 'attach', lab, pane: 'container', cols: 80, rows: 24 });
    direct.send({ type: 'input', lab, pane: 'container', data: 'hostname -b bird\n' });
    await direct.waitFor(
      (m) => m.type === 'tasks' && m.tasks.some((t: { id: string; status: string }) => t.id === 'set-hostname' && t.status === 'done'),
      30_000,
    );
    direct.close();
    // The page, through the router.
    const c = await connect(router.url, { cookie, origin: router.url, lab });
    assert.equal(await execIn(c, lab, ['hostname']), 'nslab\n', 'the host pane keeps the lab hostname');
    await ok(c, { type: 'attach', lab, pane: 'container', cols: 80, rows: 24 });
    learners.push({ n, cookie, lab, c });
  }
  const progress = async (cookie: string) => {
    const c = await connect(router.url, { cookie, origin: router.url });
    const tasks = (await ok(c, { type: 'progress' })).tasks as Array<{ lesson: string; task: string; doneAt: string }>;
    c.close();
    return tasks;
  };
  const before = await Promise.all(learners.map((l) => progress(l.cookie)));
  for (const tasks of before)
    assert.deepEqual(
      tasks.map((t) => [t.lesson, t.task]),
      [['uts', 'set-hostname']],
    );

  const victim = cluster.host(2);
  await victim.kill();
  const [one, two, three] = learners as [Learner, Learner, Learner];
  assert.deepEqual(await two.c.waitClosed(15_000), ROUTER_CLOSE.gone, "the dead machine's learner is told, in words");
  for (const l of [one, three]) {
    assert.equal(l.c.closed, null, `host${l.n}'s learner is not disturbed`);
    assert.equal(await execIn(l.c, l.lab, ['echo', 'alive']), 'alive\n');
    l.c.send({ type: 'input', lab: l.lab, pane: 'container', data: `echo typed-${l.n}\n` });
    const seen = () =>
      Buffer.concat(l.c.frames.filter((f) => f.key === `${l.lab}/container`).map((f) => f.payload))
        .toString()
        .includes(`typed-${l.n}`);
    for (let i = 0; i < 200 && !seen(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(seen(), `host${l.n}'s terminal still streams`);
  }
  // Coming back to the lost lab: the same words, at once.
  const again = await connect(router.url, { cookie: two.cookie, origin: router.url, lab: two.lab });
  assert.deepEqual(await again.waitClosed(10_000), ROUTER_CLOSE.gone);

  // New labs go to the others.
  await router.waitAgents('host2 unhealthy', (a) => a.some((x) => x.id === 'host2' && !x.healthy));
  const fresh: Array<{ c: TestClient; lab: string }> = [];
  for (let i = 0; i < 4; i++) {
    const c = await connect(router.url, { token: cluster.token });
    const lab = await openLab(c, 'uts');
    assert.ok(!lab.startsWith(victim.tag), 'not on the dead machine');
    fresh.push({ c, lab });
  }
  // Nothing the store had is lost, the dead machine's learner's included.
  assert.deepEqual(await Promise.all(learners.map((l) => progress(l.cookie))), before);

  // It comes back (its leftovers swept at start) and takes labs again: it has the most room, so it
  // wins every draw it is in.
  await victim.start();
  await router.waitAgents('host2 healthy again', (a) => a.some((x) => x.id === 'host2' && x.healthy && x.free === 6));
  let back = 0;
  for (let i = 0; i < 8 && back === 0; i++) {
    const c = await connect(router.url, { token: cluster.token });
    const lab = await openLab(c, 'uts');
    if (lab.startsWith(victim.tag)) back++;
    fresh.push({ c, lab });
    await router.waitAgents('the new lab counted', (a) => a.reduce((s, x) => s + (x.healthy ? x.open : 0), 0) >= fresh.length + 2);
  }
  assert.equal(back, 1, 'the restarted agent takes new labs');
  for (const { c, lab } of fresh) {
    await c.request({ type: 'close', lab });
    c.close();
  }
  for (const l of learners) l.c.close();
});
