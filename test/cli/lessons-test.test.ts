// `nslab lessons test --agent`: the shipped lessons, followed as a learner would through real
// terminals of an agent the command starts itself, pass in both languages, twice each; lessons
// made to be wrong (a check that already passes, a step whose command does not do what its task
// checks) fail with what a trainer needs: the step, the reason, the pane's last screen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli } from '../../apps/agent/src/cli/run.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { makeIO } from './streams.ts';

const skip = rootOrSkip('the lesson tests of the CLI');

async function lessonsTest(args: string[], idBase: string) {
  const io = makeIO({ env: { ...process.env, NSLAB_LESSONS_TEST_ID_BASE: idBase, NSLAB_URL: '', NSLAB_TOKEN: '' } });
  const code = await runCli(['lessons', 'test', '--agent', ...args], { ...io, tokenFile: '/nonexistent' });
  return { code, out: io.stdout.text(), err: io.stderr.text() };
}

test('every shipped lesson passes, in both languages, twice, through the terminal', { skip }, async () => {
  const r = await lessonsTest([], '600000000');
  assert.equal(r.code, 0, r.out + r.err);
  const last = r.out.trimEnd().split('\n').at(-1);
  assert.equal(last, '18 passed, 0 failed');
  // The table has a row per lesson, language, run and step, each with its time.
  assert.match(r.out, /^uts\s+zh\s+2\s+nsenter\s+ok\s+\d+ ms$/m);
  assert.match(r.out, /^net\s+en\s+1\s+\S+\s+ok\s+\d+ ms$/m);
});

test('a check that already passes, and a step that does not do its task, fail with the reason and the screen', { skip }, async () => {
  const r = await lessonsTest(['--dir', join(REPO_ROOT, 'test/fixtures/lessons-runtime'), '--runs', '1', '--lang', 'en'], '601000000');
  assert.equal(r.code, 1);
  assert.equal(r.out.trimEnd().split('\n').at(-1), '0 passed, 2 failed');
  assert.match(r.out, /always \(en\) run 1, step look: task trivially-true is done before its step: a check that already passes cannot fail/);
  assert.match(r.out, /stuck \(en\) run 1, step rename: task named-kite is not done after its step: .*kite-typo-nope/);
  assert.match(r.out, /--- the last screen of container ---\n[\s\S]*hostname -b kite-typo-nope/);
  // Only the named lessons, and an unknown one is refused before any lab.
  const one = await lessonsTest(['stuck', '--dir', join(REPO_ROOT, 'test/fixtures/lessons-runtime'), '--runs', '1', '--lang', 'zh'], '601000000');
  assert.equal(one.out.trimEnd().split('\n').at(-1), '0 passed, 1 failed');
  const none = await lessonsTest(['nosuch'], '601000000');
  assert.equal(none.code, 1);
  assert.match(none.err, /no lesson nosuch/);
});

test('lessons that do not load are refused before any lab, naming the file and the field', { skip }, async () => {
  const r = await lessonsTest(['--dir', join(REPO_ROOT, 'test/fixtures/lessons-broken'), '--runs', '1'], '601000000');
  assert.equal(r.code, 1);
  assert.match(r.out + r.err, /do not load: .*lessons-broken\/(en|zh)\/\w+\.md(:\d+)?: [\w.[\]]+: .+ \(nslab lessons validate .* lists every problem\)/);
});
