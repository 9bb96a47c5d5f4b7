// Started without root, the agent says what it needs in one sentence and exits 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import { IS_ROOT, IN_CI } from '../helpers/env.ts';

if (!IS_ROOT && IN_CI) throw new Error('this test needs root (to drop it), and CI=true forbids skipping it');

test('the agent refuses to start without root, with a clear message', { skip: IS_ROOT ? false : 'needs root to run as another user' }, () => {
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(REPO_ROOT, 'apps/agent/dist/main.cjs')], {
    encoding: 'utf8',
    env: { ...process.env, PORT: '0', NSLAB_WEB: '0' },
    timeout: 30_000,
  });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^nslab: the agent must run as root/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
