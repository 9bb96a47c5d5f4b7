// Makes a checkout ready to run: installs dependencies when they are missing or stale, bundles
// the agent when its sources changed, builds the web app when its sources changed.
//   node scripts/prepare.mjs              install + agent + web
//   node scripts/prepare.mjs --no-web     install + agent
//   node scripts/prepare.mjs --build-only same as the default, never starts anything
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const say = (msg) => process.stderr.write(`nslab: ${msg}\n`);

// Generated files (by next build: next-env.d.ts, tsbuildinfo) are not sources.
function hashTree(dirs, skip = /(^|\/)(node_modules|dist|\.next|test\/artifacts)(\/|$)|(^|\/)next-env\.d\.ts$|\.tsbuildinfo$/) {
  const h = createHash('sha256');
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    if (!statSync(dir).isDirectory()) {
      h.update(relative(root, dir)).update('\0').update(readFileSync(dir)).update('\0');
      return;
    }
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const rel = relative(root, p);
      if (skip.test(rel)) continue;
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else h.update(rel).update('\0').update(readFileSync(p)).update('\0');
    }
  };
  for (const d of dirs) walk(join(root, d));
  return h.digest('hex');
}

function stamp(name) {
  const file = join(root, 'node_modules', `.nslab-${name}`);
  return { read: () => (existsSync(file) ? readFileSync(file, 'utf8') : ''), write: (v) => writeFileSync(file, v) };
}

function run(cmd, argv, opts = {}) {
  execFileSync(cmd, argv, { cwd: root, stdio: 'inherit', ...opts });
}

// 1. Dependencies.
// What npm installs depends on the lock file and on the packages' dependency fields, not on
// their scripts: a new script must not cost a reinstall (which empties node_modules under
// everything running from it).
const DEP_FIELDS = ['name', 'workspaces', 'dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'overrides', 'bin'];
const MANIFESTS = ['package.json', 'apps/agent/package.json', 'apps/router/package.json', 'apps/web/package.json', 'packages/shared/package.json'];
function depsHash() {
  const h = createHash('sha256');
  h.update(existsSync(join(root, 'package-lock.json')) ? readFileSync(join(root, 'package-lock.json')) : '');
  for (const m of MANIFESTS) {
    const file = join(root, m);
    if (!existsSync(file)) continue;
    const json = JSON.parse(readFileSync(file, 'utf8'));
    h.update(`${m}\n${JSON.stringify(DEP_FIELDS.map((f) => json[f] ?? null))}\n`);
  }
  return h.digest('hex');
}
const lockHash = depsHash();
const deps = stamp('deps');
if (!existsSync(join(root, 'node_modules')) || deps.read() !== lockHash) {
  say('installing dependencies...');
  const lock = existsSync(join(root, 'package-lock.json'));
  run('npm', [lock ? 'ci' : 'install', '--no-audit', '--no-fund', '--loglevel=error']);
  stamp('deps').write(lockHash);
}

// 2. The agent's bundles.
const agentHash = hashTree(['apps/agent/src', 'packages/shared/src', 'scripts/build.mjs']);
const agent = stamp('agent');
if (agent.read() !== agentHash || !existsSync(join(root, 'apps/agent/dist/main.cjs'))) {
  say('bundling the agent...');
  const { buildAgent } = await import('./build.mjs');
  await buildAgent();
  agent.write(agentHash);
}

// 2b. The router's bundle (apps/router/dist/router.cjs).
const routerHash = hashTree(['apps/router/src', 'apps/router/package.json', 'packages/shared/src', 'scripts/build.mjs', 'package.json']);
const router = stamp('router');
if (router.read() !== routerHash || !existsSync(join(root, 'apps/router/dist/router.cjs'))) {
  say('bundling the router...');
  const { buildRouter } = await import('./build.mjs');
  await buildRouter();
  router.write(routerHash);
}

// 3. The web app.
if (!args.has('--no-web')) {
  // Not the lessons: the pages are rendered from the agent's lessons when asked for
  // (docs/decisions/0004-live-lessons.md), so a changed lesson, or one outside the checkout
  // (NSLAB_CONTENT), needs no build.
  const webHash = hashTree(['apps/web', 'packages/shared/src']);
  const web = stamp('web');
  if (web.read() !== webHash || !existsSync(join(root, 'apps/web/.next/BUILD_ID'))) {
    say('building the web app (next build)...');
    run(process.execPath, [join(root, 'node_modules/next/dist/bin/next'), 'build'], {
      cwd: join(root, 'apps/web'),
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    });
    // The sources as they were when the build started: a change made during it rebuilds next time.
    web.write(webHash);
  }
}
