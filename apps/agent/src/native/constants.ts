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
  HUP: 1,
  INT: 2,
  QUIT: 3,
  KILL: 9,
  PIPE: 13,
  TERM: 15,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  WINCH: 28,
} as const;
export const SIG_DFL = 0;
export const SIG_IGN = 1;
export const SIG_SETMASK = 2;

export const PR = {
  SET_PDEATHSIG: 1,
  SET_DUMPABLE: 4,
  SET_NAME: 15,
  SET_CHILD_SUBREAPER: 36,
  GET_SECCOMP: 21,
  CAPBSET_READ: 23,
  CAPBSET_DROP: 24,
  SET_NO_NEW_PRIVS: 38,
  GET_NO_NEW_PRIVS: 39,
  CAP_AMBIENT: 47,
} as const;
export const PR_CAP_AMBIENT_CLEAR_ALL = 4;

/** Capability numbers (linux/capability.h). */
export const CAP = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  DAC_READ_SEARCH: 2,
  FOWNER: 3,
  FSETID: 4,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
  SETPCAP: 8,
  LINUX_IMMUTABLE: 9,
  NET_BIND_SERVICE: 10,
  NET_BROADCAST: 11,
  NET_ADMIN: 12,
  NET_RAW: 13,
  IPC_LOCK: 14,
  IPC_OWNER: 15,
  SYS_MODULE: 16,
  SYS_RAWIO: 17,
  SYS_CHROOT: 18,
  SYS_PTRACE: 19,
  SYS_PACCT: 20,
  SYS_ADMIN: 21,
  SYS_BOOT: 22,
  SYS_NICE: 23,
  SYS_RESOURCE: 24,
  SYS_TIME: 25,
  SYS_TTY_CONFIG: 26,
  MKNOD: 27,
  LEASE: 28,
  AUDIT_WRITE: 29,
  AUDIT_CONTROL: 30,
  SETFCAP: 31,
  MAC_OVERRIDE: 32,
  MAC_ADMIN: 33,
  SYSLOG: 34,
  WAKE_ALARM: 35,
  BLOCK_SUSPEND: 36,
  AUDIT_READ: 37,
  PERFMON: 38,
  BPF: 39,
  CHECKPOINT_RESTORE: 40,
} as const;
export type CapName = keyof typeof CAP;

export const TIOC = {
  SCTTY: 0x540e,
  STI: 0x5412,
  GWINSZ: 0x5413,
  SWINSZ: 0x5414,
  GPTN: 0x80045430,
  SPTLCK: 0x40045431,
  LINUX: 0x541c,
} as const;

export const SIOC = { GIFFLAGS: 0x8913, SIFFLAGS: 0x8914, GIFADDR: 0x8915, GIFNETMASK: 0x891b } as const;
export const IFF_UP = 0x1;
export const AF_UNIX = 1;
export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_SEQPACKET = 5;
export const SOCK_CLOEXEC = 0o2000000;
/** sendmsg/recvmsg flags and the one control message used (passing file descriptors). */
export const MSG = { CTRUNC: 0x8, DONTWAIT: 0x40, NOSIGNAL: 0x4000, CMSG_CLOEXEC: 0x40000000 } as const;
export const SOL_SOCKET = 1;
export const SCM_RIGHTS = 1;

/** Securebits (linux/securebits.h): with NO_SETUID_FIXUP, a uid change leaves capabilities alone. */
export const PR_SET_SECUREBITS = 28;
export const SECBIT_NO_SETUID_FIXUP = 1 << 2;

/** The new mount API (linux/mount.h): a filesystem made by fsopen/fsconfig/fsmount, attached by move_mount. */
export const FSOPEN_CLOEXEC = 1;
export const FSMOUNT_CLOEXEC = 1;
export const FSCONFIG = { SET_STRING: 1, CMD_CREATE: 6 } as const;
export const MOUNT_ATTR = { RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8 } as const;
export const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
export const AT_FDCWD = -100;

/** ioctl on a namespace file (linux/nsfs.h): a descriptor for its parent namespace. */
export const NS_GET_PARENT = 0xb702;

export const WNOHANG = 1;
export const P_PIDFD = 3;
export const WEXITED = 4;

export const MADV_DOFORK = 11;
export const CLOSE_RANGE_CLOEXEC = 1 << 2;

export const RLIMIT = { CORE: 4, NPROC: 6, NOFILE: 7 } as const;
export const EPERM = 1;

