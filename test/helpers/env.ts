// What a test needs from the machine. Under CI=true nothing that needs root may skip: it fails.
import type { TestContext } from 'node:test';

export const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
export const IN_CI = process.env.CI === 'true';

/** Call first in a test that needs root: skips it on a developer's unprivileged run, fails it in CI. */
export function needsRoot(t: TestContext): boolean {
  if (IS_ROOT) return true;
  if (IN_CI) throw new Error('this test needs root, and CI=true forbids skipping it');
  t.skip('needs root (run as root, or in CI)');
  return false;
}

/**
 * For a test file whose tests all need root: the `skip` option for them. Throws (at load time)
 * under CI=true without root: there, nothing that needs root may skip.
 */
export function rootOrSkip(what = 'these tests'): false | string {
  if (IS_ROOT) return false;
  if (IN_CI) throw new Error(`${what} need root, and CI=true forbids skipping them`);
  return 'needs root';
}
