// The portal REST API against a real agent and real labs: keys made and revoked with the CLI,
// launches used once, a portal learner's lab and progress seen by their key only, and every
// bad input answered with the right problem. Every answer is checked against the OpenAPI
// document the agent serves.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sideAgent, testConfig } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { TestClient, ok, refused } from '../helpers/ws.ts';
import { waitFor } from '../helpers/wait.ts';
import { runCli } from '../../apps/agent/src/cli/run.ts';
import { makeIO } from '../cli/streams.ts';
import { hashToken } from '../../apps/agent/src/portal/launches.ts';
import type { RunningAgent } from '../../apps/agent/src/server/agent.ts';
import { ApiChecker, assertProblem, call, embedSocket, useLink } from './portal.ts';

const skip = rootOrSkip('the portal API tests');
let agent: RunningAgent;
let api: ApiChecker;
let root: string;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = makeIO({ env: { NSLAB_URL: agent.url, NSLAB_TOKEN: agent.token } });
  const code = await runCli(args, { ...io, tokenFile: '/nonexistent' });
  return { code, out: io.stdout.text(), err: io.stderr.text() };
}

async function newKey(name: string, origins: string): Promise<string> {
  const r = await cli(['keys', 'create', '--name', name, '--origins', origins]);
  assert.equal(r.code, 0, r.err);
  const last = r.out.trimEnd().split('\n').at(-1)!;
  assert.match(last, /^nsk_[A-Za-z0-9_-]{43}$/, 'the key alone on the last line');
  return last;
}

before(async () => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), 'nslab-portal-api-'));
  agent = await sideAgent(13, { dataDir: join(root, 'data'), rates: { ...testConfig().rates, api: { burst: 40, perMinute: 60 } } });
  api = await ApiChecker.load(agent.url);
});

