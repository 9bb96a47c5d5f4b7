// The hardening of every lab process, attacked from inside real labs: each case asks the kernel
// (the errno of a raw system call, /proc/PID/status, mountinfo, the process table) rather than
// trusting our own code. Where the kernel would refuse a call anyway, a run of the same probe
// without the filter (as root of a fresh user namespace on the host, and as host root) shows
// that the filter, not only the user namespace, is what answers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningAgent } from '../../apps/agent/src/server/agent.ts';
import type { Lab } from '../../apps/agent/src/sandbox/lab.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import { CAP, SYSCALL_NR, TIOC } from '../../apps/agent/src/native/constants.ts';
import { buildSeccompProgram, disassemble, DENIED_SYSCALLS } from '../../apps/agent/src/spawner/seccomp.ts';
import { boundingSetHex, KEPT_CAPS, NAMESPACES_PER_USER } from '../../apps/agent/src/spawner/harden.ts';
import { LAB_MASKED_PATHS } from '../../apps/agent/src/spawner/kernel-paths.ts';
import { startTestAgent, testConfig, run, typeAndWait, waitForPrompt } from '../helpers/agent.ts';
import { rootOrSkip, IN_CI } from '../helpers/env.ts';

const skip = rootOrSkip('the hardening tests');

const EPERM = 1;
const SIGSYS = 31;
const ARCH = process.arch === 'arm64' ? 'arm64' : 'x64';
const NR = SYSCALL_NR[ARCH];

// ---- probes: one raw system call each, printing "name errno" (0 for success) ----------------

/** Calls the filter must refuse, with arguments harmless even to host root without a filter. */
const DENIED_PROBES: Record<string, string> = {
  init_module: 'syscall($NR{init_module}, 0, 0, $empty)',
  finit_module: 'syscall($NR{finit_module}, -1, $empty, 0)',
  delete_module: 'syscall($NR{delete_module}, $nomod, 0x800)',
  kexec_load: 'syscall($NR{kexec_load}, 0, 0, 0, 0xdead0000)',
  kexec_file_load: 'syscall($NR{kexec_file_load}, -1, -1, 0, 0, 0xdead0000)',
  bpf: 'syscall($NR{bpf}, 0xffff, 0, 0)',
  perf_event_open: 'syscall($NR{perf_event_open}, 0, 0, -1, -1, 0)',
  keyctl: 'syscall($NR{keyctl}, 0, -3, 0)',
  add_key: 'syscall($NR{add_key}, $notype, $desc, 0, 0, -3)',
  request_key: 'syscall($NR{request_key}, $notype, $desc, 0, -3)',
  open_by_handle_at: 'syscall($NR{open_by_handle_at}, -1, 0, 0)',
  name_to_handle_at: 'syscall($NR{name_to_handle_at}, -100, $root, $fh, $mnt, 0)',
  userfaultfd: 'syscall($NR{userfaultfd}, 1)',
  io_uring_setup: 'syscall($NR{io_uring_setup}, 1, $uring)',
  acct: 'syscall($NR{acct}, $nofile)',
  swapon: 'syscall($NR{swapon}, $nofile, 0)',
  swapoff: 'syscall($NR{swapoff}, $nofile)',
  reboot: 'syscall($NR{reboot}, 0, 0, 0, 0)',
  settimeofday: 'syscall($NR{settimeofday}, 0, 0)',
  clock_settime: 'syscall($NR{clock_settime}, 0, 0)',
  clock_adjtime: 'syscall($NR{clock_adjtime}, 0, $timex)',
  adjtimex: 'syscall($NR{adjtimex}, $timex)',
  quotactl: 'syscall($NR{quotactl}, 0, 0, 0, 0)',
  syslog: 'syscall($NR{syslog}, 10, 0, 0)',
  fanotify_init: 'syscall($NR{fanotify_init}, 0, 0)',
  lookup_dcookie: 'syscall($NR{lookup_dcookie}, 0, 0, 0)',
  ...(ARCH === 'x64' ? { iopl: 'syscall($NR{iopl}, 0)', ioperm: 'syscall($NR{ioperm}, 0, 0, 0)' } : {}),
  'ioctl TIOCSTI': `syscall($NR{ioctl}, 0, ${TIOC.STI}, $byte)`,
  'ioctl TIOCSTI, high bits set': `syscall($NR{ioctl}, 0, ${0x1_0000_0000 + TIOC.STI}, $byte)`,
  'ioctl TIOCLINUX': `syscall($NR{ioctl}, 0, ${TIOC.LINUX}, $byte)`,
  'personality READ_IMPLIES_EXEC': 'syscall($NR{personality}, 0x0400000)',
};

