// nslab as an LTI 1.3 tool, end to end: the bundled agent with the built web app, configured
// (NSLAB_CONFIG) with the test platform (platform.ts), which is another site (localhost against
// the agent's 127.0.0.1). In a real Chromium, the platform's course page frames the activity:
// the third-party login, the platform's form_post, the lesson's embed view in the frame; the
// learner does the UTS lesson's tasks there and the platform receives each score (tasks done out
// of the lesson's, InProgress then Completed) with a token it granted for the tool's signed
// client assertion. Deep Linking: a teacher picks a lesson in the tool's picker and the platform
// receives a signed response with the custom lesson. Over plain HTTP: forged, expired, replayed
// and wrong-audience tokens and an unregistered deployment are each refused by a page that says
// why, with no session; a key rotation at the platform still verifies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Browser, Frame, Page } from 'playwright-core';
import { serve, type Served } from '../helpers/server.ts';
import { launch as launchBrowser, browserTestsSkip } from '../helpers/browser.ts';
import { waitFor } from '../helpers/wait.ts';
import { frameOf, runIn, waitPromptsIn } from '../helpers/frame.ts';
import { JWKS_COOLDOWN_MS } from '../../apps/agent/src/lti/launch.ts';
import { CLAIMS, TestPlatform, loginOverHttp, postLaunch, textOf, type LaunchSpec } from './platform.ts';

const skip = browserTestsSkip('the LTI tests');
const PANES = ['host', 'container'];
const WIDE = { width: 1440, height: 1000 };

let root: string;
let platform: TestPlatform;
let agent: Served;
let browser: Browser;

before(async () => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), 'nslab-e2e-lti-'));
  platform = await TestPlatform.start();
  const config = join(root, 'nslab.yaml');
  writeFileSync(config, stringify({ lti: { platforms: [platform.registration()] } }));
  agent = await serve('nslabe2el', {
    NSLAB_CONFIG: config,
    NSLAB_DATA_DIR: join(root, 'data'),
    NSLAB_ID_BASE: '320000000',
    NSLAB_MAX_LABS: '16',
    NSLAB_WARM_PER_LESSON: '0',
  });
  platform.toolUrl = agent.url;
  browser = await launchBrowser();
});

after(async () => {
  if (skip) return;
  await browser?.close();
  await agent?.stop();
  await platform?.close();
  rmSync(root, { recursive: true, force: true });
});

/** The platform's course page with the activity's frame; the frame once it holds `path`. */
async function coursePage(spec: LaunchSpec, path: RegExp): Promise<{ page: Page; frame: Frame; close(): Promise<void> }> {
  const ctx = await browser.newContext({ viewport: WIDE, locale: 'en-US' });
  const page = await ctx.newPage();
  const res = await page.goto(platform.coursePage(spec));
  assert.equal(res?.status(), 200);
  const frame = await frameOf(page, '#tool');
  await waitFor(`${path} in the activity's frame`, () => path.test(frame.url()), 30_000).catch((err) => {
    throw new Error(`${(err as Error).message}; the frame is at ${frame.url()}`);
  });
  return { page, frame, close: () => ctx.close() };
}

/** A launch over plain HTTP with the platform's id_token for `spec`, changed by `alter`. */
async function httpLaunch(spec: LaunchSpec, alter: { forge?: boolean; claims?: (c: Record<string, unknown>) => void } = {}) {
  const login = await loginOverHttp(agent.url, platform.loginParams('hint', spec));
  assert.equal(login.status, 302, login.body);
  const claims = platform.claimsFor(spec, login.nonce);
  alter.claims?.(claims);
  const idToken = await platform.sign(claims, { forge: alter.forge });
  const r = await postLaunch(agent.url, { id_token: idToken, state: login.state });
  return { ...r, idToken, state: login.state, text: textOf(r.body) };
}

