// An instructor's workshop whose learners sit on different agents (docs/workshops.md): the
// workshop, its seats and its learners' progress live in the shared PostgreSQL, so the room
// looks the same from every agent and through the router, and a task done on one agent reaches
// a dashboard connected to another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rootOrSkip } from '../helpers/env.ts';
import { useCluster } from '../helpers/use-cluster.ts';
import { type Cluster, connect, type Router } from '../helpers/cluster.ts';
import { TestClient, ok } from '../helpers/ws.ts';
import { waitFor } from '../helpers/wait.ts';

const skip = rootOrSkip('the cluster tests');
let cluster: Cluster;

useCluster(skip, { hosts: 3 }, (c) => {
  cluster = c;
});

/** A learner's browser on host `n`: its own session, the host's page as origin. */
async function learnerOn(n: number): Promise<TestClient> {
  const url = cluster.host(n).url;
  return connect(url, { cookie: await TestClient.sessionCookie(url), origin: url });
}

/** Do the uts lesson's first task in `lab` and wait until the agent says it is done. */
async function setHostname(c: TestClient, lab: string): Promise<void> {
  await ok(c, { type: 'watch', lab });
  await ok(c, { type: 'attach', lab, pane: 'container', cols: 80, rows: 24 });
  c.send({ type: 'input', lab, pane: 'container', data: 'hostname -b bird\n' });
  await c.waitFor((m) => m.type === 'tasks' && m.tasks.some((t: { id: string; status: string }) => t.id === 'set-hostname' && t.status === 'done'), 30_000);
}

test("a workshop's learners on three agents: every agent and the router show the whole room", { skip, timeout: 240_000 }, async () => {
  const admin = await connect(cluster.host(1).url, { token: cluster.token });
  const w = await ok(admin, { type: 'workshop-create', title: 'Across machines', lessons: ['uts', 'pid'], seats: 5 });
  const names = ['Ann', 'Bo', 'Cy'];
  const learners: Array<{ c: TestClient; lab: string; seat: string; n: number }> = [];
  // Each learner joins on a different agent (with the code made on host 1) and opens a lab there.
  for (let n = 1; n <= 3; n++) {
    const c = await learnerOn(n);
    const joined = await ok(c, { type: 'join', code: w.code, name: names[n - 1] });
    assert.equal(joined.workshop.id, w.id, `host${n} knows the workshop made on host1`);
    const lab = (await ok(c, { type: 'open', lesson: 'uts' })).id as string;
    assert.ok(lab.startsWith(cluster.host(n).tag), `${names[n - 1]}'s lab is on host${n}`);
    learners.push({ c, lab, seat: joined.seat.id, n });
  }
  // Seats are counted across the cluster: the same code, five seats in all.
  assert.equal((await ok(admin, { type: 'workshop-list' })).find((x: { id: string }) => x.id === w.id).taken, 3);

  // Ann (on host 1) and Bo (on host 2) do the task.
  await setHostname(learners[0]!.c, learners[0]!.lab);
  await setHostname(learners[1]!.c, learners[1]!.lab);

  // Every agent shows the same room: three learners, their labs, who has done what.
  const rooms = [];
  for (let n = 1; n <= 3; n++) {
    const t = await connect(cluster.host(n).url, { token: cluster.token });
    const room = await waitFor(`host${n} shows Ann's and Bo's task`, async () => {
      const r = await ok(t, { type: 'workshop-show', workshop: w.id });
      const done = r.learners.filter((l: { done: Array<{ task: string }> }) => l.done.some((d) => d.task === 'set-hostname'));
      return done.length === 2 ? r : null;
    });
    rooms.push(room);
    t.close();
  }
  for (const room of rooms) {
    const byName = new Map(room.learners.map((l: { name: string }) => [l.name, l]));
    assert.deepEqual([...byName.keys()].sort(), names);
    for (const l of learners) {
      const row = byName.get(names[l.n - 1]!) as { seat: string; lab: string | null; lesson: string | null; done: Array<{ lesson: string; task: string }> };
      assert.equal(row.seat, l.seat);
      assert.equal(row.lab, l.lab, `${names[l.n - 1]}'s lab is seen from every agent`);
      assert.equal(row.lesson, 'uts');
    }
    assert.deepEqual((byName.get('Cy') as { done: unknown[] }).done, [], 'Cy did nothing');
  }
  // And the same through a router, which sends the dashboard to any agent.
  const router: Router = await cluster.startRouter();
  await router.waitAgents('three healthy agents', (a) => a.filter((x) => x.healthy).length === 3);
  const viaRouter = await connect(router.url, { token: cluster.token });
  const room = await ok(viaRouter, { type: 'workshop-show', workshop: w.id });
  assert.deepEqual(room.learners.map((l: { name: string }) => l.name).sort(), names);
  viaRouter.close();
  for (const c of [admin, ...learners.map((l) => l.c)]) c.close();
});

