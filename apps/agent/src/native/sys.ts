// Checked system calls: each returns its result or throws a SyscallError naming the call, its
// target and the errno. Nothing here allocates more than a small buffer, so the spawner's
// forked children can use it between fork and exec.
import koffi from 'koffi';
import { libc, WinSize } from './libc.js';
import { SyscallError } from './errors.js';
import {
  SYS,
  SIG_SETMASK,
  TIOC,
  PR,
  O,
  MADV_DOFORK,
  CLOSE_RANGE_CLOEXEC,
  WNOHANG,
  F_GETFL,
  F_SETFL,
  AT_SYMLINK_NOFOLLOW,
  MFD_CLOEXEC,
  PR_CAP_AMBIENT_CLEAR_ALL,
  SECCOMP_SET_MODE_FILTER,
  BPF_INSN_SIZE,
  AF_UNIX,
  SOCK_CLOEXEC,
  MSG,
  SOL_SOCKET,
  SCM_RIGHTS,
  PR_SET_SECUREBITS,
  FSOPEN_CLOEXEC,
  FSMOUNT_CLOEXEC,
  FSCONFIG,
  MOVE_MOUNT_F_EMPTY_PATH,
  AT_FDCWD,
  NS_GET_PARENT,
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
    check(
      'prctl',
      libc.prctl(PR.CAP_AMBIENT, 'unsigned long', PR_CAP_AMBIENT_CLEAR_ALL, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0),
      'PR_CAP_AMBIENT_CLEAR_ALL',
    ),
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
  setrlimitBig: (resource: number, lim: { cur: bigint; max: bigint }) => check('setrlimit', libc.setrlimit(resource, lim), `resource ${resource}`),
  setrlimit: (resource: number, cur: number, max: number) =>
    check('setrlimit', libc.setrlimit(resource, { cur: BigInt(cur), max: BigInt(max) }), `resource ${resource}`),

  unshare: (flags: number, what: string) => check('unshare', libc.unshare(flags), what),
  setns: (fd: number, nstype: number, what: string) => check('setns', libc.setns(fd, nstype), what),
  sethostname(name: string) {
    const b = Buffer.from(name);
    check('sethostname', libc.sethostname(name, b.length), name);
  },
  /** uname(2): the host and domain names of the calling thread's UTS namespace. */
  uname(): { nodename: string; domainname: string } {
    // struct utsname: six fields of 65 bytes (sysname, nodename, release, version, machine, domainname).
    const buf = Buffer.alloc(65 * 6);
    check('uname', libc.uname(buf));
    const field = (i: number) => {
      const f = buf.subarray(i * 65, (i + 1) * 65);
      const end = f.indexOf(0);
      return f.subarray(0, end < 0 ? 65 : end).toString('utf8');
    };
    return { nodename: field(1), domainname: field(5) };
  },
  setresuid: (id: number) => check('setresuid', libc.setresuid(id, id, id), `uid ${id}`),
  setresgid: (id: number) => check('setresgid', libc.setresgid(id, id, id), `gid ${id}`),
  clearGroups: () => check('setgroups', libc.setgroups(0, null), 'clear supplementary groups'),

  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null) {
    check('mount', libc.mount(source, target, fstype, flags, data), `${fstype ?? source ?? ''} on ${target}`);
  },
  umount2: (target: string, flags: number) => check('umount2', libc.umount2(target, flags), target),
  pivotRoot: (newRoot: string, putOld: string) => check('pivot_root', libc.syscall(SYS.pivot_root, 'const char *', newRoot, 'const char *', putOld), newRoot),
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
  openat: (dirfd: number, path: string, flags: number, mode = 0) => check('openat', libc.openat(dirfd, path, flags, 'unsigned int', mode), path),
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
  ioctlInt: (fd: number, req: number, arg: number, what: string) => check('ioctl', libc.ioctl(fd, req, 'unsigned long', arg), what),
  ioctlPtr: (fd: number, req: number, arg: Uint8Array, what: string) => check('ioctl', libc.ioctl(fd, req, 'uint8_t *', arg), what),
  setWinSize(fd: number, cols: number, rows: number) {
    const ws = Buffer.alloc(koffi.sizeof(WinSize));
    ws.writeUInt16LE(rows, 0);
    ws.writeUInt16LE(cols, 2);
    check('ioctl', libc.ioctl(fd, TIOC.SWINSZ, 'uint8_t *', ws), 'TIOCSWINSZ');
  },
  socket: (domain: number, type: number) => check('socket', libc.socket(domain, type, 0)),
  /** A connected pair of close-on-exec Unix sockets of `type` (SOCK_SEQPACKET keeps message edges). */
  socketpair(type: number): [number, number] {
    const fds = new Int32Array(2);
    check('socketpair', libc.socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds));
    return [fds[0]!, fds[1]!];
  },
  /** Send one message, with `passFds` attached as SCM_RIGHTS (at most 8). Never raises SIGPIPE. */
  sendMessage(fd: number, data: Uint8Array, passFds: number | number[] = []) {
    const fds = typeof passFds === 'number' ? [passFds] : passFds;
    if (data.length > MESSAGE_BYTES) throw new Error(`a message of ${data.length} bytes (at most ${MESSAGE_BYTES})`);
    if (fds.length > MAX_PASSED_FDS) throw new Error(`${fds.length} descriptors in one message (at most ${MAX_PASSED_FDS})`);
    const m = messageBuffer('send');
    m.bytes.set(data, DATA_AT);
    writeMsghdr(m, data.length, fds.length ? 16 + 4 * fds.length : 0);
    if (fds.length) {
      m.view.setBigUint64(CONTROL_AT, BigInt(16 + 4 * fds.length), true); // cmsg_len = CMSG_LEN(n * sizeof(int))
      m.view.setInt32(CONTROL_AT + 8, SOL_SOCKET, true);
      m.view.setInt32(CONTROL_AT + 12, SCM_RIGHTS, true);
      fds.forEach((f, i) => {
        m.view.setInt32(CONTROL_AT + 16 + 4 * i, f, true);
      });
    }
    for (;;) {
      const r = Number(libc.sendmsg(fd, m.ptr, MSG.NOSIGNAL));
      if (r >= 0) return;
      if (koffi.errno() !== koffi.os.errno.EINTR) throw new SyscallError('sendmsg', koffi.errno(), `fd ${fd}`);
    }
  },
  /**
   * Receive one message (without blocking, unless `block`): its bytes and the descriptors passed
   * with it (received close-on-exec); 'again' when none is waiting; 'end' once every peer has closed.
   */
  receiveMessage(fd: number, block = false): { data: Buffer; fds: number[]; truncated: boolean } | 'again' | 'end' {
    const m = messageBuffer('receive');
    writeMsghdr(m, MESSAGE_BYTES, CONTROL_BYTES);
    const n = Number(libc.recvmsg(fd, m.ptr, (block ? 0 : MSG.DONTWAIT) | MSG.CMSG_CLOEXEC));
    if (n < 0) {
      const e = koffi.errno();
      if (e === koffi.os.errno.EAGAIN || e === koffi.os.errno.EINTR) return 'again';
      throw new SyscallError('recvmsg', e, `fd ${fd}`);
    }
    const fds: number[] = [];
    const controlLen = Number(m.view.getBigUint64(40, true));
    for (let at = 0; at + 16 <= controlLen; ) {
      const len = Number(m.view.getBigUint64(CONTROL_AT + at, true));
      if (len < 16) break;
      if (m.view.getInt32(CONTROL_AT + at + 8, true) === SOL_SOCKET && m.view.getInt32(CONTROL_AT + at + 12, true) === SCM_RIGHTS) {
        for (let i = 16; i + 4 <= len; i += 4) fds.push(m.view.getInt32(CONTROL_AT + at + i, true));
      }
      at += (len + 7) & ~7;
    }
    const flags = m.view.getInt32(48, true);
    if (n === 0 && fds.length === 0) return 'end';
    return { data: Buffer.from(m.bytes.subarray(DATA_AT, DATA_AT + n)), fds, truncated: (flags & MSG.CTRUNC) !== 0 };
  },

  posixOpenpt: (flags: number) => check('posix_openpt', libc.posix_openpt(flags)),
  grantpt: (fd: number) => check('grantpt', libc.grantpt(fd)),
  unlockpt: (fd: number) => check('unlockpt', libc.unlockpt(fd)),
  ptsNumber(fd: number): number {
    const b = new Uint8Array(4);
    check('ioctl', libc.ioctl(fd, TIOC.GPTN, 'uint8_t *', b), 'TIOCGPTN');
    return new DataView(b.buffer).getUint32(0, true);
  },

  pidfdOpen: (pid: number) => check('pidfd_open', libc.syscall(SYS.pidfd_open, 'int', pid, 'unsigned int', 0), `pid ${pid}`),
  /** Signal exactly the process behind `pidfd` (never a later process that reused its pid). */
  pidfdSendSignal: (pidfd: number, sig: number, what: string) =>
    check('pidfd_send_signal', libc.syscall(SYS.pidfd_send_signal, 'int', pidfd, 'int', sig, 'void *', null, 'unsigned int', 0), what),
  /** Close every descriptor from 3 up except those in `keep`. */
  closeAllExcept(keep: number[]) {
    let from = 3;
    for (const fd of [...keep].filter((f) => f >= 3).sort((a, b) => a - b)) {
      if (fd > from) check('close_range', libc.syscall(SYS.close_range, 'unsigned int', from, 'unsigned int', fd - 1, 'unsigned int', 0));
      from = fd + 1;
    }
    check('close_range', libc.syscall(SYS.close_range, 'unsigned int', from, 'unsigned int', 0xffffffff, 'unsigned int', 0));
  },
  /** The process's name (comm, up to 15 bytes), as ps and /proc/PID/status show it. */
  setName: (name: string) =>
    check('prctl', libc.prctl(PR.SET_NAME, 'const char *', name.slice(0, 15), 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0), 'PR_SET_NAME'),
  setSecurebits: (bits: number) =>
    check('prctl', libc.prctl(PR_SET_SECUREBITS, 'unsigned long', bits, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0), 'PR_SET_SECUREBITS'),
  /**
   * A filesystem instance made with the new mount API, not attached anywhere yet: fsopen, one
   * fsconfig per option, create, fsmount. Returns the mount's fd (for moveMount).
   */
  makeDetachedMount(fstype: string, options: Record<string, string>, attrFlags: number): number {
    const fsfd = check('fsopen', libc.syscall(SYS.fsopen, 'const char *', fstype, 'unsigned int', FSOPEN_CLOEXEC), fstype);
    try {
      for (const [key, value] of Object.entries(options)) {
        check(
          'fsconfig',
          libc.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', FSCONFIG.SET_STRING, 'const char *', key, 'const char *', value, 'int', 0),
          `${fstype} ${key}=${value}`,
        );
      }
      check(
        'fsconfig',
        libc.syscall(SYS.fsconfig, 'int', fsfd, 'unsigned int', FSCONFIG.CMD_CREATE, 'void *', null, 'void *', null, 'int', 0),
        `${fstype} create`,
      );
      return check('fsmount', libc.syscall(SYS.fsmount, 'int', fsfd, 'unsigned int', FSMOUNT_CLOEXEC, 'unsigned int', attrFlags), fstype);
    } finally {
      sys.close(fsfd);
    }
  },
  /** Attach a detached mount (from makeDetachedMount) at `target`. */
  moveMount: (mountFd: number, target: string) =>
    check(
      'move_mount',
      libc.syscall(SYS.move_mount, 'int', mountFd, 'const char *', '', 'int', AT_FDCWD, 'const char *', target, 'unsigned int', MOVE_MOUNT_F_EMPTY_PATH),
      target,
    ),
  /** A descriptor for the parent of the namespace behind `nsFd` (EPERM past the caller's own). */
  nsParent: (nsFd: number) => check('ioctl', libc.ioctl(nsFd, NS_GET_PARENT, 'unsigned long', 0), 'NS_GET_PARENT'),
  /** Mark every fd from `from` upwards close-on-exec. */
  cloexecFrom: (from: number) =>
    check('close_range', libc.syscall(SYS.close_range, 'unsigned int', from, 'unsigned int', 0xffffffff, 'unsigned int', CLOSE_RANGE_CLOEXEC)),

  /**
   * Node marks V8's heap MADV_DONTFORK; a forked child that touches it faults. Undo that over
   * the whole address space just before fork, with one madvise per range (see doForkRanges): no
   * JavaScript runs between it and the fork, so no heap page mapped meanwhile can be missed.
   */
  markAllDoFork() {
    doForkRanges ??= findDoForkRanges();
    for (const [lo, len] of doForkRanges) libc.madvise(lo, len, MADV_DOFORK);
  },
};