test('a learner launches the lesson from the course: the embed view in the frame, tasks done, each score at the platform', { skip }, async () => {
  const jwks = (await (await fetch(`${agent.url}/lti/jwks`)).json()) as { keys: Array<{ kid: string; kty: string }> };
  assert.equal(jwks.keys[0]?.kty, 'RSA');

  const { page, frame, close } = await coursePage({ sub: 'ada', lesson: 'uts', name: 'Ada Lovelace' }, /\/en\/embed\/uts$/);
  try {
    assert.equal(new URL(frame.url()).origin, agent.url, 'the frame is the agent, another site than the platform');
    // The tool's authentication request, as the platform received it.
    const auth = platform.authRequests[platform.authRequests.length - 1]!;
    assert.equal(auth.get('redirect_uri'), `${agent.url}/lti/launch`);
    assert.equal(auth.get('response_mode'), 'form_post');
    assert.equal(auth.get('login_hint'), 'ada');
    const cookie = (await page.context().cookies(agent.url)).find((c) => c.name === 'nslab_embed');
    assert.ok(cookie, 'the embed cookie');
    assert.equal(cookie.partitionKey, 'http://localhost', "partitioned under the platform's site");

    await waitPromptsIn(frame, PANES);
    assert.equal(await frame.locator('[data-pane]').count(), 2);
    const mine = () => platform.scores.filter((s) => s.score.userId === 'ada');

    await runIn(frame, 'container', 'hostname -b bird');
    await frame.waitForSelector('[data-task="set-hostname"][data-status="done"]', { timeout: 30_000 });
    await waitFor('the first score at the platform', () => mine().length >= 1, 30_000);
    assert.equal(mine()[0]!.contentType, 'application/vnd.ims.lis.v1.score+json');
    assert.deepEqual(
      { ...mine()[0]!.score, timestamp: undefined },
      { userId: 'ada', scoreGiven: 1, scoreMaximum: 2, activityProgress: 'InProgress', gradingProgress: 'FullyGraded', timestamp: undefined },
    );

    await runIn(frame, 'container', 'domainname nest');
    await frame.waitForSelector('[data-task="set-domain"][data-status="done"]', { timeout: 30_000 });
    await waitFor('the second score at the platform', () => mine().length >= 2, 30_000);
    assert.deepEqual(
      { ...mine()[1]!.score, timestamp: undefined },
      { userId: 'ada', scoreGiven: 2, scoreMaximum: 2, activityProgress: 'Completed', gradingProgress: 'FullyGraded', timestamp: undefined },
    );
    assert.match(mine()[1]!.lineitem, /\/lineitems\/\d+\?course=1$/, "posted to the launch's line item");
    assert.ok(
      platform.tokenRequests.some((t) => t.ok),
      "a token granted for the tool's client assertion",
    );
    assert.deepEqual(
      platform.tokenRequests.filter((t) => !t.ok),
      [],
      'no client assertion refused',
    );
  } finally {
    await close();
  }
});

test('a teacher adds a lesson by Deep Linking: the picker, then a signed response with the custom lesson', { skip }, async () => {
  const { frame, close } = await coursePage({ messageType: 'LtiDeepLinkingRequest', sub: 'teacher' }, /\/lti\/launch$/);
  try {
    await frame.locator('button[data-lesson="pid"]').waitFor();
    assert.match((await frame.locator('body').textContent()) ?? '', /PID namespace/);
    assert.match((await frame.locator('body').textContent()) ?? '', /PID 命名空间/);
    assert.ok((await frame.locator('button[data-lesson]').count()) >= 8, 'every lesson is offered');
    const seen = platform.deepLinks.length;
    await frame.click('button[data-lesson="pid"]');
    await waitFor('the platform to receive the response', () => platform.deepLinks.length > seen, 15_000);
    const got = platform.deepLinks[platform.deepLinks.length - 1]!;
    assert.equal(got.ok, true, got.error);
    assert.equal(got.header?.alg, 'RS256');
    const jwks = (await (await fetch(`${agent.url}/lti/jwks`)).json()) as { keys: Array<{ kid: string }> };
    assert.equal(got.header?.kid, jwks.keys[0]!.kid, "signed with the tool's published key");
    const c = got.claims!;
    assert.equal(c[CLAIMS.messageType], 'LtiDeepLinkingResponse');
    assert.equal(c[CLAIMS.deploymentId], platform.deploymentId);
    assert.match(String(c[CLAIMS.dlData]), /^dl-data-/);
    const items = c[CLAIMS.contentItems] as Array<Record<string, any>>;
    assert.equal(items.length, 1);
    assert.deepEqual(
      { type: items[0]!.type, url: items[0]!.url, custom: items[0]!.custom },
      { type: 'ltiResourceLink', url: `${agent.url}/lti/launch`, custom: { lesson: 'pid' } },
    );
    await frame.locator('#added').waitFor();
    assert.match((await frame.locator('#added').textContent()) ?? '', /PID namespace/);
  } finally {
    await close();
  }
  // The activity it made launches that lesson.
  const r = await httpLaunch({ sub: 'ada', lesson: 'pid' });
  assert.equal(r.status, 303, r.text);
  assert.equal(r.location, '/en/embed/pid');
});