test('a task done on one agent reaches a dashboard connected to another, at once', { skip, timeout: 120_000 }, async () => {
  const admin = await connect(cluster.host(1).url, { token: cluster.token });
  const w = await ok(admin, { type: 'workshop-create', title: 'Pushed', lessons: ['uts'], seats: 2 });
  // The instructor's dashboard on host 3, the learner on host 2.
  const url3 = cluster.host(3).url;
  const teacher = await connect(url3, { cookie: await TestClient.sessionCookie(url3), origin: url3 });
  assert.equal((await ok(teacher, { type: 'instructor', workshop: w.id, key: w.instructorKey })).id, w.id);
  const learner = await learnerOn(2);
  let seen = teacher.messages.length;
  await ok(learner, { type: 'join', code: w.code, name: 'Eve' });
  // The join on host 2 is told to the dashboard on host 3 (through the store, not a new service).
  await teacher.waitFor((m) => m.type === 'workshop-changed' && m.workshop === w.id && teacher.messages.indexOf(m) >= seen, 15_000);
  const lab = (await ok(learner, { type: 'open', lesson: 'uts' })).id as string;
  seen = teacher.messages.length;
  await setHostname(learner, lab);
  await teacher.waitFor((m) => m.type === 'workshop-changed' && m.workshop === w.id && teacher.messages.indexOf(m) >= seen, 15_000);
  const room = await ok(teacher, { type: 'workshop-show', workshop: w.id });
  assert.ok(room.learners[0].done.some((d: { task: string }) => d.task === 'set-hostname'));
  for (const c of [admin, teacher, learner]) c.close();
});

test('the instructor watches a learner whose lab is on another agent, through the router', { skip, timeout: 120_000 }, async () => {
  const router: Router = [...cluster.routers][0] ?? (await cluster.startRouter());
  await router.waitAgents('three healthy agents', (a) => a.filter((x) => x.healthy).length === 3);
  const admin = await connect(router.url, { token: cluster.token });
  const w = await ok(admin, { type: 'workshop-create', title: 'Watching', lessons: ['uts'], seats: 2 });
  const learner = await learnerOn(2);
  const { seat } = await ok(learner, { type: 'join', code: w.code, name: 'Dee' });
  const lab = (await ok(learner, { type: 'open', lesson: 'uts' })).id as string;
  await ok(learner, { type: 'exec', lab, pane: 'host', argv: ['sh', '-c', 'echo watched-marker'] });
  // The dashboard is on host 1 (directly, as a router may place it anywhere).
  const teacher = await connect(cluster.host(1).url, { token: cluster.token });
  const watch = await ok(teacher, { type: 'workshop-watch', workshop: w.id, seat: seat.id });
  assert.equal(watch.lab, lab);
  // The watch page connects through the router with the lab its link names.
  const viewer = await connect(router.url, { lab: watch.token.split('.')[0] });
  const view = await ok(viewer, { type: 'view', token: watch.token });
  assert.equal(view.readOnly, true);
  assert.equal(view.id, lab);
  for (const c of [admin, learner, teacher, viewer]) c.close();
});