/** Calls the filter must let through, with what the kernel says to them. */
const ALLOWED_PROBES: Record<string, string> = {
  getppid: 'syscall($NR{getppid})',
  'personality query': 'syscall($NR{personality}, 0xffffffff)',
  'ioctl TCGETS': `syscall($NR{ioctl}, 0, 0x5401, $termios)`,
  'unshare uts': 'syscall($NR{unshare}, 0x04000000)',
};

function probeScript(probes: Record<string, string>): string {
  const nr = { ...NR, getppid: ARCH === 'x64' ? 110 : 173, unshare: ARCH === 'x64' ? 272 : 97 };
  const lines = [
    `my %NR = (${Object.entries(nr)
      .map(([k, v]) => `${k} => ${v}`)
      .join(', ')});`,
    'my ($empty, $nomod, $notype, $desc, $root, $nofile, $byte) = ("", "nslab_no_such_module", "nslab_no_such_type", "d", "/", "/nonexistent-nslab", "Z");',
    'my ($fh, $mnt, $uring, $timex, $termios) = (pack("LL", 0, 0), "\\0" x 4, "\\0" x 120, "\\0" x 208, "\\0" x 64);',
    'sub p { my ($name, $r) = @_; print $name, "=", ($r == -1 ? $! + 0 : 0), "\\n"; }',
  ];
  for (const [name, call] of Object.entries(probes)) lines.push(`$! = 0; p(${JSON.stringify(name)}, ${call});`);
  return lines.join('\n');
}

function parseProbes(out: string): Record<string, number> {
  const r: Record<string, number> = {};
  for (const line of out.trim().split('\n')) {
    const eq = line.lastIndexOf('=');
    if (eq > 0) r[line.slice(0, eq)] = Number(line.slice(eq + 1));
  }
  return r;
}

/** A process that makes an i386 system call (getpid through int 0x80), printing its result. */
const I386_CALL = `
import ctypes, mmap
code = bytes([0xb8, 20, 0, 0, 0, 0xcd, 0x80, 0xc3])
buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
buf.write(code)
print("i386 getpid", ctypes.CFUNCTYPE(ctypes.c_long)(ctypes.addressof(ctypes.c_char.from_buffer(buf)))())
`;