test('forged, expired, replayed and wrong-audience tokens and an unregistered deployment: each refused by a page that says why', { skip }, async () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases: Array<{ what: string; forge?: boolean; claims?: (c: Record<string, unknown>) => void; status: number; why: RegExp }> = [
    { what: 'forged', forge: true, status: 401, why: /signature does not match the keys .* forged or altered/ },
    {
      what: 'expired',
      claims: (c) => {
        c.iat = now() - 500;
        c.exp = now() - 300;
      },
      status: 401,
      why: /has expired/,
    },
    { what: 'wrong audience', claims: (c) => (c.aud = 'some-other-tool'), status: 403, why: /meant for another tool/ },
    {
      what: 'unregistered deployment',
      claims: (c) => (c[CLAIMS.deploymentId] = 'deployment-x'),
      status: 403,
      why: /deployment deployment-x .* is not registered/,
    },
  ];
  for (const c of cases) {
    const r = await httpLaunch({ sub: `mallory-${c.what}` }, c);
    assert.equal(r.status, c.status, `${c.what}: ${r.text}`);
    assert.match(r.text, /This launch was refused/, c.what);
    assert.match(r.text, c.why, c.what);
    assert.equal(r.cookie, null, `${c.what}: no session`);
    assert.equal(r.location, null, `${c.what}: nothing opened`);
    assert.match(r.body, /^<!doctype html>/, `${c.what}: a page`);
  }

  // Replayed: the same post twice, and the same id_token with another login's state.
  const first = await httpLaunch({ sub: 'replayer' });
  assert.equal(first.status, 303, first.text);
  const again = await postLaunch(agent.url, { id_token: first.idToken, state: first.state });
  assert.equal(again.status, 403);
  assert.match(textOf(again.body), /used already/);
  assert.equal(again.cookie, null);
  const login = await loginOverHttp(agent.url, platform.loginParams('h', { sub: 'replayer' }));
  const other = await postLaunch(agent.url, { id_token: first.idToken, state: login.state });
  assert.equal(other.status, 403);
  assert.match(textOf(other.body), /replayed/);
  assert.equal(other.cookie, null);

  // An unknown lesson is a clear page too.
  const unknown = await httpLaunch({ sub: 'ada', lesson: 'chroot' });
  assert.equal(unknown.status, 404);
  assert.match(unknown.text, /no lesson chroot/);
});

test('the platform rotates its key: the next launch, signed with the new key, still verifies', { skip }, async () => {
  const before = await httpLaunch({ sub: 'rotating' });
  assert.equal(before.status, 303, before.text);
  await platform.rotate();
  const fetches = platform.jwksFetches.length;
  const last = platform.jwksFetches[fetches - 1] ?? 0;
  // An unknown kid refetches the set once the cooldown after the last fetch is over.
  await waitFor('the key set cooldown', () => Date.now() > last + JWKS_COOLDOWN_MS + 100, JWKS_COOLDOWN_MS + 5000);
  const after = await httpLaunch({ sub: 'rotating' });
  assert.equal(after.status, 303, after.text);
  assert.equal(after.location, '/en/embed/uts');
  assert.ok(platform.jwksFetches.length > fetches, 'the tool fetched the new key set');
});
