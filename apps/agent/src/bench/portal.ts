// Training portals: what a portal's server and its learners wait for, each beside a plain HTTP
// round trip to the same agent measured in the same run. A launch made (POST /api/v1/launches)
// and used (GET /launch/<token>, to its redirect) against GET /healthz; a webhook from the
// moment it is queued to the receiver's hands, against a POST of the same body straight to the
// receiver.
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { loadConfig } from '../config.js';
import { startAgent } from '../server/agent.js';
import { createKey } from '../portal/keys.js';
import { pct, round, type Metric } from './util.js';

export interface PortalBenchOptions {
  runs: number;
  say: (msg: string) => void;
}

async function timed(n: number, fn: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

export async function runPortalBench({ runs, say }: PortalBenchOptions): Promise<Metric[]> {
  const root = mkdtempSync(join(tmpdir(), 'nslab-bench-portal-'));
  const agent = await startAgent(
    loadConfig({
      instance: 'nslabbenchp',
      stateDir: '/run/nslabbenchp',
      dataDir: join(root, 'data'),
      idBase: 420_000_000,
      port: 0,
      web: false,
      warmLabs: 0,
      warmPerLesson: 0,
      maxLabs: 8,
      rates: { ...loadConfig().rates, api: { burst: 1e6, perMinute: 1e6 } },
    }),
    { quiet: true },
  );
  let received: (() => void) | null = null;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(204).end();
      received?.();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const hook = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  try {
    const { key } = await createKey(agent.store, 'bench', ['https://portal.example']);
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    say(`portal: launches x${runs}...`);
    const health = await timed(runs, async () => void (await (await fetch(`${agent.url}/healthz`)).arrayBuffer()));
    const links: string[] = [];
    const launch = await timed(runs, async () => {
      const res = await fetch(`${agent.url}/api/v1/launches`, { method: 'POST', headers, body: JSON.stringify({ lesson: 'uts', user: `u${links.length}` }) });
      links.push(((await res.json()) as { url: string }).url);
    });
    let i = 0;
    const use = await timed(runs, async () => {
      const res = await fetch(links[i++]!, { redirect: 'manual' });
      if (res.status !== 303) throw new Error(`a launch link answered ${res.status}`);
      await res.arrayBuffer();
    });

    say(`portal: webhooks x${runs}...`);
    const ws = new WebSocket(`${agent.url.replace(/^http/, 'ws')}/api/ws`, { headers: { authorization: `Bearer ${agent.token}` } });
    await new Promise<void>((r, j) => {
      ws.once('open', () => r());
      ws.once('error', j);
    });
    let n = 0;
    const request = (msg: Record<string, unknown>) =>
      new Promise<any>((resolve, reject) => {
        const id = ++n;
        const on = (data: WebSocket.RawData) => {
          const m = JSON.parse(data.toString());
          if (m.id !== id) return;
          ws.off('message', on);
          if (m.type === 'result') resolve(m.data);
          else reject(new Error(m.message));
        };
        ws.on('message', on);
        ws.send(JSON.stringify({ ...msg, id }));
      });
    const endpoint = (await request({ type: 'webhook-add', key: 'bench', url: hook })).id as string;
    const delivered = await timed(runs, async () => {
      const got = new Promise<void>((r) => (received = r));
      await request({ type: 'webhook-test', endpoint });
      await got;
    });
    const direct = await timed(runs, async () => {
      const got = new Promise<void>((r) => (received = r));
      await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"webhook.test","timestamp":"","data":{}}' });
      await got;
    });
    ws.close();
    const base = round(pct(health, 50));
    return [
      { name: 'api_launch_ms_p50', value: round(pct(launch, 50)), unit: 'ms', baseline: 'GET /healthz', baseline_value: base },
      { name: 'launch_use_ms_p50', value: round(pct(use, 50)), unit: 'ms', baseline: 'GET /healthz', baseline_value: base },
      {
        name: 'webhook_delivery_ms_p50',
        value: round(pct(delivered, 50)),
        unit: 'ms',
        baseline: 'POST to the receiver',
        baseline_value: round(pct(direct, 50)),
      },
      {
        name: 'webhook_delivery_ms_p99',
        value: round(pct(delivered, 99)),
        unit: 'ms',
        baseline: 'POST to the receiver',
        baseline_value: round(pct(direct, 99)),
      },
    ];
  } finally {
    received = null;
    await new Promise<void>((r) => receiver.close(() => r()));
    await agent.close();
    rmSync(root, { recursive: true, force: true });
  }
}
