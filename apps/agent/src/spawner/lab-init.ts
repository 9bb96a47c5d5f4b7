// Making a lab, in the order bubblewrap and runc's nsenter would: the root filesystem is
// assembled by host root in a private mount namespace, then the lab's user namespace is joined
// and every other namespace is made inside it, so the learner is root there and only there.
//
//   spawner ── fork ──> anchor (host pid ns; ends as `sleep`, dies with the spawner)
//                         └─ fork ──> init, PID 1 of the lab (mounts /proc, pivots, ends as `sleep`)
//
// The lab's user namespace is made by a helper running as the lab's own host uid, so the kernel
// charges whatever the lab holds against per-user limits (ucounts: inotify instances and
// watches, message queue bytes, namespaces, pending signals) to that uid, not to host root. The
// lab's devpts is made by host root in the host's mount namespace: its superblock belongs to the
// host (lab root cannot remount it to lift its `max`), and it draws on the PTYs the kernel keeps
// in reserve for the initial mount namespace, which no devpts a learner mounts can touch.
import { mkdirSync, writeFileSync, existsSync, lstatSync, symlinkSync, chownSync } from 'node:fs';
import { sys, decodeWaitStatus } from '../native/sys.js';
import {
  CLONE,
  MS,
  MNT_DETACH,
  O,
  PR,
  SIG,
  AF_INET,
  SOCK_DGRAM,
  SOCK_CLOEXEC,
  SIOC,
  IFF_UP,
  RLIMIT,
  NAMESPACE_COUNT_SYSCTLS,
  MOUNT_ATTR,
  SECBIT_NO_SETUID_FIXUP,
} from '../native/constants.js';
import { LAB_MASKED_PATHS, LAB_READONLY_PATHS } from './kernel-paths.js';
import type { LabSpec } from './protocol.js';
import { Sequence, Reporter, forkInto, letGo, hideRuntime, nullify, outOfReach, resetSignals, joinCgroups, writeFile, timeOffsetsText } from './sequence.js';
import { harden, NAMESPACES_PER_USER } from './harden.js';

const LAB_NAMESPACES = CLONE.NEWNS | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWNET | CLONE.NEWCGROUP | CLONE.NEWPID | CLONE.NEWTIME;
const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

