// Starting a process inside a lab, as `nsenter` + `unshare` would, in one ordered sequence:
//
//   spawner ── fork ──> joiner (host PID namespace: no lab process can name it; joins the target's
//                       namespaces, makes the pane's own, forks, reports, exits)
//                          └─ fork ──> the pane's shell or the exec'd command; adopted by the
//                                      spawner (a child subreaper) once the joiner exits.
//
// A pane with its own PID namespace needs one more fork: the kernel refuses unshare(NEWPID)
// from a process whose PID namespace for children was set by setns. The middle process only
// makes the PID namespace and forks the shell, which is PID 1 there; the shell then belongs to
// the lab's init, so the spawner watches it through its pidfd.
//
// Every process forked from here on sits in the lab's PID namespace with lab credentials, where
// the learner can see it, signal it and, were it dumpable, trace it and read its memory and fds,
// which are the spawner's until exec. So, before the first fork into the lab: everything the
// joiner was not given is closed (letGo), the target is named by a pidfd the spawner holds (never
// by a pid that could have been reused), every write to the joiner's own /proc is done, and the
// joiner is made non-dumpable. A non-dumpable process whose memory was set up by host root can be
// traced or read only with CAP_SYS_PTRACE in the host's user namespace; its children inherit that
// until their exec, which gives the new program a clean, learner-owned image.
import { accessSync, readFileSync, constants as fsc } from 'node:fs';
import { sys, decodeWaitStatus } from '../native/sys.js';
import { CLONE, MS, O, PR, TIOC, RLIMIT } from '../native/constants.js';
import type { SpawnSpec } from './protocol.js';
import { Sequence, Reporter, forkInto, letGo, hideRuntime, nullify, outOfReach, resetSignals, joinCgroups, writeFile, timeOffsetsText } from './sequence.js';
import { harden, limitCapabilities } from './harden.js';

export interface ChildStdio {
  /** Set when the process has no tty: fds to become its stdin, stdout and stderr. */
  stdin?: number;
  stdout?: number;
  stderr?: number;
}

/**
 * A joiner forked ahead of its request: it lets go of the spawner, joins the cgroups (the slow
 * part on cgroup v1: every move of a process between cgroups waits for an RCU grace period, about
 * 14 ms here), then waits on `sock` for one request: a message whose descriptors are the report
 * socket, the target's pidfd, the spec (in a memfd) and the stdio, in that order. Never returns.
 */
export function waitForRequest(sock: number, cgroupProcs: string[]): never {
  try {
    letGo([sock], 'nslab-joiner');
    joinCgroups(cgroupProcs);
    const m = sys.receiveMessage(sock, true);
    if (typeof m === 'string' || m.fds.length < 3) return sys.exit(0);
    const [reportFd, targetPidfd, specFd, ...rest] = m.fds as [number, number, number, ...number[]];
    const { stdin } = JSON.parse(m.data.toString()) as { stdin: boolean };
    const spec = JSON.parse(readFileSync(specFd, 'utf8')) as SpawnSpec;
    const stdio: ChildStdio = {};
    if (rest.length >= 2) {
      if (stdin) stdio.stdin = rest.shift();
      [stdio.stdout, stdio.stderr] = rest as [number, number];
    }
    return joinAndSpawn(spec, targetPidfd, stdio, reportFd, true);
  } catch {
    return sys.exit(0);
  }
}

/**
 * Runs in the joiner (first child). `targetPidfd`: the spawner's pidfd of the process whose
 * namespaces are joined; `inCgroups`: it was forked ahead and is already in the spec's cgroups.
 * Never returns.
 */
