// Browsers: a session cookie instead of the token, labs reachable only by the session that opened
// them, live task statuses and the namespace picture pushed to watchers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useTestAgent } from '../helpers/agent.ts';
import { TestClient } from '../helpers/ws.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip();

const useAgent = useTestAgent(skip, { labsPerSession: 2 });

async function newSession(): Promise<string> {
  const res = await fetch(`${useAgent().url}/api/session`);
  const cookie = res.headers.get('set-cookie') ?? '';
  // Kept for 180 days (it outlives a browser restart; the key that signs it outlives an agent restart).
  assert.match(cookie, /^nslab_session=[^;]+; Path=\/; Max-Age=15552000; HttpOnly; SameSite=Strict$/);
  return cookie.split(';')[0]!;
}

const asBrowser = (cookie: string, origin = useAgent().url) => TestClient.connect(useAgent().url, undefined, { cookie, origin });

test('a session cookie from this origin authenticates a browser without the token', { skip }, async () => {
  const c = await asBrowser(await newSession());
  assert.equal((await c.waitFor((m) => m.type === 'hello')).authenticated, true);
  assert.equal((await c.request({ type: 'list' })).type, 'result');
  c.close();
});

test('a forged cookie is not a session; a cookie from another origin is refused', { skip }, async () => {
  const forged = await asBrowser('nslab_session=AAAAAAAAAAAAAAAAAAAAAAAA.bm90LWEtc2lnbmF0dXJl');
  assert.equal((await forged.waitFor((m) => m.type === 'hello')).authenticated, false);
  assert.equal((await forged.request({ type: 'list' })).code, 'unauthenticated');
  forged.close();
  const cookie = await newSession();
  await assert.rejects(asBrowser(cookie, 'http://evil.example'), /HTTP 403/);
  await assert.rejects(TestClient.connect(useAgent().url, undefined, { cookie }), /HTTP 403/, 'no Origin at all');
});

test('a session reaches only its own labs, and keeps a bounded number', { skip }, async () => {
  const a = await asBrowser(await newSession());
  const b = await asBrowser(await newSession());
  const lab = (await a.request({ type: 'open', lesson: 'uts' })).data.id as string;
  assert.deepEqual(
    (await a.request({ type: 'list' })).data.map((l: { id: string }) => l.id),
    [lab],
  );
  assert.deepEqual((await b.request({ type: 'list' })).data, [], "b does not see a's lab");
  for (const msg of [
    { type: 'exec', lab, pane: 'host', argv: ['true'] },
    { type: 'attach', lab, pane: 'host', cols: 80, rows: 24 },
    { type: 'close', lab },
    { type: 'watch', lab },
  ]) {
    const r = await b.request(msg);
    assert.equal(r.code, 'unknown-lab', `${msg.type} on another session's lab`);
  }
  const admin = await TestClient.connect(useAgent().url, useAgent().token);
  assert.ok(
    (await admin.request({ type: 'list' })).data.some((l: { id: string }) => l.id === lab),
    'the token holder sees every lab',
  );
  // labsPerSession is 2 here: a third lab closes the oldest.
  const secondReply = await a.request({ type: 'open', lesson: 'ipc' });
  const second = secondReply.data?.id ?? assert.fail(JSON.stringify(secondReply));
  const third = (await a.request({ type: 'open', lesson: 'pid' })).data.id;
  const ids = (await a.request({ type: 'list' })).data.map((l: { id: string }) => l.id).sort();
  assert.deepEqual(ids, [second, third].sort());
  assert.equal(useAgent().manager.get(lab), undefined, 'the oldest lab was closed');
  for (const c of [a, b, admin]) c.close();
});

test('watching a lab pushes task statuses as the learner works, and the picture', { skip }, async () => {
  const c = await asBrowser(await newSession());
  const lab = (await c.request({ type: 'open', lesson: 'uts' })).data;
  const w = await c.request({ type: 'watch', lab: lab.id });
  assert.equal(w.type, 'result');
  const pending = await c.waitFor((m) => m.type === 'tasks' && m.lab === lab.id);
  assert.deepEqual(
    pending.tasks.map((t: { status: string }) => t.status),
    pending.tasks.map(() => 'pending'),
  );
  const picture = (await c.waitFor((m) => m.type === 'picture' && m.lab === lab.id)).picture;
  const shell = (pane: string) => picture.processes.find((p: { pid: number }) => p.pid === picture.panes.find((x: { name: string }) => x.name === pane).pid);
  assert.notEqual(shell('host').ns.uts, shell('container').ns.uts, 'the picture shows two UTS namespaces');
  assert.equal(shell('host').ns.pid, shell('container').ns.pid);
  assert.equal(shell('host').ns.uts, picture.lab.uts);
  // The learner does the step: the agent notices by itself.
  c.send({ type: 'attach', id: 'att', lab: lab.id, pane: 'container', cols: 80, rows: 24 });
  c.send({ type: 'input', lab: lab.id, pane: 'container', data: 'hostname -b bird\n' });
  const done = await c.waitFor(
    (m) => m.type === 'tasks' && m.tasks.some((t: { id: string; status: string }) => t.id === 'set-hostname' && t.status === 'done'),
    15_000,
  );
  assert.ok(done.tasks.length >= 1);
  // A namespace made in a pane shows up in the picture.
  c.send({ type: 'input', lab: lab.id, pane: 'host', data: 'unshare --uts sleep 300 &\n' });
  await c.waitFor(
    (m) => m.type === 'picture' && m.picture.processes.some((p: { comm: string; ns: { uts: number } }) => p.comm === 'sleep' && p.ns.uts !== picture.lab.uts),
    15_000,
  );
  c.close();
});

test('the PID picture maps a pid per level, as the book draws it', { skip }, async () => {
  const c = await TestClient.connect(useAgent().url, useAgent().token);
  const lab = (await c.request({ type: 'open', lesson: 'pid' })).data;
  const pic = (await c.request({ type: 'inspect', lab: lab.id })).data;
  const container = pic.processes.find((p: { pid: number }) => p.pid === pic.panes.find((x: { name: string }) => x.name === 'container').pid);
  assert.equal(container.nspid.length, 2);
  assert.equal(container.nspid[1], 1, 'PID 1 in its own namespace');
  assert.equal(container.pane, 'container');
  const init = pic.processes.find((p: { pid: number }) => p.pid === 1);
  assert.equal(init.comm, 'nslab-init', 'the lab init is PID 1 of the lab, by the name it runs under');
  c.close();
});