/** Run `argv` on the host under the lab's filter (installed in a throwaway Node process). */
function underFilter(argv: string[]): { status: number | null; signal: NodeJS.Signals | null; out: string; err: string } {
  const code = `
    const { sys } = await import(${JSON.stringify(join(REPO_ROOT, 'apps/agent/src/native/sys.ts'))});
    const { buildSeccompProgram } = await import(${JSON.stringify(join(REPO_ROOT, 'apps/agent/src/spawner/seccomp.ts'))});
    const { spawnSync } = await import('node:child_process');
    sys.setNoNewPrivs();
    sys.installSeccomp(buildSeccompProgram());
    const r = spawnSync(${JSON.stringify(argv[0])}, ${JSON.stringify(argv.slice(1))}, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    process.stdout.write(JSON.stringify({ status: r.status, signal: r.signal, out: r.stdout, err: r.stderr }));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', cwd: REPO_ROOT });
  assert.equal(r.status, 0, `the filtered runner failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function hostRun(argv: string[]) {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

// ---- the labs ----------------------------------------------------------------------------------

let agent: RunningAgent;
/** pid: a host pane and a container pane with its own PID and mount namespaces. */
let pidLab: Lab;
/** user: a container pane that is root of a nested user namespace. */
let userLab: Lab;

before(async () => {
  if (skip) return;
  agent = await startTestAgent();
  pidLab = await agent.manager.open('pid');
  userLab = await agent.manager.open('user');
});

after(async () => {
  if (skip) return;
  await agent.close();
});

async function execIn(lab: Lab, pane: string, argv: string[]) {
  const r = await lab.exec(lab.pane(pane)!, argv);
  return {
    code: r.exitCode,
    signal: r.signal,
    out: Buffer.from(r.stdout, 'base64').toString(),
    err: Buffer.from(r.stderr, 'base64').toString(),
  };
}

function statusField(text: string, field: string): string {
  const m = new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(text);
  assert.ok(m, `no ${field} in status`);
  return m[1]!.trim();
}

// ---- the filter itself --------------------------------------------------------------------------

test('the filter program: arch check first, every denied call and ioctl present, jumps in range', () => {
  const lines = disassemble(buildSeccompProgram());
  assert.match(lines[0]!, /^0: ld \[4\]$/, 'loads the arch field first');
  assert.match(lines[1]!, new RegExp(`jeq 0x${(ARCH === 'x64' ? 0xc000003e : 0xc00000b7).toString(16)} \\? 2 : \\d+`));
  const kill = lines.findIndex((l) => l.endsWith('ret 0x80000000'));
  assert.ok(kill > 0, 'a kill-process return exists');
  assert.match(lines[1]!, new RegExp(`: ${kill}$`), 'a foreign arch jumps to kill');
  if (ARCH === 'x64') assert.match(lines[3]!, new RegExp(`jge 0x40000000 \\? ${kill} :`), 'x32 calls are killed');
  const deny = lines.findIndex((l) => l.endsWith('ret 0x50001'));
  for (const name of DENIED_SYSCALLS) {
    const nr = NR[name];
    if (nr === undefined) continue;
    assert.ok(
      lines.some((l) => l.includes(`jeq 0x${nr.toString(16)} ? ${deny} :`)),
      `${name} (${nr}) is denied`,
    );
  }
  for (const req of [TIOC.STI, TIOC.LINUX]) assert.ok(lines.some((l) => l.includes(`jeq 0x${req.toString(16)} ? ${deny} :`)));
  assert.ok(lines.length < 100, `a short program (${lines.length} instructions)`);
});

const HEADER = ARCH === 'x64' ? '/usr/include/x86_64-linux-gnu/asm/unistd_64.h' : '/usr/include/asm-generic/unistd.h';

test('the syscall numbers match the system headers', { skip: !IN_CI && !existsSync(HEADER) && 'no kernel headers' }, () => {
  const text = readFileSync(HEADER, 'utf8');
  let compared = 0;
  for (const [name, nr] of Object.entries(NR)) {
    const m = new RegExp(`#define __NR(?:3264)?_${name}\\s+(\\d+)`).exec(text);
    if (m) {
      assert.equal(Number(m[1]), nr, name);
      compared++;
    }
  }
  assert.ok(compared >= 25, `compared ${compared} numbers`);
});

test('under the filter, host root gets EPERM for each denied call and the normal answer otherwise', { skip }, () => {
  const script = probeScript({ ...DENIED_PROBES, ...ALLOWED_PROBES });
  const bare = parseProbes(hostRun(['perl', '-e', script]).out);
  const filtered = underFilter(['perl', '-e', script]);
  assert.equal(filtered.status, 0, filtered.err);
  const got = parseProbes(filtered.out);
  for (const name of Object.keys(DENIED_PROBES)) {
    assert.equal(got[name], EPERM, `${name}: EPERM under the filter`);
    assert.notEqual(bare[name], EPERM, `${name}: host root without the filter is not refused (got ${bare[name]})`);
  }
  for (const name of Object.keys(ALLOWED_PROBES)) assert.equal(got[name], bare[name], `${name} is untouched by the filter`);
});

test('under the filter, an i386 system call kills the process (SIGSYS)', { skip }, () => {
  const bare = hostRun(['python3', '-c', I386_CALL]);
  assert.equal(bare.status, 0, `without the filter the i386 call works here: ${bare.err}`);
  assert.match(bare.out, /i386 getpid \d+/);
  const filtered = underFilter(['python3', '-c', I386_CALL]);
  assert.equal(filtered.signal, 'SIGSYS');
  assert.doesNotMatch(filtered.out, /i386 getpid/);
});

// ---- in the labs ----------------------------------------------------------------------------------

test('every lab process: NoNewPrivs 1, Seccomp 2, bounding set cut to the kept capabilities', { skip }, async () => {
  const expected = boundingSetHex();
  const kept = BigInt('0x' + expected);
  for (const cap of ['SYS_MODULE', 'SYS_RAWIO', 'SYS_BOOT', 'SYS_RESOURCE', 'MKNOD', 'BPF', 'PERFMON', 'SYSLOG', 'MAC_ADMIN'] as const) {
    assert.equal(kept & (1n << BigInt(CAP[cap])), 0n, `${cap} is not kept`);
  }
  const check = (what: string, status: string, bnd = expected) => {
    assert.equal(statusField(status, 'NoNewPrivs'), '1', `${what}: no_new_privs`);
    assert.equal(statusField(status, 'Seccomp'), '2', `${what}: seccomp filter mode`);
    assert.equal(statusField(status, 'CapBnd'), bnd, `${what}: bounding set`);
    assert.equal(statusField(status, 'CapAmb'), '0000000000000000', `${what}: no ambient capabilities`);
  };
  // The processes the agent started, read from the host's /proc.
  check('the lab init', readFileSync(`/proc/${pidLab.initPid}/status`, 'utf8'));
  check('the anchor', readFileSync(`/proc/${pidLab.anchorPid}/status`, 'utf8'));
  for (const lab of [pidLab, userLab]) {
    for (const pane of lab.panes.values()) check(`${lab.lesson!.id}/${pane.name} shell`, readFileSync(`/proc/${pane.pid}/status`, 'utf8'));
  }
  // What a process sees of itself from inside: an exec'd command in each pane, and lab root's
  // effective set (the shell's permitted set is the bounding set).
  for (const [lab, pane] of [
    [pidLab, 'host'],
    [pidLab, 'container'],
    [userLab, 'container'],
  ] as const) {
    const r = await run(lab, pane, 'cat /proc/self/status');
    check(`exec in ${lab.lesson!.id}/${pane}`, r.out);
    assert.equal(statusField(r.out, 'CapEff'), expected, 'root in the lab holds no more than the bounding set');
  }
  // A user namespace the learner makes starts with a full bounding set (the kernel gives it
  // one), but no_new_privs and the filter follow it.
  const nested = await run(pidLab, 'host', 'unshare -Ur cat /proc/self/status');
  assert.equal(statusField(nested.out, 'NoNewPrivs'), '1');
  assert.equal(statusField(nested.out, 'Seccomp'), '2');
  assert.ok(Number(statusField(nested.out, 'Seccomp_filters')) >= 1);
  assert.ok(KEPT_CAPS.includes('SYS_ADMIN'));
});

test('denied calls answer EPERM in every kind of pane, where lab root without the filter would get another answer', { skip }, async () => {
  const script = probeScript({ ...DENIED_PROBES, ...ALLOWED_PROBES });
  // The same probes as root of a fresh user namespace on the host: what the kernel alone says.
  const control = parseProbes(hostRun(['unshare', '-Ur', 'perl', '-e', script]).out);
  const sites: Array<[Lab, string, string[]]> = [
    [pidLab, 'host', ['perl', '-e', script]],
    [pidLab, 'container', ['perl', '-e', script]],
    [userLab, 'container', ['perl', '-e', script]],
    [pidLab, 'host', ['unshare', '-Urf', 'perl', '-e', script]],
  ];
  for (const [lab, pane, argv] of sites) {
    const r = await execIn(lab, pane, argv);
    assert.equal(r.code, 0, r.err);
    const got = parseProbes(r.out);
    const where = `${lab.lesson!.id}/${pane} ${argv[0]}`;
    for (const name of Object.keys(DENIED_PROBES)) assert.equal(got[name], EPERM, `${where}: ${name}`);
    for (const name of Object.keys(ALLOWED_PROBES)) assert.notEqual(got[name], EPERM, `${where}: ${name} stays allowed`);
  }
  // The filter, not the user namespace, is what refuses these (the kernel alone answers otherwise).
  const shownByFilter = Object.keys(DENIED_PROBES).filter((n) => control[n] !== EPERM);
  for (const name of ['keyctl', 'name_to_handle_at', 'perf_event_open', 'adjtimex', 'ioctl TIOCSTI', 'personality READ_IMPLIES_EXEC', 'io_uring_setup']) {
    assert.ok(shownByFilter.includes(name), `${name}: without the filter lab root gets ${control[name]}`);
  }
});

test('an i386 system call from inside a lab kills the caller', { skip }, async () => {
  const r = await execIn(pidLab, 'host', ['python3', '-c', I386_CALL]);
  assert.equal(r.signal, SIGSYS, `killed by SIGSYS (exit ${r.code}, ${r.err})`);
  assert.doesNotMatch(r.out, /i386 getpid/);
});

test("TIOCSTI cannot push input into the pane's own terminal", { skip }, async () => {
  const pane = pidLab.pane('host')!;
  await waitForPrompt(pane);
  // If the byte were pushed, the shell would read "Z" before the next command: "Zecho".
  const screen = await typeAndWait(
    pane,
    `perl -e '$c = "Z"; print ioctl(STDIN, ${TIOC.STI}, $c) ? "INJECTED" : "refused:" . ($! + 0), "\\n"'\n` + 'echo after-$((40+2))\n',
    /after-42/,
  );
  // The screen's lines, without terminal controls (the echo of typed input may come in any order).
  // eslint-disable-next-line no-control-regex
  const lines = screen.split('\n').map((l) =>
    l
      .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      .replace(/\r/g, '')
      .trim(),
  );
  assert.ok(lines.includes('refused:1'), `EPERM: ${JSON.stringify(lines)}`);
  assert.ok(!lines.includes('INJECTED'));
  assert.ok(!lines.some((l) => l.includes('Zecho')), 'nothing was pushed into the input');
});

test('the clock and the kernel log stay the host’s: date -s and dmesg are refused', { skip }, async () => {
  const before = Date.now();
  const r = await run(pidLab, 'host', 'date -s "2001-01-01 00:00:00"');
  assert.notEqual(r.code, 0);
  assert.match(r.err, /Operation not permitted/);
  assert.ok(Math.abs(Date.now() - before) < 5000, 'the host clock did not move');
  const d = await run(pidLab, 'host', 'dmesg');
  assert.notEqual(d.code, 0);
  assert.match(d.err, /Operation not permitted/);
  // ...while the time lesson still makes time namespaces with their own offsets (writing
  // timens_offsets needs CAP_SYS_TIME in the lab's user namespace, not the host's).
  const t = await run(pidLab, 'host', 'unshare --time --boottime 86400 cat /proc/uptime; cat /proc/uptime');
  assert.equal(t.code, 0, t.err);
  const [shifted, own] = t.out
    .trim()
    .split('\n')
    .map((l) => Number(l.split(' ')[0]));
  assert.ok(shifted! - own! > 86000, `uptime ${shifted} in the new time namespace, ${own} outside`);
});

test("runc's masked paths are empty inside a lab, and the read-only ones refuse writes", { skip }, async () => {
  let masked = 0;
  for (const path of LAB_MASKED_PATHS) {
    if (!existsSync(path)) {
      const r = await run(pidLab, 'host', `test -e ${path}`);
      assert.notEqual(r.code, 0, `${path}: absent on the host, absent in the lab`);
      continue;
    }
    masked++;
    const r = await run(pidLab, 'host', `if [ -d ${path} ]; then ls -A ${path}; else cat ${path} | wc -c; fi`);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out.trim(), /^0?$/, `${path} shows nothing`);
    const mi = (await run(pidLab, 'host', 'cat /proc/self/mountinfo')).out;
    assert.ok(
      mi.split('\n').some((l) => l.split(' ')[4] === path),
      `${path} is covered by a mount`,
    );
  }
  assert.ok(masked >= 3, `at least three masked paths exist on this kernel (${masked})`);
  // /proc/sys is read-only: even a setting the lab's own network namespace owns.
  for (const file of ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/kernel/hostname']) {
    const w = await run(pidLab, 'host', `echo 1 > ${file}`);
    assert.notEqual(w.code, 0);
    assert.match(w.err, /Read-only file system/, file);
  }
  const limit = await run(pidLab, 'host', `echo 100000 > /proc/sys/user/max_user_namespaces`);
  assert.match(limit.err, /Read-only file system/);
  // The UTS lesson's hostname still works: sethostname(2), not /proc/sys.
  const h = await run(pidLab, 'host', 'hostname bird && hostname');
  assert.equal(h.out.trim(), 'bird');
  assert.notEqual(readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), 'bird');
});