/** Runs in the anchor (first child). Never returns. */
export function labAnchor(spec: LabSpec, reportFd: number, spawnerPid: number): never {
  const s = new Sequence(new Reporter(reportFd));
  const root = `${spec.stageDir}/root`;
  return s.run(() => {
    s.step('let go of the spawner', () => letGo([reportFd], 'nslab-anchor'));
    s.step('join the lab cgroup', () => joinCgroups(spec.cgroupProcs));
    s.step('drop supplementary groups', () => sys.clearGroups());
    const delegation = spec.cgroupDelegation;
    const leafFds: number[] = [];
    if (delegation) {
      s.step('open the lab leaf cgroups', () => {
        spec.cgroupProcs.forEach((file, i) => {
          const leaf = delegation.labProcs[i];
          if (leaf !== undefined && leaf !== file) leafFds.push(sys.open(leaf, O.WRONLY | O.CLOEXEC));
        });
      });
    }
    // Before leaving the host's mount namespace: a devpts made there may use the PTY reserve.
    let devpts = -1;
    s.step('make the lab devpts', () => {
      devpts = sys.makeDetachedMount(
        'devpts',
        { max: String(spec.ptys), ptmxmode: '0666', mode: '0620', gid: String(spec.uidBase + 5) },
        MOUNT_ATTR.NOSUID | MOUNT_ATTR.NOEXEC,
      );
    });
    s.step('unshare a host-side mount namespace', () => sys.unshare(CLONE.NEWNS, 'mount namespace'));
    s.step('make every mount private', () => sys.mount(null, '/', null, MS.REC | MS.PRIVATE, null));
    s.step('assemble the root filesystem', () => assembleRoot(spec, root, devpts));
    s.step('join a new user namespace', () => enterNewUserNamespace(spec));
    s.step('become root in the lab', () => {
      sys.setresgid(0);
      sys.setresuid(0);
      // A credential change clears "dumpable", which would leave /proc/self owned by host root.
      sys.prctl('PR_SET_DUMPABLE', PR.SET_DUMPABLE, 1);
    });
    // Written now, while this process holds CAP_SYS_RESOURCE in the lab's user namespace; lab
    // processes lose it (harden.ts), so the learner cannot raise these limits again.
    s.step('bound the namespaces each lab user may hold', () => {
      for (const name of NAMESPACE_COUNT_SYSCTLS) writeFile(`/proc/sys/user/${name}`, `${NAMESPACES_PER_USER}\n`);
    });
    s.step('unshare the lab namespaces', () => sys.unshare(LAB_NAMESPACES, 'mnt uts ipc net cgroup pid time'));
    if (leafFds.length) {
      // The lab's cgroup namespace is rooted at the lab's cgroup (the delegated subtree inside it);
      // its processes live in the leaf. Moved through descriptors host root opened: a move needs
      // write access to the common ancestor, the lab's cgroup, which the lab's root has not.
      s.step('move into the lab leaf cgroup', () => {
        for (const fd of leafFds) {
          sys.write(fd, Buffer.from('0'), 'the lab leaf cgroup.procs');
          sys.close(fd);
        }
      });
    }
    s.step('set the hostname', () => sys.sethostname(spec.hostname));
    s.step('bring up loopback', () => loopbackUp());
    s.step('write time offsets', () => writeFile('/proc/self/timens_offsets', timeOffsetsText(spec.timeOffsets)));
    s.step('set resource limits', () => {
      sys.setrlimit(RLIMIT.CORE, 0, 0);
      sys.setrlimit(RLIMIT.NOFILE, spec.rlimits.nofile, spec.rlimits.nofile);
      if (spec.rlimits.nproc !== null) sys.setrlimit(RLIMIT.NPROC, spec.rlimits.nproc, spec.rlimits.nproc);
    });
    s.step('die with the spawner', () => {
      sys.setPdeathsig(SIG.KILL);
      if (sys.getppid() !== spawnerPid) throw new Error('the spawner went away');
    });
    // The init runs the spawner's code until its exec, in the lab's PID namespace.
    s.step('keep out of reach', () => outOfReach());
    s.step('hide the runtime from the lab', () => hideRuntime());
    let initPid = 0;
    s.step('fork the lab init', () => {
      initPid = forkInto(() => labInit(root, reportFd, delegation?.mounts ?? []));
    });
    s.step('report the lab init', () => {
      const pidfd = sys.pidfdOpen(initPid);
      s.report.send({ t: 'pid' }, pidfd);
      sys.close(pidfd);
    });
    s.step('become a quiet anchor', () => {
      resetSignals();
      sys.setsid();
      quietStdio();
    });
    harden(s);
    s.step('exec the anchor', () => execSleep('nslab-anchor'));
  });
}

