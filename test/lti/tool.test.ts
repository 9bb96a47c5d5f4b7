// The LTI 1.3 tool in-process, against the test platform (platform.ts) over real HTTP: the
// routes of server/lti-http.ts with a real store, embed sessions, outbox and lesson catalogue,
// no labs (so no root). What is checked: the key set; the login's redirect; a launch that opens
// the lesson's embed session and keeps the grade target; each refusal (forged, expired, replayed,
// wrong audience or party, unregistered deployment, wrong version, missing or unknown lesson,
// anonymous, a platform's own error, a form too large) with the page saying why and nothing
// opened; key rotation; Deep Linking end to end; scores with a cached token, retried when the
// platform is down; and no secret in a page or a log line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openStore, type Store } from '../../apps/agent/src/store/index.ts';
import { Catalogue } from '../../apps/agent/src/lessons/catalogue.ts';
import { Outbox } from '../../apps/agent/src/portal/outbox.ts';
import { Webhooks } from '../../apps/agent/src/portal/webhooks.ts';
import { PortalActivity } from '../../apps/agent/src/portal/activity.ts';
import { EmbedSessions } from '../../apps/agent/src/server/embed.ts';
import { serveLti, MAX_FORM_BYTES } from '../../apps/agent/src/server/lti-http.ts';
import { LtiTool } from '../../apps/agent/src/lti/index.ts';
import { LtiPlatform, ltiPlatformId } from '../../apps/agent/src/lti/platforms.ts';
import { TOOL_KEY_SECRET } from '../../apps/agent/src/lti/keys.ts';
import { scoresUrl } from '../../apps/agent/src/lti/grades.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import { waitFor } from '../helpers/wait.ts';
import { CLAIMS, TestPlatform, loginOverHttp, postLaunch, textOf, type LaunchSpec } from './platform.ts';

/** How long the tool waits before an unknown kid may refetch a platform's keys, in this test. */
const COOLDOWN_MS = 200;

let root: string;
let store: Store;
let platform: TestPlatform;
let server: Server;
let toolUrl: string;
let lti: LtiTool;
let outbox: Outbox;
let embeds: EmbedSessions;
const logs: Array<{ msg: string; extra: Record<string, unknown> }> = [];
/** Every page the tool answered with in these tests (checked for secrets at the end). */
const pages: string[] = [];

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'nslab-lti-tool-'));
  store = await openStore({ dir: join(root, 'data') });
  platform = await TestPlatform.start();
  const catalogue = Catalogue.load(join(REPO_ROOT, 'content', 'lessons'));
  const log = (msg: string, extra: Record<string, unknown>) => void logs.push({ msg, extra });
  outbox = new Outbox(store, log, { baseDelayMs: 50, pollMs: 50 });
  const activity = new PortalActivity(store, new Webhooks(store, outbox), (id) => catalogue.get(id)?.tasks.map((t) => t.id), log);
  lti = new LtiTool({ store, platforms: [LtiPlatform.parse(platform.registration())], outbox, jwksCooldownMs: COOLDOWN_MS });
  activity.onTaskDone = (facts) => lti.taskDone(facts);
  embeds = new EmbedSessions(randomBytes(32), store, async (source) => lti.origins(source));
  server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (serveLti(req, res, path, { lti, catalogue, embeds, activity, publicUrl: null, log })) return;
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  toolUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  platform.toolUrl = toolUrl;
  outbox.start();
  // The learner's task progress reaches the tool as the agent reports it: first-time tasks.
  recordTask = async (sid, lesson, task) => {
    await store.recordTaskDone(sid, lesson, task);
    await activity.taskDone(sid, lesson, task, new Date());
  };
});

after(async () => {
  await outbox?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await platform?.close();
  await store?.close();
  rmSync(root, { recursive: true, force: true });
});

let recordTask: (sid: string, lesson: string, task: string) => Promise<void>;

