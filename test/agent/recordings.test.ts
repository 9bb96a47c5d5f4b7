// Workshop recordings against a real agent and real labs: a learner's panes are recorded as
// asciicast v2 (output, input, resizes, a marker at each task done), only the instructor gets
// links to them (signed, expiring), a forged or altered link and a path outside the recordings
// get nothing, a pane over its cap keeps its beginning and end and says what was cut, and the
// player is served by the agent itself.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useTestAgent, sideAgent } from '../helpers/agent.ts';
import { TestClient, ok } from '../helpers/ws.ts';
import { waitFor } from '../helpers/wait.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip();
const dataDir = mkdtempSync(join(tmpdir(), 'nslab-recordings-'));
const useAgent = useTestAgent(skip, { graceMs: 60_000, dataDir });
after(() => rmSync(dataDir, { recursive: true, force: true }));

type Event = [number, string, string];
function parseCast(text: string): { header: Record<string, unknown>; events: Event[] } {
  const [first, ...rest] = text.trimEnd().split('\n');
  return { header: JSON.parse(first!), events: rest.map((l) => JSON.parse(l) as Event) };
}

/** A workshop with one learner in a lab of `lesson`; returns the clients and ids. */
async function room(url: string, token: string, lesson = 'uts') {
  const admin = await TestClient.connect(url, token);
  const w = await ok(admin, { type: 'workshop-create', title: 'Recorded', lessons: [lesson], seats: 3 });
  const learner = await TestClient.asBrowser(url);
  const seat = (await ok(learner, { type: 'join', code: w.code, name: 'Ann' })).seat.id as string;
  const lab = (await ok(learner, { type: 'open', lesson })).id as string;
  const teacher = await TestClient.asBrowser(url);
  await ok(teacher, { type: 'instructor', workshop: w.id, key: w.instructorKey });
  return { admin, w, learner, seat, lab, teacher };
}

async function castsOf(teacher: TestClient, workshop: string) {
  const r = await ok(teacher, { type: 'workshop-show', workshop });
  return r.learners[0].casts as Array<{ pane: string; lab: string; bytes: number; url: string }>;
}