/** Runs as PID 1 of the lab. Never returns. */
function labInit(root: string, reportFd: number, cgroupMounts: Array<{ source: string; target: string }>): never {
  const s = new Sequence(new Reporter(reportFd));
  return s.run(() => {
    s.step('die with the anchor', () => sys.setPdeathsig(SIG.KILL));
    // The tree host root assembled is locked in this namespace (its mounts cannot be undone from
    // inside, which keeps the masks in place), and pivot_root refuses a locked mount: bind the
    // whole tree onto itself to get a top mount of the lab's own, and work from inside it.
    s.step('bind the root onto itself', () => sys.mount(root, root, null, MS.BIND | MS.REC, null));
    s.step('enter the new root', () => sys.chdir(root));
    // Relative paths from here: the new root is the working directory.
    s.step('mount /proc', () => sys.mount('proc', 'proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC, null));
    s.step('mount /sys read-only', () => sys.mount('sysfs', 'sys', 'sysfs', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, null));
    if (cgroupMounts.length) s.step('mount the delegated cgroups', () => mountDelegatedCgroups(cgroupMounts));
    s.step('mount /dev/shm', () => sys.mount('shm', 'dev/shm', 'tmpfs', MS.NOSUID | MS.NODEV, 'mode=1777,size=16m'));
    s.step('mount /dev/mqueue', () => sys.mount('mqueue', 'dev/mqueue', 'mqueue', MS.NOSUID | MS.NODEV | MS.NOEXEC, null));
    s.step('keep a whole /proc and /sys out of sight', () => hiddenWholeProc());
    s.step('mask kernel files', () => maskKernelPaths());
    s.step('make kernel settings read-only', () => readOnlyKernelPaths());
    s.step('pivot into the lab root', () => {
      sys.pivotRoot('.', '.');
      sys.umount2('.', MNT_DETACH);
      sys.chdir('/');
    });
    s.step('become a quiet init', () => {
      resetSignals();
      // Ignoring SIGCHLD makes the kernel reap the orphans this init adopts (it survives exec).
      sys.setSignalDefault(SIG.CHLD, true);
      sys.setsid();
      quietStdio();
    });
    harden(s);
    s.step('let go of the report channel', () => nullify(reportFd));
    s.step('exec the lab init', () => execSleep('nslab-init'));
  });
}

const HIDDEN = 'dev/.nslab';

/**
 * The kernel lets a user namespace mount a new proc (or sysfs) only where one is already fully
 * visible: no mount it cannot remove covers anything in it but an empty directory. The masks
 * below are such mounts in every user namespace the learner makes (`unshare -Urmpf --mount-proc`),
 * so keep an unmasked instance of each as that proof, under a directory that an empty read-only
 * tmpfs then covers: in a nested namespace the cover cannot be removed and the instance cannot be
 * reached. (In the lab's own namespace lab root may unmount the cover, as it may unmount the
 * masks: both are a first layer; the kernel's own permission checks are the wall.) The sysfs
 * instance is read-only, like the lab's /sys, so a nested sysfs must be mounted read-only too.
 */
function hiddenWholeProc() {
  mkdirSync(`${HIDDEN}/proc`, { recursive: true, mode: 0o555 });
  mkdirSync(`${HIDDEN}/sys`, { mode: 0o555 });
  sys.mount('proc', `${HIDDEN}/proc`, 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC, null);
  sys.mount('sysfs', `${HIDDEN}/sys`, 'sysfs', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, null);
  sys.mount('nslab-cover', HIDDEN, 'tmpfs', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, 'size=4k,mode=0555');
}

/**
 * The lab's delegated cgroup subtree at /sys/fs/cgroup: bound there alone (cgroup v2), or one
 * directory per hierarchy on a small read-only tmpfs over the read-only sysfs's empty cgroup
 * directory. The sources are host paths, still in reach before the pivot.
 */
function mountDelegatedCgroups(mounts: Array<{ source: string; target: string }>) {
  const top = 'sys/fs/cgroup';
  const alone = mounts.length === 1 && mounts[0]!.target === top;
  if (!alone) sys.mount('nslab-cgroup', top, 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, 'size=4k,mode=0755');
  for (const m of mounts) {
    if (m.target !== top) mkdirSync(m.target, { mode: 0o755 });
    sys.mount(m.source, m.target, null, MS.BIND, null);
  }
  if (!alone) sys.mount(null, top, null, MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, 'size=4k,mode=0755');
}

const LOCKDOWN = MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC;

/** Cover each of runc's masked paths: a file by the empty /dev/null, a directory by an empty tmpfs. */
function maskKernelPaths() {
  for (const path of LAB_MASKED_PATHS) {
    const rel = path.slice(1);
    if (isKind(rel, 'dir')) {
      sys.mount('nslab-mask', rel, 'tmpfs', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, 'size=4k,mode=0555');
    } else if (isKind(rel, 'file')) {
      sys.mount('dev/null', rel, null, MS.BIND, null);
      sys.mount(null, rel, null, LOCKDOWN, null);
    }
  }
}

/** Bind each read-only path onto itself, then make that bind read-only. */
function readOnlyKernelPaths() {
  for (const path of LAB_READONLY_PATHS) {
    const rel = path.slice(1);
    if (!isKind(rel, 'dir') && !isKind(rel, 'file')) continue;
    sys.mount(rel, rel, null, MS.BIND | MS.REC, null);
    sys.mount(null, rel, null, LOCKDOWN, null);
  }
}

function quietStdio() {
  const devnull = sys.open('/dev/null', O.RDWR | O.CLOEXEC);
  for (const fd of [0, 1, 2]) sys.dup2(devnull, fd);
}

/** Exec `sleep infinity` under another name; signal dispositions are the caller's choice. */
function execSleep(name: string): never {
  for (const path of ['/usr/bin/sleep', '/bin/sleep']) {
    if (existsSync(path)) {
      sys.cloexecFrom(3);
      sys.execve(path, [name, 'infinity'], []);
    }
  }
  throw new Error('no sleep binary in the lab root');
}

function assembleRoot(spec: LabSpec, root: string, devpts: number) {
  const st = spec.stageDir;
  const labRoot = spec.uidBase;
  sys.mount('nslab-root', st, 'tmpfs', MS.NOSUID | MS.NODEV, `size=${spec.rootSizeMb}m,mode=0711`);
  for (const d of ['upper', 'work', 'root']) mkdirSync(`${st}/${d}`, { mode: 0o755 });
  chownSync(`${st}/upper`, labRoot, labRoot);
  sys.mount('overlay', root, 'overlay', MS.NOSUID | MS.NODEV, `lowerdir=${spec.lowerDir},upperdir=${st}/upper,workdir=${st}/work`);

  const tmpfs = (target: string, opts: string, flags = MS.NOSUID | MS.NODEV) => {
    if (!existsSync(target)) mkdirSync(target, { recursive: true });
    sys.mount('tmpfs', target, 'tmpfs', flags, opts);
  };
  const own = `uid=${labRoot},gid=${labRoot}`;

  // A minimal /dev: device nodes bound from the host, everything else made fresh by the lab init.
  tmpfs(`${root}/dev`, `mode=0755,size=1m,${own}`, MS.NOSUID | MS.NOEXEC);
  for (const name of DEVICES) {
    writeFileSync(`${root}/dev/${name}`, '');
    sys.mount(`/dev/${name}`, `${root}/dev/${name}`, null, MS.BIND, null);
  }
  for (const d of ['pts', 'shm', 'mqueue']) mkdirSync(`${root}/dev/${d}`);
  sys.moveMount(devpts, `${root}/dev/pts`);
  sys.close(devpts);
  symlinkSync('pts/ptmx', `${root}/dev/ptmx`);
  symlinkSync('/proc/self/fd', `${root}/dev/fd`);
  symlinkSync('/proc/self/fd/0', `${root}/dev/stdin`);
  symlinkSync('/proc/self/fd/1', `${root}/dev/stdout`);
  symlinkSync('/proc/self/fd/2', `${root}/dev/stderr`);

  tmpfs(`${root}/tmp`, `mode=1777,size=${spec.tmpSizeMb}m`);
  tmpfs(`${root}/run`, `mode=0755,size=8m,${own}`);
  // 0755, not 0700: a nested user namespace's root (another uid) still finds its way home.
  tmpfs(`${root}/root`, `mode=0755,size=${spec.tmpSizeMb}m,${own}`);

  // Masks: host secrets and the agent's own files are not readable from the lab.
  for (const file of spec.maskFiles) {
    const target = `${root}${file}`;
    if (!isKind(target, 'file')) continue;
    sys.mount('/dev/null', target, null, MS.BIND, null);
    sys.mount(null, target, null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, null);
  }
  for (const dir of spec.maskDirs) {
    const target = `${root}${dir}`;
    if (!isKind(target, 'dir')) continue;
    sys.mount('nslab-mask', target, 'tmpfs', MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC, 'size=4k,mode=0555');
  }
}

function isKind(path: string, kind: 'file' | 'dir'): boolean {
  try {
    const st = lstatSync(path);
    return kind === 'dir' ? st.isDirectory() : st.isFile() || st.isCharacterDevice();
  } catch {
    return false;
  }
}

/**
 * A process cannot write its own id map beyond its own uid, so a helper child makes the user
 * namespace, this process (host root) writes its maps, joins it, and the helper is discarded.
 * The helper makes it as the lab's host uid: the namespace's owner, to whom the kernel charges
 * the per-user counts of everything made in it. It keeps its capabilities through the uid
 * change (SECBIT_NO_SETUID_FIXUP), so hosts that restrict unprivileged user namespaces allow it.
 */
function enterNewUserNamespace(spec: LabSpec) {
  // A helper killed by a signal before it answered is tried once more: seen once in CI (SIGSEGV
  // before its first report, in one open among some thousands; never reproduced in 1,300 opens
  // here, with and without CPU hogs). Anything it reports itself is not retried.
  try {
    helperOnce(spec);
  } catch (err) {
    if (!(err instanceof HelperKilled)) throw err;
    helperOnce(spec);
  }
}

class HelperKilled extends Error {}

function helperOnce(spec: LabSpec) {
  const [readyR, readyW] = sys.pipe();
  const [holdR, holdW] = sys.pipe();
  const helper = forkInto(() => {
    try {
      sys.closeAllExcept([readyW, holdR]);
      sys.setSecurebits(SECBIT_NO_SETUID_FIXUP);
      sys.setresgid(spec.uidBase);
      sys.setresuid(spec.uidBase);
      sys.unshare(CLONE.NEWUSER, 'user namespace');
      sys.write(readyW, Buffer.from('1'));
      sys.read(holdR, new Uint8Array(1)); // until the parent is done with us
    } catch (err) {
      sys.write(readyW, Buffer.from(`!${(err as Error).message}`.slice(0, 200)));
    } finally {
      sys.exit(0);
    }
  });
  let reaped = false;
  try {
    sys.close(readyW);
    const answer = new Uint8Array(256);
    const n = sys.read(readyR, answer);
    if (n !== 1 || answer[0] !== 0x31) {
      const why = n > 1 ? Buffer.from(answer.subarray(1, n)).toString() : '';
      if (!why) {
        const status = decodeWaitStatus(sys.waitBlocking(helper));
        reaped = true;
        const message = `the user-namespace helper failed: it died (${JSON.stringify(status)})`;
        throw status.signal ? new HelperKilled(message) : new Error(message);
      }
      throw new Error(`the user-namespace helper failed: ${why}`);
    }
    writeFile(`/proc/${helper}/uid_map`, `0 ${spec.uidBase} ${spec.idCount}\n`);
    writeFile(`/proc/${helper}/setgroups`, 'deny');
    writeFile(`/proc/${helper}/gid_map`, `0 ${spec.uidBase} ${spec.idCount}\n`);
    const userns = sys.open(`/proc/${helper}/ns/user`, O.RDONLY | O.CLOEXEC);
    sys.setns(userns, CLONE.NEWUSER, 'the lab user namespace');
    sys.close(userns);
  } finally {
    sys.close(holdW);
    if (!reaped) sys.waitBlocking(helper);
    sys.close(readyR);
    sys.close(holdR);
  }
}

function loopbackUp() {
  const fd = sys.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC);
  try {
    const ifr = Buffer.alloc(40);
    ifr.write('lo', 0, 'latin1');
    sys.ioctlPtr(fd, SIOC.GIFFLAGS, ifr, 'SIOCGIFFLAGS lo');
    ifr.writeUInt16LE(ifr.readUInt16LE(16) | IFF_UP, 16);
    sys.ioctlPtr(fd, SIOC.SIFFLAGS, ifr, 'SIOCSIFFLAGS lo');
  } finally {
    sys.close(fd);
  }
}
