// The layers of ARCHITECTURE.md, checked on the source: every relative import goes in an allowed
// direction, and no module imports itself through others (no cycle). Pure: reads files only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';

const AGENT = join(REPO_ROOT, 'apps/agent/src');
const WEB = join(REPO_ROOT, 'apps/web');
const SHARED = join(REPO_ROOT, 'packages/shared/src');

/**
 * Agent folders (and top-level files, by name) and what each may import besides itself and
 * @nslab/shared. Keep in step with ARCHITECTURE.md.
 */
export const AGENT_LAYERS: Record<string, readonly string[]> = {
  native: [],
  'paths.ts': [],
  'preflight.ts': [],
  // The LTI platforms' setting is checked with the LTI tool's own schema (lti/platforms.ts).
  'config.ts': ['paths.ts', 'lti'],
  spawner: ['native'],
  pty: ['native', 'paths.ts'],
  inspect: ['native', 'paths.ts'],
  store: ['native', 'paths.ts'],
  sandbox: ['native', 'spawner', 'pty', 'inspect', 'config.ts', 'paths.ts', 'preflight.ts'],
  lessons: ['inspect'],
  workshops: ['store'],
  portal: ['store'],
  lti: ['store', 'portal'],
  recordings: [],
  cli: [],
  server: ['native', 'pty', 'inspect', 'sandbox', 'lessons', 'store', 'workshops', 'portal', 'lti', 'recordings', 'config.ts', 'paths.ts', 'preflight.ts'],
  'main.ts': ['server', 'config.ts', 'paths.ts', 'preflight.ts', 'cli'],
  // The benchmarks and the soak harness drive everything from outside.
  bench: ['*'],
};

function files(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === '.next' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative imports of a file, resolved to files (.js in a specifier stands for .ts). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
    const spec = (m[1] ?? m[2])!;
    const base = resolve(dirname(file), spec);
    const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.tsx'), base, `${base}.ts`, `${base}.tsx`, join(base, 'index.ts')];
    const hit = candidates.find((c) => existsSync(c) && statSync(c).isFile());
    if (hit) out.push(hit);
  }
  return out;
}

/** The layer of an agent file: its top folder, or its own name at the top. */
function agentLayer(file: string): string {
  const rel = relative(AGENT, file);
  return rel.includes('/') ? rel.split('/')[0]! : rel;
}

/** Import cycles among `all` (each cycle once, as a list of files). */
function cycles(all: string[], edges: (f: string) => string[] = imports): string[][] {
  const graph = new Map(all.map((f) => [f, edges(f).filter((t) => all.includes(t))]));
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'open') found.push(stack.slice(stack.indexOf(t)).concat(t));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of all) if (!state.has(f)) visit(f);
  return found;
}

test('agent: every import goes in a direction ARCHITECTURE.md allows', () => {
  const bad: string[] = [];
  const all = files(AGENT);
  assert.ok(all.length > 40, `found the agent's sources (${all.length})`);
  for (const f of all) {
    const from = agentLayer(f);
    const allowed = AGENT_LAYERS[from];
    if (!allowed) {
      bad.push(`${relative(REPO_ROOT, f)}: the layer "${from}" is not in ARCHITECTURE.md`);
      continue;
    }
    for (const t of imports(f)) {
      if (!t.startsWith(AGENT)) {
        bad.push(`${relative(REPO_ROOT, f)} imports ${relative(REPO_ROOT, t)}, outside the agent`);
        continue;
      }
      const to = agentLayer(t);
      if (to !== from && !allowed.includes('*') && !allowed.includes(to))
        bad.push(`${relative(REPO_ROOT, f)} (${from}) imports ${relative(REPO_ROOT, t)} (${to})`);
    }
  }
  assert.deepEqual(bad, []);
});

test('agent, web and shared: no import cycles', () => {
  for (const root of [AGENT, WEB, SHARED]) {
    const found = cycles(files(root)).map((c) => c.map((f) => relative(REPO_ROOT, f)).join(' -> '));
    assert.deepEqual(found, [], `cycles under ${relative(REPO_ROOT, root)}`);
  }
});

test('web and shared stay on their side: shared imports no app, the web never the agent, lib never components or pages', () => {
  const bad: string[] = [];
  for (const f of files(SHARED)) for (const t of imports(f)) if (!t.startsWith(SHARED)) bad.push(`${relative(REPO_ROOT, f)} imports ${relative(REPO_ROOT, t)}`);
  for (const f of files(WEB)) {
    const text = readFileSync(f, 'utf8');
    if (/from\s+['"][^'"]*apps\/agent/.test(text)) bad.push(`${relative(REPO_ROOT, f)} imports the agent`);
    const layer = relative(WEB, f).split('/')[0];
    for (const t of imports(f)) {
      const to = relative(WEB, t).split('/')[0];
      if (layer === 'lib' && (to === 'components' || to === 'app')) bad.push(`${relative(REPO_ROOT, f)} (lib) imports ${relative(REPO_ROOT, t)}`);
      if (layer === 'components' && to === 'app') bad.push(`${relative(REPO_ROOT, f)} (components) imports ${relative(REPO_ROOT, t)}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('the checks can fail: a cycle is found, and sandbox importing lessons is refused', () => {
  const edges: Record<string, string[]> = { a: ['b'], b: ['c'], c: ['a'], d: ['a'] };
  assert.deepEqual(
    cycles(['a', 'b', 'c', 'd'], (f) => edges[f]!),
    [['a', 'b', 'c', 'a']],
  );
  assert.equal(AGENT_LAYERS.sandbox!.includes('lessons'), false);
  assert.equal(AGENT_LAYERS.lessons!.includes('sandbox'), false);
});
