// The CLI against a real agent and real labs: every command, end to end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../apps/agent/src/cli/run.ts';
import type { RunningAgent } from '../../apps/agent/src/server/agent.ts';
import { startTestAgent } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { makeIO, pipeIn } from './streams.ts';

const skip = rootOrSkip('these tests');

let agent: RunningAgent;
before(async () => {
  if (!skip) agent = await startTestAgent();
});
after(async () => {
  if (!skip) await agent.close();
});

async function cli(args: string[], stdin?: string) {
  const io = makeIO({ env: { NSLAB_URL: agent.url, NSLAB_TOKEN: agent.token }, stdin: pipeIn(stdin ?? '') });
  const code = await runCli(args, { ...io, tokenFile: '/nonexistent' });
  return { code, out: io.stdout.text(), err: io.stderr.text() };
}

test('open, exec, ls, close with real labs', { skip }, async () => {
  const lessons = await cli(['lessons']);
  assert.equal(lessons.code, 0);
  assert.equal(lessons.out.trim().split('\n').length, 8);

  const open = await cli(['open', 'pid']);
  assert.equal(open.code, 0, open.err);
  const lab = open.out.trim();
  assert.match(lab, /^[a-z0-9]{12}$/, 'open prints the lab id alone');

  const pid1 = await cli(['exec', lab, 'container', '--', 'sh', '-c', 'cat /proc/1/comm; readlink /proc/self/ns/pid']);
  assert.equal(pid1.code, 0, pid1.err);
  const hostNs = await cli(['exec', lab, 'host', '--', 'readlink', '/proc/self/ns/pid']);
  assert.notEqual(pid1.out.split('\n')[1], hostNs.out.trim(), 'container and host PID namespaces differ');

  const failing = await cli(['exec', lab, 'host', '--', 'sh', '-c', 'echo to-out; echo to-err >&2; exit 5']);
  assert.equal(failing.code, 5);
  assert.equal(failing.out, 'to-out\n');
  assert.equal(failing.err, 'to-err\n');

  const piped = await cli(['exec', lab, 'host', '--', 'wc', '-c'], 'twelve bytes');
  assert.equal(piped.out.trim(), '12');

  const ls = await cli(['ls']);
  assert.equal(ls.code, 0);
  assert.match(ls.out, new RegExp(lab));
  assert.match(ls.out, /container/);

  const bad = await cli(['exec', lab, 'nopane', '--', 'true']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /^nslab: .*nopane/);

  assert.equal((await cli(['close', lab])).code, 0);
  const gone = await cli(['exec', lab, 'host', '--', 'true']);
  assert.equal(gone.code, 1);
  assert.match(gone.err, /no open lab/);
});
