// Workshops over the protocol, against a real agent with real labs: the token holder makes one,
// learners join with its code (one seat per browser session, never more than it has), the
// instructor (its key, nothing else) sees the room change as tasks get done, answers help and
// broadcasts; and everyone else is refused: learners on the dashboard's requests, a wrong or
// replaced key, a guesser trying codes.
import { after, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { JOIN_CODE_ALPHABET, formatJoinCode } from '@nslab/shared';
import { useTestAgent, sideAgent } from '../helpers/agent.ts';
import { TestClient, ok, refused } from '../helpers/ws.ts';
import { waitFor } from '../helpers/wait.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip();
// A store of its own: these workshops stay open (and warm labs) only for this file's agent.
const dataDir = mkdtempSync(join(tmpdir(), 'nslab-workshops-'));
const useAgent = useTestAgent(skip, { graceMs: 60_000, dataDir });
after(() => rmSync(dataDir, { recursive: true, force: true }));

async function workshop(admin: TestClient, extra: Record<string, unknown> = {}) {
  return ok(admin, { type: 'workshop-create', title: 'Namespaces, Tuesday', lessons: ['uts', 'ipc'], seats: 3, ...extra });
}

test('a workshop is made by the token holder only, with a code nobody misreads; bad input is refused', { skip }, async () => {
  const agent = useAgent();
  const admin = await TestClient.connect(agent.url, agent.token);
  const w = await workshop(admin);
  assert.match(w.id, /^[a-z0-9]{10}$/);
  assert.equal(w.code.length, 8);
  for (const ch of w.code) assert.ok(JOIN_CODE_ALPHABET.includes(ch), `${ch} is in the code alphabet`);
  for (const lookalike of '0O1IL2Z5S8B6G') assert.ok(!JOIN_CODE_ALPHABET.includes(lookalike), `${lookalike} is not`);
  assert.equal(w.state, 'open');
  assert.equal(w.taken, 0);
  assert.ok(w.instructorKey.length >= 32);
  const list = await ok(admin, { type: 'workshop-list' });
  assert.ok(
    list.some((x: { id: string; instructorKey?: string }) => x.id === w.id && x.instructorKey === undefined),
    'listed, without its key',
  );

  await refused(admin, { type: 'workshop-create', title: 'x', lessons: ['nope'], seats: 3 }, 'unknown-lesson');
  await refused(admin, { type: 'workshop-create', title: 'x', lessons: ['uts'], seats: 0 }, 'bad-message');
  await refused(admin, { type: 'workshop-create', title: 'x', lessons: ['uts', 'uts'], seats: 2 }, 'bad-message');
  await refused(admin, { type: 'workshop-create', title: 'a\u0007bell', lessons: ['uts'], seats: 2 }, 'bad-message');
  await refused(admin, { type: 'workshop-create', title: 'x', lessons: ['uts'], seats: 2, closes: '2001-01-01T00:00:00Z' }, 'bad-message');

  const browser = await TestClient.asBrowser(agent.url);
  await refused(browser, { type: 'workshop-create', title: 'mine', lessons: ['uts'], seats: 2 }, 'forbidden');
  await refused(browser, { type: 'workshop-list' }, 'forbidden');
  for (const c of [admin, browser]) c.close();
});

test('learners join with the code as they type it, keep their seat, and a full, early, closed or wrong code is told so', { skip }, async () => {
  const agent = useAgent();
  const admin = await TestClient.connect(agent.url, agent.token);
  const w = await workshop(admin, { seats: 2 });
  const ann = await TestClient.asBrowser(agent.url);
  const bo = await TestClient.asBrowser(agent.url);
  const cy = await TestClient.asBrowser(agent.url);

  // Lowercase, with the dash and spaces: the same code.
  const typed = ` ${formatJoinCode(w.code).toLowerCase()} `;
  const a = await ok(ann, { type: 'join', code: typed, name: 'Ann' });
  assert.equal(a.workshop.id, w.id);
  assert.deepEqual(a.workshop.lessons, ['uts', 'ipc']);
  // Again (another tab, a reload): the same seat, the new name.
  const again = await ok(ann, { type: 'join', code: w.code, name: 'Ann B.' });
  assert.equal(again.seat.id, a.seat.id);
  assert.equal(again.seat.name, 'Ann B.');
  assert.equal((await ok(ann, { type: 'seat' })).seat.id, a.seat.id);
  await ok(bo, { type: 'join', code: w.code, name: 'Bo' });
  assert.match(await refused(cy, { type: 'join', code: w.code, name: 'Cy' }, 'workshop-full'), /full \(2 seats\)/);
  assert.equal(await ok(cy, { type: 'seat' }), null, 'no seat for who was turned away');

  await refused(cy, { type: 'join', code: 'AAAA-AAAA', name: 'Cy' }, 'bad-code');
  await refused(cy, { type: 'join', code: 'not a code!', name: 'Cy' }, 'bad-code');
  await refused(cy, { type: 'join', code: w.code, name: '   ' }, 'bad-message');
  await refused(cy, { type: 'join', code: w.code, name: 'x'.repeat(41) }, 'bad-message');

  const later = await workshop(admin, { opens: new Date(Date.now() + 3_600_000).toISOString() });
  assert.equal(later.state, 'scheduled');
  assert.match(await refused(cy, { type: 'join', code: later.code, name: 'Cy' }, 'workshop-not-open'), /opens at/);

  const over = await workshop(admin);
  await ok(cy, { type: 'join', code: over.code, name: 'Cy' });
  const lab = (await ok(cy, { type: 'open', lesson: 'uts' })).id;
  const closed = await ok(admin, { type: 'workshop-close', workshop: over.id });
  assert.deepEqual(closed, { closed: true, labs: 1 });
  assert.equal(agent.manager.get(lab), undefined, "its learners' labs closed with it");
  await cy.waitFor((m) => m.type === 'workshop-closed' && m.workshop === over.id);
  const dee = await TestClient.asBrowser(agent.url);
  await refused(dee, { type: 'join', code: over.code, name: 'Dee' }, 'workshop-closed');
  assert.equal(await ok(cy, { type: 'seat' }), null, 'a closed workshop is no seat');
  for (const c of [admin, ann, bo, cy, dee]) c.close();
});

test('the instructor sees the room change as a task is done, answers help and broadcasts; learners reach none of it', { skip }, async () => {
  const agent = useAgent();
  const admin = await TestClient.connect(agent.url, agent.token);
  const w = await workshop(admin);
  const other = await workshop(admin);
  const ann = await TestClient.asBrowser(agent.url);
  const bo = await TestClient.asBrowser(agent.url);
  const elsewhere = await TestClient.asBrowser(agent.url);
  const annSeat = (await ok(ann, { type: 'join', code: w.code, name: 'Ann' })).seat.id;
  await ok(bo, { type: 'join', code: w.code, name: 'Bo' });
  await ok(elsewhere, { type: 'join', code: other.code, name: 'Elsewhere' });

  // The instructor link's key, on a browser connection: nothing else opens the room.
  const teacher = await TestClient.asBrowser(agent.url);
  await refused(teacher, { type: 'workshop-show', workshop: w.id }, 'forbidden');
  await refused(teacher, { type: 'instructor', workshop: w.id, key: 'x'.repeat(32) }, 'forbidden');
  await refused(teacher, { type: 'instructor', workshop: w.id, key: other.instructorKey }, 'forbidden');
  assert.equal((await ok(teacher, { type: 'instructor', workshop: w.id, key: w.instructorKey })).id, w.id);
  await refused(teacher, { type: 'workshop-show', workshop: other.id }, 'forbidden');

  let room = await ok(teacher, { type: 'workshop-show', workshop: w.id });
  assert.deepEqual(
    room.learners.map((l: { name: string }) => l.name),
    ['Ann', 'Bo'],
  );
  assert.deepEqual(
    room.plan.map((p: { lesson: string }) => p.lesson),
    ['uts', 'ipc'],
  );
  assert.ok(room.plan[0].tasks.some((t: { id: string }) => t.id === 'set-hostname'));
  assert.deepEqual(room.learners[0].done, []);

  // Ann does the UTS task in her own lab; the instructor is told, and the store has it.
  const lab = (await ok(ann, { type: 'open', lesson: 'uts' })).id;
  await ok(ann, { type: 'watch', lab });
  const seen = teacher.messages.length;
  await ok(ann, { type: 'exec', lab, pane: 'container', argv: ['hostname', 'bird'] });
  await teacher.waitFor((m) => m.type === 'workshop-changed' && m.workshop === w.id && teacher.messages.indexOf(m) >= seen, 10_000);
  await waitFor('the task in the room', async () => {
    room = await ok(teacher, { type: 'workshop-show', workshop: w.id });
    return room.learners[0].done.some((d: { task: string }) => d.task === 'set-hostname');
  });
  const annRow = room.learners[0];
  assert.equal(annRow.lab, lab);
  assert.equal(annRow.lesson, 'uts');
  assert.equal(annRow.connected, true);
  assert.deepEqual(room.learners[1].done, [], 'Bo did nothing');

  // Help: at once on the dashboard, until answered.
  const help = (await ok(ann, { type: 'help', text: 'my hostname will not change' })).help;
  room = await ok(teacher, { type: 'workshop-show', workshop: w.id });
  assert.deepEqual(
    room.help.map((h: { id: string; name: string; text: string }) => [h.id, h.name, h.text]),
    [[help, 'Ann', 'my hostname will not change']],
  );
  await refused(ann, { type: 'help-answer', workshop: w.id, help }, 'forbidden');
  await refused(elsewhere, { type: 'help', text: '\u001b[31m' }, 'bad-message');
  assert.deepEqual(await ok(teacher, { type: 'help-answer', workshop: w.id, help }), { answered: true });
  assert.deepEqual((await ok(teacher, { type: 'workshop-show', workshop: w.id })).help, []);
  await refused(teacher, { type: 'help-answer', workshop: w.id, help }, 'failed');

  // A broadcast reaches this room's learners, not the other room's.
  await ok(ann, { type: 'seat' });
  await ok(bo, { type: 'seat' });
  await ok(elsewhere, { type: 'seat' });
  await ok(teacher, { type: 'broadcast', workshop: w.id, text: 'Ten minutes left' });
  for (const c of [ann, bo]) await c.waitFor((m) => m.type === 'broadcast' && m.text === 'Ten minutes left');
  assert.equal((await ok(bo, { type: 'seat' })).broadcast.text, 'Ten minutes left', 'a late page still sees it');
  await refused(ann, { type: 'broadcast', workshop: w.id, text: 'I am the teacher now' }, 'forbidden');
  assert.ok(!elsewhere.messages.some((m) => m.type === 'broadcast'), 'the other room heard nothing');

  // Watching a learner: a read-only link to their lab, for the instructor only.
  await refused(bo, { type: 'workshop-watch', workshop: w.id, seat: annSeat }, 'forbidden');
  await refused(teacher, { type: 'workshop-watch', workshop: other.id, seat: annSeat }, 'forbidden');
  const { token } = await ok(teacher, { type: 'workshop-watch', workshop: w.id, seat: annSeat });
  const viewer = await TestClient.asBrowser(agent.url);
  assert.equal((await ok(viewer, { type: 'view', token })).readOnly, true);
  await refused(viewer, { type: 'input', lab, pane: 'host', data: 'echo hi\n', id: 1 }, 'read-only');

  // A new instructor link: the old key stops working, on connections that used it too.
  const fresh = await ok(admin, { type: 'workshop-rekey', workshop: w.id });
  await teacher.waitFor((m) => m.type === 'workshop-closed' && m.workshop === w.id);
  await refused(teacher, { type: 'workshop-show', workshop: w.id }, 'forbidden');
  await refused(teacher, { type: 'instructor', workshop: w.id, key: w.instructorKey }, 'forbidden');
  await ok(teacher, { type: 'instructor', workshop: w.id, key: fresh.instructorKey });
  for (const c of [admin, ann, bo, elsewhere, teacher, viewer]) c.close();
});

test('join codes and instructor keys cannot be guessed by trying: every try from an address counts', { skip }, async () => {
  const agent = await sideAgent(4, { dataDir: join(dataDir, 's4'), rates: { ...useAgent().manager.config.rates, joins: { burst: 5, perMinute: 1 } } });
  try {
    const admin = await TestClient.connect(agent.url, agent.token);
    const w = await workshop(admin);
    const guesser = await TestClient.asBrowser(agent.url);
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) codes.push((await guesser.request({ type: 'join', code: `CCCC${i}${i}${i}${i}`, name: 'Guess' })).code);
    assert.deepEqual(codes.slice(0, 5), ['bad-code', 'bad-code', 'bad-code', 'bad-code', 'bad-code']);
    assert.deepEqual(codes.slice(5), ['rate-limited', 'rate-limited', 'rate-limited']);
    // Even the right code waits now, and so does a key.
    await refused(guesser, { type: 'join', code: w.code, name: 'Guess' }, 'rate-limited');
    await refused(guesser, { type: 'instructor', workshop: w.id, key: w.instructorKey }, 'rate-limited');
    for (const c of [admin, guesser]) c.close();
  } finally {
    await agent.close();
  }
});

