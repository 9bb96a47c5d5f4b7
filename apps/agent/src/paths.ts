// Where the agent's files live, found from this module whether it runs from source (tsx) or
// from the esbuild bundles in apps/agent/dist.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

function findRepoRoot(): string {
  let dir = typeof __dirname !== 'undefined' ? __dirname : dirname(new URL(import.meta.url).pathname);
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'apps', 'agent', 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return resolve(process.cwd());
}

export const REPO_ROOT = findRepoRoot();
export const AGENT_DIST = join(REPO_ROOT, 'apps', 'agent', 'dist');
export const WEB_DIR = join(REPO_ROOT, 'apps', 'web');

export function locateBundle(name: string): string {
  return join(AGENT_DIST, name);
}
