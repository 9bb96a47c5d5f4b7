// A lab's delegated cgroup subtree (a lesson pane with `delegatedCgroup: true`, the container
// lesson's): the lab's root may make and limit cgroups in it, and must not get out of the lab's
// own limits through it. Attacked from inside a real lab, on the host's real cgroups.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningAgent } from '../../apps/agent/src/server/agent.ts';
import type { Lab } from '../../apps/agent/src/sandbox/lab.ts';
import { DELEGATED } from '../../apps/agent/src/sandbox/cgroup.ts';
import { startTestAgent, testConfig, run } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip('the cgroup delegation tests');

/** Small limits, so that running into them is quick. */
const LAB_PIDS = 48;
const LAB_MEMORY_MB = 96;

let agent: RunningAgent;
let lab: Lab;

before(async () => {
  if (skip) return;
  agent = await startTestAgent({ limits: { ...testConfig().limits, pids: LAB_PIDS, memoryMb: LAB_MEMORY_MB } });
  lab = await agent.manager.open('container');
});

after(async () => {
  if (skip) return;
  await agent.close();
});

/** The lab's cgroup in the hierarchy of a controller (host path), or null without one. */
function labDir(controller: string): string | null {
  const h = agent.manager.cgroups.hierarchies.find((x) => (x.controllers as string[]).includes(controller));
  if (!h) return null;
  return lab.cgroup!.paths.find((p) => p.startsWith(`${h.mount}/`)) ?? null;
}

/** Where the lab sees its delegated subtree of a controller. */
function inLab(controller: string): string {
  const h = agent.manager.cgroups.hierarchies.find((x) => (x.controllers as string[]).includes(controller))!;
  return h.version === 2 ? '/sys/fs/cgroup' : `/sys/fs/cgroup/${h.mount.split('/').pop()}`;
}

const read = (file: string) => readFileSync(file, 'utf8').trim();

/** Host pids in a cgroup directory and every cgroup below it. */
function pidsUnder(dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const p of read(join(d, 'cgroup.procs')).split('\n')) if (p) out.push(Number(p));
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(dir);
  return out;
}

