// Each defence of a lab, attacked from inside a real lab: the learner is root there and must
// not read the host's secrets, write its files, reach its network or see its processes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { RunningAgent } from '../../apps/agent/src/server/agent.ts';
import type { Lab } from '../../apps/agent/src/sandbox/lab.ts';
import { hostUid } from '../../apps/agent/src/inspect/ns.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import { startTestAgent, run, TEST_INSTANCE } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip('the security tests');

let agent: RunningAgent;
let lab: Lab;

before(async () => {
  if (skip) return;
  agent = await startTestAgent();
  lab = await agent.manager.open('mount');
});

after(async () => {
  if (skip) return;
  await agent.close();
});

test('cannot read /etc/shadow, even as lab root', { skip }, async () => {
  assert.ok(readFileSync('/etc/shadow', 'utf8').includes('root:'), 'the host has a shadow file to protect');
  for (const pane of ['host', 'container']) {
    const r = await run(lab, pane, 'cat /etc/shadow');
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.out, /root:/);
  }
});

test("cannot read the host's /root, the agent's token or its source tree", { skip }, async () => {
  assert.equal((await run(lab, 'host', 'ls -A /root')).out.trim(), '', "the lab's /root is its own, empty");
  const token = await run(lab, 'host', `cat ${agent.tokenFile ?? `/run/${TEST_INSTANCE}/token`}`);
  assert.notEqual(token.code, 0);
  assert.doesNotMatch(token.out, new RegExp(agent.token));
  assert.ok(readdirSync(REPO_ROOT).length > 3, 'the source tree exists on the host');
  assert.equal((await run(lab, 'host', `ls -A ${REPO_ROOT}`)).out.trim(), '', 'the source tree is hidden');
  const grep = await run(lab, 'host', `grep -rl ${agent.token} /run /etc /var /tmp 2>/dev/null | head -1`);
  assert.equal(grep.out.trim(), '', 'the token is nowhere in the lab');
});

test("cannot write the host's files", { skip }, async () => {
  const probe = `/nslab-write-probe-${process.pid}`;
  const w = await run(lab, 'host', `echo pwned > ${probe} && cat ${probe}`);
  assert.equal(w.out.trim(), 'pwned', 'the lab may write its own copy-on-write root');
  assert.equal(existsSync(probe), false, 'but the host does not see it');
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const r = await run(lab, 'host', 'echo "evil:x:0:0::/:/bin/sh" >> /etc/passwd');
  assert.notEqual(r.code, 0, 'host-owned files are not writable by lab root');
  assert.equal(readFileSync('/etc/passwd', 'utf8'), passwd);
  assert.notEqual((await run(lab, 'host', 'touch /usr/bin/nslab-probe')).code, 0);
});

test('cannot undo the masks', { skip }, async () => {
  const r = await run(lab, 'host', 'umount /etc/shadow; umount -l /etc/shadow; cat /etc/shadow');
  assert.doesNotMatch(r.out, /root:/);
  const r2 = await run(lab, 'host', `umount ${REPO_ROOT}; ls -A ${REPO_ROOT}`);
  assert.equal(r2.out.trim(), '');
});

test("cannot reach the agent's port or any host address", { skip }, async () => {
  const port = agent.port;
  const r = await run(lab, 'host', `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port}' && echo CONNECTED`);
  assert.doesNotMatch(r.out, /CONNECTED/);
  const hostAddrs = await run(lab, 'host', 'cat /proc/net/route | wc -l');
  assert.equal(hostAddrs.out.trim(), '1', 'no routes: only the header line');
  const ext = await run(lab, 'host', `bash -c 'exec 3<>/dev/tcp/10.0.0.1/80' 2>&1 && echo CONNECTED`);
  assert.doesNotMatch(ext.out, /CONNECTED/);
  assert.match(ext.out, /unreachable/i);
});

test('cannot see or signal host processes; is not root on the host', { skip }, async () => {
  const r = await run(lab, 'host', `kill -0 ${process.pid} && echo VISIBLE`);
  assert.doesNotMatch(r.out, /VISIBLE/);
  const ps = await run(lab, 'host', 'ps -e -o pid= | wc -l');
  assert.ok(Number(ps.out) < 15, `the lab sees only its own few processes, saw ${ps.out.trim()}`);
  const hostPane = lab.pane('host')!;
  assert.equal(hostUid(hostPane.pid!), lab.uidBase);
  assert.ok(lab.uidBase >= 100000);
});

test("cannot escape through /proc/PID/root or ptrace: every root in sight is the lab's own", { skip }, async () => {
  // Every process the lab can name has the lab's root as its root, PID 1 included.
  const roots = await run(
    lab,
    'host',
    'for p in /proc/[0-9]*; do [ "$(stat -L -c %d:%i $p/root/ 2>/dev/null)" = "$(stat -c %d:%i /)" ] || echo "OTHER $p"; done; echo checked',
  );
  assert.match(roots.out, /checked/);
  assert.doesNotMatch(roots.out, /OTHER/);
  // Walking up from PID 1's root stays in the lab; the host's files are not there.
  const up = await run(lab, 'host', 'cat /proc/1/root/../../../etc/shadow 2>&1; ls /proc/1/root/../../../run/ 2>&1');
  assert.doesNotMatch(up.out, /root:[^:]*:\d+:/, 'no shadow lines');
  assert.doesNotMatch(up.out, new RegExp(TEST_INSTANCE), "the agent's state directory is not there");
  assert.equal((await run(lab, 'host', 'command -v strace')).code, 0, 'strace is in the lab (the CI installs it)');
  // The agent, the spawner and the lab's own anchor are outside its PID namespace: nothing to attach to.
  for (const pid of [process.pid, agent.manager.spawner.pid!, lab.anchorPid]) {
    const r = await run(lab, 'host', `strace -p ${pid} -e trace=none 2>&1 & sleep 0.5; kill $! 2>/dev/null; echo done`);
    assert.doesNotMatch(r.out, /attached|Process \d+ attached/i, `pid ${pid}`);
  }
  // setns into another process's namespaces: only the lab's own processes can be named.
  const ns = await run(lab, 'host', `nsenter -t ${process.pid} -a true 2>&1 || echo REFUSED`);
  assert.match(ns.out, /REFUSED/);
});

test("cannot change the host's hostname or make device nodes", { skip }, async () => {
  const real = readFileSync('/proc/sys/kernel/hostname', 'utf8');
  await run(lab, 'host', 'hostname evil-host');
  assert.equal(readFileSync('/proc/sys/kernel/hostname', 'utf8'), real);
  const mk = await run(lab, 'host', 'mknod /tmp/vda b 254 0 && echo MADE');
  assert.doesNotMatch(mk.out, /MADE/);
  const mnt = await run(lab, 'host', 'mount /dev/vda /mnt 2>&1 || echo REFUSED');
  assert.match(mnt.out, /REFUSED/);
});