// ---- messages on Unix sockets (sendmsg/recvmsg with one SCM_RIGHTS descriptor) --------------
// struct msghdr on LP64 (x86_64, arm64): name@0 namelen@8 iov@16 iovlen@24 control@32
// controllen@40 flags@48; struct iovec: base@0 len@8; struct cmsghdr: len@0 level@8 type@12 data@16.

/** The largest message sent or received. */
export const MESSAGE_BYTES = 4096;
const IOV_AT = 64;
const CONTROL_AT = 128;
const MAX_PASSED_FDS = 8;
const CONTROL_BYTES = 64;
const DATA_AT = 256;

interface MessageBuffer {
  ptr: unknown;
  base: bigint;
  view: DataView;
  bytes: Uint8Array;
}
const messageBuffers: Record<'send' | 'receive', MessageBuffer | null> = { send: null, receive: null };

/** One block of memory that never moves, for msghdr, iovec, control and data (made once). */
function messageBuffer(which: 'send' | 'receive'): MessageBuffer {
  const size = DATA_AT + MESSAGE_BYTES;
  if (!messageBuffers[which]) {
    const ptr = koffi.alloc('uint8_t', size);
    const ab = koffi.view(ptr, size);
    messageBuffers[which] = { ptr, base: koffi.address(ptr), view: new DataView(ab), bytes: new Uint8Array(ab) };
  }
  return messageBuffers[which]!;
}

