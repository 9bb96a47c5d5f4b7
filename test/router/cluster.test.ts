// Three real agents on loopback (each its own process, instance, id range and state directory)
// sharing one cluster key and one PostgreSQL started here, with the router in front: placement,
// reaching a lab again by its id, refusals, an agent killed and brought back, a full agent, a
// draining one, HTTP naming a lab, and the router's own bundle restarted under open labs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PROTOCOL_VERSION } from '@nslab/shared';
import { agentTag, clusterKey, labIdTag } from '@nslab/shared/cluster';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import { loadConfig } from '../../apps/router/src/config.ts';
import { startRouter, type RunningRouter } from '../../apps/router/src/server.ts';
import { TestClient } from '../helpers/ws.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { PgServer, freePort, pgSkip } from '../store/engines.ts';

const skip = rootOrSkip('the router’s cluster tests') || pgSkip();
const KEY = 'router-cluster-test-key-0123456789abcdef';
const key = clusterKey(KEY);
const TOKEN = 'router-test-token-0123';
const V = `?v=${PROTOCOL_VERSION}`;

interface Host {
  name: string;
  id: string;
  port: number;
  url: string;
  idBase: number;
  maxLabs: number;
  proc: ChildProcess | null;
  exited: Promise<number | null> | null;
}

let pg: PgServer | null = null;
let dbUrl = '';
const hosts: Host[] = [];
let router: RunningRouter;

/** Start (or start again) an agent from the built bundle, as an operator would. */
async function startHost(h: Host): Promise<void> {
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'apps/agent/dist/main.cjs')], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: String(h.port),
      NSLAB_INSTANCE: h.name,
      NSLAB_STATE_DIR: `/run/${h.name}`,
      NSLAB_DATA_DIR: `/run/${h.name}/data`,
      NSLAB_ID_BASE: String(h.idBase),
      NSLAB_MAX_LABS: String(h.maxLabs),
      NSLAB_WARM_LABS: '0',
      NSLAB_WARM_PER_LESSON: '0',
      NSLAB_WEB: '0',
      NSLAB_TOKEN: TOKEN,
      NSLAB_DATABASE_URL: dbUrl,
      NSLAB_CLUSTER_KEY: KEY,
      NSLAB_AGENT_ID: h.id,
      NSLAB_SHUTDOWN_NOTICE_S: '0',
      LOG_LEVEL: 'warn',
    } as unknown as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  h.proc = proc;
  h.exited = new Promise((r) => proc.once('exit', (code) => r(code)));
  let out = '';
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${h.name} did not start within 60 s: ${err}`)), 60_000);
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (/nslab is running at/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${h.name} exited (${code}) before it listened: ${err}`));
    });
  });
}

async function stopHost(h: Host, signal: NodeJS.Signals = 'SIGTERM') {
  if (!h.proc || h.proc.exitCode !== null || h.proc.signalCode !== null) return;
  h.proc.kill(signal);
  await h.exited;
}

/** A health round, so the router sees what the agents say now. */
const round = () => router.fleet.round();

/** Which of our hosts holds a lab, from the tag its id carries. */
function hostOf(labId: string): Host {
  const tag = labIdTag(key, labId);
  const h = hosts.find((x) => agentTag(x.id) === tag);
  assert.ok(h, `lab ${labId} names no agent of ours (tag ${tag})`);
  return h;
}

/** A new connection through the router (placed anew) that opens a lab; returns both. */
async function openThroughRouter(lesson = 'uts'): Promise<{ c: TestClient; id: string }> {
  const c = await TestClient.connect(router.url, TOKEN, {}, V);
  const r = await c.request({ type: 'open', lesson });
  assert.equal(r.type, 'result', JSON.stringify(r));
  return { c, id: r.data.id as string };
}