export function joinAndSpawn(spec: SpawnSpec, targetPidfd: number, stdio: ChildStdio, reportFd: number, inCgroups = false): never {
  const report = new Reporter(reportFd);
  const s = new Sequence(report);
  return s.run(() => {
    const given = [reportFd, targetPidfd, ...[stdio.stdin, stdio.stdout, stdio.stderr].filter((fd): fd is number => fd !== undefined)];
    s.step('let go of the spawner', () => letGo(given));
    if (!inCgroups) s.step('join the cgroup', () => joinCgroups(spec.cgroupProcs));
    // The lab's limits, as its anchor and init have them, set while this process is still host
    // root (which may raise a hard limit; lab root may not).
    s.step('set the lab resource limits', () => {
      sys.setrlimit(RLIMIT.CORE, 0, 0);
      sys.setrlimit(RLIMIT.NOFILE, spec.rlimits.nofile, spec.rlimits.nofile);
      if (spec.rlimits.nproc !== null) sys.setrlimit(RLIMIT.NPROC, spec.rlimits.nproc, spec.rlimits.nproc);
    });
    s.step('drop supplementary groups', () => sys.clearGroups());
    // Our own /proc entry, for the id maps and time offsets written below: after joining the lab's
    // mount namespace /proc is the lab's, where this process (outside its PID namespace) has no
    // "self". Closed before anything is forked into the lab.
    let self = -1;
    s.step('hold our own /proc entry', () => {
      self = sys.open('/proc/self', O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    });
    s.step('join the namespaces', () => {
      sys.setns(targetPidfd, spec.joinFlags, `namespaces of pid ${spec.targetPid}`);
      sys.close(targetPidfd);
    });
    s.step('take the credentials', () => {
      sys.setresgid(spec.gid);
      sys.setresuid(spec.uid);
    });
    // Explicitly: a credential change sets dumpable to fs.suid_dumpable, which a host may set to 1.
    s.step('keep out of reach', () => outOfReach());
    // Open the terminal now, as the lab's root: a pane with a nested user namespace could not.
    let tty = -1;
    if (spec.tty) {
      s.step('open the terminal', () => {
        tty = sys.open(spec.tty!.path, O.RDWR | O.NOCTTY | O.CLOEXEC);
      });
    }
    makePaneNamespaces(s, spec, self);
    s.step('let go of /proc', () => sys.close(self));
    s.step('hide the runtime from the lab', () => hideRuntime());
    // Hardened before the first fork into the lab: no process the learner can see ever runs
    // without the filter.
    harden(s);
    const target = { tty, ...stdio };
    if (spec.unshareFlags & CLONE.NEWPID) {
      let middle = 0;
      s.step('fork into the lab PID namespace', () => {
        middle = forkInto(() =>
          new Sequence(report).run((s2) => {
            s2.step('make the pane PID namespace', () => sys.unshare(CLONE.NEWPID, 'pid'));
            let pid1 = 0;
            s2.step('fork PID 1 of the pane', () => {
              pid1 = forkInto(() => startProcess(spec, target, report));
            });
            s2.step('report the process', () => {
              reportProcess(report, pid1);
              nullify(report.fd);
            });
          }),
        );
      });
      s.step('wait for the middle process', () => {
        const st = decodeWaitStatus(sys.waitBlocking(middle));
        if (st.exitCode !== 0) throw new Error('the middle process failed');
      });
      return;
    }
    let pid = 0;
    s.step('fork the process', () => {
      pid = forkInto(() => startProcess(spec, target, report));
    });
    s.step('report the process', () => reportProcess(report, pid));
  });
}

/**
 * Tell the spawner about a started process by a pidfd: it names that process and no other. The
 * pid goes along as a hint, for a process that ends before the spawner reads the pidfd.
 */
function reportProcess(report: Reporter, pid: number) {
  const pidfd = sys.pidfdOpen(pid);
  try {
    report.send({ t: 'pid', pid }, pidfd);
  } finally {
    sys.close(pidfd);
  }
}

/**
 * The pane's own namespaces, made by the joiner (outside the lab's PID namespace) so that the
 * writes to its own /proc entry (id maps, time offsets) happen where no lab process can reach it.
 * CLONE_NEWPID is left to the middle process. `self`: our own /proc entry, held from the host.
 */
function makePaneNamespaces(s: Sequence, spec: SpawnSpec, self: number) {
  const flags = spec.unshareFlags & ~CLONE.NEWPID;
  const ownWrites = (fn: () => void) => {
    // Our /proc files belong to us only while dumpable: for these writes alone, then out of reach.
    sys.prctl('PR_SET_DUMPABLE', PR.SET_DUMPABLE, 1);
    fn();
    outOfReach();
  };
  if (flags & CLONE.NEWUSER && spec.unmappedUser) {
    // No maps: inside, the shell is the overflow uid, yet holds every capability of its namespace.
    s.step('make a nested user namespace without id maps', () => sys.unshare(flags, 'nested namespaces'));
  } else if (flags & CLONE.NEWUSER) {
    const id = spec.nestedUserId ?? 1000;
    s.step('make a nested user namespace', () => {
      // An unprivileged process may map the new namespace's root to its own id: become that id,
      // then unshare and write the maps (setgroups denied first, as the kernel requires).
      sys.setresgid(id);
      sys.setresuid(id);
      sys.unshare(flags, 'nested namespaces');
      ownWrites(() => {
        writeFile('setgroups', 'deny', self);
        writeFile('uid_map', `0 ${id} 1\n`, self);
        writeFile('gid_map', `0 ${id} 1\n`, self);
      });
    });
  } else if (flags) {
    s.step('make the pane namespaces', () => sys.unshare(flags, 'pane namespaces'));
  }
  if (spec.privateMounts && flags & CLONE.NEWNS) {
    s.step('make every mount private', () => sys.mount(null, '/', null, MS.REC | MS.PRIVATE, null));
  }
  if (spec.timeOffsets && flags & CLONE.NEWTIME) {
    s.step('write time offsets', () => ownWrites(() => writeFile('timens_offsets', timeOffsetsText(spec.timeOffsets!), self)));
  }
  if (spec.hostname && flags & CLONE.NEWUTS) {
    s.step('set the hostname', () => sys.sethostname(spec.hostname!));
  }
}

/** The final process: not dumpable (inherited) until its exec. */
function startProcess(spec: SpawnSpec, stdio: ChildStdio & { tty: number }, report: Reporter): never {
  const s = new Sequence(report);
  return s.run(() => {
    s.step('start a session', () => sys.setsid());
    if (stdio.tty >= 0) {
      s.step('take the terminal', () => {
        sys.ioctlInt(stdio.tty, TIOC.SCTTY, 0, 'TIOCSCTTY');
        for (const target of [0, 1, 2]) sys.dup2(stdio.tty, target);
      });
    } else {
      s.step('wire stdio', () => {
        if (stdio.stdin !== undefined) sys.dup2(stdio.stdin, 0);
        sys.dup2(stdio.stdout!, 1);
        sys.dup2(stdio.stderr!, 2);
      });
    }
    if (spec.mountProc) {
      // Here, in PID 1: a proc mount shows the PID namespace of the process that mounts it.
      s.step('mount a new /proc', () => sys.mount('proc', '/proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC, null));
    }
    s.step('enter the working directory', () => {
      try {
        sys.chdir(spec.cwd);
      } catch {
        sys.chdir('/');
      }
    });
    let path = '';
    s.step('find the program', () => {
      path = spec.file ?? resolveCommand(spec.argv[0]!, spec.env);
    });
    s.step('reset signals', () => resetSignals());
    // Again: a nested user namespace made after harden() starts with a full bounding set.
    s.step('limit the capability bounding set', () => limitCapabilities());
    // From here nothing is reported: the joiner (or the middle process) has reported this process,
    // and the report channel is not handed to the program, not even during the exec itself.
    s.step('let go of the report channel', () => nullify(report.fd));
    s.step(`exec ${spec.argv[0]}`, () => {
      // Every fd above stderr closes at exec: nothing of the spawner's reaches the program.
      sys.cloexecFrom(3);
      try {
        sys.execve(path, spec.argv, spec.env);
      } catch (err) {
        // As a shell says it: on stderr, exit status 127 (126 when the file cannot be run).
        const e = err as Error & { code?: string };
        sys.writeRaw(2, Buffer.from(`nslab: ${path}: ${e.message}\n`));
        sys.exit(e.code === 'EACCES' || e.code === 'ENOEXEC' ? 126 : 127);
      }
    });
  });
}

function resolveCommand(cmd: string, env: string[]): string {
  if (cmd.includes('/')) return cmd;
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/bin:/usr/bin:/bin';
  for (const dir of pathVar.split(':')) {
    const candidate = `${dir || '.'}/${cmd}`;
    try {
      accessSync(candidate, fsc.X_OK);
      return candidate;
    } catch {
      /* next */
    }
  }
  throw new Error(`${cmd}: command not found`);
}