test('while a workshop is open, a lab of its first lesson waits for every learner who has none yet', { skip }, async () => {
  const agent = useAgent();
  const admin = await TestClient.connect(agent.url, agent.token);
  // Earlier tests' workshops are closed first: their wishes go too.
  for (const w of await ok(admin, { type: 'workshop-list' })) if (w.state !== 'closed') await ok(admin, { type: 'workshop-close', workshop: w.id });
  await waitFor('no prepared labs', () => agent.manager.readyCount('uts') === 0 && agent.manager.readyCount('pid') === 0, 20_000);
  const w = await ok(admin, { type: 'workshop-create', title: 'Warm', lessons: ['pid', 'uts'], seats: 3 });
  await waitFor('three pid labs ready', () => agent.manager.readyCount('pid') === 3, 60_000);
  assert.equal(agent.manager.readyCount('uts'), 0, 'only the first lesson');
  // A learner joins and opens the lesson: they get a ready lab, and no more is made for them.
  const ann = await TestClient.asBrowser(agent.url);
  await ok(ann, { type: 'join', code: w.code, name: 'Ann' });
  const lab = await ok(ann, { type: 'open', lesson: 'pid' });
  assert.ok(lab.panes.every((p: { running: boolean }) => p.running));
  await waitFor('two left', () => agent.manager.readyCount('pid') === 2, 10_000);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(agent.manager.readyCount('pid'), 2, 'not made again for a learner who has one');
  // Closed: the labs nobody came for are closed too.
  await ok(admin, { type: 'workshop-close', workshop: w.id });
  await waitFor('none left', () => agent.manager.readyCount('pid') === 0, 10_000);
  for (const c of [admin, ann]) c.close();
});

