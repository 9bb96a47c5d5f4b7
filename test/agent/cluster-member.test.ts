// One agent among several (docs/router.md): lab ids that name it and are signed with the cluster
// key, what /healthz says for routers, draining (no new lab; the agent closes when its labs end
// or the deadline passes), `nslab drain`, and pings that let go of a client that stopped answering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { agentTag, labIdTag, clusterKey } from '@nslab/shared/cluster';
import { sideAgent, testConfig, TEST_ID_BASE, TEST_INSTANCE } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { TestClient, ok, refused } from '../helpers/ws.ts';
import { waitFor } from '../helpers/wait.ts';
import { ConfigError, loadConfig } from '../../apps/agent/src/config.ts';
import { startAgent } from '../../apps/agent/src/server/agent.ts';
import { runCli } from '../../apps/agent/src/cli/main.ts';

const skip = rootOrSkip('the cluster member tests');
const KEY_TEXT = 'cluster-key-for-tests-0123456789abcdef';
const KEY = clusterKey(KEY_TEXT);
const cluster = (agentId: string, extra: Record<string, unknown> = {}) => ({
  agentId,
  advertiseUrl: 'http://198.18.0.77:3000',
  key: KEY,
  version: '9.9.9-test',
  drainDeadlineMs: 3_600_000,
  ...extra,
});

async function health(url: string) {
  const res = await fetch(`${url}/healthz`);
  return { status: res.status, body: (await res.json()) as any };
}

function sink() {
  let text = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

test('settings: the cluster key is checked, read from a file, and named only once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nslab-cluster-'));
  try {
    const file = join(dir, 'key');
    writeFileSync(file, `${KEY_TEXT}\n`);
    const fromFile = loadConfig({}, { cluster: { keyFile: file, agentId: 'node-a.example' } });
    assert.deepEqual(fromFile.cluster.key, KEY, 'the file is read and trimmed');
    assert.equal(fromFile.cluster.agentId, 'node-a.example');
    assert.throws(() => loadConfig({}, { cluster: { keyFile: file, key: KEY_TEXT } }), ConfigError);
    assert.throws(() => loadConfig({}, { cluster: { keyFile: join(dir, 'missing') } }), /cannot read the cluster key file/);
    writeFileSync(file, 'short');
    assert.throws(() => loadConfig({}, { cluster: { keyFile: file } }), /at least 32 characters/);
    assert.equal(loadConfig({}, {}).cluster.key, null, 'no key: one agent alone');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a clustered agent: lab ids name it and are signed; /healthz says who it is and how much room it has', { skip }, async () => {
  const agent = await sideAgent(15, { maxLabs: 4, cluster: cluster('host-a') });
  try {
    const before = await health(agent.url);
    assert.equal(before.status, 200);
    assert.deepEqual(before.body.agent, {
      id: 'host-a',
      tag: agentTag('host-a'),
      url: 'http://198.18.0.77:3000',
      version: '9.9.9-test',
      protocol: before.body.protocol,
      draining: false,
      clustered: true,
    });
    assert.deepEqual(before.body.capacity, { open: 0, free: 4, warm: 0, max: 4 });

    const c = await TestClient.connect(agent.url, agent.token);
    const lab = await ok(c, { type: 'open', lesson: 'uts' });
    assert.equal(lab.id.length, 30);
    assert.equal(labIdTag(KEY, lab.id), agentTag('host-a'), 'the id names this agent, signed with the key');
    assert.equal(labIdTag(clusterKey('another-key-another-key-another-key!'), lab.id), null, 'another cluster does not accept it');
    const altered = lab.id.slice(0, 10) + (lab.id[10] === 'a' ? 'b' : 'a') + lab.id.slice(11);
    assert.equal(labIdTag(KEY, altered), null, 'one changed character and it is no longer signed');
    const retagged = agentTag('host-b') + lab.id.slice(6);
    assert.equal(labIdTag(KEY, retagged), null, 'pointing it at another agent breaks the signature');
    assert.equal((await health(agent.url)).body.capacity.free, 3, 'a learner lab takes room');
    c.close();
  } finally {
    await agent.close();
  }
});

