// Starting a process inside a lab, as `nsenter` + `unshare` would, in one ordered sequence:
//
//   spawner ── fork ──> joiner (joins the target's namespaces, makes the pane's own, forks, exits)
//                          └─ fork ──> the pane's shell or the exec'd command; adopted by the
//                                      spawner (a child subreaper) once the joiner exits.
//
// A pane with its own PID namespace needs one more fork: the kernel refuses unshare(NEWPID)
// from a process whose PID namespace for children was set by setns. The middle process makes
// the pane's namespaces and forks the shell, which is PID 1 there; the shell then belongs to
// the lab's init, so the spawner watches it through a pidfd.
import { accessSync, constants as fsc } from 'node:fs';
import { sys, decodeWaitStatus } from '../native/sys.js';
import { CLONE, O, PR, TIOC, RLIMIT } from '../native/constants.js';
import type { SpawnSpec } from './protocol.js';
import { Sequence, Reporter, forkInto, resetSignals, joinCgroups, writeFile, timeOffsetsText } from './sequence.js';
import { harden, limitCapabilities } from './harden.js';

export interface ChildStdio {
  /** The terminal's slave, opened by the joiner. */
  tty?: number;
  /** Set when the process has no tty: fds to become its stdin, stdout and stderr. */
  stdin?: number;
  stdout?: number;
  stderr?: number;
}

/** Runs in the joiner (first child). Never returns. */
export function joinAndSpawn(spec: SpawnSpec, stdio: ChildStdio, reportFd: number): never {
  const report = new Reporter(reportFd);
  const s = new Sequence(report);
  return s.run(() => {
    let hostProc = -1;
    s.step('hold the host /proc', () => {
      hostProc = sys.open('/proc', O.RDONLY | O.DIRECTORY | O.CLOEXEC);
    });
    s.step('join the cgroup', () => joinCgroups(spec.cgroupProcs));
    // The lab's limits (set on its anchor and init by lab-init.ts) are read from the process
    // joined, while this process is still host root and may set any value.
    s.step('take the lab resource limits', () => {
      for (const r of [RLIMIT.CORE, RLIMIT.NOFILE, RLIMIT.NPROC]) sys.setrlimitBig(r, sys.getProcessRlimit(spec.targetPid, r));
    });
    s.step('drop supplementary groups', () => sys.clearGroups());
    s.step('join the namespaces', () => {
      const pidfd = sys.pidfdOpen(spec.targetPid);
      try {
        sys.setns(pidfd, spec.joinFlags, `namespaces of pid ${spec.targetPid}`);
      } finally {
        sys.close(pidfd);
      }
    });
    s.step('take the credentials', () => {
      sys.setresgid(spec.gid);
      sys.setresuid(spec.uid);
      // Keep /proc/self ours after the credential change (time offsets, id maps are written there).
      sys.prctl('PR_SET_DUMPABLE', PR.SET_DUMPABLE, 1);
    });
    // Open the terminal now, as the lab's root: a pane with a nested user namespace could not.
    if (spec.tty) {
      s.step('open the terminal', () => {
        stdio.tty = sys.open(spec.tty!.path, O.RDWR | O.NOCTTY | O.CLOEXEC);
      });
    }
    if (spec.unshareFlags & CLONE.NEWPID) {
      // Hardened before the first fork into the lab: no process the learner can see (and so
      // trace) ever runs without the filter.
      harden(s);
      let middle = 0;
      s.step('fork into the lab PID namespace', () => {
        middle = forkInto(() =>
          new Sequence(report).run((s2) => {
            makePaneNamespaces(s2, spec, hostProc);
            s2.step('fork PID 1 of the pane', () => {
              forkInto(() => startProcess(spec, stdio, report, hostProc), hostProc);
            });
          }),
        hostProc);
      });
      s.step('wait for the middle process', () => {
        const st = decodeWaitStatus(sys.waitBlocking(middle));
        if (st.exitCode !== 0) throw new Error('the middle process failed');
      });
      return;
    }
    makePaneNamespaces(s, spec, hostProc);
    harden(s);
    let pid = 0;
    s.step('fork the process', () => {
      pid = forkInto(() => startProcess(spec, stdio, report, -1), hostProc);
    });
    report.send({ t: 'pid', pid });
  });
}

/**
 * `hostProc`: the host's /proc, held open: after joining the lab's mount namespace, /proc is the
 * lab's, where this process (outside the lab's PID namespace) has no "self".
 */
function makePaneNamespaces(s: Sequence, spec: SpawnSpec, hostProc: number) {
  if (spec.unshareFlags & CLONE.NEWUSER) {
    const id = spec.nestedUserId ?? 1000;
    s.step('make a nested user namespace', () => {
      // An unprivileged process may map the new namespace's root to its own id: become that id,
      // then unshare and write the maps (setgroups denied first, as the kernel requires).
      sys.setresgid(id);
      sys.setresuid(id);
      sys.prctl('PR_SET_DUMPABLE', PR.SET_DUMPABLE, 1);
      sys.unshare(spec.unshareFlags, 'nested namespaces');
      writeFile('self/setgroups', 'deny', hostProc);
      writeFile('self/uid_map', `0 ${id} 1\n`, hostProc);
      writeFile('self/gid_map', `0 ${id} 1\n`, hostProc);
    });
  } else if (spec.unshareFlags) {
    s.step('make the pane namespaces', () => sys.unshare(spec.unshareFlags, 'pane namespaces'));
  }
  if (spec.timeOffsets && spec.unshareFlags & CLONE.NEWTIME) {
    s.step('write time offsets', () => writeFile('self/timens_offsets', timeOffsetsText(spec.timeOffsets!), hostProc));
  }
  if (spec.hostname && spec.unshareFlags & CLONE.NEWUTS) {
    s.step('set the hostname', () => sys.sethostname(spec.hostname!));
  }
}

/** The final process. `hostProc` >= 0: report our own host pid (we are not the joiner's child). */
function startProcess(spec: SpawnSpec, stdio: ChildStdio, report: Reporter, hostProc: number): never {
  const s = new Sequence(report);
  return s.run(() => {
    if (hostProc >= 0) {
      s.step('report the host pid', () => {
        // The host /proc instance resolves "self" in the host's PID namespace.
        report.send({ t: 'pid', pid: Number(sys.readlinkat(hostProc, 'self')), foreign: true });
      });
    }
    s.step('start a session', () => sys.setsid());
    if (stdio.tty !== undefined) {
      s.step('take the terminal', () => {
        sys.ioctlInt(stdio.tty!, TIOC.SCTTY, 0, 'TIOCSCTTY');
        for (const target of [0, 1, 2]) sys.dup2(stdio.tty!, target);
      });
    } else {
      s.step('wire stdio', () => {
        const stdin = stdio.stdin ?? sys.open('/dev/null', O.RDONLY | O.CLOEXEC);
        sys.dup2(stdin, 0);
        sys.dup2(stdio.stdout!, 1);
        sys.dup2(stdio.stderr!, 2);
      });
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
    s.step(`exec ${spec.argv[0]}`, () => {
      // Every fd above stderr closes at exec: nothing of the spawner's reaches the program.
      sys.cloexecFrom(3);
      sys.execve(path, spec.argv, spec.env);
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