test('take-over: nothing before the learner allows it, typing after, nothing once they end it; reset, extend, move', { skip }, async () => {
  const agent = useAgent();
  const admin = await TestClient.connect(agent.url, agent.token);
  const w = await workshop(admin);
  const ann = await TestClient.asBrowser(agent.url);
  const bo = await TestClient.asBrowser(agent.url);
  const annSeat = (await ok(ann, { type: 'join', code: w.code, name: 'Ann' })).seat.id;
  await ok(bo, { type: 'join', code: w.code, name: 'Bo' });
  const lab = (await ok(ann, { type: 'open', lesson: 'uts' })).id;
  await ok(ann, { type: 'watch', lab });
  await ok(ann, { type: 'seat' });
  await ok(bo, { type: 'seat' });
  const teacher = await TestClient.asBrowser(agent.url);
  await ok(teacher, { type: 'instructor', workshop: w.id, key: w.instructorKey });
  const { token } = await ok(teacher, { type: 'workshop-watch', workshop: w.id, seat: annSeat });
  await ok(teacher, { type: 'view', token });
  const type = (text: string) => teacher.request({ type: 'input', lab, pane: 'host', data: `${text}\r` });
  const fileThere = async (name: string) =>
    (await ok(ann, { type: 'exec', lab, pane: 'host', argv: ['sh', '-c', `test -e /tmp/${name} && echo yes || echo no`] })).stdout ===
    Buffer.from('yes\n').toString('base64');

  // Before any answer: read-only, as a viewer.
  assert.equal((await type('touch /tmp/before')).code, 'read-only');
  const asked = (await ok(teacher, { type: 'takeover-request', workshop: w.id, seat: annSeat })).request;
  const q = await ann.waitFor((m) => m.type === 'takeover' && m.request === asked);
  assert.equal(q.workshop, w.id);
  assert.ok(!bo.messages.some((m) => m.type === 'takeover'), 'only the learner asked is asked');
  assert.equal((await type('touch /tmp/asked')).code, 'read-only', 'asking is not allowing');
  // Someone else cannot answer for Ann.
  await refused(bo, { type: 'takeover-answer', request: asked, allow: true }, 'failed');
  assert.equal((await type('touch /tmp/forged')).code, 'read-only');
  // Deny: still nothing.
  assert.deepEqual(await ok(ann, { type: 'takeover-answer', request: asked, allow: false }), { state: 'denied' });
  await teacher.waitFor((m) => m.type === 'takeover-state' && m.state === 'denied');
  assert.equal((await type('touch /tmp/denied')).code, 'read-only');
  // Allow: the instructor's typing reaches Ann's shell.
  const again = (await ok(teacher, { type: 'takeover-request', workshop: w.id, seat: annSeat })).request;
  await ann.waitFor((m) => m.type === 'takeover' && m.request === again);
  await ok(ann, { type: 'takeover-answer', request: again, allow: true });
  await teacher.waitFor((m) => m.type === 'takeover-state' && m.state === 'allowed');
  assert.equal((await ok(teacher, { type: 'workshop-show', workshop: w.id })).takeovers[0].state, 'allowed');
  assert.equal((await type('touch /tmp/by-the-instructor')).type, 'result');
  await waitFor('the file the instructor made', () => fileThere('by-the-instructor'));
  assert.equal(await fileThere('before'), false);
  assert.equal(await fileThere('denied'), false);
  // The learner ends it: read-only again.
  assert.deepEqual(await ok(ann, { type: 'takeover-end' }), { ended: true });
  await teacher.waitFor((m) => m.type === 'takeover-state' && m.state === 'ended');
  assert.equal((await type('touch /tmp/after')).code, 'read-only');
  // A learner cannot ask for a take-over of another.
  await refused(bo, { type: 'takeover-request', workshop: w.id, seat: annSeat }, 'forbidden');

  // Move the room: every learner is told; a lesson not in the workshop is refused.
  await ok(teacher, { type: 'workshop-move', workshop: w.id, lesson: 'ipc' });
  for (const c of [ann, bo]) await c.waitFor((m) => m.type === 'move' && m.lesson === 'ipc');
  await refused(teacher, { type: 'workshop-move', workshop: w.id, lesson: 'pid' }, 'unknown-lesson');
  await refused(bo, { type: 'workshop-move', workshop: w.id, lesson: 'ipc' }, 'forbidden');

  // Extend, then reset: a lab closed with the reason the page knows.
  const l = agent.manager.get(lab)!;
  l.openedAt -= 10 * 60_000;
  const before = l.openedAt;
  await ok(teacher, { type: 'learner-lab', workshop: w.id, seat: annSeat, action: 'extend' });
  assert.ok(l.openedAt > before, 'more time');
  await refused(bo, { type: 'learner-lab', workshop: w.id, seat: annSeat, action: 'close' }, 'forbidden');
  await ok(teacher, { type: 'learner-lab', workshop: w.id, seat: annSeat, action: 'reset' });
  const closed = await ann.waitFor((m) => m.type === 'lab-closed' && m.lab === lab);
  assert.equal(closed.reason, 'reset by the instructor');
  assert.equal(agent.manager.get(lab), undefined);
  for (const c of [admin, ann, bo, teacher]) c.close();
});

test('the room shows a learner whose lab hit a limit', { skip }, async () => {
  const agent = useAgent();
  const admin = await TestClient.connect(agent.url, agent.token);
  const w = await workshop(admin);
  const ann = await TestClient.asBrowser(agent.url);
  await ok(ann, { type: 'join', code: w.code, name: 'Ann' });
  const lab = (await ok(ann, { type: 'open', lesson: 'uts' })).id;
  const room = async () => (await ok(admin, { type: 'workshop-show', workshop: w.id })).learners[0];
  assert.equal((await room()).limit, null);
  ann.send({ type: 'input', lab, pane: 'host', data: 'bomb() { bomb | bomb & }; bomb\r' });
  await waitFor('the limit in the room', async () => (await room()).limit === 'pids', 30_000);
  await ok(ann, { type: 'close', lab });
  for (const c of [admin, ann]) c.close();
});
