// Measures the embedded store as the agent runs it (bundled CommonJS, no TypeScript loader):
//   node --import tsx test/store/measure.ts [--runs 7] [--writes 2000] [--engine store|pglite]
//                                           [--node-flags --liftoff-only,...]
// For each run, a fresh process opens an existing database (10,000 rows, made beforehand),
// then records --writes task completions one after the other. Reported, each the median over
// the runs:
//   rss_added_mb    RSS after the writes (after a GC) minus RSS before the store module loaded
//                   (zod, which the agent loads anyway, is loaded before)
//   open_ms         from loading the store module to the first query answered (an existing
//                   database; module load and WebAssembly compilation included)
//   write_p50_ms, write_p99_ms   one recordTaskDone (an insert of a progress row), awaited
// and sigkill: how many of N writes survive their process being SIGKILLed right after the write
// returned. `--engine pglite` runs the same measurements on PGlite (the same table and insert,
// its own API), loading `@electric-sql/pglite` from the directory --from names (default: the
// repository; it is not a dependency: install it somewhere, e.g. `npm install` in a scratch
// directory); it is the candidate docs/decisions/0002-store.md compares against.
import { build } from 'esbuild';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const RUNS = Number(arg('runs', '7'));
const WRITES = Number(arg('writes', '2000'));
const ENGINE = arg('engine', 'store');
const FROM = arg('from', REPO);
// Extra node flags for the measured process (e.g. --liftoff-only), comma-separated.
const FLAGS = arg('node-flags', '').split(',').filter(Boolean);

// The bundle sits where the agent's own do (its packages resolve from there); the data in a
// temporary directory.
mkdirSync(join(REPO, 'apps/agent/dist'), { recursive: true });
const work = mkdtempSync(join(REPO, 'apps/agent/dist/.measure-'));
const data = mkdtempSync(join(tmpdir(), 'nslab-measure-'));
const storeBundle = join(work, 'store.cjs');
await build({
  entryPoints: [join(REPO, 'apps/agent/src/store/index.ts')],
  outfile: storeBundle,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
  logOverride: { 'empty-import-meta': 'silent' },
  // The agent loads zod anyway (its settings, the protocol): not counted as the store's.
  external: ['zod'],
});

// The child: plain CommonJS, so that nothing but what it measures is loaded after rss0.
const child = join(work, 'child.cjs');
writeFileSync(
  child,
  `
const { performance } = require('node:perf_hooks');
const [mode, engine, dir, n, storePath, from] = process.argv.slice(2);
const { createRequire } = require('node:module');
const req = createRequire(from + '/package.json');
const SCHEMA = 'CREATE TABLE IF NOT EXISTS task_progress (session_id TEXT NOT NULL, lesson_id TEXT NOT NULL, task_id TEXT NOT NULL, done_at BIGINT NOT NULL, PRIMARY KEY (session_id, lesson_id, task_id))';
async function open() {
  if (engine === 'store') {
    const { openStore } = require(storePath);
    const s = await openStore({ dir });
    return { write: (sid, task) => s.recordTaskDone(sid, 'pid', task, Date.now()), read: (sid) => s.progress(sid), close: () => s.close() };
  }
  const { PGlite } = req('@electric-sql/pglite');
  require('node:fs').mkdirSync(dir, { recursive: true, mode: 0o700 });
  const db = await PGlite.create(dir + '/pglite');
  await db.exec(SCHEMA);
  const ins = 'INSERT INTO task_progress (session_id, lesson_id, task_id, done_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING done_at';
  return {
    write: (sid, task) => db.query(ins, [sid, 'pid', task, Date.now()]),
    read: async (sid) => (await db.query('SELECT lesson_id, task_id, done_at FROM task_progress WHERE session_id = $1 ORDER BY done_at', [sid])).rows,
    close: () => db.close(),
  };
}
(async () => {
  if (mode === 'setup') {
    const d = await open();
    for (let i = 0; i < Number(n); i++) await d.write('setup-session-' + (i % 500), 'task-' + i);
    await d.close();
    return;
  }
  if (mode === 'measure') {
    require('zod');
    gc();
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const d = await open();
    await d.read('setup-session-1');
    const openMs = performance.now() - t0;
    const lat = [];
    for (let i = 0; i < Number(n); i++) {
      const a = performance.now();
      await d.write('measure-' + process.pid, 'task-' + i);
      lat.push(performance.now() - a);
    }
    gc(); await new Promise((r) => setTimeout(r, 100)); gc();
    const rss1 = process.memoryUsage().rss;
    await d.close();
    lat.sort((x, y) => x - y);
    const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    console.log(JSON.stringify({ openMs, rssAdded: rss1 - rss0, p50: q(0.5), p99: q(0.99) }));
    return;
  }
  if (mode === 'write') {
    const d = await open();
    await d.write('killed', n);
    process.stdout.write('written\\n');
    setInterval(() => {}, 60000);
    return;
  }
  if (mode === 'read') {
    const d = await open();
    console.log(JSON.stringify((await d.read('killed')).map((r) => r.task ?? r.task_id)));
    await d.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
`,
);

function runChild(args: string[]): string {
  const r = spawnSync(process.execPath, ['--expose-gc', ...FLAGS, child, ...args, storeBundle, FROM], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args[0]} failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').pop() ?? '';
}

function killAfterWrite(dir: string, task: string): Promise<void> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--expose-gc', ...FLAGS, child, 'write', ENGINE, dir, task, storeBundle, FROM], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    p.stdout.on('data', (b: Buffer) => {
      if (b.toString().includes('written')) p.kill('SIGKILL');
    });
    p.on('exit', () => resolve());
  });
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

try {
  const dir = join(data, 'state');
  runChild(['setup', ENGINE, dir, '10000']);
  const runs = [];
  for (let i = 0; i < RUNS; i++)
    runs.push(JSON.parse(runChild(['measure', ENGINE, dir, String(WRITES)])) as { openMs: number; rssAdded: number; p50: number; p99: number });
  const kills = 5;
  for (let i = 0; i < kills; i++) await killAfterWrite(dir, `task-${i}`);
  const survived = (JSON.parse(runChild(['read', ENGINE, dir, '0'])) as string[]).length;
  const out = {
    engine: ENGINE,
    node_flags: FLAGS.join(' '),
    runs: RUNS,
    writes: WRITES,
    rss_added_mb: +(median(runs.map((r) => r.rssAdded)) / 1048576).toFixed(1),
    open_ms: +median(runs.map((r) => r.openMs)).toFixed(0),
    write_p50_ms: +median(runs.map((r) => r.p50)).toFixed(3),
    write_p99_ms: +median(runs.map((r) => r.p99)).toFixed(3),
    sigkill: `${survived}/${kills}`,
  };
  console.log(JSON.stringify(out));
} finally {
  rmSync(work, { recursive: true, force: true });
  rmSync(data, { recursive: true, force: true });
}
