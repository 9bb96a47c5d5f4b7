// A learner's progress lives in the agent's store: recorded as tasks get done, for the browser
// session, and still there, for the same browser, after the agent is killed with SIGKILL and
// started again (its session cookie stays valid: the signing key is in the store too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../helpers/server.ts';
import { TestClient } from '../helpers/ws.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { PgServer, pgSkip } from '../store/engines.ts';

const skip = rootOrSkip();

const env = (data: string) => ({ NSLAB_WEB: '0', NSLAB_DATA_DIR: data, NSLAB_ID_BASE: '236000000', NSLAB_WARM_PER_LESSON: '0' });

test('progress survives a SIGKILL of the agent, for the same browser', { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'nslab-progress-'));
  // Not there yet: the agent makes it on its first start.
  const data = join(root, 'data');
  let agent = await serve('nslabprog', env(data));
  try {
    const cookie = await TestClient.sessionCookie(agent.url);
    const c = await TestClient.connect(agent.url, undefined, { cookie, origin: agent.url });
    assert.equal((await c.waitFor((m) => m.type === 'hello')).authenticated, true);
    assert.deepEqual((await c.request({ type: 'progress' })).data, { tasks: [] }, 'a new session has done nothing');
    const lab = (await c.request({ type: 'open', lesson: 'uts' })).data.id as string;
    await c.request({ type: 'watch', lab });
    await c.request({ type: 'attach', lab, pane: 'container', cols: 80, rows: 24 });
    c.send({ type: 'input', lab, pane: 'container', data: 'hostname -b bird\n' });
    await c.waitFor((m) => m.type === 'tasks' && m.tasks.some((t: { id: string; status: string }) => t.id === 'set-hostname' && t.status === 'done'), 20_000);
    // Recorded as it happened: the agent's answer comes from the store.
    const before = await waitProgress(c);
    assert.deepEqual(
      before.map((t) => [t.lesson, t.task]),
      [['uts', 'set-hostname']],
    );
    c.close();
    // The store's files are root's alone.
    assert.equal(statSync(data).mode & 0o077, 0, 'the data directory is not readable by others');

    agent.proc.kill('SIGKILL');
    await new Promise((r) => agent.proc.once('exit', r));
    agent = await serve('nslabprog', env(data));

    // The same cookie is still this browser's session, and its progress is there.
    const again = await TestClient.connect(agent.url, undefined, { cookie, origin: agent.url });
    assert.equal((await again.waitFor((m) => m.type === 'hello')).authenticated, true, 'the cookie is still valid');
    const after = (await again.request({ type: 'progress' })).data.tasks as Array<{ lesson: string; task: string; doneAt: string }>;
    assert.deepEqual(after, before, 'the same tasks, done at the same times');
    // Another browser sees none of it.
    const other = await TestClient.asBrowser(agent.url);
    assert.deepEqual((await other.request({ type: 'progress' })).data, { tasks: [] });
    again.close();
    other.close();
  } finally {
    await agent.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

async function waitProgress(c: TestClient): Promise<Array<{ lesson: string; task: string; doneAt: string }>> {
  for (let i = 0; i < 100; i++) {
    const tasks = (await c.request({ type: 'progress' })).data.tasks;
    if (tasks.length) return tasks;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no progress recorded');
}

test('with PostgreSQL: a database that goes away turns progress into a notice and a retry, and it is saved once it is back', {
  skip: skip || pgSkip(),
}, async () => {
  const pg = new PgServer();
  await pg.init();
  let agent: Awaited<ReturnType<typeof serve>> | null = null;
  try {
    const url = await pg.createDatabase();
    agent = await serve('nslabprog', { ...env('/nonexistent-not-used'), NSLAB_DATABASE_URL: url });
    const c = await TestClient.asBrowser(agent.url);
    const lab = (await c.request({ type: 'open', lesson: 'uts' })).data.id as string;
    await c.request({ type: 'watch', lab });
    await c.request({ type: 'attach', lab, pane: 'container', cols: 80, rows: 24 });
    await pg.stop();
    c.send({ type: 'input', lab, pane: 'container', data: 'hostname -b bird\n' });
    // The task is done in the lab all the same; the learner is told the progress waits.
    await c.waitFor((m) => m.type === 'tasks' && m.tasks.some((t: { id: string; status: string }) => t.id === 'set-hostname' && t.status === 'done'), 20_000);
    const warned = await c.waitFor((m) => m.type === 'notice' && m.level === 'warn', 20_000);
    assert.match(warned.message, /could not be saved/);
    const health = await (await fetch(`${agent.url}/healthz`)).json();
    assert.equal(health.store.ok, false, '/healthz says the store is away');
    assert.equal((await c.request({ type: 'progress' })).code, 'failed', 'reading progress fails with a message, nothing crashes');
    // The labs go on meanwhile.
    assert.equal((await c.request({ type: 'exec', lab, pane: 'host', argv: ['echo', 'still'] })).type, 'result');
    await pg.start();
    await c.waitFor((m) => m.type === 'notice' && m.level === 'info' && /saved/.test(m.message), 40_000);
    const tasks = (await c.request({ type: 'progress' })).data.tasks;
    assert.deepEqual(
      tasks.map((t: { lesson: string; task: string }) => [t.lesson, t.task]),
      [['uts', 'set-hostname']],
    );
    c.close();
  } finally {
    await agent?.stop();
    await pg.destroy();
  }
});