test('masks do not stop the lessons: mount -t proc in a PID namespace, and in a nested user namespace', { skip }, async () => {
  const same = await run(pidLab, 'host', 'unshare -mpf sh -c "mount -t proc proc /proc && ps -e -o pid=,comm="');
  assert.equal(same.code, 0, same.err);
  const procs = same.out
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));
  assert.deepEqual(
    procs.map(([, comm]) => comm),
    ['sh', 'ps'],
    'sh and ps, alone in their PID namespace',
  );
  assert.equal(procs[0]![0], '1', 'sh is its PID 1');
  const nested = await run(pidLab, 'host', 'unshare -Urmpf --mount-proc sh -c "ls /proc/timer_list >/dev/null && echo NESTED-PROC"');
  assert.equal(nested.code, 0, nested.err);
  assert.match(nested.out, /NESTED-PROC/);
  // In a nested namespace the cover over the whole /proc kept for this is locked, and empty.
  const umount2 = ARCH === 'x64' ? 166 : 39;
  const cover = await execIn(pidLab, 'host', [
    'unshare',
    '-Urm',
    'perl',
    '-e',
    `$p = "/dev/.nslab"; print syscall(${umount2}, $p, 0) == -1 ? $! + 0 : 0, "\n"; opendir(D, $p) or die; print scalar(grep { !/^..?$/ } readdir(D)), "\n";`,
  ]);
  assert.deepEqual(cover.out.trim().split('\n'), ['22', '0'], `EINVAL: the cover is locked there, and empty (${cover.err})`);
});

