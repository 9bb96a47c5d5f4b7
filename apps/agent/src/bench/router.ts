// The router's cost (docs/router.md): the same agent reached directly and through the router, in
// the same run, alternating: a new lab (connect, open, answer), keystroke echo, stream
// throughput; and the router's memory per thousand open WebSockets.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { FRAME_OUTPUT, WS_PATH, decodeFrame } from '@nslab/shared';
import { REPO_ROOT } from '../paths.js';
import { startChild, startChildAgent } from './child.js';
import { median, pct, round, rssMb, sleep, type Metric } from './util.js';

export interface RouterBenchOptions {
  opens: number;
  echoes: number;
  rounds: number;
  connections: number;
  say: (msg: string) => void;
}

/** A protocol client on a raw WebSocket: requests by id, output frames acknowledged at once. */
class Client {
  private n = 0;
  private waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  /** Text of each pane's output so far (lab/pane -> text, trimmed to its last 64 KiB). */
  readonly seen = new Map<string, string>();
  bytes = 0;
  private onOutput: (() => void) | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, binary) => {
      if (binary) {
        const f = decodeFrame(new Uint8Array(data as Buffer));
        if (!f || f.op !== FRAME_OUTPUT) return;
        this.bytes += f.payload.length;
        const text = (this.seen.get(f.key) ?? '') + Buffer.from(f.payload).toString('latin1');
        this.seen.set(f.key, text.length > 65536 ? text.slice(-65536) : text);
        const [lab, pane] = f.key.split('/');
        if (f.payload.length) ws.send(JSON.stringify({ type: 'ack', lab, pane, offset: f.offset + f.payload.length }));
        this.onOutput?.();
        return;
      }
      const m = JSON.parse(data.toString());
      const w = typeof m.id === 'number' ? this.waiting.get(m.id) : undefined;
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.type === 'result') w.resolve(m.data);
      else w.reject(new Error(`${m.code}: ${m.message}`));
    });
  }

  static open(base: string, token: string, lab?: string): Promise<Client> {
    const url = `${base.replace(/^http/, 'ws')}${WS_PATH}?v=2${lab ? `&lab=${lab}` : ''}`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
      ws.once('open', () => resolve(new Client(ws)));
      ws.once('error', reject);
      ws.once('unexpected-response', (_q, r) => reject(new Error(`HTTP ${r.statusCode}`)));
    });
  }

  request(msg: Record<string, unknown>): Promise<any> {
    const id = ++this.n;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  }

  /** Until the pane's output so far matches. */
  until(key: string, re: RegExp, timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.onOutput = null;
        reject(new Error(`no ${re} from ${key} within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (re.test(this.seen.get(key) ?? '')) {
          clearTimeout(t);
          this.onOutput = null;
          resolve();
        }
      };
      this.onOutput = check;
      check();
    });
  }

  close() {
    this.ws.close();
  }
}

export async function runRouterBench(o: RouterBenchOptions): Promise<Metric[]> {
  const bundle = join(REPO_ROOT, 'apps/router/dist/router.cjs');
  if (!existsSync(bundle)) throw new Error('the router bundle is missing; run node scripts/prepare.mjs');
  const key = randomBytes(24).toString('hex');
  const agent = await startChildAgent(undefined, {
    NSLAB_INSTANCE: 'nslabbenchr',
    NSLAB_STATE_DIR: '/run/nslabbenchr',
    NSLAB_ID_BASE: '430000000',
    NSLAB_CLUSTER_KEY: key,
    NSLAB_AGENT_ID: 'bench1',
    NSLAB_WARM_PER_LESSON: '2',
    NSLAB_LABS_PER_ADDRESS: '0',
    NSLAB_RATE_OPENS_BURST: '100000',
    NSLAB_RATE_OPENS_PER_MIN: '100000',
    NSLAB_RATE_ADDRESS_OPENS_BURST: '100000',
    NSLAB_RATE_ADDRESS_OPENS_PER_MIN: '100000',
  });
  const { child: router, m } = await startChild(
    bundle,
    {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      NSLAB_ROUTER_HOST: '127.0.0.1',
      NSLAB_ROUTER_PORT: '0',
      NSLAB_AGENTS: agent.url,
      NSLAB_CLUSTER_KEY: key,
      NSLAB_HEALTH_INTERVAL_MS: '500',
      LOG_LEVEL: 'warn',
    },
    /listening on (http:\/\/[^\s]+)/,
    'the router',
  );
  const routerUrl = m[1]!;
  const ways = { direct: agent.url, router: routerUrl } as const;
  type Way = keyof typeof ways;
  try {
    // Wait until the router has seen the agent with its pools made.
    for (let i = 0; i < 100; i++) {
      const h = await fetch(`${routerUrl}/healthz`).then((r) => r.json() as Promise<{ agents: Array<{ healthy: boolean }> }>);
      if (h.agents.some((a) => a.healthy)) break;
      await sleep(100);
    }
    await sleep(1500);

    o.say(`router: ${o.opens} new labs each way, alternating...`);
    const opens: Record<Way, number[]> = { direct: [], router: [] };
    for (let i = 0; i < o.opens; i++) {
      for (const way of ['direct', 'router'] as const) {
        const t0 = performance.now();
        const c = await Client.open(ways[way], agent.token);
        const lab = await c.request({ type: 'open', lesson: 'uts' });
        opens[way].push(performance.now() - t0);
        await c.request({ type: 'close', lab: lab.id });
        c.close();
        await sleep(150); // the pool refills
      }
    }

    o.say(`router: echo x${o.echoes} and stream x${o.rounds} each way...`);
    const admin = await Client.open(agent.url, agent.token);
    const lab = (await admin.request({ type: 'open', lesson: 'uts' })).id as string;
    const echo: Record<Way, number[]> = { direct: [], router: [] };
    const mbps: Record<Way, number[]> = { direct: [], router: [] };
    const clients: Record<Way, Client> = { direct: await Client.open(agent.url, agent.token), router: await Client.open(routerUrl, agent.token, lab) };
    const key1 = `${lab}/host`;
    for (const way of ['direct', 'router'] as const) {
      await clients[way].request({ type: 'attach', lab, pane: 'host' });
    }
    const STREAM_BYTES = 20_000_000;
    for (let r = 0; r < o.rounds; r++) {
      for (const way of ['direct', 'router'] as const) {
        const c = clients[way];
        // The writer in use (flow control follows it): a notice, it has no answer.
        c.ws.send(JSON.stringify({ type: 'focus', lab, pane: 'host' }));
        c.seen.set(key1, '');
        const marker = `__end${r}${way}__`;
        c.ws.send(
          JSON.stringify({
            type: 'input',
            lab,
            pane: 'host',
            data: `yes abcdefghijklmnopqrstuvwxyz | head -c ${STREAM_BYTES}; echo ${marker.slice(0, 5)}""${marker.slice(5)}\r`,
          }),
        );
        const before = c.bytes;
        const t0 = performance.now();
        // The command as typed shows the marker split by quotes; only its output has it whole.
        await c.until(key1, new RegExp(marker), 120_000);
        mbps[way].push((c.bytes - before) / 1e6 / ((performance.now() - t0) / 1000));
      }
    }
    for (let i = 0; i < o.echoes; i++) {
      for (const way of ['direct', 'router'] as const) {
        const c = clients[way];
        c.seen.set(key1, '');
        c.ws.send(JSON.stringify({ type: 'focus', lab, pane: 'host' }));
        const ch = String.fromCharCode(97 + (i % 26));
        const t0 = performance.now();
        c.ws.send(JSON.stringify({ type: 'input', lab, pane: 'host', data: ch }));
        await c.until(key1, new RegExp(ch), 10_000);
        echo[way].push(performance.now() - t0);
        c.ws.send(JSON.stringify({ type: 'input', lab, pane: 'host', data: '\x7f' }));
        await sleep(5);
      }
    }
    for (const c of Object.values(clients)) c.close();

    o.say(`router: memory with ${o.connections} open WebSockets through it...`);
    const rssBefore = rssMb(router.proc.pid!);
    const idle: Client[] = [];
    for (let i = 0; i < o.connections; i++) idle.push(await Client.open(routerUrl, agent.token, lab));
    await sleep(1000);
    const rssWith = rssMb(router.proc.pid!);
    for (const c of idle) c.close();
    await admin.request({ type: 'close', lab });
    admin.close();

    const p50 = (xs: number[]) => round(median(xs));
    return [
      { name: 'router_lab_open_ms_p50', value: p50(opens.router), unit: 'ms', baseline: 'the same agent directly', baseline_value: p50(opens.direct) },
      { name: 'router_lab_open_ms_p90', value: round(pct(opens.router, 90)), unit: 'ms', baseline: 'directly', baseline_value: round(pct(opens.direct, 90)) },
      { name: 'router_echo_ms_p50', value: p50(echo.router), unit: 'ms', baseline: 'directly', baseline_value: p50(echo.direct) },
      { name: 'router_stream_mb_s', value: p50(mbps.router), unit: 'MB/s', baseline: 'directly', baseline_value: p50(mbps.direct) },
      {
        name: 'router_rss_mb_per_1000_ws',
        value: round(((rssWith - rssBefore) / o.connections) * 1000),
        unit: 'MB',
        baseline: `router RSS with none (${o.connections} measured)`,
        baseline_value: round(rssBefore),
      },
    ];
  } finally {
    await router.stop(5_000);
    await agent.stop(20_000);
  }
}
