// The router's parts that need no agent: settings, placement, what a request names, frame
// boundaries, discovery (a static list, DNS for localhost, EndpointSlices from a small HTTP
// server that answers as the Kubernetes API does), and its refusals to a real WebSocket client.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { agentTag, clusterKey, mintLabId } from '@nslab/shared/cluster';
import { ConfigError, loadConfig } from '../../apps/router/src/config.ts';
import { place, placeable, anyHealthy } from '../../apps/router/src/placement.ts';
import { httpTarget, wsTarget } from '../../apps/router/src/routes.ts';
import { FrameBoundaries, closeFrame } from '../../apps/router/src/frames.ts';
import { staticDiscovery } from '../../apps/router/src/discovery/static.ts';
import { dnsDiscovery } from '../../apps/router/src/discovery/dns.ts';
import { endpointSliceDiscovery } from '../../apps/router/src/discovery/endpointslices.ts';
import { probe, type AgentState } from '../../apps/router/src/health.ts';
import { startRouter, type RunningRouter } from '../../apps/router/src/server.ts';

const KEY_TEXT = 'unit-test-cluster-key-0123456789abcdef';
const key = clusterKey(KEY_TEXT);
const tmp = mkdtempSync(join(tmpdir(), 'nslab-router-unit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function agent(id: string, free: number, more: Partial<AgentState> & { draining?: boolean; version?: string } = {}): AgentState {
  return {
    url: `http://${id}.invalid:3000`,
    self: { id, tag: agentTag(id), url: '', version: more.version ?? '1.0.0', protocol: 1, draining: more.draining ?? false, clustered: true },
    capacity: { open: 8 - free, free, warm: 0, max: 8 },
    healthy: more.healthy ?? true,
    lastSeen: new Date(),
    problem: null,
  };
}

describe('settings', () => {
  const base = { NSLAB_AGENTS: 'http://10.0.0.1:3000, http://10.0.0.2:3000/', NSLAB_CLUSTER_KEY: KEY_TEXT };
  test('defaults, and a static list', () => {
    const c = loadConfig(base);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.port, 8080);
    assert.equal(c.healthIntervalMs, 2000);
    assert.deepEqual(c.agents, { kind: 'static', urls: ['http://10.0.0.1:3000', 'http://10.0.0.2:3000'] });
    assert.ok(c.key.equals(key));
    assert.match(c.version, /^\d+\.\d+\.\d+/);
  });
  test('DNS and EndpointSlices', () => {
    assert.deepEqual(loadConfig({ NSLAB_AGENTS_DNS: 'agents.nslab.svc:3000', NSLAB_CLUSTER_KEY: KEY_TEXT }).agents, {
      kind: 'dns',
      name: 'agents.nslab.svc',
      port: 3000,
    });
    const k = loadConfig({
      NSLAB_AGENTS_ENDPOINTSLICES: 'nslab/agents:http',
      KUBERNETES_SERVICE_HOST: '10.96.0.1',
      KUBERNETES_SERVICE_PORT: '443',
      NSLAB_CLUSTER_KEY: KEY_TEXT,
    });
    assert.deepEqual(k.agents, {
      kind: 'endpointslices',
      namespace: 'nslab',
      service: 'agents',
      portName: 'http',
      api: 'https://10.96.0.1:443',
      tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      caFile: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
    });
  });
  test('the key from a file', () => {
    const file = join(tmp, 'key');
    writeFileSync(file, `${KEY_TEXT}\n`);
    assert.ok(loadConfig({ NSLAB_AGENTS: 'http://a:1', NSLAB_CLUSTER_KEY_FILE: file }).key.equals(key));
  });
  test('mistakes say what to do', () => {
    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ NSLAB_CLUSTER_KEY: KEY_TEXT }, /name the agents: NSLAB_AGENTS/],
      [{ ...base, NSLAB_AGENTS_DNS: 'a:1' }, /one way only/],
      [{ NSLAB_AGENTS: 'http://a:1' }, /needs the cluster key/],
      [{ NSLAB_AGENTS: 'http://a:1', NSLAB_CLUSTER_KEY: 'short' }, /at least 32 characters/],
      [{ ...base, NSLAB_ROUTER_PORT: 'eighty' }, /NSLAB_ROUTER_PORT/],
      [{ NSLAB_AGENTS: 'http://a:1/path', NSLAB_CLUSTER_KEY: KEY_TEXT }, /not a base URL/],
      [{ NSLAB_AGENTS_ENDPOINTSLICES: 'nslab/agents', NSLAB_CLUSTER_KEY: KEY_TEXT }, /KUBERNETES_SERVICE_HOST/],
      [{ NSLAB_AGENTS: 'http://a:1', NSLAB_CLUSTER_KEY_FILE: join(tmp, 'missing') }, /cannot read the cluster key file/],
    ];
    for (const [env, why] of bad)
      assert.throws(
        () => loadConfig(env),
        (e: Error) => e instanceof ConfigError && why.test(e.message),
        JSON.stringify(env),
      );
  });
});

