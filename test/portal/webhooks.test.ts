// Webhooks end to end: a receiver that verifies every delivery with the standardwebhooks
// package is down for the first deliveries (it answers 503, then is not there at all while the
// agent restarts), and still receives every event of a portal learner once, in order: the
// outbox is in the store and survives the restart. The delivery log says what happened.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { sideAgent } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { TestClient, ok } from '../helpers/ws.ts';
import { waitFor } from '../helpers/wait.ts';
import { runCli } from '../../apps/agent/src/cli/run.ts';
import { makeIO } from '../cli/streams.ts';
import type { RunningAgent } from '../../apps/agent/src/server/agent.ts';
import { call, embedSocket, useLink } from './portal.ts';

const skip = rootOrSkip('the webhook tests');
let root: string;

interface Received {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/** A portal's receiver: verifies each delivery; answers 503 while `failing` is above 0. */
class Receiver {
  server: Server | null = null;
  port = 0;
  secret = '';
  failing = 0;
  attempts = 0;
  refusedSignatures = 0;
  /** Verified deliveries, first receipt of each id, in the order they came. */
  readonly got: Received[] = [];

  async listen(port = 0): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.attempts++;
        const body = Buffer.concat(chunks).toString();
        let event: { type: string; data: Record<string, unknown> };
        try {
          event = new Webhook(this.secret).verify(body, req.headers as Record<string, string>) as typeof event;
        } catch {
          this.refusedSignatures++;
          res.writeHead(400).end();
          return;
        }
        if (this.failing > 0) {
          this.failing--;
          res.writeHead(503).end();
          return;
        }
        const id = String(req.headers['webhook-id']);
        if (!this.got.some((g) => g.id === id)) this.got.push({ id, type: event.type, data: event.data });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

async function cli(agent: RunningAgent, args: string[]) {
  const io = makeIO({ env: { NSLAB_URL: agent.url, NSLAB_TOKEN: agent.token } });
  const code = await runCli(args, { ...io, tokenFile: '/nonexistent' });
  return { code, out: io.stdout.text(), err: io.stderr.text() };
}

const start = () => sideAgent(14, { dataDir: join(root, 'data'), webhooks: { retryBaseMs: 200 } });

before(() => {
  if (!skip) root = mkdtempSync(join(tmpdir(), 'nslab-webhooks-'));
});
after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** A launch for the user, used by a "browser": its socket, with a lab of the lesson open. */
async function learnerLab(agent: RunningAgent, key: string, user: string) {
  const made = await call(agent.url, key, 'POST', '/api/v1/launches', { lesson: 'uts', user });
  const { cookie } = await useLink(made.body.url);
  const page = await embedSocket(agent.url, cookie);
  const info = await ok(page, { type: 'open', lesson: 'uts' });
  return { page, lab: agent.manager.get(info.id)! };
}

async function doTask(
  agent: RunningAgent,
  page: Awaited<ReturnType<typeof learnerLab>>['page'],
  lab: Awaited<ReturnType<typeof learnerLab>>['lab'],
  script: string,
  count: number,
) {
  await lab.exec(lab.pane('container')!, ['/bin/sh', '-c', script]);
  await ok(page, { type: 'check', lab: lab.id });
  await waitFor('the task kept', async () => (await agent.store.progress(lab.owner!)).length >= count);
}

test('every event reaches a receiver that was down, once, in order, across an agent restart; signatures verify', { skip }, async () => {
  const rx = new Receiver();
  await rx.listen();
  let agent = await start();
  try {
    const made = await cli(agent, ['keys', 'create', '--name', 'hooks', '--origins', 'https://portal.example']);
    const key = made.out.trimEnd().split('\n').at(-1)!;
    const added = await cli(agent, ['webhooks', 'add', 'hooks', `http://127.0.0.1:${rx.port}/nslab`]);
    assert.equal(added.code, 0, added.err);
    rx.secret = added.out.trimEnd().split('\n').at(-1)!;
    assert.match(rx.secret, /^whsec_[A-Za-z0-9+/=]+$/, 'the secret alone on the last line');
    const endpoint = /^endpoint: (\S+)$/m.exec(added.out)![1]!;
    const ls = await cli(agent, ['webhooks', 'ls']);
    assert.match(ls.out, new RegExp(`${endpoint}\\s+hooks\\s+http://127\\.0\\.0\\.1:${rx.port}/nslab`));
    assert.ok(!ls.out.includes(rx.secret), 'ls never shows the secret');

    // The receiver fails its first deliveries.
    rx.failing = 3;
    const first = await learnerLab(agent, key, 'u-1');
    await doTask(agent, first.page, first.lab, 'hostname bird', 1);
    await waitFor('the failing answers used up', () => rx.failing === 0);
    // Then it is gone altogether, and the agent restarts (its lab closes: one more event).
    await rx.close();
    first.page.close();
    await agent.close();
    agent = await start();
    await rx.listen(rx.port);

    const second = await learnerLab(agent, key, 'u-1');
    await doTask(agent, second.page, second.lab, 'hostname bird; domainname nest', 2);
    await call(agent.url, key, 'DELETE', `/api/v1/labs/${second.lab.id}`);
    second.page.close();

    const want = ['lab.opened', 'task.completed', 'lab.closed', 'lab.opened', 'task.completed', 'lesson.completed', 'lab.closed'];
    await waitFor('every event', () => rx.got.length >= want.length, 30_000);
    assert.deepEqual(
      rx.got.map((g) => g.type),
      want,
    );
    assert.equal(rx.refusedSignatures, 0, 'every signature verifies');
    assert.ok(rx.attempts > want.length, `retries happened (${rx.attempts} attempts for ${want.length} events)`);
    // What each carries: the portal's user id, lesson, task, times; no names, no addresses.
    for (const g of rx.got) {
      assert.equal(g.data.user, 'u-1');
      assert.equal(g.data.lesson, 'uts');
      assert.equal(typeof g.data.at, 'string');
      assert.deepEqual(
        Object.keys(g.data).filter((k) => !['user', 'lesson', 'lab', 'task', 'at', 'reason', 'tasksDone', 'tasksTotal'].includes(k)),
        [],
      );
    }
    assert.deepEqual(
      rx.got.filter((g) => g.type === 'task.completed').map((g) => g.data.task),
      ['set-hostname', 'set-domain'],
    );
    assert.match(String(rx.got[2]!.data.reason), /stopping/);

    // The log shows the tries (503s and refused connections) and that all were delivered.
    const log = await cli(agent, ['webhooks', 'log', endpoint, '--limit', '50']);
    assert.equal(log.code, 0, log.err);
    const admin = await TestClient.connect(agent.url, agent.token);
    const rows = await ok(admin, { type: 'webhook-log', endpoint });
    admin.close();
    assert.equal(rows.length, want.length);
    assert.ok(rows.every((r: any) => r.state === 'delivered'));
    assert.ok(rows.some((r: any) => r.tries.some((t: any) => t.status === 503)));
    assert.match(log.out, /lesson\.completed\s+u-1\s+delivered/);

    // A test event.
    const t = await cli(agent, ['webhooks', 'test', endpoint]);
    assert.equal(t.code, 0, t.err);
    await waitFor('the test event', () => rx.got.some((g) => g.type === 'webhook.test'));

    // A forged signature is what a receiver must refuse: the package does.
    assert.throws(() =>
      new Webhook(rx.secret).verify('{"type":"task.completed"}', {
        'webhook-id': 'msg_x',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,AAAA',
      }),
    );
  } finally {
    await agent.close();
    await rx.close();
  }
});