function killUnder(dir: string) {
  for (const pid of pidsUnder(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

async function until(what: string, cond: () => boolean, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('only a lesson that asks for it gets a delegated subtree', { skip }, async () => {
  const other = await agent.manager.open('uts');
  try {
    for (const dir of other.cgroup!.paths) assert.equal(existsSync(join(dir, DELEGATED)), false, `${dir} has no ${DELEGATED}`);
    assert.equal((await run(other, 'host', 'ls -A /sys/fs/cgroup')).out.trim(), '', "the lab's /sys/fs/cgroup is sysfs's empty directory");
  } finally {
    await agent.manager.close(other.id);
  }
});

test("the subtree is the lab root's, mounted in the lab; the container pane starts in it", { skip }, async () => {
  const pids = labDir('pids');
  assert.ok(pids, 'this host has a pids controller');
  const sub = join(pids, DELEGATED);
  assert.equal(statSync(sub).uid, lab.uidBase, "the delegated directory belongs to the lab's root");
  assert.equal(statSync(join(sub, 'cgroup.procs')).uid, lab.uidBase);
  assert.equal(statSync(join(sub, 'pids.max')).uid, 0, "the subtree's own limit stays host root's");
  assert.equal(statSync(pids).uid, 0, "the lab's cgroup stays host root's");
  const where = inLab('pids');
  const ls = await run(lab, 'host', `ls ${where}; stat -c %U ${where}/cgroup.procs ${where}/pids.max`);
  assert.match(ls.out, /pane-container/);
  assert.match(ls.out, /\nroot\nnobody\n?$/, `in the lab, cgroup.procs is root's and pids.max nobody's:\n${ls.out}`);
  const container = lab.pane('container')!.pid!;
  assert.ok(read(`/proc/${container}/cgroup`).includes(`/${DELEGATED}/pane-container`), 'the container pane is in the subtree');
  const host = lab.pane('host')!.pid!;
  assert.ok(!read(`/proc/${host}/cgroup`).includes(DELEGATED), 'the host pane is not');
});

test('the lab cannot write its own limits, nor move a process out of the subtree', { skip }, async () => {
  const pids = labDir('pids')!;
  const where = inLab('pids');
  const before = { lab: read(join(pids, 'pids.max')), sub: read(join(pids, DELEGATED, 'pids.max')) };
  const pidsMount = agent.manager.cgroups.hierarchies.find((h) => (h.controllers as string[]).includes('pids'))!.mount;
  const agentBefore = existsSync(join(pidsMount, 'release_agent')) ? read(join(pidsMount, 'release_agent')) : null;
  // The subtree's own limit file, and the cgroup host root made for the pane.
  const own = await run(lab, 'host', `echo max > ${where}/pids.max`);
  assert.notEqual(own.code, 0, `the subtree's pids.max is not writable: ${own.err}`);
  const pane = await run(lab, 'host', `echo $$ > ${where}/pane-container/cgroup.procs`);
  assert.notEqual(pane.code, 0, `pane-container is not the lab's to move into: ${pane.err}`);
  // A cgroup file system the lab mounts itself shows the lab's cgroup (its cgroup namespace's
  // root): its limits and its cgroup.procs are host root's.
  const v2 = agent.manager.cgroups.hierarchies.find((h) => (h.controllers as string[]).includes('pids'))!.version === 2;
  const mount = v2 ? 'mount -t cgroup2 none /tmp/cg' : 'mount -t cgroup -o pids none /tmp/cg';
  const r = await run(
    lab,
    'host',
    `mkdir -p /tmp/cg && ${mount} || { echo nomount; exit 0; }; ls /tmp/cg >/dev/null; echo max > /tmp/cg/pids.max && echo wrote-max; echo /tmp/evil > /tmp/cg/release_agent 2>/dev/null && echo wrote-agent; echo $$ > /tmp/cg/cgroup.procs && echo moved; echo $$ > /tmp/cg/${DELEGATED}/../cgroup.procs && echo moved-up; cat /proc/self/cgroup; umount /tmp/cg`,
  );
  // (wrote-agent: the v1 release agent, the program the kernel runs as host root when a cgroup empties.)
  assert.doesNotMatch(r.out, /wrote-|moved/, `no write got through:\n${r.out}${r.err}`);
  // The kernel lets the lab mount it (a cgroup namespace of its own): the attempts above were made.
  assert.doesNotMatch(r.out, /nomount/, `the lab could not mount a cgroup file system, so nothing was tried:\n${r.err}`);
  assert.deepEqual({ lab: read(join(pids, 'pids.max')), sub: read(join(pids, DELEGATED, 'pids.max')) }, before, 'the limits are unchanged');
  if (agentBefore !== null) assert.equal(read(join(pidsMount, 'release_agent')), agentBefore, "the host's release agent is unchanged");
  // The container pane's shell, in the subtree, cannot be put back in the lab's cgroup either.
  const c = await run(
    lab,
    'container',
    `mkdir -p /tmp/cg2 && ${mount.replace('/tmp/cg', '/tmp/cg2')} && echo $$ > /tmp/cg2/cgroup.procs && echo moved; umount /tmp/cg2 2>/dev/null; true`,
  );
  assert.doesNotMatch(c.out, /moved/, `the container pane's process stays in the subtree:\n${c.out}${c.err}`);
  assert.ok(read(`/proc/${lab.pane('container')!.pid!}/cgroup`).includes(`/${DELEGATED}/pane-container`));
});

test('a limit the lab sets in its subtree holds for the processes it puts there', { skip }, async () => {
  const pids = labDir('pids')!;
  const where = inLab('pids');
  const mk = await run(lab, 'host', `mkdir ${where}/small && echo 5 > ${where}/small/pids.max && cat ${where}/small/pids.max`);
  assert.equal(mk.out.trim(), '5', mk.err);
  const small = join(pids, DELEGATED, 'small');
  assert.equal(statSync(join(small, 'pids.max')).uid, lab.uidBase, "a cgroup the lab makes is the lab's");
  try {
    const r = await run(
      lab,
      'container',
      `echo $$ > ${where}/small/cgroup.procs || exit 9; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 60 >/dev/null 2>&1 & done; echo all-forked`,
    );
    assert.notEqual(r.code, 9, `moved into the lab's own cgroup: ${r.err}`);
    assert.doesNotMatch(r.out, /all-forked/, 'the sixth fork was refused');
    assert.match(read(join(small, 'pids.events')), /^max [1-9]/m, 'the kernel counted the refusal');
    assert.ok(Number(read(join(small, 'pids.current'))) <= 5);
  } finally {
    killUnder(small);
    await until('the small cgroup to empty', () => pidsUnder(small).length === 0);
  }
});

test("a child limit above the lab's does not lift the lab's: forks and memory stop at the lab's", { skip }, async () => {
  const pids = labDir('pids')!;
  const where = inLab('pids');
  const mk = await run(lab, 'host', `mkdir ${where}/big && echo 100000 > ${where}/big/pids.max && cat ${where}/big/pids.max`);
  assert.equal(mk.out.trim(), '100000', 'the lab may write any number in its own cgroup');
  const big = join(pids, DELEGATED, 'big');
  try {
    const r = await run(
      lab,
      'container',
      `echo $$ > ${where}/big/cgroup.procs || exit 9; i=0; while [ $i -lt 300 ]; do sleep 60 >/dev/null 2>&1 & i=$((i+1)); done; echo forked $i`,
    );
    assert.notEqual(r.code, 9, r.err);
    assert.doesNotMatch(r.out, /forked 300/, 'the forks were refused before 300');
    assert.ok(Number(read(join(pids, 'pids.current'))) <= LAB_PIDS, 'the lab never held more than its limit');
    assert.ok(Number(read(join(big, 'pids.current'))) <= LAB_PIDS, `big holds at most the lab's ${LAB_PIDS}`);
    assert.equal(read(join(big, 'pids.max')), '100000', "big's own limit was far away: the lab's refused the forks");
  } finally {
    killUnder(big);
    await until('the big cgroup to empty', () => pidsUnder(big).length === 0);
  }

  const mem = labDir('memory');
  if (!mem) return;
  const memWhere = inLab('memory');
  const v2 = agent.manager.cgroups.hierarchies.find((h) => (h.controllers as string[]).includes('memory'))!.version === 2;
  const limitFile = v2 ? 'memory.max' : 'memory.limit_in_bytes';
  const raise = await run(lab, 'host', `mkdir ${memWhere}/hog && echo ${4 * 1024 * 1024 * 1024} > ${memWhere}/hog/${limitFile} && echo ok`);
  assert.equal(raise.out.trim(), 'ok', raise.err);
  const hog = join(mem, DELEGATED, 'hog');
  try {
    // `tail` keeps the line it reads in memory; /dev/zero has no newline.
    const r = await run(lab, 'container', `echo $$ > ${memWhere}/hog/cgroup.procs || exit 9; timeout 60 tail /dev/zero; echo status $?`);
    assert.notEqual(r.code, 9, r.err);
    assert.match(r.out, /status 137/, `tail was killed by the OOM killer (SIGKILL), not stopped by the timeout:\n${r.out}${r.err}`);
    const peakFile = v2 ? 'memory.peak' : 'memory.max_usage_in_bytes';
    if (existsSync(join(hog, peakFile))) {
      const peak = Number(read(join(hog, peakFile)));
      assert.ok(peak > 0 && peak <= LAB_MEMORY_MB * 1024 * 1024, `hog used at most the lab's limit, far from its own (${peak} bytes)`);
    }
  } finally {
    killUnder(hog);
  }
});

test('closing a lab removes the cgroups the learner made in it, however deep, and the processes in them', { skip }, async () => {
  const other = await agent.manager.open('container');
  const paths = other.cgroup!.paths;
  const where = agent.manager.cgroups.hierarchies.map((h) => (h.version === 2 ? '/sys/fs/cgroup' : `/sys/fs/cgroup/${h.mount.split('/').pop()}`));
  const script = where.map((w) => `mkdir -p ${w}/a/b/c ${w}/d && echo $$ > ${w}/a/b/c/cgroup.procs`).join(' && ');
  const r = await run(other, 'container', `${script} && (sleep 600 >/dev/null 2>&1 &) && echo made`);
  assert.equal(r.out.trim(), 'made', r.err);
  for (const dir of paths) assert.ok(existsSync(join(dir, DELEGATED, 'a/b/c')), `${dir} has the learner's cgroups`);
  const sleeper = pidsUnder(join(paths[0]!, DELEGATED, 'a/b/c'));
  assert.ok(sleeper.length > 0, 'a process is in the deepest one');
  await agent.manager.close(other.id);
  for (const dir of paths) assert.equal(existsSync(dir), false, `${dir} is gone`);
  for (const pid of sleeper) assert.equal(existsSync(`/proc/${pid}`), false, `pid ${pid} is gone`);
});

test("the start's sweep removes a delegated subtree left behind, depth first", { skip }, async () => {
  const cgroups = agent.manager.cgroups;
  const left = cgroups.create('sweeptest', testConfig().limits, 123_456);
  for (const dir of left.paths) {
    // As the learner would make them: nested, below the delegated directory.
    for (const d of ['x', 'x/y', 'x/y/z']) mkdirSync(join(dir, DELEGATED, d));
  }
  const found = cgroups.leftovers().find((c) => c.paths.every((p) => p.endsWith('/sweeptest')));
  assert.ok(found, 'the sweep finds it');
  found.remove();
  for (const dir of left.paths) assert.equal(existsSync(dir), false, `${dir} is gone`);
});
