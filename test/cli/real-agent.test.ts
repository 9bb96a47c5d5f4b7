// The CLI against a real agent and real labs: every command, end to end.
import { test, before, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { runCli } from '../../apps/agent/src/cli/run.ts';
import type { RunningAgent } from '../../apps/agent/src/server/agent.ts';
import { startTestAgent } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { makeIO, pipeIn } from './streams.ts';

const skip = rootOrSkip('these tests');

let agent: RunningAgent;
const dataDir = mkdtempSync(join(tmpdir(), 'nslab-cli-'));
before(async () => {
  // A store of its own: the workshop made here warms labs only for this agent.
  if (!skip) agent = await startTestAgent({ dataDir });
});
after(async () => {
  if (!skip) await agent.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function cli(args: string[], stdin?: string) {
  const io = makeIO({ env: { NSLAB_URL: agent.url, NSLAB_TOKEN: agent.token }, stdin: pipeIn(stdin ?? '') });
  const code = await runCli(args, { ...io, tokenFile: '/nonexistent' });
  return { code, out: io.stdout.text(), err: io.stderr.text() };
}

test('open, exec, ls, close with real labs', { skip }, async () => {
  const lessons = await cli(['lessons']);
  assert.equal(lessons.code, 0);
  assert.equal(lessons.out.trim().split('\n').length, 9);

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

test('nslab workshop create | ls | show | link | close, and the lines scripts read', { skip }, async () => {
  const made = await cli(['workshop', 'create', '--title', 'Namespaces, Tuesday', '--lessons', 'uts,pid', '--seats', '30']);
  assert.equal(made.code, 0, made.err);
  const line = (text: string, key: string) => new RegExp(`^${key}: (.+)$`, 'm').exec(text)?.[1];
  const id = line(made.out, 'workshop')!;
  const code = line(made.out, 'code')!;
  assert.match(id, /^[a-z0-9]{10}$/);
  assert.match(code, /^[A-Z0-9]{8}$/);
  assert.equal(line(made.out, 'join'), `${agent.url}/en/join?code=${code}`);
  const instructor = line(made.out, 'instructor')!;
  assert.match(instructor, new RegExp(`^${agent.url}/en/instructor/${id}#key=[A-Za-z0-9_-]{32}$`));
  const key = decodeURIComponent(instructor.split('#key=')[1]!);

  const ls = await cli(['workshop', 'ls']);
  assert.equal(ls.code, 0, ls.err);
  assert.match(ls.out, new RegExp(`^${id}\\s+open\\s+0/30\\s+${code}\\s+\\S+\\s+Namespaces, Tuesday$`, 'm'));
  const show = await cli(['workshop', 'show', id]);
  assert.equal(show.code, 0, show.err);
  assert.match(show.out, /^seats: 0\/30$/m);
  assert.match(show.out, /No learners yet/);

  // A new instructor link: the key printed by create no longer opens the room.
  const link = await cli(['workshop', 'link', id, '--lang', 'zh']);
  assert.equal(link.code, 0, link.err);
  const fresh = line(link.out, 'instructor')!;
  assert.match(fresh, new RegExp(`^${agent.url}/zh/instructor/${id}#key=`));
  assert.ok(!(await agent.store.getWorkshop(id))!.instructorKeyHash.includes(key), 'only a hash is kept');

  const closed = await cli(['workshop', 'close', id]);
  assert.equal(closed.code, 0, closed.err);
  assert.match((await cli(['workshop', 'ls'])).out, new RegExp(`^${id}\\s+closed\\s`, 'm'));

  // Usage errors exit 2, with what was wrong; an unknown workshop is the agent's refusal.
  for (const [args, why] of [
    [['workshop', 'create', '--lessons', 'uts', '--seats', '3'], /--title is needed/],
    [['workshop', 'create', '--title', 't', '--lessons', 'uts', '--seats', 'many'], /--seats is a whole number/],
    [['workshop', 'create', '--title', 't', '--lessons', 'uts', '--seats', '3', '--opens', 'tomorrow'], /not an ISO 8601 time/],
    [['workshop', 'show', 'NOPE'], /not a workshop id/],
    [['workshop', 'frobnicate'], /unknown action/],
  ] as const) {
    const r = await cli([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, why);
  }
  const unknown = await cli(['workshop', 'show', 'zzzzzzzzzz']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /no workshop zzzzzzzzzz/);
});