function writeMsghdr(m: MessageBuffer, dataLen: number, controlLen: number) {
  m.bytes.fill(0, 0, DATA_AT);
  m.view.setBigUint64(16, m.base + BigInt(IOV_AT), true);
  m.view.setBigUint64(24, 1n, true);
  if (controlLen) {
    m.view.setBigUint64(32, m.base + BigInt(CONTROL_AT), true);
    // The kernel wants the buffer's length rounded up as CMSG_SPACE does.
    m.view.setBigUint64(40, BigInt((controlLen + 7) & ~7), true);
  }
  m.view.setBigUint64(IOV_AT, m.base + BigInt(DATA_AT), true);
  m.view.setBigUint64(IOV_AT + 8, BigInt(dataLen), true);
}

/** The end of the user address space with 4-level page tables (47 bits on x86_64, 48 on arm64). */
const USER_SPACE_END = process.arch === 'arm64' ? 1n << 48n : 0x7ffffffff000n;
let doForkRanges: Array<[bigint, bigint]> | null = null;

/**
 * The user address space minus the mappings madvise(MADV_DOFORK) refuses with EINVAL (the
 * kernel's [vvar] pages: a refusal ends madvise's walk over the rest of a range). Those never
 * move, so this is worked out once, from /proc/self/maps, and inherited by every forked copy.
 * Holes in a range are fine: madvise skips them (and says ENOMEM at the end).
 */
function findDoForkRanges(): Array<[bigint, bigint]> {
  const maps = readFileSync('/proc/self/maps', 'latin1');
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
