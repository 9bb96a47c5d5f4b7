// Bundles the agent's entry points into apps/agent/dist and the router into apps/router/dist, with
// esbuild (CommonJS, Node 20).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'apps/agent/src');
const out = join(root, 'apps/agent/dist');

export const ENTRIES = {
  'main.cjs': 'main.ts',
  'spawner.cjs': 'spawner/main.ts',
  'screen-worker.cjs': 'pty/screen-worker.ts',
  'facts-worker.cjs': 'inspect/facts-worker.ts',
  'cli.cjs': 'cli/main.ts',
  'bench.cjs': 'bench/main.ts',
  'bench-peer.cjs': 'bench/peer.ts',
  'bench-deathsig.cjs': 'bench/deathsig.ts',
  'soak.cjs': 'bench/soak/main.ts',
};

/** The options every bundle shares: CommonJS for Node 20, with a linked source map. */
const COMMON = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  logLevel: 'warning',
  // paths.ts reads import.meta only when __dirname is missing (ESM under tsx), never in a bundle.
  logOverride: { 'empty-import-meta': 'silent' },
};

export async function buildAgent(entries = ENTRIES) {
  await Promise.all(
    Object.entries(entries).map(([outfile, entry]) =>
      build({
        ...COMMON,
        entryPoints: [join(src, entry)],
        outfile: join(out, outfile),
        // Loaded from node_modules at run time: native or WebAssembly files beside their code, optional requires.
        external: ['koffi', 'next', 'react', 'react-dom', 'pino', 'prom-client', 'playwright-core', '@lydell/node-pty', 'node-sqlite3-wasm', 'pg'],
      }),
    ),
  );
}

// The router (apps/router): one bundle, everything inside it (it has no native modules), with
// nslab's release baked in: routers send new labs only to agents of the same release.
const routerSrc = join(root, 'apps/router/src');
const routerOut = join(root, 'apps/router/dist');
export const ROUTER_ENTRIES = { 'router.cjs': 'main.ts' };

export async function buildRouter(entries = ROUTER_ENTRIES) {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  await Promise.all(
    Object.entries(entries).map(([outfile, entry]) =>
      build({
        ...COMMON,
        entryPoints: [join(routerSrc, entry)],
        outfile: join(routerOut, outfile),
        define: { __NSLAB_VERSION__: JSON.stringify(version) },
        // ws's optional native speed-ups: loaded when installed, skipped when not.
        external: ['bufferutil', 'utf-8-validate'],
      }),
    ),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const only = process.argv.slice(2);
  const entries = only.length ? Object.fromEntries(Object.entries(ENTRIES).filter(([k]) => only.includes(k))) : ENTRIES;
  const router = only.length ? Object.fromEntries(Object.entries(ROUTER_ENTRIES).filter(([k]) => only.includes(k))) : ROUTER_ENTRIES;
  if (Object.keys(entries).length || !only.length) await buildAgent(entries);
  if (Object.keys(router).length) await buildRouter(router);
}
