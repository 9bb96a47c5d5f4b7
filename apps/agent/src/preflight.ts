// What the agent needs from the host, checked before anything else so the answer is a sentence,
// not a stack trace.
import { existsSync } from 'node:fs';

export function checkHost(): string | null {
  if (process.platform !== 'linux') return 'the agent runs on Linux only (it makes Linux namespaces).';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'the agent must run as root: it creates namespaces, mounts and cgroups for every lab. Try: sudo npm start';
  }
  const missing = ['user', 'pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup', 'time'].filter((t) => !existsSync(`/proc/self/ns/${t}`));
  if (missing.length) return `this kernel lacks namespace types: ${missing.join(', ')} (see /proc/self/ns).`;
  return null;
}