describe('placement: two random choices', () => {
  test('of the two drawn, the one with more room wins; with fixed draws, exactly which', () => {
    const agents = [agent('a', 1), agent('b', 5), agent('c', 3)];
    // Draws 0 and 0 pick a (index 0) and then b (index 0 of the rest, shifted past a).
    assert.equal(place(agents, '1.0.0', () => 0)?.self?.id, 'b');
    // 0.99 picks c (index 2), then 0.99 of the two left is index 1 -> b.
    assert.equal(place(agents, '1.0.0', () => 0.99)?.self?.id, 'b');
    const draws = [0.7, 0];
    assert.equal(place(agents, '1.0.0', () => draws.shift()!)?.self?.id, 'c'); // c vs a: c has more
  });
  test('never a full, draining, unhealthy or other-release agent', () => {
    const agents = [
      agent('full', 0),
      agent('drain', 7, { draining: true }),
      agent('sick', 7, { healthy: false }),
      agent('old', 7, { version: '0.9.0' }),
      agent('ok', 1),
    ];
    assert.deepEqual(
      placeable(agents, '1.0.0').map((a) => a.self?.id),
      ['ok'],
    );
    for (let i = 0; i < 50; i++) assert.equal(place(agents, '1.0.0')?.self?.id, 'ok');
    assert.equal(place(agents.slice(0, 4), '1.0.0'), null);
  });
  test('labs spread by room over many draws', () => {
    const agents = [agent('a', 8), agent('b', 8), agent('c', 1)];
    const count: Record<string, number> = { a: 0, b: 0, c: 0 };
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    for (let i = 0; i < 3000; i++) count[place(agents, '1.0.0', random)!.self!.id]! += 1;
    // c wins only when drawn with... nobody: it always loses to a or b. It gets none.
    assert.equal(count.c, 0);
    assert.ok(count.a! > 1000 && count.b! > 1000, JSON.stringify(count));
  });
  test('a burst between two health rounds: spread by the room reported less what was sent since, never refused for it', () => {
    const a = agent('a', 3);
    const b = agent('b', 2);
    // a has more room until two pages went to it since its last answer.
    assert.equal(place([a, b], '1.0.0', () => 0)?.self?.id, 'a');
    a.placed = 2;
    assert.equal(place([a, b], '1.0.0', () => 0)?.self?.id, 'b');
    // Both sent more than they reported: still placed (the agent says `limit` itself if it is full).
    a.placed = 9;
    b.placed = 9;
    assert.ok(place([a, b], '1.0.0', () => 0));
    // Only the reported room can rule an agent out.
    assert.equal(place([agent('c', 0)], '1.0.0'), null);
  });

  test('other requests: any healthy agent, a staying one first', () => {
    assert.equal(anyHealthy([agent('x', 0, { healthy: false })]), null);
    assert.equal(anyHealthy([agent('d', 0, { draining: true }), agent('s', 0)], () => 0)?.self?.id, 's');
    assert.equal(anyHealthy([agent('d', 0, { draining: true })])?.self?.id, 'd');
  });
});

