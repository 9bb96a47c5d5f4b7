// `npm start` as a learner meets it: one port serves the web app, /healthz and the WebSocket
// API; a real Chromium renders the page; the agent shuts down cleanly on SIGTERM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LESSON_IDS } from '@nslab/shared';
import { serve, type Served } from '../helpers/server.ts';
import { launch, browserTestsSkip } from '../helpers/browser.ts';
import { LAPTOP, PHONE } from '../helpers/page.ts';
import { TestClient } from '../helpers/ws.ts';
import { labProcesses } from '../../apps/agent/src/sandbox/sweep.ts';
import { IdRanges } from '../../apps/agent/src/sandbox/idrange.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';

const skip = browserTestsSkip('the end-to-end tests');

let served: Served;
before(async () => {
  if (!skip) served = await serve();
});
after(async () => {
  if (!skip) await served.stop();
});

test('the home page lists every lesson, in a real browser', { skip }, async () => {
  const browser = await launch();
  try {
    const artifacts = join(REPO_ROOT, 'test/artifacts');
    mkdirSync(artifacts, { recursive: true });
    for (const [name, viewport] of [
      ['laptop', LAPTOP],
      ['phone', PHONE],
    ] as const) {
      const page = await browser.newPage({ viewport });
      const res = await page.goto(served.url + '/');
      assert.equal(res?.status(), 200);
      for (const id of LESSON_IDS) assert.equal(await page.locator(`[data-lesson="${id}"]`).count(), 1, `card ${id}`);
      assert.match(await page.title(), /nslab/);
      await page.screenshot({ path: join(artifacts, `home-${name}.png`), fullPage: true });
      await page.close();
    }
  } finally {
    await browser.close();
  }
});

test('the same port serves /healthz and the WebSocket API', { skip }, async () => {
  const health = await (await fetch(served.url + '/healthz')).json();
  assert.equal(health.ok, true);
  const c = await TestClient.connect(served.url, served.token);
  const opened = await c.request({ type: 'open', lesson: 'pid' });
  assert.equal(opened.type, 'result', JSON.stringify(opened));
  const ns = async (pane: string) => {
    const r = await c.request({ type: 'exec', lab: opened.data.id, pane, argv: ['readlink', '/proc/self/ns/pid'] });
    return Buffer.from(r.data.stdout, 'base64').toString().trim();
  };
  const [host, container] = [await ns('host'), await ns('container')];
  assert.match(host, /^pid:\[\d+\]$/);
  assert.notEqual(container, host, "exec joins the container pane's own PID namespace");
  c.close();
});

test('SIGTERM closes every lab and exits 0', { skip }, async () => {
  const ids = new IdRanges(230_000_000, 65536, 256);
  assert.ok(labProcesses(ids).length > 0, 'labs are running');
  const exited = new Promise<number | null>((r) => served.proc.once('exit', (code) => r(code)));
  served.proc.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.deepEqual(labProcesses(ids), []);
});
