// What the agent needs from the host, checked before anything else so the answer is a sentence,
// not a stack trace.
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';

export function checkHost(): string | null {
  if (process.platform !== 'linux') return 'the agent runs on Linux only (it makes Linux namespaces).';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'the agent must run as root: it creates namespaces, mounts and cgroups for every lab. Try: sudo npm start';
  }
  const missing = ['user', 'pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup', 'time'].filter((t) => !existsSync(`/proc/self/ns/${t}`));
  if (missing.length) return `this kernel lacks namespace types: ${missing.join(', ')} (see /proc/self/ns).`;
  return null;
}

/** The part of the kernel's PTY reserve kept for the host's own terminals (its default size). */
const HOST_PTY_RESERVE = 1024;

/**
 * Make the kernel's PTY pool fit the labs (see docs/install.md, PTYs). The labs' devpts instances
 * are mounted in the initial mount namespace, so they draw on kernel.pty.reserve, which no devpts
 * a learner mounts can reach; the reserve must then hold every lab's bound on top of the host's
 * own terminals. It is raised (never lowered), with kernel.pty.max by as much, so the pool outside
 * the reserve keeps its size. Returns what was done, and warnings.
 */
export function sizePtyPool(maxLabs: number, ptysPerLab: number): { done: string[]; warnings: string[] } {
  const done: string[] = [];
  const warnings: string[] = [];
  const path = (name: string) => `/proc/sys/kernel/pty/${name}`;
  let inInitial: boolean | null = null;
  try {
    inInitial = readlinkSync('/proc/self/ns/mnt') === readlinkSync('/proc/1/ns/mnt');
  } catch {
    inInitial = null; // this process may not look at PID 1's namespaces
  }
  if (inInitial === false) {
    warnings.push(
      "the agent is not in the host's initial mount namespace (a systemd unit with PrivateTmp, ProtectHome, ProtectSystem...?): " +
        "labs' terminals cannot use the kernel's PTY reserve, so a learner who mounts a devpts of their own can take the terminals other labs' panes need",
    );
    return { done, warnings };
  }
  try {
    const max = Number(readFileSync(path('max'), 'utf8'));
    const reserve = Number(readFileSync(path('reserve'), 'utf8'));
    const wanted = HOST_PTY_RESERVE + maxLabs * ptysPerLab;
    if (reserve < wanted) {
      const newMax = Math.min(max + (wanted - reserve), 1 << 20);
      writeFileSync(path('max'), `${newMax}\n`);
      writeFileSync(path('reserve'), `${wanted}\n`);
      done.push(`kernel.pty.reserve ${reserve} -> ${wanted} and kernel.pty.max ${max} -> ${newMax}, for ${maxLabs} labs of ${ptysPerLab} terminals`);
    }
  } catch (err) {
    warnings.push(`could not size the kernel's PTY pool: ${(err as Error).message}`);
  }
  return { done, warnings };
}