test('fd hygiene: a pane and an exec see only 0, 1, 2 (and ls its own directory)', { skip }, async () => {
  const fds = (text: string) =>
    text
      .split('\n')
      .map((l) => /\s(\d+) -> (.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [Number(m[1]), m[2]!.trim()] as const);
  const exec = fds((await run(pidLab, 'host', 'ls -l /proc/self/fd')).out);
  assert.deepEqual(
    exec.map(([n]) => n),
    [0, 1, 2, 3],
  );
  assert.match(exec[3]![1], /^\/proc\/\d+\/fd$/, "fd 3 is ls's own directory");
  const pane = pidLab.pane('host')!;
  await waitForPrompt(pane);
  const screen = await typeAndWait(pane, 'ls -l /proc/self/fd; echo fds-$((1+1))\n', /fds-2/);
  // eslint-disable-next-line no-control-regex
  const seen = fds(screen.replace(/\r/g, '').replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''));
  assert.deepEqual(
    seen.map(([n]) => n),
    [0, 1, 2, 3],
    `pane: ${JSON.stringify(seen)}`,
  );
  assert.match(seen[3]![1], /^\/proc\/\d+\/fd/);
  // The processes the agent made hold nothing but their stdio (bash keeps its tty on 255).
  assert.deepEqual(
    readdirSync(`/proc/${pidLab.initPid}/fd`)
      .map(Number)
      .sort((a, b) => a - b),
    [0, 1, 2],
  );
  assert.deepEqual(
    readdirSync(`/proc/${pidLab.anchorPid}/fd`)
      .map(Number)
      .sort((a, b) => a - b),
    [0, 1, 2],
  );
  const shellFds = readdirSync(`/proc/${pane.pid}/fd`)
    .map(Number)
    .sort((a, b) => a - b);
  assert.deepEqual(
    shellFds.filter((n) => n !== 255),
    [0, 1, 2],
  );
  for (const fd of shellFds) assert.match(readlinkSync(`/proc/${pane.pid}/fd/${fd}`), /^\/dev\/pts\/\d+$/);
});

