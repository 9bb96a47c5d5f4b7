// Checked system calls: each returns its result or throws a SyscallError naming the call, its
// target and the errno. Nothing here allocates more than a small buffer, so the spawner's
// forked children can use it between fork and exec.
import koffi from 'koffi';
import { libc, RLimit, WinSize } from './libc.js';
import { SyscallError } from './errors.js';
import {
  SYS, SIG_SETMASK, TIOC, PR, O, MADV_DOFORK, CLOSE_RANGE_CLOEXEC, WNOHANG, F_GETFL, F_SETFL, AT_SYMLINK_NOFOLLOW, MFD_CLOEXEC,
  PR_CAP_AMBIENT_CLEAR_ALL, SECCOMP_SET_MODE_FILTER, BPF_INSN_SIZE,
} from './constants.js';
import { readFileSync } from 'node:fs';

function check(name: string, ret: number | bigint, what?: string): number {
  const n = Number(ret);
  if (n < 0) throw new SyscallError(name, koffi.errno(), what);
  return n;
}

export const sys = {
  fork: () => check('fork', libc.fork()),
  exit: (code: number): never => {
    libc._exit(code);
    throw new Error('unreachable');
  },
  getpid: (): number => libc.getpid(),
  getppid: (): number => libc.getppid(),
  kill: (pid: number, sig: number) => check('kill', libc.kill(pid, sig), `pid ${pid}`),
  /** waitpid(pid, WNOHANG): null while the child runs, else its raw wait status. */
  waitNoHang(pid: number): { pid: number; status: number } | null {
    const st = new Int32Array(1);
    const r = check('waitpid', libc.waitpid(pid, st, WNOHANG), `pid ${pid}`);
    return r === 0 ? null : { pid: r, status: st[0]! };
  },
  waitBlocking(pid: number): number {
    const st = new Int32Array(1);
    for (;;) {
      const r = libc.waitpid(pid, st, 0);
      if (r >= 0) return st[0]!;
      if (koffi.errno() !== koffi.os.errno.EINTR) throw new SyscallError('waitpid', koffi.errno(), `pid ${pid}`);
    }
  },
  execve(path: string, argv: string[], env: string[]): never {
    libc.execve(path, [...argv, null], [...env, null]);
    throw new SyscallError('execve', koffi.errno(), path);
  },
  setsid: () => check('setsid', libc.setsid()),
  prctl: (what: string, option: number, arg: number) =>
    check('prctl', libc.prctl(option, 'unsigned long', arg, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0), what),
  setPdeathsig: (sig: number) => sys.prctl('PR_SET_PDEATHSIG', PR.SET_PDEATHSIG, sig),
  /** No exec from here on may gain privileges (setuid bits, file capabilities). Inherited, permanent. */
  setNoNewPrivs: () => sys.prctl('PR_SET_NO_NEW_PRIVS', PR.SET_NO_NEW_PRIVS, 1),
  /** Remove one capability from the bounding set: no exec can give it back. */
  dropBoundingCap: (cap: number) => sys.prctl(`PR_CAPBSET_DROP ${cap}`, PR.CAPBSET_DROP, cap),
  clearAmbientCaps: () =>
    check('prctl', libc.prctl(PR.CAP_AMBIENT, 'unsigned long', PR_CAP_AMBIENT_CLEAR_ALL, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0), 'PR_CAP_AMBIENT_CLEAR_ALL'),
  /**
   * Install a seccomp filter: `program` holds classic BPF instructions (8 bytes each). The caller
   * must have set no_new_privs (or hold CAP_SYS_ADMIN). The filter outlives fork and exec.
   */
  installSeccomp(program: Uint8Array) {
    if (program.length === 0 || program.length % BPF_INSN_SIZE) throw new Error(`a BPF program of ${program.length} bytes`);
    const fprog = { len: program.length / BPF_INSN_SIZE, filter: program };
    check(
      'seccomp',
      libc.syscall(SYS.seccomp, 'unsigned int', SECCOMP_SET_MODE_FILTER, 'unsigned int', 0, 'nslab_sock_fprog *', fprog),
      'SECCOMP_SET_MODE_FILTER',
    );
  },
  setSignalDefault(sig: number, ignore = false) {
    const r = libc.signal(sig, ignore ? 1 : 0);
    if (Number(r) === -1) throw new SyscallError('signal', koffi.errno(), `signal ${sig}`);
  },
  unblockAllSignals: () => check('sigprocmask', libc.sigprocmask(SIG_SETMASK, new Uint8Array(128), null)),
  /** Another process's limit for `resource` (prlimit without a new value). */
  getProcessRlimit(pid: number, resource: number): { cur: bigint; max: bigint } {
    const out = { cur: 0n, max: 0n };
    check('prlimit', libc.prlimit(pid, resource, null, out), `pid ${pid} resource ${resource}`);
    return { cur: BigInt(out.cur), max: BigInt(out.max) };
  },
  setrlimitBig: (resource: number, lim: { cur: bigint; max: bigint }) =>
    check('setrlimit', libc.setrlimit(resource, lim), `resource ${resource}`),
  setrlimit: (resource: number, cur: number, max: number) =>
    check('setrlimit', libc.setrlimit(resource, { cur: BigInt(cur), max: BigInt(max) }), `resource ${resource}`),

  unshare: (flags: number, what: string) => check('unshare', libc.unshare(flags), what),
  setns: (fd: number, nstype: number, what: string) => check('setns', libc.setns(fd, nstype), what),
  sethostname(name: string) {
    const b = Buffer.from(name);
    check('sethostname', libc.sethostname(name, b.length), name);
  },
  setresuid: (id: number) => check('setresuid', libc.setresuid(id, id, id), `uid ${id}`),
  setresgid: (id: number) => check('setresgid', libc.setresgid(id, id, id), `gid ${id}`),
  clearGroups: () => check('setgroups', libc.setgroups(0, null), 'clear supplementary groups'),

  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null) {
    check('mount', libc.mount(source, target, fstype, flags, data), `${fstype ?? source ?? ''} on ${target}`);
  },
  umount2: (target: string, flags: number) => check('umount2', libc.umount2(target, flags), target),
  pivotRoot: (newRoot: string, putOld: string) =>
    check('pivot_root', libc.syscall(SYS.pivot_root, 'const char *', newRoot, 'const char *', putOld), newRoot),
  chdir: (path: string) => check('chdir', libc.chdir(path), path),
  fchdir: (fd: number, what: string) => check('fchdir', libc.fchdir(fd), what),

  open: (path: string, flags: number, mode = 0o644) => check('open', libc.open(path, flags, 'unsigned int', mode), path),
  close: (fd: number) => check('close', libc.close(fd), `fd ${fd}`),
  read(fd: number, buf: Uint8Array, len = buf.length): number {
    return check('read', libc.read(fd, buf, len), `fd ${fd}`);
  },
  /** read() that returns -errno instead of throwing: for non-blocking loops (EAGAIN, EIO). */
  readRaw(fd: number, buf: Uint8Array, len = buf.length): number {
    const r = Number(libc.read(fd, buf, len));
    return r < 0 ? -koffi.errno() : r;
  },
  write(fd: number, data: Uint8Array, what = `fd ${fd}`): number {
    return check('write', libc.write(fd, data, data.length), what);
  },
  writeRaw(fd: number, data: Uint8Array): number {
    const r = Number(libc.write(fd, data, data.length));
    return r < 0 ? -koffi.errno() : r;
  },
  dup2: (from: number, to: number) => check('dup2', libc.dup2(from, to), `${from} -> ${to}`),
  /** A close-on-exec pipe: [read end, write end]. */
  pipe(): [number, number] {
    const fds = new Int32Array(2);
    check('pipe2', libc.pipe2(fds, O.CLOEXEC));
    return [fds[0]!, fds[1]!];
  },
  setNonBlocking(fd: number) {
    const fl = check('fcntl', libc.fcntl(fd, F_GETFL, 'int', 0), `F_GETFL fd ${fd}`);
    check('fcntl', libc.fcntl(fd, F_SETFL, 'int', fl | O.NONBLOCK), `F_SETFL fd ${fd}`);
  },
  openat: (dirfd: number, path: string, flags: number, mode = 0) =>
    check('openat', libc.openat(dirfd, path, flags, 'unsigned int', mode), path),
  fchownatNoFollow: (dirfd: number, path: string, uid: number, gid: number) =>
    check('fchownat', libc.fchownat(dirfd, path, uid, gid, AT_SYMLINK_NOFOLLOW), path),
  readlinkat(dirfd: number, path: string): string {
    const buf = Buffer.alloc(256);
    const n = check('readlinkat', libc.readlinkat(dirfd, path, buf, buf.length), path);
    return buf.subarray(0, n).toString();
  },
  /** An anonymous in-memory file holding `data`, positioned at its start. */
  memfdWith(name: string, data: Uint8Array): number {
    const fd = check('memfd_create', libc.memfd_create(name, MFD_CLOEXEC), name);
    let off = 0;
    while (off < data.length) off += sys.write(fd, data.subarray(off), `memfd ${name}`);
    check('lseek', libc.lseek(fd, 0, 0), `memfd ${name}`);
    return fd;
  },
  ioctlInt: (fd: number, req: number, arg: number, what: string) =>
    check('ioctl', libc.ioctl(fd, req, 'unsigned long', arg), what),
  ioctlPtr: (fd: number, req: number, arg: Uint8Array, what: string) =>
    check('ioctl', libc.ioctl(fd, req, 'uint8_t *', arg), what),
  setWinSize(fd: number, cols: number, rows: number) {
    const ws = Buffer.alloc(koffi.sizeof(WinSize));
    ws.writeUInt16LE(rows, 0);
    ws.writeUInt16LE(cols, 2);
    check('ioctl', libc.ioctl(fd, TIOC.SWINSZ, 'uint8_t *', ws), 'TIOCSWINSZ');
  },
  socket: (domain: number, type: number) => check('socket', libc.socket(domain, type, 0)),

  posixOpenpt: (flags: number) => check('posix_openpt', libc.posix_openpt(flags)),
  grantpt: (fd: number) => check('grantpt', libc.grantpt(fd)),
  unlockpt: (fd: number) => check('unlockpt', libc.unlockpt(fd)),
  ptsNumber(fd: number): number {
    const b = new Uint8Array(4);
    check('ioctl', libc.ioctl(fd, TIOC.GPTN, 'uint8_t *', b), 'TIOCGPTN');
    return new DataView(b.buffer).getUint32(0, true);
  },

  pidfdOpen: (pid: number) => check('pidfd_open', libc.syscall(SYS.pidfd_open, 'int', pid, 'unsigned int', 0), `pid ${pid}`),
  /** Mark every fd from `from` upwards close-on-exec. */
  cloexecFrom: (from: number) =>
    check('close_range', libc.syscall(SYS.close_range, 'unsigned int', from, 'unsigned int', 0xffffffff, 'unsigned int', CLOSE_RANGE_CLOEXEC)),

  /**
   * Node marks V8's heap MADV_DONTFORK; a forked child that touches it faults. Undo that over
   * the whole address space just before fork, with one madvise per range (see doForkRanges): no
   * JavaScript runs between it and the fork, so no heap page mapped meanwhile can be missed.
   */
  markAllDoFork(procDirFd?: number) {
    doForkRanges ??= findDoForkRanges(procDirFd);
    for (const [lo, len] of doForkRanges) libc.madvise(lo, len, MADV_DOFORK);
  },
};