test("the instructor's actions reach a learner's lab on another agent; closing the workshop closes labs on every agent", {
  skip,
  timeout: 180_000,
}, async () => {
  const admin = await connect(cluster.host(1).url, { token: cluster.token });
  const w = await ok(admin, { type: 'workshop-create', title: 'Acting across', lessons: ['uts'], seats: 3 });
  // The dashboard on host 1; Fay on host 2, Gil on host 3.
  const url1 = cluster.host(1).url;
  const teacher = await connect(url1, { cookie: await TestClient.sessionCookie(url1), origin: url1 });
  await ok(teacher, { type: 'instructor', workshop: w.id, key: w.instructorKey });
  const fay = await learnerOn(2);
  const { seat: faySeat } = await ok(fay, { type: 'join', code: w.code, name: 'Fay' });
  const fayLab = (await ok(fay, { type: 'open', lesson: 'uts' })).id as string;
  await ok(fay, { type: 'watch', lab: fayLab });
  const gil = await learnerOn(3);
  const { seat: gilSeat } = await ok(gil, { type: 'join', code: w.code, name: 'Gil' });
  const gilLab = (await ok(gil, { type: 'open', lesson: 'uts' })).id as string;
  await ok(gil, { type: 'watch', lab: gilLab });
  // Host 1 sees both labs (their agents wrote them to the store).
  await waitFor('host 1 knows both labs', async () => {
    const r = await ok(teacher, { type: 'workshop-show', workshop: w.id });
    return r.learners.filter((l: { lab: string | null }) => l.lab === fayLab || l.lab === gilLab).length === 2 || null;
  });

  // Extend: sent to host 2, which gives Fay's lab more time.
  const ext = await ok(teacher, { type: 'learner-lab', workshop: w.id, seat: faySeat.id, action: 'extend' });
  assert.equal(ext.lab, fayLab);
  // Reset: host 2 closes Fay's lab with the reason her page knows, and she is told.
  const reset = await ok(teacher, { type: 'learner-lab', workshop: w.id, seat: faySeat.id, action: 'reset' });
  assert.equal(reset.lab, fayLab);
  const closed = await fay.waitFor((m) => m.type === 'lab-closed' && m.lab === fayLab, 15_000);
  assert.equal(closed.reason, 'reset by the instructor');

  // A take-over of a lab on another machine is refused with where it is.
  const refused = await teacher.request({ type: 'takeover-request', workshop: w.id, seat: gilSeat.id });
  assert.equal(refused.type, 'error');
  assert.match(refused.message, /another machine \(host3\)/);

  // Another workshop's instructor cannot reach Gil's lab by naming it in a forged event: the
  // agent checks the seats. (An instructor of workshop B asks for a seat of workshop A.)
  const other = await ok(admin, { type: 'workshop-create', title: 'Elsewhere', lessons: ['uts'], seats: 1 });
  const stranger = await connect(url1, { cookie: await TestClient.sessionCookie(url1), origin: url1 });
  await ok(stranger, { type: 'instructor', workshop: other.id, key: other.instructorKey });
  const forged = await stranger.request({ type: 'learner-lab', workshop: other.id, seat: gilSeat.id, action: 'close' });
  assert.equal(forged.type, 'error', 'a seat of another workshop is no seat of this one');

  // Closing the workshop on host 1 closes Gil's lab on host 3.
  await ok(teacher, { type: 'workshop-close', workshop: w.id });
  const gone = await gil.waitFor((m) => m.type === 'lab-closed' && m.lab === gilLab, 15_000);
  assert.equal(gone.reason, 'the workshop was closed');
  for (const c of [admin, teacher, fay, gil, stranger]) c.close();
});
