// Every libc / kernel constant the agent uses, in one place (x86_64 and arm64 Linux share these).

export const CLONE = {
  NEWTIME: 0x00000080,
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  BIND: 4096,
  REC: 16384,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
} as const;

export const MNT_DETACH = 2;

export const F_GETFL = 3;
export const F_SETFL = 4;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const MFD_CLOEXEC = 1;

export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  NOCTTY: 0o400,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  CLOEXEC: 0o2000000,
  NOFOLLOW: 0o400000,
} as const;

export const SIG = {
  HUP: 1, INT: 2, QUIT: 3, KILL: 9, PIPE: 13, TERM: 15, CHLD: 17, CONT: 18, STOP: 19, WINCH: 28,
} as const;
export const SIG_DFL = 0;
export const SIG_IGN = 1;
export const SIG_SETMASK = 2;

export const PR = {
  SET_PDEATHSIG: 1,
  SET_DUMPABLE: 4,
  SET_NAME: 15,
  SET_CHILD_SUBREAPER: 36,
  SET_NO_NEW_PRIVS: 38,
} as const;

export const TIOC = {
  SCTTY: 0x540e,
  GWINSZ: 0x5413,
  SWINSZ: 0x5414,
  GPTN: 0x80045430,
  SPTLCK: 0x40045431,
} as const;

export const SIOC = { GIFFLAGS: 0x8913, SIFFLAGS: 0x8914 } as const;
export const IFF_UP = 0x1;
export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = 0o2000000;

export const WNOHANG = 1;
export const P_PIDFD = 3;
export const WEXITED = 4;

export const MADV_DOFORK = 11;
export const CLOSE_RANGE_CLOEXEC = 1 << 2;

export const RLIMIT = { CORE: 4, NPROC: 6, NOFILE: 7 } as const;

/** Syscall numbers for calls glibc has no wrapper for. */
export const SYS =
  process.arch === 'arm64'
    ? { pivot_root: 41, pidfd_open: 434, close_range: 436, pidfd_send_signal: 424 }
    : { pivot_root: 155, pidfd_open: 434, close_range: 436, pidfd_send_signal: 424 };
