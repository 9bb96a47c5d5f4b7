// Every libc prototype the agent and its spawner call, declared once.
// Callers use the checked wrappers in sys.ts, which turn a -1 into a named SyscallError.
import koffi from 'koffi';

const lib = koffi.load('libc.so.6');

export const WinSize = koffi.struct('nslab_winsize', {
  ws_row: 'uint16_t',
  ws_col: 'uint16_t',
  ws_xpixel: 'uint16_t',
  ws_ypixel: 'uint16_t',
});

export const RLimit = koffi.struct('nslab_rlimit', { cur: 'uint64_t', max: 'uint64_t' });

/** struct sock_fprog: a classic BPF program (len instructions of 8 bytes each) for seccomp(2). */
export const SockFprog = koffi.struct('nslab_sock_fprog', { len: 'uint16_t', filter: 'const uint8_t *' });

export const libc = {
  // processes
  fork: lib.func('int fork(void)'),
  _exit: lib.func('void _exit(int status)'),
  getpid: lib.func('int getpid(void)'),
  getppid: lib.func('int getppid(void)'),
  kill: lib.func('int kill(int pid, int sig)'),
  waitpid: lib.func('int waitpid(int pid, int *status, int options)'),
  execve: lib.func('int execve(const char *path, const char **argv, const char **envp)'),
  setsid: lib.func('int setsid(void)'),
  prctl: lib.func('int prctl(int option, ...)'),
  signal: lib.func('intptr_t signal(int sig, intptr_t handler)'),
  sigprocmask: lib.func('int sigprocmask(int how, const uint8_t *set, uint8_t *oldset)'),
  setrlimit: lib.func('int setrlimit(int resource, const nslab_rlimit *rlim)'),
  prlimit: lib.func('int prlimit(int pid, int resource, const nslab_rlimit *new_limit, _Out_ nslab_rlimit *old_limit)'),
  madvise: lib.func('int madvise(uintptr_t addr, size_t len, int advice)'),
  syscall: lib.func('long syscall(long number, ...)'),

  // namespaces and credentials
  unshare: lib.func('int unshare(int flags)'),
  setns: lib.func('int setns(int fd, int nstype)'),
  sethostname: lib.func('int sethostname(const char *name, size_t len)'),
  uname: lib.func('int uname(uint8_t *buf)'),
  setresuid: lib.func('int setresuid(uint32_t r, uint32_t e, uint32_t s)'),
  setresgid: lib.func('int setresgid(uint32_t r, uint32_t e, uint32_t s)'),
  setgroups: lib.func('int setgroups(size_t size, const uint32_t *list)'),

  // mounts
  mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),
  umount2: lib.func('int umount2(const char *target, int flags)'),
  chdir: lib.func('int chdir(const char *path)'),
  fchdir: lib.func('int fchdir(int fd)'),

  // files
  open: lib.func('int open(const char *path, int flags, ...)'),
  close: lib.func('int close(int fd)'),
  read: lib.func('long read(int fd, uint8_t *buf, size_t count)'),
  write: lib.func('long write(int fd, const uint8_t *buf, size_t count)'),
  dup2: lib.func('int dup2(int oldfd, int newfd)'),
  fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),
  openat: lib.func('int openat(int dirfd, const char *path, int flags, ...)'),
  fchownat: lib.func('int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)'),
  readlinkat: lib.func('long readlinkat(int dirfd, const char *path, uint8_t *buf, size_t len)'),
  memfd_create: lib.func('int memfd_create(const char *name, unsigned int flags)'),
  lseek: lib.func('long lseek(int fd, long offset, int whence)'),
  pipe2: lib.func('int pipe2(int *fds, int flags)'),
  ioctl: lib.func('int ioctl(int fd, unsigned long request, ...)'),
  socket: lib.func('int socket(int domain, int type, int protocol)'),
  socketpair: lib.func('int socketpair(int domain, int type, int protocol, int *fds)'),
  sendmsg: lib.func('long sendmsg(int fd, void *msg, int flags)'),
  recvmsg: lib.func('long recvmsg(int fd, void *msg, int flags)'),

  // terminals
  posix_openpt: lib.func('int posix_openpt(int flags)'),
  grantpt: lib.func('int grantpt(int fd)'),
  unlockpt: lib.func('int unlockpt(int fd)'),
  ptsname_r: lib.func('int ptsname_r(int fd, uint8_t *buf, size_t len)'),
};