describe('what a request names', () => {
  const id = mintLabId(key, agentTag('node-a'));
  const tag = agentTag('node-a');
  const otherKey = clusterKey('another-cluster-key-0123456789abcdef');
  const foreign = mintLabId(otherKey, tag);
  const altered = id.slice(0, 10) + (id[10] === 'a' ? 'b' : 'a') + id.slice(11);
  test('the WebSocket: lab= or nothing', () => {
    assert.deepEqual(wsTarget(key, `/api/ws?v=1&lab=${id}`), { kind: 'lab', id, tag });
    assert.deepEqual(wsTarget(key, '/api/ws?v=1'), { kind: 'none' });
    assert.deepEqual(wsTarget(key, '/api/ws?v=1&lab='), { kind: 'none' });
    for (const bad of [foreign, altered, 'abc', `${id}x`, id.toUpperCase(), 'a'.repeat(30)])
      assert.deepEqual(wsTarget(key, `/api/ws?v=1&lab=${encodeURIComponent(bad)}`), { kind: 'forged' }, bad);
  });
  test('HTTP: every place a lab id travels', () => {
    const want = { kind: 'lab', id, tag };
    for (const url of [
      `/api/v1/labs/${id}`,
      `/api/v1/labs/${id}/extend`,
      `/api/casts/w0rkshop1/seat0001/${id}-host.cast?exp=1&sig=abc`,
      `/en/watch?token=${id}.AbCd_-12.sig-nature_base64url`,
      `/anything?lab=${id}`,
    ])
      assert.deepEqual(httpTarget(key, url), want, url);
    // Not signed by this cluster: not a lab id (any agent answers), except in lab=, where it is refused.
    assert.deepEqual(httpTarget(key, `/api/v1/labs/${foreign}`), { kind: 'none' });
    assert.deepEqual(httpTarget(key, `/api/v1/labs/${altered}`), { kind: 'none' });
    assert.deepEqual(httpTarget(key, `/x?lab=${altered}`), { kind: 'forged' });
    assert.deepEqual(httpTarget(key, '/en/lessons/pid'), { kind: 'none' });
    assert.deepEqual(httpTarget(key, '/%E0%A4%A'), { kind: 'none' });
  });
});

describe('frame boundaries', () => {
  const frame = (op: number, n: number, masked = false) => {
    const len = n < 126 ? [n] : n < 65536 ? [126, n >> 8, n & 255] : [127, 0, 0, 0, 0, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
    len[0] = len[0]! | (masked ? 0x80 : 0);
    return Buffer.concat([Buffer.from([0x80 | op, ...len]), masked ? Buffer.alloc(4, 7) : Buffer.alloc(0), Buffer.alloc(n, 0x61)]);
  };
  const stream = Buffer.concat([frame(1, 5), frame(2, 300), frame(2, 70_000), frame(9, 0, true), frame(1, 125)]);
  test('followed across any split of the bytes', () => {
    for (const size of [1, 2, 3, 7, 64, 4096, stream.length]) {
      const f = new FrameBoundaries();
      for (let i = 0; i < stream.length; i += size) {
        f.feed(stream.subarray(i, i + size));
        if (i + size < stream.length && i + size === 5 + 2) assert.equal(f.atBoundary, true);
      }
      assert.equal(f.atBoundary, true, `chunks of ${size}`);
      assert.equal(f.closed, false);
    }
    const f = new FrameBoundaries();
    f.feed(stream.subarray(0, stream.length - 1));
    assert.equal(f.atBoundary, false);
  });
  test('a close from the agent is noticed; our close frame is well formed', () => {
    const f = new FrameBoundaries();
    const ours = closeFrame(4410, 'the machine holding your lab stopped; open a new one');
    f.feed(ours);
    assert.equal(f.closed, true);
    assert.equal(f.atBoundary, true);
    assert.equal(ours.readUInt16BE(2), 4410);
    assert.equal(ours.subarray(4).toString(), 'the machine holding your lab stopped; open a new one');
    assert.equal(closeFrame(1000, 'x'.repeat(500)).length, 127);
  });
});

describe('discovery', () => {
  let kube: Server;
  let kubeUrl = '';
  const seen: IncomingMessage[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  const slice = (name: string, endpoints: unknown[], ports: unknown[], addressType = 'IPv4') => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'nslab', labels: { 'kubernetes.io/service-name': 'agents' } },
    addressType,
    endpoints,
    ports,
  });
  const ep = (ip: string, conditions?: Record<string, boolean>) => ({ addresses: [ip], ...(conditions ? { conditions } : {}), nodeName: `node-${ip}` });
  before(async () => {
    kube = createServer((req, res) => {
      seen.push(req);
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => kube.listen(0, '127.0.0.1', () => r()));
    kubeUrl = `http://127.0.0.1:${(kube.address() as { port: number }).port}`;
  });
  after(() => new Promise<void>((r) => kube.close(() => r())));

  test('a static list', async () => {
    assert.deepEqual(await staticDiscovery(['http://a:1/', 'http://a:1', 'http://b:2']).list(), ['http://a:1', 'http://b:2']);
  });
  test('DNS: localhost gives the loopback address', async () => {
    const urls = await dnsDiscovery('localhost', 4321).list();
    assert.ok(urls.includes('http://127.0.0.1:4321'), JSON.stringify(urls));
    await assert.rejects(dnsDiscovery('no-such-host.invalid', 1).list(), /cannot look up no-such-host\.invalid/);
  });
  test('EndpointSlices: ready endpoints, and terminating ones still serving, on the named port', async () => {
    const tokenFile = join(tmp, 'token');
    writeFileSync(tokenFile, 'sa-token-1\n');
    answer = {
      status: 200,
      body: {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSliceList',
        metadata: { resourceVersion: '42' },
        items: [
          slice(
            'agents-abc',
            [
              ep('10.0.0.1', { ready: true, serving: true, terminating: false }),
              ep('10.0.0.2', { ready: false, serving: false, terminating: false }),
              ep('10.0.0.3', { ready: false, serving: true, terminating: true }),
              ep('10.0.0.4', { ready: false, serving: false, terminating: true }),
              ep('10.0.0.5'),
            ],
            [
              { name: 'http', port: 3000, protocol: 'TCP' },
              { name: 'metrics', port: 9100, protocol: 'TCP' },
            ],
          ),
          slice('agents-v6', [ep('fd00::7', { ready: true })], [{ name: 'http', port: 3000, protocol: 'TCP' }], 'IPv6'),
          slice('agents-empty', null as unknown as unknown[], null as unknown as unknown[]),
        ],
      },
    };
    const d = endpointSliceDiscovery({ api: kubeUrl, namespace: 'nslab', service: 'agents', portName: 'http', tokenFile, caFile: null });
    assert.deepEqual(await d.list(), ['http://10.0.0.1:3000', 'http://10.0.0.3:3000', 'http://10.0.0.5:3000', 'http://[fd00::7]:3000']);
    const req = seen.at(-1)!;
    assert.equal(req.headers.authorization, 'Bearer sa-token-1');
    const u = new URL(req.url!, 'http://x');
    assert.equal(u.pathname, '/apis/discovery.k8s.io/v1/namespaces/nslab/endpointslices');
    assert.equal(u.searchParams.get('labelSelector'), 'kubernetes.io/service-name=agents');
    // The token is read again each time (kubelet rotates it).
    writeFileSync(tokenFile, 'sa-token-2\n');
    await d.list();
    assert.equal(seen.at(-1)!.headers.authorization, 'Bearer sa-token-2');
    // Two ports and none named: the operator must say which.
    await assert.rejects(
      endpointSliceDiscovery({ api: kubeUrl, namespace: 'nslab', service: 'agents', portName: null, tokenFile, caFile: null }).list(),
      /name one/,
    );
    answer = { status: 403, body: { kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403 } };
    await assert.rejects(d.list(), /needs get\/list on endpointslices/);
    answer = { status: 200, body: { kind: 'Status' } };
    await assert.rejects(d.list(), /not an EndpointSliceList/);
  });
  test('health of an address nobody listens on', async () => {
    const r = await probe('http://127.0.0.1:1', 500);
    assert.equal(r.ok, false);
    assert.match((r as { why: string }).why, /ECONNREFUSED/);
  });
});