async function screenOf(c: TestClient, lab: string, pane: string, want: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = Buffer.concat(c.frames.filter((f) => f.key === `${lab}/${pane}`).map((f) => f.payload)).toString();
    if (want.test(text)) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${want} on ${lab}/${pane}; saw ${JSON.stringify(text.slice(-300))}`);
}

const clients: TestClient[] = [];
const track = (c: TestClient) => {
  clients.push(c);
  return c;
};

before(async () => {
  if (skip) return;
  pg = new PgServer();
  await pg.init();
  dbUrl = await pg.createDatabase();
  const plan: Array<[string, number, number]> = [
    ['nslabr1', 1_000_000_000, 4],
    ['nslabr2', 1_020_000_000, 4],
    ['nslabr3', 1_040_000_000, 1],
  ];
  for (const [name, idBase, maxLabs] of plan)
    hosts.push({ name, id: `host-${name.slice(-2)}`, port: await freePort(), url: '', idBase, maxLabs, proc: null, exited: null });
  for (const h of hosts) h.url = `http://127.0.0.1:${h.port}`;
  // One at a time: the first one makes the store's tables.
  for (const h of hosts) await startHost(h);
  router = await startRouter(
    {
      ...loadConfig({ NSLAB_AGENTS: hosts.map((h) => h.url).join(','), NSLAB_CLUSTER_KEY: KEY }),
      host: '127.0.0.1',
      port: 0,
      healthIntervalMs: 200,
      healthTimeoutMs: 1000,
    },
    { quiet: true },
  );
});

after(async () => {
  if (skip) return;
  try {
    for (const c of clients) c.close();
    await router?.close();
    for (const h of hosts) await stopHost(h);
  } finally {
    for (const h of hosts) rmSync(`/run/${h.name}`, { recursive: true, force: true, maxRetries: 3 });
    await pg?.destroy();
  }
});

test('the router sees the three agents, with their ids, tags and room', { skip }, async () => {
  await round();
  const body = await (await fetch(`${router.url}/healthz`)).json();
  assert.equal(body.role, 'router');
  assert.equal(body.ok, true);
  const byId = new Map(body.agents.map((a: { id: string }) => [a.id, a]));
  for (const h of hosts) {
    const a = byId.get(h.id) as Record<string, unknown>;
    assert.ok(a, `${h.id} missing: ${JSON.stringify(body.agents)}`);
    assert.equal(a.healthy, true);
    assert.equal(a.tag, agentTag(h.id));
    assert.equal(a.url, h.url);
    assert.equal(a.free, h.maxLabs);
    assert.equal(a.version, body.version);
  }
});

let firstLab = '';
test('a lab opened through the router names its agent; lab= reaches it again and shows its screen', { skip }, async () => {
  const cookie = await TestClient.sessionCookie(router.url);
  const a = track(await TestClient.connect(router.url, undefined, { cookie, origin: router.url }, V));
  const r = await a.request({ type: 'open', lesson: 'uts' });
  assert.equal(r.type, 'result', JSON.stringify(r));
  firstLab = r.data.id;
  const h = hostOf(firstLab);
  // The agent the id names really holds it: ask that agent directly.
  const direct = track(await TestClient.connect(h.url, TOKEN));
  const list = await direct.request({ type: 'list' });
  assert.ok(
    list.data.some((l: { id: string }) => l.id === firstLab),
    `${h.id} does not hold ${firstLab}`,
  );
  direct.close();
  await a.request({ type: 'attach', lab: firstLab, pane: 'host', cols: 80, rows: 24 });
  a.send({ type: 'input', lab: firstLab, pane: 'host', data: 'echo routed-$((6*7))\n' });
  await screenOf(a, firstLab, 'host', /routed-42/);
  // The same browser, a second tab: lab= takes it to the same machine, the same screen.
  const b = track(await TestClient.connect(router.url, undefined, { cookie, origin: router.url }, `${V}&lab=${firstLab}`));
  const att = await b.request({ type: 'attach', lab: firstLab, pane: 'host', cols: 80, rows: 24 });
  assert.equal(att.type, 'result', JSON.stringify(att));
  await screenOf(b, firstLab, 'host', /routed-42/);
  b.close();
  // Close it: the placement tests below count from empty agents.
  assert.equal((await a.request({ type: 'close', lab: firstLab })).type, 'result');
  a.close();
});