/** A whole launch over HTTP: login, the platform's id_token for `spec` (changed by `alter`), the post. */
async function launch(spec: LaunchSpec, alter: { forge?: boolean; claims?: (c: Record<string, unknown>) => void } = {}) {
  const login = await loginOverHttp(toolUrl, platform.loginParams('hint', spec));
  assert.equal(login.status, 302, login.body);
  const claims = platform.claimsFor(spec, login.nonce);
  alter.claims?.(claims);
  const idToken = await platform.sign(claims, { forge: alter.forge });
  const r = await postLaunch(toolUrl, { id_token: idToken, state: login.state });
  pages.push(r.body);
  return { ...r, idToken, state: login.state, text: textOf(r.body) };
}

function sessionOf(sub: string): string {
  return embeds.sessionFor(`lti:${ltiPlatformId(platform)}`, sub);
}

test('GET /lti/jwks: the public half of one RS256 key with its kid, the same key at every start', async () => {
  const res = await fetch(`${toolUrl}/lti/jwks`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const { keys } = (await res.json()) as { keys: Array<Record<string, string>> };
  assert.equal(keys.length, 1);
  const k = keys[0]!;
  assert.equal(k.kty, 'RSA');
  assert.equal(k.alg, 'RS256');
  assert.equal(k.use, 'sig');
  assert.ok(k.kid && k.n && k.e);
  for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal(k[priv], undefined, `no ${priv} in the public key set`);
  // Kept in the store: another tool over the same store (a restart, another agent) has the same key.
  const again = new LtiTool({ store, platforms: [] });
  assert.deepEqual((await again.jwks()).keys, keys);
  assert.ok(JSON.parse((await store.getSecret(TOOL_KEY_SECRET))!).d, 'the private key is in the store');
  assert.equal((await fetch(`${toolUrl}/lti/jwks`, { method: 'POST' })).status, 405);
});

test('the login redirects to the platform with every parameter of the authentication request, GET or POST', async () => {
  const params = platform.loginParams('hint-1', {});
  const post = await loginOverHttp(toolUrl, params);
  assert.equal(post.status, 302);
  const loc = post.location!;
  assert.equal(`${loc.origin}${loc.pathname}`, platform.authUrl);
  const q = Object.fromEntries(loc.searchParams);
  assert.deepEqual(
    { ...q, state: undefined, nonce: undefined },
    {
      scope: 'openid',
      response_type: 'id_token',
      response_mode: 'form_post',
      prompt: 'none',
      client_id: platform.clientId,
      redirect_uri: `${toolUrl}/lti/launch`,
      login_hint: 'learner-1',
      lti_message_hint: 'hint-1',
      state: undefined,
      nonce: undefined,
    },
  );
  assert.match(q.state!, /^[A-Za-z0-9_-]{32}$/);
  assert.match(q.nonce!, /^[A-Za-z0-9_-]{32}$/);
  assert.notEqual(q.state, q.nonce);

  const get = await fetch(`${toolUrl}/lti/login?${new URLSearchParams(params)}`, { redirect: 'manual' });
  assert.equal(get.status, 302);
  const state2 = new URL(get.headers.get('location')!).searchParams.get('state');
  assert.ok(state2 && state2 !== q.state, 'a fresh state per login');
});

test('a login the tool cannot start says why', async () => {
  const cases: Array<[Record<string, string>, number, RegExp]> = [
    [{ ...platform.loginParams('h', {}), iss: 'https://lms.elsewhere.example' }, 403, /https:\/\/lms\.elsewhere\.example.*is not registered/],
    [{ ...platform.loginParams('h', {}), client_id: 'someone-else' }, 403, /client id someone-else is not registered/],
    [{ ...platform.loginParams('h', {}), lti_deployment_id: 'deployment-9' }, 403, /deployment deployment-9 .* is not registered/],
    [{ ...platform.loginParams('h', {}), login_hint: '' }, 400, /no login_hint/],
    [{ ...platform.loginParams('h', {}), iss: '' }, 400, /no iss/],
    [{ ...platform.loginParams('h', {}), target_link_uri: '' }, 400, /no target_link_uri/],
  ];
  for (const [params, status, why] of cases) {
    const r = await loginOverHttp(toolUrl, params);
    assert.equal(r.status, status, JSON.stringify(params));
    assert.equal(r.location, null);
    assert.match(textOf(r.body), why);
  }
});

test('a resource link launch opens the lesson in an embed session and keeps where its grades go', async () => {
  const r = await launch({ sub: 'ada', lesson: 'uts', locale: 'zh-CN', name: 'Ada\u0007 Lovelace' });
  assert.equal(r.status, 303, r.text);
  assert.equal(r.location, '/zh/embed/uts');
  assert.match(r.cookie ?? '', /^nslab_embed=[^;]+; Path=\/; .*HttpOnly; Secure; SameSite=None; Partitioned/);
  const sid = sessionOf('ada');
  const user = await store.portal.portalUser(sid);
  assert.equal(user?.source, `lti:${ltiPlatformId(platform)}`);
  assert.equal(user?.user, 'ada');
  assert.equal(user?.lesson, 'uts');
  assert.equal(user?.lang, 'zh');
  assert.equal(user?.name, 'Ada Lovelace', 'control characters dropped from the name');
  assert.equal(user?.returnUrl, `${platform.url}/course-home`);
  const target = await store.lti.ltiGradeTarget(sid, 'uts');
  assert.equal(target?.userSub, 'ada');
  assert.match(target?.lineitem ?? '', new RegExp(`^${platform.serviceUrl}/lineitems/\\d+\\?course=1$`));
  assert.deepEqual(lti.origins(user!.source), [platform.url], 'the embed view may be framed by the platform only');
});

test('refused launches: each page says why, and nothing is opened', async () => {
  const cases: Array<{ what: string; spec?: LaunchSpec; forge?: boolean; claims?: (c: Record<string, unknown>) => void; status: number; why: RegExp }> = [
    { what: 'a forged signature', forge: true, status: 401, why: /signature does not match the keys .* forged or altered/ },
    {
      what: 'an expired token',
      claims: (c) => {
        c.iat = Math.floor(Date.now() / 1000) - 400;
        c.exp = Math.floor(Date.now() / 1000) - 200;
      },
      status: 401,
      why: /has expired/,
    },
    {
      what: 'a token issued long ago',
      claims: (c) => {
        c.iat = Math.floor(Date.now() / 1000) - 3600;
        c.exp = Math.floor(Date.now() / 1000) + 300;
      },
      status: 401,
      why: /issued more than 10 minutes ago/,
    },
    { what: 'a token issued in the future', claims: (c) => (c.iat = Math.floor(Date.now() / 1000) + 600), status: 401, why: /issued in the future/ },
    { what: 'another audience', claims: (c) => (c.aud = 'another-tool'), status: 403, why: /meant for another tool: its audience \(aud: another-tool\)/ },
    {
      what: 'several audiences without azp',
      claims: (c) => {
        c.aud = [platform.clientId, 'another-tool'];
        delete c.azp;
      },
      status: 403,
      why: /several audiences but no azp/,
    },
    { what: 'another authorized party', claims: (c) => (c.azp = 'another-tool'), status: 403, why: /another authorized party \(azp: another-tool\)/ },
    { what: 'another issuer', claims: (c) => (c.iss = 'https://evil.example'), status: 403, why: /issued by https:\/\/evil\.example, not by/ },
    {
      what: 'an unregistered deployment',
      claims: (c) => (c[CLAIMS.deploymentId] = 'deployment-9'),
      status: 403,
      why: /deployment deployment-9 .* is not registered/,
    },
    { what: 'another LTI version', claims: (c) => (c[CLAIMS.version] = '1.1'), status: 400, why: /LTI version 1\.1; nslab speaks 1\.3\.0/ },
    {
      what: 'another message type',
      claims: (c) => (c[CLAIMS.messageType] = 'LtiSubmissionReviewRequest'),
      status: 400,
      why: /cannot handle a LtiSubmissionReviewRequest/,
    },
    { what: 'no lesson', spec: { lesson: null }, status: 400, why: /custom parameter lesson=<id> must name one of: .*uts/ },
    { what: 'an unknown lesson', spec: { lesson: 'chroot' }, status: 404, why: /no lesson chroot/ },
    { what: 'an anonymous launch', claims: (c) => delete c.sub, status: 400, why: /anonymous/ },
    { what: 'a token with no nonce', claims: (c) => delete c.nonce, status: 400, why: /nonce claim is missing/ },
  ];
  for (const c of cases) {
    const sub = `refused-${cases.indexOf(c)}`;
    const r = await launch({ sub, ...c.spec }, { forge: c.forge, claims: c.claims });
    assert.equal(r.status, c.status, `${c.what}: ${r.text}`);
    assert.match(r.text, c.why, c.what);
    assert.match(r.text, /This launch was refused|does not exist|Which lesson/, c.what);
    assert.equal(r.cookie, null, `${c.what}: no cookie`);
    assert.equal(r.location, null, `${c.what}: no redirect`);
    assert.equal(await store.portal.portalUser(sessionOf(sub)), undefined, `${c.what}: no session`);
  }
});

test('a replayed launch is refused: the same state twice, or the same id_token with a new login', async () => {
  const first = await launch({ sub: 'replay' });
  assert.equal(first.status, 303, first.text);
  const again = await postLaunch(toolUrl, { id_token: first.idToken, state: first.state });
  assert.equal(again.status, 403);
  assert.match(textOf(again.body), /used already \(each launch works once\)/);
  assert.equal(again.cookie, null);

  const login = await loginOverHttp(toolUrl, platform.loginParams('h', { sub: 'replay' }));
  const other = await postLaunch(toolUrl, { id_token: first.idToken, state: login.state });
  assert.equal(other.status, 403);
  assert.match(textOf(other.body), /nonce is not the one this login was given.*replayed/);
  assert.equal(other.cookie, null);
  // That state is used up too.
  const third = await postLaunch(toolUrl, { id_token: await platform.sign(platform.claimsFor({ sub: 'replay' }, login.nonce)), state: login.state });
  assert.equal(third.status, 403);

  const made = await postLaunch(toolUrl, { id_token: first.idToken, state: 'never-given-out-by-nslab-0000' });
  assert.equal(made.status, 403);
  const none = await postLaunch(toolUrl, { id_token: first.idToken });
  assert.equal(none.status, 400);
  assert.match(textOf(none.body), /no state/);
});

test("the platform's own error comes back as a page; other requests are refused in words", async () => {
  const login = await loginOverHttp(toolUrl, platform.loginParams('h', {}));
  const r = await postLaunch(toolUrl, { error: 'login_required', error_description: 'the user is not signed in', state: login.state });
  assert.equal(r.status, 403);
  assert.match(textOf(r.body), /did not sign you in for this launch \(login_required: the user is not signed in\)/);

  const get = await fetch(`${toolUrl}/lti/launch`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST');
  const json = await fetch(`${toolUrl}/lti/launch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(json.status, 415);
  const big = await fetch(`${toolUrl}/lti/launch`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `id_token=${'a'.repeat(MAX_FORM_BYTES + 10)}&state=x`,
  });
  assert.equal(big.status, 413);
  assert.match(textOf(await big.text()), /at most 64 KiB/);
});

test('key rotation at the platform: a token signed with its new key still verifies', async () => {
  const before = await launch({ sub: 'rotation' });
  assert.equal(before.status, 303, before.text);
  const oldKid = platform.kid;
  await platform.rotate();
  assert.notEqual(platform.kid, oldKid);
  const fetches = platform.jwksFetches.length;
  // The tool refetches for an unknown kid once its cooldown since the last fetch is over.
  const last = platform.jwksFetches[platform.jwksFetches.length - 1]!;
  await waitFor('the key set cooldown', () => Date.now() > last + COOLDOWN_MS + 50, 5000);
  const after = await launch({ sub: 'rotation' });
  assert.equal(after.status, 303, after.text);
  assert.ok(platform.jwksFetches.length > fetches, 'the tool fetched the new key set');
  // A token under the retired key is refused now.
  await platform.rotate();
  await waitFor('the key set cooldown', () => Date.now() > platform.jwksFetches[platform.jwksFetches.length - 1]! + COOLDOWN_MS + 50, 5000);
  const ok = await launch({ sub: 'rotation' });
  assert.equal(ok.status, 303, ok.text);
});

test('Deep Linking: the picker lists the lessons; the choice goes back as a signed LtiDeepLinkingResponse', async () => {
  const r = await launch({ messageType: 'LtiDeepLinkingRequest', sub: 'teacher' });
  assert.equal(r.status, 200, r.text);
  assert.match(r.text, /Add an nslab lesson/);
  for (const [id, title] of [
    ['uts', /UTS/],
    ['pid', /PID/],
  ] as const) {
    assert.match(r.body, new RegExp(`data-lesson="${id}"`));
    assert.match(r.text, title);
  }
  assert.match(r.text, /命名空间|隔离/, 'the Chinese titles too');
  const ref = /name="ref" value="([^"]+)"/.exec(r.body)![1]!;
  assert.equal(await store.portal.portalUser(sessionOf('teacher')), undefined, 'picking opens no session');

  const pick = (lesson: string, reference = ref) =>
    fetch(`${toolUrl}/lti/deep-link`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ref: reference, lesson }),
    });
  const unknown = await pick('chroot');
  assert.equal(unknown.status, 404);
  const tampered = await pick('pid', `${ref.slice(0, -4)}AAAA`);
  assert.equal(tampered.status, 400);
  assert.match(textOf(await tampered.text()), /did not come from an nslab picker/);

  const res = await pick('pid');
  assert.equal(res.status, 200);
  const page = await res.text();
  pages.push(page);
  const action = /<form id="post" method="post" action="([^"]+)"/.exec(page)![1]!;
  assert.equal(action, platform.returnUrl);
  const jwt = /name="JWT" value="([^"]+)"/.exec(page)![1]!;
  // The platform receives it (as the page's form would post it) and checks its signature against /lti/jwks.
  const back = await fetch(platform.returnUrl.replace('localhost', '127.0.0.1'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ JWT: jwt }),
  });
  assert.equal(back.status, 200, await back.text());
  const got = platform.deepLinks[platform.deepLinks.length - 1]!;
  assert.equal(got.ok, true, got.error);
  const c = got.claims!;
  assert.equal(c.iss, platform.clientId);
  assert.equal(c.aud, platform.issuer);
  assert.equal(typeof c.nonce, 'string');
  assert.equal(c[CLAIMS.messageType], 'LtiDeepLinkingResponse');
  assert.equal(c[CLAIMS.version], '1.3.0');
  assert.equal(c[CLAIMS.deploymentId], platform.deploymentId);
  assert.match(String(c[CLAIMS.dlData]), /^dl-data-/, 'the data of deep_linking_settings, echoed');
  const items = c[CLAIMS.contentItems] as Array<Record<string, any>>;
  assert.equal(items.length, 1);
  assert.equal(items[0]!.type, 'ltiResourceLink');
  assert.equal(items[0]!.url, `${toolUrl}/lti/launch`);
  assert.deepEqual(items[0]!.custom, { lesson: 'pid' });
  assert.match(items[0]!.title, /PID/);
  assert.equal(items[0]!.lineItem.scoreMaximum > 0, true, 'a line item for grades');

  const twice = await pick('pid');
  assert.equal(twice.status, 409, 'a choice is sent once');
});

test('Deep Linking where the platform takes no resource links says so', async () => {
  const r = await launch(
    { messageType: 'LtiDeepLinkingRequest', sub: 'teacher2' },
    { claims: (c) => ((c[CLAIMS.dlSettings] as Record<string, unknown>).accept_types = ['file', 'html']) },
  );
  assert.equal(r.status, 400);
  assert.match(r.text, /takes other content \(file, html\)/);
});

test('scores: each first-time task posts tasks done out of the lesson, InProgress then Completed, with one token', async () => {
  assert.equal(scoresUrl('https://lms.example/li/7?course=1'), 'https://lms.example/li/7/scores?course=1');
  assert.equal(scoresUrl('https://lms.example/li/7/'), 'https://lms.example/li/7/scores');
  const r = await launch({ sub: 'grace', lesson: 'uts' });
  assert.equal(r.status, 303, r.text);
  const sid = sessionOf('grace');
  const lineitem = (await store.lti.ltiGradeTarget(sid, 'uts'))!.lineitem;
  const mine = () => platform.scores.filter((s) => s.lineitem === lineitem);
  const tokensBefore = platform.tokenRequests.filter((t) => t.ok).length;

  await recordTask(sid, 'uts', 'set-hostname');
  await waitFor('the first score', () => mine().length >= 1);
  const first = mine()[0]!;
  assert.equal(first.contentType, 'application/vnd.ims.lis.v1.score+json');
  assert.deepEqual(
    { ...first.score, timestamp: undefined },
    { userId: 'grace', scoreGiven: 1, scoreMaximum: 2, activityProgress: 'InProgress', gradingProgress: 'FullyGraded', timestamp: undefined },
  );
  assert.ok(!Number.isNaN(Date.parse(String(first.score.timestamp))));

  // The platform is down for one post: the outbox tries again, and the score arrives.
  platform.failScores = 1;
  await recordTask(sid, 'uts', 'set-domain');
  await waitFor('the second score', () => mine().length >= 2, 20_000);
  assert.deepEqual(
    { ...mine()[1]!.score, timestamp: undefined },
    { userId: 'grace', scoreGiven: 2, scoreMaximum: 2, activityProgress: 'Completed', gradingProgress: 'FullyGraded', timestamp: undefined },
  );
  const log = await store.outbox.log('lti-score', ltiPlatformId(platform));
  const second = log.find(
    (m) => (m.payload as { score: { scoreGiven: number } }).score.scoreGiven === 2 && (m.payload as { lineitem: string }).lineitem === lineitem,
  )!;
  assert.deepEqual(
    second.tries.map((t) => t.status),
    [503, 200],
    'a failed try, then the delivery',
  );
  assert.equal(platform.tokenRequests.filter((t) => t.ok).length - tokensBefore <= 1, true, 'the token is reused while it lasts');
  assert.equal(platform.tokenRequests.filter((t) => !t.ok).length, 0, platform.tokenRequests.map((t) => t.error).join('; '));

  // A new launch of a learner who did tasks already sends their score again (the platform may have lost it).
  const again = await launch({ sub: 'grace', lesson: 'uts' });
  assert.equal(again.status, 303);
  const newLineitem = (await store.lti.ltiGradeTarget(sid, 'uts'))!.lineitem;
  await waitFor('the score at the new launch', () => platform.scores.some((s) => s.lineitem === newLineitem && s.score.scoreGiven === 2));

  // A session launched without grades (and a plain browser session) posts nothing.
  const noGrades = await launch({ sub: 'hopper', grades: false });
  assert.equal(noGrades.status, 303);
  const count = platform.scores.length;
  await recordTask(sessionOf('hopper'), 'uts', 'set-hostname');
  assert.equal(await store.lti.ltiGradeTarget(sessionOf('hopper'), 'uts'), undefined);
  assert.equal(await store.outbox.pending(), 0);
  assert.equal(platform.scores.length, count);
});

test('no secret reaches a page or a log line', async () => {
  const key = JSON.parse((await store.getSecret(TOOL_KEY_SECRET))!) as Record<string, string>;
  const logged = JSON.stringify(logs);
  for (const part of ['d', 'p', 'q', 'dp', 'dq', 'qi']) {
    const v = key[part]!;
    assert.ok(v.length > 20);
    for (const page of pages) assert.ok(!page.includes(v), `the private key's ${part} is in no page`);
    assert.ok(!logged.includes(v), `the private key's ${part} is in no log line`);
  }
  assert.ok(!/at-[0-9a-f]{32}/.test(logged), 'no access token in the log');
  assert.ok(!/eyJ[A-Za-z0-9_-]{20,}/.test(logged), 'no JWT in the log');
  assert.ok(!pages.some((p) => /at-[0-9a-f]{32}/.test(p)), 'no access token in a page');
});