test('draining: no new lab, the open one keeps working, and the agent closes when it ends', { skip }, async () => {
  const agent = await sideAgent(15, { maxLabs: 4, warmLabs: 1, cluster: cluster('host-a') });
  let closed = false;
  try {
    const c = await TestClient.connect(agent.url, agent.token);
    const lab = await ok(c, { type: 'open', lesson: 'uts' });
    await waitFor('a warm lab is made', () => agent.manager.warmCount === 1, 10_000);

    const drain = (init: RequestInit) => fetch(`${agent.url}/api/drain`, { method: 'POST', ...init });
    assert.equal((await drain({})).status, 401, 'the token is needed');
    assert.equal((await drain({ headers: { authorization: 'Bearer wrong-token-wrong' } })).status, 401);
    const auth = { authorization: `Bearer ${agent.token}` };
    const bad = await drain({ headers: auth, body: '{"deadlineS": -1}' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as any).message, /deadlineS/);
    assert.equal((await drain({ headers: auth, body: 'not json' })).status, 400);
    assert.equal((await drain({ headers: auth, body: '{"deadline": 5}' })).status, 400, 'an unknown field is refused');
    const big = await drain({ headers: auth, body: `{"deadlineS": 5, "x": "${'x'.repeat(5000)}"}` });
    assert.equal(big.status, 413, 'a body over 4 KiB is refused');
    assert.equal(((await big.json()) as any).error, 'too-large');
    assert.equal(agent.manager.draining, null, 'no bad request began a drain');

    const res = await drain({ headers: auth, body: '{"deadlineS": 600}' });
    assert.equal(res.status, 202);
    const body = (await res.json()) as any;
    assert.equal(body.draining, true);
    assert.equal(body.labs, 1);
    assert.ok(Date.parse(body.deadline) > Date.now() + 590_000);

    const h = await health(agent.url);
    assert.equal(h.status, 200, 'a draining agent is still healthy: its labs are served');
    assert.equal(h.body.agent.draining, true);
    assert.equal(h.body.capacity.free, 0);
    await waitFor('the warm lab is closed', () => agent.manager.warmCount === 0, 10_000);
    const why = await refused(c, { type: 'open', lesson: 'pid' }, 'draining');
    assert.match(why, /elsewhere/);
    const out = await ok(c, { type: 'exec', lab: lab.id, pane: 'host', argv: ['/bin/sh', '-c', 'echo still-here'] });
    assert.match(Buffer.from(out.stdout, 'base64').toString(), /still-here/);

    const drained = agent.drained.then((w) => {
      closed = true;
      return w;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(closed, false, 'the agent waits for its lab');
    await ok(c, { type: 'close', lab: lab.id });
    assert.equal(await drained, 'the last lab ended');
    await assert.rejects(fetch(`${agent.url}/healthz`), 'the agent no longer answers');
  } finally {
    if (!closed) await agent.close();
  }
});

test('a drain deadline closes the agent with its labs still open', { skip }, async () => {
  const agent = await sideAgent(15, { maxLabs: 4, cluster: cluster('host-a') });
  let done = false;
  try {
    const lab = await agent.manager.open('uts');
    const res = await fetch(`${agent.url}/api/drain`, { method: 'POST', headers: { authorization: `Bearer ${agent.token}` }, body: '{"deadlineS": 0.5}' });
    assert.equal(res.status, 202);
    assert.equal(await agent.drained, 'the drain deadline passed');
    done = true;
    assert.equal(lab.state, 'closed', 'the deadline closed the lab with the agent');
  } finally {
    if (!done) await agent.close();
  }
});

test('nslab drain: asks the agent at NSLAB_URL with its token, and says when it is gone', { skip }, async () => {
  const agent = await sideAgent(16, { maxLabs: 2 });
  let done = false;
  try {
    const usage = sink();
    assert.equal(await runCli(['drain', '--deadline', 'soon'], { stderr: usage.stream, stdout: sink().stream }), 2);
    assert.match(usage.text(), /--deadline needs seconds/);
    const wrong = sink();
    const env = { NSLAB_URL: agent.url, NSLAB_TOKEN: 'not-the-right-token' };
    assert.equal(await runCli(['drain'], { env, stderr: wrong.stream, stdout: sink().stream }), 1);
    assert.match(wrong.text(), /401/);
    assert.equal(agent.manager.draining, null);

    const out = sink();
    const code = await runCli(['drain', '--wait'], { env: { NSLAB_URL: agent.url, NSLAB_TOKEN: agent.token }, stdout: out.stream, stderr: sink().stream });
    assert.equal(code, 0);
    assert.match(out.text(), /^draining: 0 lab\(s\) open/m);
    assert.match(out.text(), /^drained: the agent has exited$/m);
    assert.equal(await agent.drained, 'the last lab ended');
    done = true;
  } finally {
    if (!done) await agent.close();
  }
});

test('pings: a client that stops answering them is let go; one that answers stays', { skip }, async () => {
  const instance = `${TEST_INSTANCE}-s15`;
  const config = testConfig({
    instance,
    stateDir: `/run/${instance}`,
    dataDir: `/run/${instance}/data`,
    idBase: TEST_ID_BASE + (64 + 8 * 15) * 65536,
    maxLabs: 2,
  });
  const agent = await startAgent(config, { quiet: true, pingMs: 150 });
  try {
    const url = `${agent.url.replace(/^http/, 'ws')}/api/ws`;
    const headers = { authorization: `Bearer ${agent.token}` };
    const answering = new WebSocket(url, { headers });
    const silent = new WebSocket(url, { headers, autoPong: false });
    let pings = 0;
    silent.on('ping', () => pings++);
    const closedSilent = new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('a client that never answered a ping is still connected after 10 s')), 10_000);
      silent.on('close', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
    await Promise.all([answering, silent].map((ws) => new Promise((r) => ws.once('open', r))));
    const code = await closedSilent;
    assert.ok(pings >= 1, 'it was pinged first');
    assert.equal(code, 1006, 'terminated, not closed politely: it was not listening');
    assert.equal(answering.readyState, WebSocket.OPEN, 'a client that answers is kept');
    answering.close();
  } finally {
    await agent.close();
  }
});

test('behind a trusted proxy, the limits per address count the client named in X-Forwarded-For', { skip }, async () => {
  for (const trusted of [true, false]) {
    const agent = await sideAgent(16, { maxLabs: 4, labsPerAddress: 1, trustedProxies: trusted ? ['127.0.0.0/8'] : [] });
    try {
      const from = async (xff: string) =>
        TestClient.connect(agent.url, undefined, { cookie: await TestClient.sessionCookie(agent.url), origin: agent.url, 'x-forwarded-for': xff });
      const ann = await from('198.51.100.1');
      const bo = await from('198.51.100.2');
      const annAgain = await from('198.51.100.1');
      await ok(ann, { type: 'open', lesson: 'uts' });
      if (trusted) {
        await ok(bo, { type: 'open', lesson: 'uts' });
        await refused(annAgain, { type: 'open', lesson: 'uts' }, 'limit');
      } else {
        // Without trust the header is anyone's to write: everyone is the peer, 127.0.0.1.
        await refused(bo, { type: 'open', lesson: 'uts' }, 'limit');
      }
      for (const c of [ann, bo, annAgain]) c.close();
    } finally {
      await agent.close();
    }
  }
});