test('a lab id altered by a client is refused with 4403', { skip }, async () => {
  const altered = firstLab.slice(0, 8) + (firstLab[8] === 'z' ? 'y' : 'z') + firstLab.slice(9);
  const c = await TestClient.connect(router.url, TOKEN, {}, `${V}&lab=${altered}`);
  assert.deepEqual(await c.waitClosed(), { code: 4403, reason: 'this lab address was altered or is not from this cluster' });
});

const open: Array<{ c: TestClient; id: string }> = [];
test('new labs spread over the agents by free room; a full agent gets none', { skip }, async () => {
  const full = hosts[2]!;
  // Fill the third agent (one lab) directly.
  const d = track(await TestClient.connect(full.url, TOKEN));
  assert.equal((await d.request({ type: 'open', lesson: 'uts' })).type, 'result');
  await round();
  for (let i = 0; i < 6; i++) {
    const o = await openThroughRouter();
    track(o.c);
    open.push(o);
    // The next one is placed by what the agents say after this one.
    await round();
  }
  const count = new Map<string, number>();
  for (const o of open) count.set(hostOf(o.id).id, (count.get(hostOf(o.id).id) ?? 0) + 1);
  assert.equal(count.get(full.id), undefined, 'the full agent got a lab');
  // Two random choices with fresh room after each: the two agents take turns.
  assert.deepEqual([count.get(hosts[0]!.id), count.get(hosts[1]!.id)], [3, 3]);
  d.close();
});

test('an agent killed: only its labs’ clients are told (4410), new labs go to the others', { skip }, async () => {
  const victim = hosts[0]!;
  const mine = open.filter((o) => hostOf(o.id) === victim);
  const others = open.filter((o) => hostOf(o.id) !== victim);
  await stopHost(victim, 'SIGKILL');
  for (const o of mine) assert.deepEqual(await o.c.waitClosed(10_000), { code: 4410, reason: 'the machine holding your lab stopped; open a new one' });
  await round();
  for (const o of others) {
    assert.equal(o.c.closed, null, 'a client of another agent was closed');
    assert.equal((await o.c.request({ type: 'list' })).type, 'result');
  }
  // Its labs' addresses now say where they went.
  const again = await TestClient.connect(router.url, TOKEN, {}, `${V}&lab=${mine[0]!.id}`);
  assert.equal((await again.waitClosed()).code, 4410);
  const gone = await fetch(`${router.url}/api/v1/labs/${mine[0]!.id}`);
  assert.equal(gone.status, 410);
  // The second agent has one place left, the third none: the next lab goes to the second, then nowhere.
  const next = await openThroughRouter();
  track(next.c);
  assert.equal(hostOf(next.id), hosts[1]);
  open.push(next);
  await round();
  const none = await TestClient.connect(router.url, TOKEN, {}, V);
  assert.deepEqual(await none.waitClosed(), { code: 4503, reason: 'no machine has room for a new lab right now; try again in a minute' });
});

test('the killed agent comes back and takes labs again; the store lost nothing', { skip }, async () => {
  const back = hosts[0]!;
  await startHost(back);
  await round();
  const o = await openThroughRouter();
  track(o.c);
  assert.equal(hostOf(o.id), back);
  open.push(o);
  // The session made through the router before the kill is still good on every agent (one store).
  const cookie = await TestClient.sessionCookie(router.url);
  for (const h of hosts) {
    const c = await TestClient.connect(h.url, undefined, { cookie, origin: h.url });
    const hello = await c.waitFor((m) => m.type === 'hello');
    assert.equal(hello.authenticated, true, `${h.id} does not know the session`);
    c.close();
  }
});