after(async () => {
  await agent?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

test('keys: made with the CLI (printed once, kept hashed), listed, revoked; a revoked key is refused', { skip }, async () => {
  const key = await newKey('academy', 'https://academy.example,https://lms.academy.example/');
  const ls = await cli(['keys', 'ls']);
  assert.match(ls.out, /academy\s+live\s+\S+\s+https:\/\/academy\.example,https:\/\/lms\.academy\.example/);
  assert.ok(!ls.out.includes(key), 'ls never shows the key');
  // The store has its hash, never the key.
  const rows = await agent.store.portal.listApiKeys();
  assert.ok(rows.some((r) => r.name === 'academy' && r.keyHash.length === 64 && !JSON.stringify(r).includes(key)));
  // The same name twice is refused, clearly.
  const again = await cli(['keys', 'create', '--name', 'academy']);
  assert.equal(again.code, 1);
  assert.match(again.err, /exists already/);

  const labs = await call(agent.url, key, 'GET', '/api/v1/labs');
  assert.equal(labs.status, 200);
  api.check('/api/v1/labs', 'GET', labs);

  assert.equal((await cli(['keys', 'revoke', 'academy'])).code, 0);
  const revoked = await call(agent.url, key, 'GET', '/api/v1/labs');
  assertProblem(revoked, 401, 'key-revoked');
  api.check('/api/v1/labs', 'GET', revoked);
  // Its name is free again; a page session cannot make keys.
  await newKey('academy', 'https://academy.example');
  const page = await TestClient.asBrowser(agent.url);
  try {
    await refused(page, { type: 'key-create', name: 'sneaky', origins: [] }, 'forbidden');
    await refused(page, { type: 'key-list' }, 'forbidden');
  } finally {
    page.close();
  }
});

test('a launch: a single-use link that makes the browser that portal user; progress and labs for that key only', { skip }, async () => {
  const key = await newKey('portal-a', 'https://a.example');
  const other = await newKey('portal-b', 'https://b.example');

  const made = await call(agent.url, key, 'POST', '/api/v1/launches', {
    lesson: 'uts',
    user: 'learner-42',
    name: 'Ada',
    returnUrl: 'https://a.example/course',
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  api.check('/api/v1/launches', 'POST', made);
  assert.match(made.body.url, new RegExp(`^${agent.url}/launch/[A-Za-z0-9_-]{43}$`));
  const expires = Date.parse(made.body.expiresAt) - Date.now();
  assert.ok(expires > 30_000 && expires <= 61_000, `valid about 60 s (${expires} ms)`);

  // Used once: the embed cookie (third-party ready) and the lesson's embed view.
  const first = await useLink(made.body.url);
  assert.equal(first.status, 303);
  assert.equal(first.location, '/en/embed/uts');
  for (const attr of ['HttpOnly', 'Secure', 'SameSite=None', 'Partitioned']) assert.ok(first.setCookie.includes(attr), `${attr} in ${first.setCookie}`);
  assert.match(first.cookie, /^nslab_embed=p[A-Za-z0-9_-]{31}\.[A-Za-z0-9_-]+$/);
  // A second use is refused with a page that says why, and sets no cookie.
  const second = await useLink(made.body.url);
  assert.equal(second.status, 410);
  assert.match(second.text, /used already/);
  assert.equal(second.setCookie, '');
  // A late one too (a link made to have expired), and one nslab never made.
  const token = 'x'.repeat(43);
  await agent.store.portal.createLaunch({
    tokenHash: hashToken(token),
    keyId: (await agent.store.portal.liveApiKeyByName('portal-a'))!.id,
    user: 'late',
    lesson: 'uts',
    lang: 'en',
    createdAt: Date.now() - 120_000,
    expiresAt: Date.now() - 60_000,
  });
  const late = await useLink(`${agent.url}/launch/${token}`);
  assert.equal(late.status, 410);
  assert.match(late.text, /expired/);
  assert.equal((await useLink(`${agent.url}/launch/${'y'.repeat(43)}`)).status, 404);

  // What the embed view may know: its portal's origins and the way back.
  const ctx = await fetch(`${agent.url}/api/embed`, { headers: { cookie: first.cookie } });
  assert.deepEqual(await ctx.json(), { lesson: 'uts', lang: 'en', origins: ['https://a.example'], returnUrl: 'https://a.example/course', name: 'Ada' });
  assert.equal((await fetch(`${agent.url}/api/embed`)).status, 401);
  const forged = `${first.cookie.split('.')[0]}.AAAA`;
  assert.equal((await fetch(`${agent.url}/api/embed`, { headers: { cookie: forged } })).status, 401);

  // The learner's page opens the lab and does a task.
  const page = await embedSocket(agent.url, first.cookie);
  try {
    const lab = await ok(page, { type: 'open', lesson: 'uts' });
    const l = agent.manager.get(lab.id)!;
    await l.exec(l.pane('container')!, ['/bin/sh', '-c', 'hostname bird']);
    await ok(page, { type: 'check', lab: lab.id });
    await waitFor('the task kept as done', async () => (await agent.store.progress(l.owner!)).length > 0);

    // The key sees its learner's lab; another key does not, and cannot touch it.
    const mine = await call(agent.url, key, 'GET', '/api/v1/labs');
    api.check('/api/v1/labs', 'GET', mine);
    assert.deepEqual(
      mine.body.labs.map((x: any) => [x.id, x.user, x.lesson]),
      [[lab.id, 'learner-42', 'uts']],
    );
    const theirs = await call(agent.url, other, 'GET', '/api/v1/labs');
    assert.deepEqual(theirs.body.labs, []);
    for (const [method, path] of [
      ['POST', `/api/v1/labs/${lab.id}/extend`],
      ['DELETE', `/api/v1/labs/${lab.id}`],
    ] as const) {
      const r = await call(agent.url, other, method, path);
      assertProblem(r, 404, 'unknown-lab');
      api.check(method === 'POST' ? '/api/v1/labs/{id}/extend' : '/api/v1/labs/{id}', method, r);
    }
    assert.ok(agent.manager.get(lab.id), 'still open');

    // Progress: the task with its time, for this key's user; nothing for the other key's.
    const progress = await waitFor('progress', async () => {
      const p = await call(agent.url, key, 'GET', '/api/v1/users/learner-42/progress');
      return p.body.lessons?.length ? p : null;
    });
    api.check('/api/v1/users/{user}/progress', 'GET', progress);
    assert.equal(progress.body.user, 'learner-42');
    assert.equal(progress.body.lessons[0].lesson, 'uts');
    assert.equal(progress.body.lessons[0].tasksTotal, 2);
    assert.deepEqual(
      progress.body.lessons[0].tasks.map((t: any) => t.task),
      ['set-hostname'],
    );
    const nobody = await call(agent.url, other, 'GET', '/api/v1/users/learner-42/progress');
    assert.deepEqual(nobody.body.lessons, []);

    // Extend, then close through the API.
    const ext = await call(agent.url, key, 'POST', `/api/v1/labs/${lab.id}/extend`);
    assert.equal(ext.status, 200);
    api.check('/api/v1/labs/{id}/extend', 'POST', ext);
    const closedWhy = new Promise<string>((resolve) => agent.manager.once('closed', (_l, reason) => resolve(reason)));
    const del = await call(agent.url, key, 'DELETE', `/api/v1/labs/${lab.id}`);
    assert.equal(del.status, 200);
    api.check('/api/v1/labs/{id}', 'DELETE', del);
    assert.match(await closedWhy, /training portal/);
    assert.equal(agent.manager.get(lab.id), undefined);

    // A later launch for the same user is the same session: the progress is there.
    const again = await call(agent.url, key, 'POST', '/api/v1/launches', { lesson: 'uts', user: 'learner-42' });
    const use = await useLink(again.body.url);
    assert.equal(use.cookie, first.cookie);

    // Revoking the key ends its embedded sessions: no context, no socket.
    assert.equal((await cli(['keys', 'revoke', 'portal-a'])).code, 0);
    assert.equal((await fetch(`${agent.url}/api/embed`, { headers: { cookie: first.cookie } })).status, 401);
    await assert.rejects(embedSocket(agent.url, first.cookie), /HTTP 401/);
  } finally {
    page.close();
  }
});

test('bad input: each gets problem+json with its status and stable type, and nothing is made', { skip }, async () => {
  const key = await newKey('strict', '');
  const launches = await agent.store.portal.listApiKeys();
  const post = (body: unknown, type?: string) => call(agent.url, key, 'POST', '/api/v1/launches', body, type);
  const cases: Array<[string, Promise<ReturnType<typeof call> extends Promise<infer A> ? A : never>, number, string]> = [
    ['wrong types', post({ lesson: 7, user: ['x'] }), 400, 'invalid-request'],
    ['missing user', post({ lesson: 'uts' }), 400, 'invalid-request'],
    ['unknown field', post({ lesson: 'uts', user: 'u', admin: true }), 400, 'invalid-request'],
    ['oversized user', post({ lesson: 'uts', user: 'u'.repeat(300) }), 400, 'invalid-request'],
    ['control characters', post({ lesson: 'uts', user: 'a\u0000b' }), 400, 'invalid-request'],
    ['expiresIn too long', post({ lesson: 'uts', user: 'u', expiresIn: 86400 }), 400, 'invalid-request'],
    ['a javascript: returnUrl', post({ lesson: 'uts', user: 'u', returnUrl: 'javascript:alert(1)' }), 400, 'invalid-request'],
    ['unknown lesson', post({ lesson: 'nosuch', user: 'u' }), 422, 'unknown-lesson'],
    ['not JSON', post('{"lesson":', 'application/json'), 400, 'bad-json'],
    ['not application/json', post('lesson=uts', 'application/x-www-form-urlencoded'), 415, 'unsupported-media-type'],
    ['a huge body', post({ lesson: 'uts', user: 'u', pad: 'x'.repeat(20_000) }), 413, 'payload-too-large'],
    ['no key', call(agent.url, null, 'POST', '/api/v1/launches', { lesson: 'uts', user: 'u' }), 401, 'unauthorized'],
    ['a forged key', call(agent.url, `nsk_${'A'.repeat(43)}`, 'POST', '/api/v1/launches', { lesson: 'uts', user: 'u' }), 401, 'unauthorized'],
  ];
  for (const [what, pending, status, name] of cases) {
    const a = await pending;
    assertProblem(a, status, name);
    api.check('/api/v1/launches', 'POST', a);
    assert.ok(a.body.detail.length > 0, what);
  }
  const invalid = await post({ lesson: 7, user: ['x'] });
  assert.deepEqual(invalid.body.errors.map((e: any) => e.path).sort(), ['lesson', 'user']);
  const wrongMethod = await call(agent.url, key, 'GET', '/api/v1/launches');
  assertProblem(wrongMethod, 405, 'method-not-allowed');
  assert.equal(wrongMethod.headers.get('allow'), 'POST');
  assertProblem(await call(agent.url, key, 'GET', '/api/v1/nothing-here'), 404, 'not-found');
  assertProblem(await call(agent.url, key, 'GET', '/api/v1/users/%E0%A4%A/progress'), 400, 'invalid-request');
  assert.equal((await agent.store.portal.listApiKeys()).length, launches.length, 'no key was made by any of it');
  // The problem types are documented at their own address.
  assert.match((await call(agent.url, null, 'GET', '/api/v1/problems/unknown-lesson')).body, /422/);
});

test('rate limit per key: 429 with Retry-After; another key is not slowed', { skip }, async () => {
  const busy = await newKey('busy', '');
  const calm = await newKey('calm', '');
  let limited = null;
  for (let i = 0; i < 60 && !limited; i++) {
    const a = await call(agent.url, busy, 'GET', '/api/v1/labs');
    if (a.status === 429) limited = a;
  }
  assert.ok(limited, 'the 41st request within the burst is refused');
  assertProblem(limited, 429, 'rate-limited');
  api.check('/api/v1/labs', 'GET', limited);
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  assert.equal((await call(agent.url, calm, 'GET', '/api/v1/labs')).status, 200);
  assert.ok(api.checked >= 20, `answers checked against the document: ${api.checked}`);
});
