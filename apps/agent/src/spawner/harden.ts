// The hardening steps every lab process goes through before it runs the learner's code, after
// bubblewrap's, nsjail's and runc's defaults: no new privileges, a capability bounding set cut to
// what the lessons use, and the seccomp filter of seccomp.ts. Everything here is computed once in
// the spawner, so a forked child only makes the system calls.
import { readFileSync } from 'node:fs';
import { sys } from '../native/sys.js';
import { CAP, type CapName } from '../native/constants.js';
import type { Sequence } from './sequence.js';
import { buildSeccompProgram } from './seccomp.js';

/**
 * What lab root keeps, within the lab's user namespace. The lessons need: chown and file modes
 * (CHOWN, DAC_OVERRIDE, FOWNER, FSETID), signals (KILL), uid and gid changes and nested user
 * namespaces mapping root (SETUID, SETGID, SETFCAP), dropping capabilities further (SETPCAP),
 * mount, unshare, setns, sethostname (SYS_ADMIN), chroot, ip link/addr and veth (NET_ADMIN),
 * ping (NET_RAW), low ports (NET_BIND_SERVICE), another user's IPC objects (IPC_OWNER), reading
 * another uid's /proc entries and namespaces (SYS_PTRACE), time namespace offsets (SYS_TIME:
 * writing /proc/PID/timens_offsets checks it in the lab's user namespace; the host clock needs it
 * in the host's, and the seccomp filter refuses clock changes besides), and AUDIT_WRITE, which
 * login tools expect. Everything else is dropped, notably SYS_RESOURCE: without it lab root cannot raise the
 * lab's namespace limits (see boundNamespaces).
 */
export const KEPT_CAPS: readonly CapName[] = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'SETFCAP',
  'NET_BIND_SERVICE',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_OWNER',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_ADMIN',
  'SYS_TIME',
  'AUDIT_WRITE',
];

/** The highest capability this kernel knows (newer kernels may know more than CAP lists). */
function lastCap(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
  } catch {
    return Math.max(...Object.values(CAP));
  }
}

const kept = new Set<number>(KEPT_CAPS.map((n) => CAP[n]));
/** Every capability the kernel knows that lab processes may not keep, in ascending order. */
export const DROPPED_CAPS: readonly number[] = Array.from({ length: lastCap() + 1 }, (_, c) => c).filter((c) => !kept.has(c));

/** The bounding set a lab process ends with, as /proc/PID/status prints it (CapBnd, hex). */
export function boundingSetHex(): string {
  let mask = 0n;
  for (const c of kept) mask |= 1n << BigInt(c);
  return mask.toString(16).padStart(16, '0');
}

/** The filter, assembled once per spawner. */
export const SECCOMP_PROGRAM = buildSeccompProgram();

/**
 * How many namespaces of each type each user of a lab may hold at once, set in the lab's user
 * namespace (the kernel also counts every nested namespace against its ancestors' limits).
 */
export const NAMESPACES_PER_USER = 64;

/** Drop every capability not in KEPT_CAPS from the bounding set, and clear the ambient set. */
export function limitCapabilities() {
  for (const cap of DROPPED_CAPS) sys.dropBoundingCap(cap);
  sys.clearAmbientCaps();
}

/**
 * The last steps before a process can run anything of the learner's: no new privileges (which
 * also lets an unprivileged process install the filter), the bounding set, the filter itself.
 * The filter stays last: it is inherited, so it covers every process forked after it.
 */
export function harden(s: Sequence) {
  s.step('forbid new privileges', () => sys.setNoNewPrivs());
  s.step('limit the capability bounding set', () => limitCapabilities());
  s.step('install the seccomp filter', () => sys.installSeccomp(SECCOMP_PROGRAM));
}