/** Syscall numbers for calls glibc has no wrapper for. */
export const SYS =
  process.arch === 'arm64'
    ? { pivot_root: 41, pidfd_open: 434, close_range: 436, pidfd_send_signal: 424, seccomp: 277, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432 }
    : { pivot_root: 155, pidfd_open: 434, close_range: 436, pidfd_send_signal: 424, seccomp: 317, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432 };

// ---- seccomp and classic BPF (linux/seccomp.h, linux/filter.h, linux/audit.h) ----

export const SECCOMP_SET_MODE_FILTER = 1;
/** seccomp(2) return actions; the low 16 bits of RET_ERRNO carry the errno. */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  ERRNO: 0x00050000,
  ALLOW: 0x7fff0000,
} as const;

/** Offsets into struct seccomp_data: nr (int), arch (u32), instruction_pointer (u64), args[6] (u64). */
export const SECCOMP_DATA = { nr: 0, arch: 4, args: 16 } as const;

/** Classic BPF opcode parts. */
export const BPF = {
  LD: 0x00,
  JMP: 0x05,
  RET: 0x06,
  W: 0x00,
  ABS: 0x20,
  JEQ: 0x10,
  JGE: 0x30,
  K: 0x00,
} as const;
/** Bytes in one struct sock_filter (u16 code, u8 jt, u8 jf, u32 k). */
export const BPF_INSN_SIZE = 8;
export const BPF_MAXINSNS = 4096;

export const AUDIT_ARCH = { X86_64: 0xc000003e, AARCH64: 0xc00000b7, I386: 0x40000003 } as const;
/** Set in the syscall number of x32 calls made on an x86_64 kernel. */
export const X32_SYSCALL_BIT = 0x40000000;

/**
 * Numbers of the syscalls the lab's seccomp filter looks at, per architecture (x86_64 from
 * arch/x86/entry/syscalls/syscall_64.tbl, arm64 from the generic table). A name missing on an
 * architecture (iopl on arm64) does not exist there and needs no rule.
 */
export const SYSCALL_NR: Record<'x64' | 'arm64', Record<string, number>> = {
  x64: {
    ioctl: 16,
    personality: 135,
    uselib: 134,
    ustat: 136,
    sysfs: 139,
    vhangup: 153,
    _sysctl: 156,
    adjtimex: 159,
    acct: 163,
    settimeofday: 164,
    swapon: 167,
    swapoff: 168,
    reboot: 169,
    iopl: 172,
    ioperm: 173,
    create_module: 174,
    init_module: 175,
    delete_module: 176,
    get_kernel_syms: 177,
    query_module: 178,
    quotactl: 179,
    nfsservctl: 180,
    lookup_dcookie: 212,
    clock_settime: 227,
    kexec_load: 246,
    add_key: 248,
    request_key: 249,
    keyctl: 250,
    perf_event_open: 298,
    fanotify_init: 300,
    name_to_handle_at: 303,
    open_by_handle_at: 304,
    clock_adjtime: 305,
    finit_module: 313,
    kexec_file_load: 320,
    bpf: 321,
    userfaultfd: 323,
    syslog: 103,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
    quotactl_fd: 443,
  },
  arm64: {
    ioctl: 29,
    personality: 92,
    vhangup: 58,
    adjtimex: 171,
    acct: 89,
    settimeofday: 170,
    swapon: 224,
    swapoff: 225,
    reboot: 142,
    init_module: 105,
    delete_module: 106,
    quotactl: 60,
    nfsservctl: 42,
    lookup_dcookie: 18,
    clock_settime: 112,
    kexec_load: 104,
    add_key: 217,
    request_key: 218,
    keyctl: 219,
    perf_event_open: 241,
    fanotify_init: 262,
    name_to_handle_at: 264,
    open_by_handle_at: 265,
    clock_adjtime: 266,
    finit_module: 273,
    kexec_file_load: 294,
    bpf: 280,
    userfaultfd: 282,
    syslog: 116,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
    quotactl_fd: 443,
  },
};

/** The per-user-namespace limits under /proc/sys/user that count namespaces. */
export const NAMESPACE_COUNT_SYSCTLS = [
  'max_user_namespaces',
  'max_mnt_namespaces',
  'max_pid_namespaces',
  'max_net_namespaces',
  'max_uts_namespaces',
  'max_ipc_namespaces',
  'max_cgroup_namespaces',
  'max_time_namespaces',
] as const;