describe('refusals a page can read', () => {
  let router: RunningRouter;
  before(async () => {
    router = await startRouter(
      { ...loadConfig({ NSLAB_AGENTS: 'http://127.0.0.1:1', NSLAB_CLUSTER_KEY: KEY_TEXT }), host: '127.0.0.1', port: 0, healthIntervalMs: 60_000 },
      { quiet: true },
    );
  });
  after(() => router.close());
  const closeOf = (query: string) =>
    new Promise<{ code: number; reason: string }>((resolve, reject) => {
      const ws = new WebSocket(`${router.url.replace('http', 'ws')}/api/ws?v=1${query}`);
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      ws.on('error', reject);
    });
  test('4403 altered, 4410 gone, 4503 no room', async () => {
    assert.deepEqual(await closeOf(`&lab=${'a'.repeat(30)}`), { code: 4403, reason: 'this lab address was altered or is not from this cluster' });
    assert.deepEqual(await closeOf(`&lab=${mintLabId(key, agentTag('gone-node'))}`), {
      code: 4410,
      reason: 'the machine holding your lab stopped; open a new one',
    });
    assert.deepEqual(await closeOf(''), { code: 4503, reason: 'no machine has room for a new lab right now; try again in a minute' });
  });
  test('HTTP: /healthz is the router’s; the rest says what is wrong', async () => {
    const h = await fetch(`${router.url}/healthz`);
    assert.equal(h.status, 503);
    const body = await h.json();
    assert.equal(body.role, 'router');
    assert.equal(body.ok, false);
    assert.equal(body.agents.length, 1);
    assert.equal(body.agents[0].url, 'http://127.0.0.1:1');
    assert.equal(body.agents[0].healthy, false);
    assert.equal((await fetch(`${router.url}/api/session`)).status, 503);
    const gone = await fetch(`${router.url}/api/v1/labs/${mintLabId(key, agentTag('gone-node'))}`);
    assert.equal(gone.status, 410);
    assert.match((await gone.json()).message, /machine holding your lab stopped/);
    assert.equal((await fetch(`${router.url}/x?lab=${'b'.repeat(30)}`)).status, 403);
  });
});