/** The end of the user address space with 4-level page tables (47 bits on x86_64, 48 on arm64). */
const USER_SPACE_END = process.arch === 'arm64' ? 1n << 48n : 0x7ffffffff000n;
let doForkRanges: Array<[bigint, bigint]> | null = null;

/**
 * The user address space minus the mappings madvise(MADV_DOFORK) refuses with EINVAL (the
 * kernel's [vvar] pages: a refusal ends madvise's walk over the rest of a range). Those never
 * move, so this is worked out once, from /proc/self/maps, and inherited by every forked copy.
 * Holes in a range are fine: madvise skips them (and says ENOMEM at the end).
 */
function findDoForkRanges(procDirFd?: number): Array<[bigint, bigint]> {
  let maps: string;
  if (procDirFd === undefined) maps = readFileSync('/proc/self/maps', 'latin1');
  else {
    // Through a held /proc: "self" is resolved now, so it is this process.
    const fd = sys.openat(procDirFd, 'self/maps', O.RDONLY | O.CLOEXEC);
    try {
      maps = readFileSync(fd, 'latin1');
    } finally {
      sys.close(fd);
    }
  }
  const refused: Array<[bigint, bigint]> = [];
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (!m) continue;
    const lo = BigInt('0x' + m[1]);
    const hi = BigInt('0x' + m[2]);
    if (hi > USER_SPACE_END) continue;
    if (libc.madvise(lo, hi - lo, MADV_DOFORK) < 0 && koffi.errno() === koffi.os.errno.EINVAL) refused.push([lo, hi]);
  }
  const ranges: Array<[bigint, bigint]> = [];
  let at = 0x1000n;
  for (const [lo, hi] of refused.sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (lo > at) ranges.push([at, lo - at]);
    at = hi;
  }
  if (at < USER_SPACE_END) ranges.push([at, USER_SPACE_END - at]);
  return ranges;
}

/** Decode a raw wait status. */
export function decodeWaitStatus(status: number): { exitCode: number | null; signal: number | null } {
  const sig = status & 0x7f;
  if (sig === 0) return { exitCode: (status >> 8) & 0xff, signal: null };
  return { exitCode: null, signal: sig };
}