test("the lab's PID 1 reaps orphans: no zombie is left", { skip }, async () => {
  // Orphans: each parent exits (exec true) while its child still runs.
  // (Their output goes elsewhere: the exec's pipes would otherwise stay open until they end.)
  const r = await run(
    pidLab,
    'host',
    'for i in 1 2 3 4 5 6 7 8; do sh -c "sleep 0.3 >/dev/null 2>&1 & exec true"; done; sh -c "sleep 0.6 >/dev/null 2>&1 & echo \\$!"',
  );
  const orphan = Number(r.out.trim());
  assert.ok(orphan > 1, r.out);
  const parent = await run(pidLab, 'host', `ps -o ppid= -p ${orphan}`);
  assert.equal(parent.out.trim(), '1', 'the orphan now belongs to the lab init');
  await new Promise((res) => setTimeout(res, 1200));
  const gone = await run(pidLab, 'host', `ps -o stat= -p ${orphan}; ps -e -o stat=,pid=,comm= | awk '$1 ~ /^Z/'`);
  assert.equal(gone.out.trim(), '', `no zombie remains: ${gone.out}`);
});

test('nested user namespaces work but are bounded; the lab and the agent stay healthy', { skip }, async () => {
  const lab = await agent.manager.open('uts');
  try {
    const nested = await run(lab, 'host', 'unshare -Ur unshare -Ur unshare -Ur id -u');
    assert.equal(nested.out.trim(), '0', 'a user namespace three deep works');
    // Hold many user namespaces at once: each `unshare -U` sleeps inside its own.
    const many = 3 * NAMESPACES_PER_USER;
    // The kernel says how many distinct user namespaces the survivors sit in.
    const r = await run(
      lab,
      'host',
      `pids=""; for i in $(seq ${many}); do unshare -U sleep 30 2>>/tmp/ns-errors & pids="$pids $!"; done; sleep 1.5; ` +
        `for p in $pids; do readlink /proc/$p/ns/user 2>/dev/null; done | sort -u | wc -l | sed 's/^/held=/'; ` +
        `sort -u /tmp/ns-errors; kill $pids 2>/dev/null; wait`,
    );
    const held = Number(/held=(\d+)/.exec(r.out)?.[1]);
    assert.ok(held > 0 && held <= NAMESPACES_PER_USER, `held ${held} user namespaces (limit ${NAMESPACES_PER_USER}): ${r.out}`);
    assert.ok(held >= NAMESPACES_PER_USER - 2, `close to the limit: ${held}`);
    assert.match(r.out, /No space left on device/, 'the rest fail with ENOSPC, cleanly');
    assert.equal((await run(lab, 'host', 'echo alive')).out.trim(), 'alive');
    // The kernel releases a user namespace's count from a work queue, shortly after its last process.
    let again = '';
    for (let i = 0; i < 50 && again !== '0'; i++) {
      again = (await run(lab, 'host', 'unshare -Ur id -u')).out.trim();
      if (again !== '0') await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(again, '0', 'namespaces work again once released');
    assert.equal((await run(pidLab, 'host', 'echo other-lab')).out.trim(), 'other-lab');
  } finally {
    await agent.manager.close(lab.id);
  }
});

test('rlimits: no core dumps, the file limit set and not raisable', { skip }, async () => {
  const r = await run(pidLab, 'host', 'ulimit -c; ulimit -Hc; ulimit -n; ulimit -Hn; ulimit -Hn 1048576 2>&1 && echo RAISED');
  const lines = r.out.trim().split('\n');
  assert.deepEqual(lines.slice(0, 2), ['0', '0']);
  const nofile = String(testConfig().limits.nofile);
  assert.equal(lines[2], nofile);
  assert.equal(lines[3], nofile);
  assert.doesNotMatch(r.out, /RAISED/);
});

test('ptrace stays usable inside the lab (strace of a lab process)', { skip }, async () => {
  const r = await run(pidLab, 'host', 'strace -f -e trace=getppid perl -e "getppid" 2>&1 >/dev/null | grep -c getppid');
  assert.equal(r.code, 0, r.err);
  assert.ok(Number(r.out.trim()) >= 1);
});