test('a learner’s panes are recorded as asciicast v2, with what they typed, what they saw and a marker per task', { skip }, async () => {
  const agent = useAgent();
  const { admin, w, learner, lab, teacher } = await room(agent.url, agent.token);
  await ok(learner, { type: 'attach', lab, pane: 'container', cols: 90, rows: 25 });
  await ok(learner, { type: 'watch', lab });
  await waitFor('both panes recorded', async () => (await castsOf(teacher, w.id)).length === 2);
  learner.send({ type: 'input', lab, pane: 'container', data: 'echo hello-$((6*7))-cast\r' });
  learner.send({ type: 'input', lab, pane: 'container', data: 'hostname bird\r' });
  await learner.waitFor(
    (m) => m.type === 'tasks' && m.tasks.some((t: { id: string; status: string }) => t.id === 'set-hostname' && t.status === 'done'),
    15_000,
  );
  // Closed: the files are complete.
  await ok(learner, { type: 'close', lab });
  const casts = await castsOf(teacher, w.id);
  const container = casts.find((c) => c.pane === 'container')!;
  assert.ok(container, JSON.stringify(casts));
  const res = await fetch(`${agent.url}${container.url}&download=1`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/x-asciicast/);
  assert.match(res.headers.get('content-disposition') ?? '', /attachment; filename="[a-z0-9]+-container\.cast"/);
  const { header, events } = parseCast(await res.text());
  assert.equal(header.version, 2);
  assert.equal(typeof header.width, 'number');
  assert.equal(typeof header.height, 'number');
  assert.equal(typeof header.timestamp, 'number');
  const typed = events
    .filter((e) => e[1] === 'i')
    .map((e) => e[2])
    .join('');
  assert.ok(typed.includes('echo hello-$((6*7))-cast\r'), `the input is recorded: ${JSON.stringify(typed)}`);
  const shown = events
    .filter((e) => e[1] === 'o')
    .map((e) => e[2])
    .join('');
  assert.ok(shown.includes('hello-42-cast'), 'the output is recorded');
  assert.ok(
    events.some((e) => e[1] === 'r' && e[2] === '90x25'),
    'the resize is recorded',
  );
  assert.ok(
    events.some((e) => e[1] === 'm' && e[2] === 'set-hostname'),
    'a marker named after the task',
  );
  for (let i = 1; i < events.length; i++) assert.ok(events[i]![0] >= events[i - 1]![0], 'times never go back');

  // The link is the instructor's: altered, it is refused; learners never get one.
  const forged = container.url.replace(/sig=[^&]+/, 'sig=AAAA');
  assert.equal((await fetch(`${agent.url}${forged}`)).status, 403);
  const otherFile = container.url.replace('-container.cast', '-host.cast');
  assert.equal((await fetch(`${agent.url}${otherFile}`)).status, 403, 'a signature is for one file');
  const expired = container.url.replace(/exp=\d+/, 'exp=1000');
  assert.equal((await fetch(`${agent.url}${expired}`)).status, 403);
  for (const path of ['/api/casts/../../../etc/passwd', `/api/casts/${w.id}/x/..%2F..%2Fetc%2Fshadow`, '/api/casts/']) {
    const r = await fetch(`${agent.url}${path}`);
    assert.ok(r.status === 403 || r.status === 404, `${path}: ${r.status}`);
    assert.doesNotMatch(await r.text(), /root:/);
  }
  const show = await learner.request({ type: 'workshop-show', workshop: w.id });
  assert.equal(show.code, 'forbidden');

  // The player, from the agent itself.
  const js = await fetch(`${agent.url}/player/asciinema-player.min.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type') ?? '', /javascript/);
  assert.ok((await js.text()).length > 10_000);
  assert.equal((await fetch(`${agent.url}/player/asciinema-player.css`)).status, 200);
  for (const c of [admin, learner, teacher]) c.close();
});

test('a pane over its recording cap keeps its beginning and its end, and says what was cut', { skip }, async () => {
  const side = await sideAgent(5, { dataDir: join(dataDir, 'side'), recordings: { retentionMs: 7 * 86_400_000, maxBytesPerPane: 64 * 1024 } });
  try {
    const { admin, w, learner, lab, teacher } = await room(side.url, side.token);
    await waitFor('recorded', async () => (await castsOf(teacher, w.id)).length === 2);
    await ok(learner, { type: 'attach', lab, pane: 'host' });
    learner.keepFrames = true;
    learner.send({ type: 'input', lab, pane: 'host', data: 'echo FIRST-LINE; seq 1 200000; echo LAST-$((1+1))-LINE\r' });
    await waitFor('the output to end', () => learner.frames.some((f) => f.payload.toString().includes('LAST-2-LINE')), 60_000);
    await ok(learner, { type: 'close', lab });
    const host = (await castsOf(teacher, w.id)).find((c) => c.pane === 'host')!;
    const text = await (await fetch(`${side.url}${host.url}`)).text();
    const [, , , wid, seatId, rest] = host.url.split('/');
    const file = join(dataDir, 'side', 'recordings', wid!, seatId!, rest!.split('?')[0]!);
    assert.ok(statSync(file).size <= 64 * 1024 + 512, `the file is within its cap: ${statSync(file).size}`);
    const { events } = parseCast(text);
    const out = events
      .filter((e) => e[1] === 'o')
      .map((e) => e[2])
      .join('');
    assert.ok(out.includes('FIRST-LINE'), 'its beginning');
    assert.ok(out.includes('LAST-2-LINE'), 'its end');
    const cut = events.find((e) => e[1] === 'm' && e[2].startsWith('cut: '));
    assert.ok(cut, 'a marker where the cut is');
    assert.match(cut![2], /cut: \d+ events \(\d+ bytes\) from [\d.]+ s to [\d.]+ s were left out/);
    for (const c of [admin, learner, teacher]) c.close();
  } finally {
    await side.close();
  }
});