describe('a proxied WebSocket', () => {
  // A stand-in agent that answers /healthz as an agent does and, on an upgrade, writes its 101
  // and its first message in one write: both arrive in one TCP segment, as an agent's hello often does.
  let fake: Server;
  let router: RunningRouter;
  const sockets = new Set<import('node:net').Socket>();
  before(async () => {
    fake = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ agent: agent('fake-agent', 4).self, capacity: { open: 0, free: 4, warm: 0, max: 4 } }));
    });
    fake.on('upgrade', (req: IncomingMessage, socket: import('node:net').Socket) => {
      sockets.add(socket);
      const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const hello = Buffer.from('{"type":"hello"}');
      const frame = Buffer.concat([Buffer.from([0x81, hello.length]), hello]);
      socket.write(
        Buffer.concat([
          Buffer.from(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`),
          frame,
        ]),
      );
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
    const port = (fake.address() as { port: number }).port;
    router = await startRouter(
      {
        ...loadConfig({ NSLAB_AGENTS: `http://127.0.0.1:${port}`, NSLAB_CLUSTER_KEY: KEY_TEXT }),
        host: '127.0.0.1',
        port: 0,
        healthIntervalMs: 60_000,
        version: '1.0.0',
      },
      { quiet: true },
    );
  });
  after(async () => {
    await router.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => fake.close(() => r()));
  });

  test('bytes that came with the 101 reach the client; the agent vanishing then gives 4410', { timeout: 30_000 }, async () => {
    for (let i = 0; i < 20; i++) {
      const ws = new WebSocket(`${router.url.replace('http', 'ws')}/api/ws?v=1&lab=${mintLabId(key, agentTag('fake-agent'))}`);
      const first = await new Promise<string>((resolve, reject) => {
        ws.once('message', (d) => resolve(d.toString()));
        ws.once('error', reject);
        ws.once('close', (code) => reject(new Error(`closed with ${code} before the first message`)));
      });
      assert.equal(first, '{"type":"hello"}', `connection ${i}: the agent's first message`);
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      // The agent's side goes without a close frame: the router saw the frame, so it can say why.
      for (const s of sockets) s.destroy();
      sockets.clear();
      assert.equal(await closed, 4410, `connection ${i}: told the machine went`);
    }
  });

  test('more new pages between two health rounds than the agent reported room for all reach it', { timeout: 30_000 }, async () => {
    // The agent said free 4 an hour ago as far as this router is concerned (one round, 60 s).
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) {
      const ws = new WebSocket(`${router.url.replace('http', 'ws')}/api/ws?v=1`);
      seen.push(
        await new Promise<string>((resolve, reject) => {
          ws.once('message', (d) => resolve(d.toString()));
          ws.once('close', (code) => resolve(`closed ${code}`));
          ws.once('error', reject);
        }),
      );
      ws.terminate();
    }
    assert.deepEqual(seen, Array(8).fill('{"type":"hello"}'), 'none refused with 4503 for room the router only guessed');
  });

  test('a client that resets its connection does not stop the router', { timeout: 30_000 }, async () => {
    for (let i = 0; i < 10; i++) {
      const ws = new WebSocket(`${router.url.replace('http', 'ws')}/api/ws?v=1&lab=${mintLabId(key, agentTag('fake-agent'))}`);
      await new Promise((resolve, reject) => {
        ws.once('message', resolve);
        ws.once('error', reject);
      });
      ws.on('error', () => {});
      // A TCP reset from the browser's side (a tab killed, a network that went), with bytes in flight.
      for (const s of sockets) s.write(Buffer.concat([Buffer.from([0x81, 5]), Buffer.from('later')]));
      (ws as unknown as { _socket: import('node:net').Socket })._socket.resetAndDestroy();
      await new Promise((r) => setTimeout(r, 50));
    }
    const h = await fetch(`${router.url}/healthz`);
    assert.equal(h.status, 200, 'the router still answers');
    assert.equal((await h.json()).agents[0].healthy, true);
  });
});