test('HTTP naming a lab reaches the agent that holds it', { skip }, async () => {
  for (const o of open.filter((x) => x.c.closed === null)) {
    const h = hostOf(o.id);
    for (const path of [`/api/v1/labs/${o.id}`, `/api/casts/w0rkshop1/seat0001/${o.id}-host.cast?exp=1&sig=x`]) {
      const res = await fetch(`${router.url}${path}`);
      await res.arrayBuffer();
      assert.equal(res.headers.get('x-nslab-agent'), h.id, path);
    }
  }
  // A read-only link: its first part is the lab, which takes the viewer's socket to the lab's machine.
  const owner = open.find((x) => x.c.closed === null)!;
  const share = await owner.c.request({ type: 'share', lab: owner.id });
  assert.equal(share.type, 'result', JSON.stringify(share));
  const token: string = share.data.token;
  const cookie = await TestClient.sessionCookie(router.url);
  const watcher = track(await TestClient.connect(router.url, undefined, { cookie, origin: router.url }, `${V}&lab=${token.split('.')[0]}`));
  const view = await watcher.request({ type: 'view', token });
  assert.equal(view.type, 'result', JSON.stringify(view));
  watcher.close();
});

test('a draining agent takes no new labs and exits once its labs have ended', { skip }, async () => {
  const draining = hosts[1]!;
  const res = await fetch(`${draining.url}/api/drain`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: '{"deadlineS": 120}',
  });
  assert.equal(res.status, 202, await res.text());
  await round();
  const seen = (await (await fetch(`${router.url}/healthz`)).json()).agents.find((a: { id: string }) => a.id === draining.id);
  assert.equal(seen.draining, true);
  assert.equal(seen.free, 0);
  // Room is left on the first agent only (3 free): new labs go there.
  for (let i = 0; i < 2; i++) {
    const o = await openThroughRouter();
    track(o.c);
    assert.equal(hostOf(o.id), hosts[0]);
    await round();
  }
  // Its learners' labs still work through the router until they close them.
  const theirs = open.filter((o) => o.c.closed === null && hostOf(o.id) === draining);
  assert.ok(theirs.length > 0);
  for (const o of theirs) assert.equal((await o.c.request({ type: 'close', lab: o.id })).type, 'result');
  assert.equal(await draining.exited, 0);
  await round();
  const gone = (await (await fetch(`${router.url}/healthz`)).json()).agents.find((a: { url: string }) => a.url === draining.url);
  assert.equal(gone.healthy, false);
});

test('the router’s bundle: one line on stdout; restarted, every lab stays reachable', { skip }, async () => {
  const port = await freePort();
  const start = async () => {
    const proc = spawn(process.execPath, [join(REPO_ROOT, 'apps/router/dist/router.cjs')], {
      env: {
        PATH: process.env.PATH,
        NSLAB_ROUTER_HOST: '127.0.0.1',
        NSLAB_ROUTER_PORT: String(port),
        NSLAB_AGENTS: hosts.map((h) => h.url).join(','),
        NSLAB_CLUSTER_KEY: KEY,
        NSLAB_HEALTH_INTERVAL_MS: '200',
        LOG_LEVEL: 'warn',
      } as unknown as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the router did not start within 20 s')), 20_000);
      proc.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => reject(new Error(`the router exited (${code})`)));
    });
    assert.equal(out, `nslab router listening on http://127.0.0.1:${port}\n`);
    return { proc, exited: new Promise<number | null>((r) => proc.once('exit', (code) => r(code))) };
  };
  const live = open.filter((o) => o.c.closed === null);
  assert.ok(live.length > 0);
  const url = `http://127.0.0.1:${port}`;
  let r = await start();
  const through = await TestClient.connect(url, TOKEN, {}, `${V}&lab=${live[0]!.id}`);
  assert.equal((await through.request({ type: 'list' })).type, 'result');
  r.proc.kill('SIGTERM');
  // Its open WebSockets are told to reconnect; the process exits 0.
  assert.equal((await through.waitClosed(5000)).code, 1012);
  assert.equal(await r.exited, 0);
  r = await start();
  for (const o of live) {
    const c = await TestClient.connect(url, TOKEN, {}, `${V}&lab=${o.id}`);
    const att = await c.request({ type: 'attach', lab: o.id, pane: 'host', cols: 80, rows: 24 });
    assert.equal(att.type, 'result', `${o.id} on ${hostOf(o.id).id}: ${JSON.stringify(att)}`);
    c.close();
  }
  r.proc.kill('SIGTERM');
  assert.equal(await r.exited, 0);
});
