// Where the nslab checkout is, as the CLI sees it: above this module when it runs from the
// CommonJS bundle (apps/agent/dist), else above the script node was started on, else above the
// working directory. No import.meta: that would not survive bundling to CommonJS.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

function above(from: string, has: (dir: string) => boolean): string | null {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (has(dir)) return dir;
    if (dirname(dir) === dir) return null;
  }
}

function starts(): string[] {
  return [typeof __dirname !== 'undefined' ? __dirname : null, process.argv[1] ? dirname(process.argv[1]) : null, process.cwd()].filter(
    (d): d is string => d !== null,
  );
}

/** The first directory at or above where the CLI runs (see above) for which `has` holds. */
export function findAbove(has: (dir: string) => boolean): string | null {
  for (const from of starts()) {
    const hit = above(from, has);
    if (hit) return hit;
  }
  return null;
}

/** The checkout's root (where apps/agent is), or null outside one. */
export function checkoutRoot(): string | null {
  return findAbove((dir) => existsSync(join(dir, 'apps', 'agent', 'package.json')));
}
