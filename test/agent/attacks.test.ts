// Attacks from inside a lab on what the lab shares with the agent, the host and other labs: the
// agent's own processes while they set a process up, the spawner's memory, the kernel's per-user
// counters (ucounts), the PTY pool, and the agent's HTTP front door. Each test plays the attacker
// with real programs in a real lab and asks the kernel what happened.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import type { RunningAgent } from '../../apps/agent/src/server/agent.ts';
import type { Lab } from '../../apps/agent/src/sandbox/lab.ts';
import { checkTasks } from '../../apps/agent/src/lessons/checker.ts';
import { startTestAgent, sideAgent, run, typeAndWait, waitForPrompt } from '../helpers/agent.ts';
import { waitFor } from '../helpers/wait.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip('the attack tests');

let agent: RunningAgent;

before(async () => {
  if (skip) return;
  agent = await startTestAgent();
});

after(async () => {
  if (skip) return;
  await agent.close();
});

/** Write `text` to `path` inside the lab (through the pane's exec, as lab root). */
async function put(lab: Lab, pane: string, path: string, text: string) {
  const r = await lab.exec(lab.pane(pane)!, ['/bin/sh', '-c', `cat > ${path}`], { stdin: Buffer.from(text) });
  assert.equal(r.exitCode, 0, `writing ${path}`);
}

/** Start `script` in the background in a lab (it outlives the exec); returns its pid in the lab. */
async function background(lab: Lab, pane: string, name: string, script: string, args = ''): Promise<number> {
  await put(lab, pane, `/tmp/${name}.py`, script);
  const r = await run(lab, pane, `python3 /tmp/${name}.py ${args} > /tmp/${name}.out 2>&1 & echo $!`);
  return Number(r.out.trim());
}

/** Wait until a background script's output has a line starting with `prefix`; returns that line. */
async function lineOf(lab: Lab, pane: string, name: string, prefix: string, timeoutMs = 60_000): Promise<string> {
  return waitFor(
    `${name} to print "${prefix}"`,
    async () => (await run(lab, pane, `cat /tmp/${name}.out`)).out.split('\n').find((l) => l.startsWith(prefix)),
    timeoutMs,
  );
}

