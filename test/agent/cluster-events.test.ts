// Agents that share one PostgreSQL hear each other's workshop events through it (LISTEN/NOTIFY):
// an instructor whose dashboard is on one agent follows learners who joined and work on another,
// a broadcast from there reaches them, and after the database went away and came back, events
// flow again by themselves.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sideAgent } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { TestClient, ok } from '../helpers/ws.ts';
import { waitFor } from '../helpers/wait.ts';
import { PgServer, pgSkip } from '../store/engines.ts';
import { loadConfig } from '../../apps/agent/src/config.ts';

const skip = rootOrSkip('the events between agents') || pgSkip();
let server: PgServer | null = null;

before(async () => {
  if (skip) return;
  server = new PgServer();
  await server.init();
});
after(async () => {
  await server?.destroy();
});

test('a room whose learners sit on another agent: its dashboard follows them, and its broadcast reaches them', { skip }, async () => {
  const url = await server!.createDatabase();
  const base = loadConfig({}, {}).cluster;
  const a = await sideAgent(15, { maxLabs: 4, databaseUrl: url, cluster: { ...base, agentId: 'host-a' } });
  const b = await sideAgent(16, { maxLabs: 4, databaseUrl: url, cluster: { ...base, agentId: 'host-b' } });
  try {
    const admin = await TestClient.connect(a.url, a.token);
    const w = await ok(admin, { type: 'workshop-create', title: 'Two machines', lessons: ['uts'], seats: 4 });
    const teacher = await TestClient.asBrowser(a.url);
    await ok(teacher, { type: 'instructor', workshop: w.id, key: w.instructorKey });

    // Ann's page is on agent B.
    const ann = await TestClient.asBrowser(b.url);
    let seen = teacher.messages.length;
    await ok(ann, { type: 'join', code: w.code, name: 'Ann' });
    await teacher.waitFor((m) => m.type === 'workshop-changed' && m.workshop === w.id && teacher.messages.indexOf(m) >= seen, 10_000);
    let room = await ok(teacher, { type: 'workshop-show', workshop: w.id });
    assert.deepEqual(
      room.learners.map((l: { name: string }) => l.name),
      ['Ann'],
      'the seat taken on B is in the room on A',
    );

    // A task done in her lab on B: A is told, and A's dashboard shows it (from the store).
    const lab = (await ok(ann, { type: 'open', lesson: 'uts' })).id;
    await ok(ann, { type: 'watch', lab });
    seen = teacher.messages.length;
    await ok(ann, { type: 'exec', lab, pane: 'container', argv: ['hostname', 'bird'] });
    await teacher.waitFor((m) => m.type === 'workshop-changed' && m.workshop === w.id && teacher.messages.indexOf(m) >= seen, 10_000);
    room = await waitFor('the task on the dashboard', async () => {
      const r = await ok(teacher, { type: 'workshop-show', workshop: w.id });
      return r.learners[0].done.some((d: { task: string }) => d.task === 'set-hostname') ? r : null;
    });

    const row = room.learners[0];
    assert.equal(row.lab, lab, "A's dashboard names her lab on B, as B wrote it in the store");
    assert.equal(row.lesson, 'uts');
    assert.equal(typeof row.idleSince, 'string');

    // A broadcast from the dashboard on A reaches Ann on B.
    await ok(ann, { type: 'seat' });
    await ok(teacher, { type: 'broadcast', workshop: w.id, text: 'Five minutes' });
    await ann.waitFor((m) => m.type === 'broadcast' && m.text === 'Five minutes', 10_000);

    // The database goes away and comes back: the agents open their event connections again.
    await server!.stop();
    await server!.start();
    await ok(teacher, { type: 'broadcast', workshop: w.id, text: 'Back again' }).catch(() => {});
    await waitFor(
      'a broadcast after the restart',
      async () => {
        if (ann.messages.some((m) => m.type === 'broadcast' && m.text === 'Back again')) return true;
        await ok(teacher, { type: 'broadcast', workshop: w.id, text: 'Back again' }).catch(() => {});
        return false;
      },
      40_000,
    );
    // Her lab closes on B: A's dashboard no longer shows it.
    await ok(ann, { type: 'close', lab });
    await waitFor('the closed lab leaves the dashboard', async () => (await ok(teacher, { type: 'workshop-show', workshop: w.id })).learners[0].lab === null);
    for (const c of [admin, teacher, ann]) c.close();
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
});