function hostPython(code: string): string {
  const r = spawnSync('python3', ['-c', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

// ---- 1. the agent's processes, caught before they exec --------------------------------------------

/**
 * The attacker's loop: stop every pid the lab's PID namespace hands out next (the last one is in
 * /proc/loadavg), and look at what it holds while it is stopped: its file descriptors, environment,
 * memory and whether ptrace attaches. Then let it go.
 */
const CATCHER = String.raw`
import ctypes, json, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
end = time.time() + float(sys.argv[1])
me = os.getpid()
caught = {}

def attempt(fn):
    try:
        return fn()
    except OSError as e:
        return '!%d' % e.errno

def look(pid):
    r = {'pid': pid}
    r['cmdline'] = attempt(lambda: open('/proc/%d/cmdline' % pid, 'rb').read().replace(b'\0', b' ').decode('latin1')[:300])
    status = attempt(lambda: open('/proc/%d/status' % pid).read())
    if not status.startswith('!'):
        fields = dict(l.split(':\t', 1) for l in status.split('\n') if ':\t' in l)
        r['name'] = fields.get('Name', '').strip()
        r['uid'] = fields.get('Uid', '').split()[0] if fields.get('Uid') else ''
        r['capeff'] = fields.get('CapEff', '').strip()
    r['fds'] = attempt(lambda: {fd: attempt(lambda: os.readlink('/proc/%d/fd/%s' % (pid, fd))) for fd in os.listdir('/proc/%d/fd' % pid)})
    # The spawner's environment names its agent; a program's (after exec) does not.
    r['environ'] = attempt(lambda: 'spawner' if b'NSLAB_AGENT_PID=' in open('/proc/%d/environ' % pid, 'rb').read() else 'program')
    # The spawner's image maps node; a program's does not.
    r['maps'] = attempt(lambda: 'node' if '/node' in open('/proc/%d/maps' % pid).read() else 'program')
    if libc.ptrace(PTRACE_SEIZE, pid, None, None) == 0:
        r['ptrace'] = 'attached to ' + attempt(lambda: os.readlink('/proc/%d/exe' % pid))
        # Detaching needs a tracee in a ptrace stop: interrupt it, wait for the stop, let go.
        libc.ptrace(PTRACE_INTERRUPT, pid, None, None)
        try:
            os.waitpid(pid, 0x40000000)
        except OSError:
            pass
        libc.ptrace(PTRACE_DETACH, pid, None, None)
    else:
        r['ptrace'] = '!%d' % ctypes.get_errno()
    return r

while time.time() < end:
    last = int(open('/proc/loadavg').read().split()[4])
    for pid in range(last + 1, last + 5):
        if pid in caught or pid == me:
            continue
        try:
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            continue
        try:
            caught[pid] = look(pid)
        finally:
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
print(json.dumps(list(caught.values())))
`;

interface Caught {
  pid: number;
  cmdline: string;
  name?: string;
  uid?: string;
  capeff?: string;
  fds: Record<string, string> | string;
  environ: string;
  maps: string;
  ptrace: string;
}

/** Still the spawner's image (forked, not yet exec'd): its command line or name is the spawner's. */
const isAgentImage = (c: Caught) => /spawner|nslab-s/.test(c.cmdline) || c.name === 'node' || /^nslab-s/.test(c.name ?? '');

test('a process the agent puts into a lab cannot be read, traced or used before it execs', { skip }, async (t) => {
  const lab = await agent.manager.open('pid');
  const nested = await agent.manager.open('user');
  try {
    await put(lab, 'host', '/tmp/catch.py', CATCHER);
    const catching = run(lab, 'host', 'python3 /tmp/catch.py 12');
    // Meanwhile the agent starts processes in the lab, as any learner makes it do: execs (the
    // lesson checker's too) and pane restarts, in a pane with its own PID namespace and without.
    const deadline = Date.now() + 10_000;
    const work = async () => {
      while (Date.now() < deadline) {
        await run(lab, 'host', 'true');
        await run(lab, 'container', 'true');
        await lab.startPane(lab.pane('container')!);
        await lab.startPane(lab.pane('host')!);
      }
    };
    await work();
    const out = await catching;
    assert.equal(out.code, 0, out.err);
    const caught = JSON.parse(out.out) as Caught[];
    const agentImages = caught.filter(isAgentImage);
    t.diagnostic(`caught ${caught.length} processes, ${agentImages.length} of them before their exec`);
    assert.ok(agentImages.length > 0, `the attack reached processes before exec (${caught.length} caught, none of the agent's)`);
    // The kernel lets a same-uid process look at another while it execs (the new image is
    // dumpable before close-on-exec runs) or exits; whatever it finds then must be harmless.
    for (const c of agentImages) {
      const what = `pid ${c.pid} (${c.name}) caught before exec`;
      assert.notEqual(c.environ, 'spawner', `${what}: the spawner's environment is not readable`);
      assert.notEqual(c.maps, 'node', `${what}: the spawner's memory map is not readable`);
      assert.doesNotMatch(c.ptrace, /^attached to .*node/, `${what}: ptrace does not attach to the spawner's image`);
      if (typeof c.fds === 'string') continue;
      for (const [fd, target] of Object.entries(c.fds)) {
        if (Number(fd) > 2) assert.match(target, /^(\/dev\/null|!\d+)$/, `${what}: fd ${fd} -> ${target}`);
      }
    }
    // Whatever the attacker could read belongs to the lab: no fd of any caught process leads to the
    // agent's channel, the host's /proc or another lab.
    for (const c of caught) {
      if (typeof c.fds === 'string') continue;
      for (const [fd, target] of Object.entries(c.fds)) {
        assert.doesNotMatch(String(target), /^\/proc(\/\d+)?$|nslab|\/run\/|eventpoll|eventfd/, `pid ${c.pid} fd ${fd} -> ${target}`);
      }
    }
    // The lab still works after being poked at.
    for (const p of lab.panes.values()) await waitForPrompt(p);
    assert.equal((await run(nested, 'container', 'id -u')).out.trim(), '0');
  } finally {
    await agent.manager.close(lab.id);
    await agent.manager.close(nested.id);
  }
});

test("a pid that is not the lab's own is refused: by the lab's check and by the spawner's kill", { skip }, async () => {
  const lab = await agent.manager.open('uts');
  const other = await agent.manager.open('uts');
  const victim: ChildProcess = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const hostPid = victim.pid!;
    assert.throws(() => lab.verifyProcess(hostPid), /not a process of lab/);
    assert.throws(() => lab.verifyProcess(other.pane('host')!.pid!), /not a process of lab/);
    assert.equal(lab.verifyProcess(lab.pane('host')!.pid!), true);
    assert.equal(lab.verifyProcess(lab.pane('container')!.pid!), true);
    // The check panes and execs go through, off the event loop: the same answers, including for
    // a process in a PID namespace made inside a lab (its own lab's, and another lab's).
    await assert.rejects(lab.verifyProcessAsync(hostPid), /not a process of lab/);
    await assert.rejects(lab.verifyProcessAsync(other.pane('host')!.pid!), /not a process of lab/);
    assert.equal(await lab.verifyProcessAsync(lab.pane('host')!.pid!), true);
    const nestedPid = await agent.manager.open('pid');
    try {
      const inner = nestedPid.pane('container')!.pid!;
      assert.equal(await nestedPid.verifyProcessAsync(inner), true, "a process in a child PID namespace of its lab is the lab's");
      await assert.rejects(lab.verifyProcessAsync(inner), /not a process of lab/);
    } finally {
      await agent.manager.close(nestedPid.id);
    }
    await assert.rejects(agent.manager.spawner.kill(hostPid, 9), /not a process the spawner started/);
    assert.equal(spawnSync('kill', ['-0', String(hostPid)]).status, 0, 'the host process is alive');
    // Its own processes it still signals, through their pidfds.
    const pane = lab.pane('host')!;
    const before = pane.pid!;
    await lab.startPane(pane);
    assert.notEqual(pane.pid, before);
    await waitFor('the old shell to be gone', () => spawnSync('kill', ['-0', String(before)]).status !== 0);
  } finally {
    victim.kill('SIGKILL');
    await agent.manager.close(lab.id);
    await agent.manager.close(other.id);
  }
});

// ---- 2. output floods ---------------------------------------------------------------------------

test('an exec that floods its output is cut at the cap; the spawner and every other lab go on', { skip }, async () => {
  const lab = await agent.manager.open('uts');
  const other = await agent.manager.open('uts');
  try {
    const spawnerPid = agent.manager.spawner.pid;
    await waitForPrompt(other.pane('host')!);
    let echoes = 0;
    let stop = false;
    const typing = (async () => {
      while (!stop) {
        await typeAndWait(other.pane('host')!, `echo tick-$((${echoes}+1000))\n`, new RegExp(`tick-${echoes + 1000}`));
        echoes++;
      }
    })().then(
      () => null,
      (err: Error) => err,
    );
    const floods = await Promise.all([
      lab.exec(lab.pane('host')!, ['head', '-c', '400000000', '/dev/zero']),
      lab.exec(lab.pane('container')!, ['sh', '-c', 'head -c 300000000 /dev/zero >&2']),
      lab.exec(lab.pane('host')!, ['sh', '-c', 'yes | head -c 600000000']),
    ]);
    for (const f of floods) {
      assert.equal(f.truncated, true, 'cut at the cap');
      assert.ok(Buffer.from(f.stdout, 'base64').length + Buffer.from(f.stderr, 'base64').length <= 4 * 1024 * 1024);
      assert.equal(f.timedOut, false, 'the command ended (its pipe closed), it did not wait for the timeout');
    }
    // The lesson checker runs commands the learner can replace: make them print gigabytes.
    await run(lab, 'host', 'for b in hostname uname; do printf "#!/bin/sh\\nexec head -c 500000000 /dev/zero\\n" > /usr/bin/$b; chmod +x /usr/bin/$b; done');
    const entry = agent.manager.catalogue.get('uts')!;
    const statuses = await checkTasks(lab, entry.tasks);
    assert.equal(statuses.length, entry.tasks.length);
    assert.ok(
      statuses.every((s) => s.status === 'pending'),
      'no task passes on garbage',
    );
    stop = true;
    assert.equal(await typing, null, 'the other lab kept answering');
    assert.ok(echoes > 0, 'the other lab answered meanwhile');
    assert.equal(agent.manager.spawner.pid, spawnerPid, 'the spawner did not die');
    assert.equal(lab.state, 'open');
    assert.equal((await run(other, 'host', 'echo still')).out.trim(), 'still');
    assert.equal((await run(lab, 'host', 'echo mine-too')).out.trim(), 'mine-too');
  } finally {
    await agent.manager.close(lab.id);
    await agent.manager.close(other.id);
  }
});

// ---- 3. the kernel's per-user counters -----------------------------------------------------------

const INOTIFY_INSTANCES = `
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
fds = []
while True:
    fd = libc.inotify_init1(0)
    if fd < 0:
        break
    fds.append(fd)
print('held %d %d' % (len(fds), ctypes.get_errno()), flush=True)
time.sleep(120)
`;

const INOTIFY_WATCHES = `
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
paths = []
for top in ('/usr/lib', '/usr/share', '/usr/bin', '/etc'):
    for d, dirs, files in os.walk(top):
        paths += [os.path.join(d, f).encode() for f in files]
        paths.append(d.encode())
        if len(paths) > 4000:
            break
    if len(paths) > 4000:
        break
held, err, fds = 0, 0, []
while err == 0 and len(fds) < 120:
    fd = libc.inotify_init1(0)
    if fd < 0:
        err = ctypes.get_errno()
        break
    fds.append(fd)
    for p in paths:
        if libc.inotify_add_watch(fd, p, 0x100) < 0:
            e = ctypes.get_errno()
            if e in (28, 24):
                err = e
                break
        else:
            held += 1
print('held %d %d' % (held, err), flush=True)
time.sleep(120)
`;

const MQUEUES = `
import ctypes, sys, time
libc = ctypes.CDLL('libc.so.6', use_errno=True)
libc.mq_open.restype = ctypes.c_int
libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
n = 0
while n < 4096:
    if libc.mq_open(('/nslab-flood-%d' % n).encode(), 0o100 | 2, 0o600, None) < 0:
        break
    n += 1
print('held %d %d' % (n, ctypes.get_errno()), flush=True)
time.sleep(120)
`;

const HOST_INOTIFY =
  'import ctypes; l = ctypes.CDLL(None, use_errno=True); fd = l.inotify_init1(0); print(fd >= 0 and "ok" or "errno %d" % ctypes.get_errno())';
const HOST_WATCH =
  'import ctypes; l = ctypes.CDLL(None, use_errno=True); fd = l.inotify_init1(0); w = l.inotify_add_watch(fd, b"/tmp", 0x100) if fd >= 0 else -1; print(w >= 0 and "ok" or "errno %d" % ctypes.get_errno())';
const HOST_MQUEUE = `
import ctypes, os
l = ctypes.CDLL('libc.so.6', use_errno=True)
l.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
name = ('/nslab-host-probe-%d' % os.getpid()).encode()
fd = l.mq_open(name, 0o100 | 2, 0o600, None)
print(fd >= 0 and 'ok' or 'errno %d' % ctypes.get_errno())
if fd >= 0: l.mq_unlink(name)
`;

for (const [what, script, hostProbe, labProbe] of [
  ['inotify instances', INOTIFY_INSTANCES, HOST_INOTIFY, HOST_INOTIFY],
  ['inotify watches', INOTIFY_WATCHES, HOST_WATCH, HOST_WATCH],
  ['POSIX message queues', MQUEUES, HOST_MQUEUE, HOST_MQUEUE],
] as const) {
  test(`${what} exhausted in one lab are that lab's alone: the host and another lab still get theirs`, { skip }, async () => {
    const lab = await agent.manager.open('uts');
    const other = await agent.manager.open('uts');
    try {
      const pid = await background(lab, 'host', 'exhaust', script);
      const line = await lineOf(lab, 'host', 'exhaust', 'held ');
      const [, held, errno] = line.split(' ').map(Number);
      assert.ok(held! > 0, `the lab got some: ${line}`);
      assert.ok([24, 28].includes(errno!), `then hit a limit (EMFILE or ENOSPC): ${line}`);
      assert.equal(hostPython(hostProbe), 'ok', `host root still gets ${what} while the lab holds ${held}`);
      await put(other, 'host', '/tmp/probe.py', labProbe);
      assert.equal((await run(other, 'host', 'python3 /tmp/probe.py')).out.trim(), 'ok', `another lab still gets ${what}`);
      await run(lab, 'host', `kill ${pid}`);
    } finally {
      await agent.manager.close(lab.id);
      await agent.manager.close(other.id);
    }
  });
}

// ---- 4. PTYs -----------------------------------------------------------------------------------

const OPEN_PTYS = `
import os, sys, time
ptmx = sys.argv[1]
fds = []
err = 0
while len(fds) < 20000:
    try:
        fds.append(os.open(ptmx, os.O_RDWR | os.O_NOCTTY))
    except OSError as e:
        err = e.errno
        break
print('held %d %d' % (len(fds), err), flush=True)
time.sleep(120)
`;

const ptyCount = () => Number(readFileSync('/proc/sys/kernel/pty/nr', 'utf8'));

test("PTYs: a lab is bounded in its own /dev/pts, cannot lift the bound, and cannot starve other labs' panes", { skip }, async () => {
  const bound = agent.manager.config.limits.ptys;
  const lab = await agent.manager.open('uts');
  try {
    // Its devpts was mounted by host root: lab root cannot raise its max.
    const remount = await run(lab, 'host', 'mount -o remount,max=100000 /dev/pts');
    assert.notEqual(remount.code, 0, 'remounting the lab devpts is refused');
    const before = ptyCount();
    const own = await background(lab, 'host', 'ptys', OPEN_PTYS, '/dev/ptmx');
    const line = await lineOf(lab, 'host', 'ptys', 'held ');
    const [, held, errno] = line.split(' ').map(Number);
    assert.equal(errno, 28, `ENOSPC at the bound: ${line}`);
    assert.ok(held! <= bound && held! >= bound - 4, `at most ${bound} PTYs in the lab (its two panes hold two): ${line}`);
    assert.ok(ptyCount() - before <= bound, `the host count grew by ${ptyCount() - before}`);
    // A devpts of its own draws on the shared pool, but never on the part panes use.
    const mounted = await run(lab, 'host', 'mkdir -p /tmp/pts && mount -t devpts -o newinstance,ptmxmode=0666 devpts /tmp/pts && echo mounted');
    assert.match(mounted.out, /mounted/, `a learner may mount a devpts of their own: ${mounted.err}`);
    const flood2 = await background(lab, 'host', 'ptys3', OPEN_PTYS, '/tmp/pts/ptmx');
    const line2 = await lineOf(lab, 'host', 'ptys3', 'held ');
    assert.match(line2, / 28$/, `its own devpts ends at the shared pool: ${line2}`);
    // Another lab opens with both panes, and its learner gets terminals; so does the host.
    const other = await agent.manager.open('uts');
    try {
      for (const p of other.panes.values()) await waitForPrompt(p);
      const opened = await run(other, 'host', 'python3 -c "import os; [os.openpty() for _ in range(4)]; print(\'ptys ok\')"');
      assert.equal(opened.out.trim(), 'ptys ok', opened.err);
      assert.equal(hostPython('import os; os.openpty(); print("ok")'), 'ok');
    } finally {
      await agent.manager.close(other.id);
    }
    await run(lab, 'host', `kill ${own} ${flood2}`);
  } finally {
    await agent.manager.close(lab.id);
  }
});

// ---- 5. the Host header --------------------------------------------------------------------------

function get(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { headers, setHost: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function upgrade(url: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/api/ws?v=2`, {
      setHost: false,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(String(res.statusCode));
    });
    req.on('response', (res) => {
      res.resume();
      resolve(String(res.statusCode));
    });
    req.on('error', (err) => (/socket hang up|ECONNRESET/.test(err.message) ? resolve('closed') : reject(err)));
    req.end();
  });
}

test('only Host names the agent knows are served (no DNS rebinding onto a local agent)', { skip }, async () => {
  const side = await sideAgent(17, { allowedHosts: ['nslab.example.org'] });
  try {
    const port = side.port;
    const session = await get(side.url, '/api/session', { host: `127.0.0.1:${port}` });
    assert.equal(session.status, 200);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'nslab.example.org', `nslab.example.org:${port}`]) {
      assert.equal((await get(side.url, '/healthz', { host })).status, 200, host);
    }
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`, `nslab.example.org.evil:${port}`, '']) {
      const r = await get(side.url, '/api/session', { host, origin: `http://${host}` });
      assert.equal(r.status, 421, `Host "${host}" is refused (${r.status} ${r.body})`);
      assert.match(r.body, /allowedHosts|NSLAB_ALLOWED_HOSTS/);
    }
    // The attack: a page of evil.example, re-pointed at 127.0.0.1, upgrading with its own cookie.
    const cookie = 'nslab_session=anything';
    assert.equal(await upgrade(side.url, { host: `evil.example:${port}`, origin: `http://evil.example:${port}`, cookie }), '421');
    assert.equal(await upgrade(side.url, { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` }), '101');
  } finally {
    await side.close();
  }
});
