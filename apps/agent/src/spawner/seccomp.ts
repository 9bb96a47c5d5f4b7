// The seccomp filter every process in a lab runs under, written as a classic BPF program.
//
// The policy is a deny list on top of what the user namespace already refuses: calls that reach
// kernel code a lesson never needs (module loading, kexec, bpf, perf, keyrings, io_uring, file
// handles, swap, accounting, the host's clocks) fail with EPERM, so the learner reads "Operation
// not permitted" instead of seeing a shell killed. Everything the lessons use (unshare, setns,
// clone with namespace flags, mount, umount2, pivot_root, sethostname, ptrace inside the lab)
// stays allowed. Calls from another ABI (i386 through int 0x80, x32) kill the process: nothing
// in a lab has a reason to make them, and a deny list keyed by x86_64 numbers would not hold
// for them.
import { AUDIT_ARCH, BPF, BPF_INSN_SIZE, BPF_MAXINSNS, EPERM, SECCOMP_DATA, SECCOMP_RET, SYSCALL_NR, TIOC, X32_SYSCALL_BIT } from '../native/constants.js';

/** Calls that fail with EPERM in a lab. Names absent on an architecture are skipped there. */
export const DENIED_SYSCALLS = [
  // loading code into the kernel, or replacing it
  'init_module',
  'finit_module',
  'delete_module',
  'create_module',
  'get_kernel_syms',
  'query_module',
  'kexec_load',
  'kexec_file_load',
  'bpf',
  'uselib',
  // large attack surfaces no lesson uses
  'perf_event_open',
  'userfaultfd',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'keyctl',
  'add_key',
  'request_key',
  'lookup_dcookie',
  'fanotify_init',
  // reaching files by handle bypasses the lab's mounts
  'open_by_handle_at',
  'name_to_handle_at',
  // machine-wide state: time, swap, accounting, quotas, the console, the kernel log
  'settimeofday',
  'clock_settime',
  'clock_adjtime',
  'adjtimex',
  'swapon',
  'swapoff',
  'acct',
  'quotactl',
  'quotactl_fd',
  'reboot',
  'vhangup',
  'syslog',
  'iopl',
  'ioperm',
  // obsolete interfaces
  'nfsservctl',
  '_sysctl',
  'sysfs',
  'ustat',
] as const;

/** ioctl requests refused on every fd: pushing input into a terminal, and the console's own calls. */
export const DENIED_IOCTLS = [TIOC.STI, TIOC.LINUX] as const;

/** personality(2) values allowed (as docker allows): Linux, with the UNAME26 and no-ASLR flags, and the query. */
export const ALLOWED_PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff] as const;

type Arch = 'x64' | 'arm64';
const AUDIT_ARCH_OF: Record<Arch, number> = { x64: AUDIT_ARCH.X86_64, arm64: AUDIT_ARCH.AARCH64 };

// ---- a tiny assembler with forward labels --------------------------------------------------

type Target = string | null; // a label, or null for "the next instruction"
interface Insn {
  code: number;
  k: number;
  jt?: Target;
  jf?: Target;
}

class Program {
  private insns: Insn[] = [];
  private labels = new Map<string, number>();

  label(name: string) {
    if (this.labels.has(name)) throw new Error(`label ${name} defined twice`);
    this.labels.set(name, this.insns.length);
  }
  /** Load the 32-bit word at `offset` of struct seccomp_data. */
  load(offset: number) {
    this.insns.push({ code: BPF.LD | BPF.W | BPF.ABS, k: offset });
  }
  jeq(k: number, jt: Target, jf: Target = null) {
    this.insns.push({ code: BPF.JMP | BPF.JEQ | BPF.K, k, jt, jf });
  }
  jge(k: number, jt: Target, jf: Target = null) {
    this.insns.push({ code: BPF.JMP | BPF.JGE | BPF.K, k, jt, jf });
  }
  ret(k: number) {
    this.insns.push({ code: BPF.RET | BPF.K, k });
  }

  /** The program as struct sock_filter bytes (little-endian, as the kernel reads it). */
  assemble(): Buffer {
    if (this.insns.length > BPF_MAXINSNS) throw new Error(`seccomp program too long: ${this.insns.length}`);
    const out = Buffer.alloc(this.insns.length * BPF_INSN_SIZE);
    this.insns.forEach((insn, i) => {
      const off = i * BPF_INSN_SIZE;
      out.writeUInt16LE(insn.code, off);
      out.writeUInt8(this.offset(i, insn.jt), off + 2);
      out.writeUInt8(this.offset(i, insn.jf), off + 3);
      out.writeUInt32LE(insn.k >>> 0, off + 4);
    });
    return out;
  }

  /** A jump's offset: classic BPF jumps only forward, by 0 to 255 instructions. */
  private offset(from: number, target: Target | undefined): number {
    if (target === undefined || target === null) return 0;
    const to = this.labels.get(target);
    if (to === undefined) throw new Error(`undefined label ${target}`);
    const d = to - from - 1;
    if (d < 0 || d > 255) throw new Error(`jump to ${target} out of range (${d})`);
    return d;
  }
}

/** Build the lab's filter for one architecture (default: the one we run on). */
export function buildSeccompProgram(arch: Arch = process.arch === 'arm64' ? 'arm64' : 'x64'): Buffer {
  const nr = SYSCALL_NR[arch];
  const p = new Program();
  const argLow = (i: number) => SECCOMP_DATA.args + 8 * i; // the low 32 bits on a little-endian machine

  // 1. The architecture: syscall numbers mean nothing without it.
  p.load(SECCOMP_DATA.arch);
  p.jeq(AUDIT_ARCH_OF[arch], null, 'kill');
  p.load(SECCOMP_DATA.nr);
  // 2. x32 calls carry a high bit in the number on an x86_64 kernel.
  if (arch === 'x64') p.jge(X32_SYSCALL_BIT, 'kill');
  // 3. The deny list, then the two calls whose arguments matter.
  for (const name of DENIED_SYSCALLS) {
    const n = nr[name];
    if (n !== undefined) p.jeq(n, 'deny');
  }
  p.jeq(nr.ioctl!, 'ioctl');
  p.jeq(nr.personality!, 'personality');
  p.ret(SECCOMP_RET.ALLOW);

  // ioctl(fd, request, ...): the kernel takes the request as an unsigned int, so compare only its
  // low 32 bits (high bits set by the caller must not slip a request past the filter).
  p.label('ioctl');
  p.load(argLow(1));
  for (const req of DENIED_IOCTLS) p.jeq(req, 'deny');
  p.ret(SECCOMP_RET.ALLOW);

  // personality(persona): also an unsigned int in the kernel.
  p.label('personality');
  p.load(argLow(0));
  for (const persona of ALLOWED_PERSONALITIES) p.jeq(persona, 'allow');
  p.label('deny');
  p.ret(SECCOMP_RET.ERRNO | EPERM);
  p.label('allow');
  p.ret(SECCOMP_RET.ALLOW);
  p.label('kill');
  p.ret(SECCOMP_RET.KILL_PROCESS);
  return p.assemble();
}

/** Decode a program back into readable lines (for tests and for reading what the lab runs under). */
export function disassemble(program: Uint8Array): string[] {
  const lines: string[] = [];
  const dv = new DataView(program.buffer, program.byteOffset, program.byteLength);
  for (let off = 0; off < program.length; off += BPF_INSN_SIZE) {
    const code = dv.getUint16(off, true);
    const jt = dv.getUint8(off + 2);
    const jf = dv.getUint8(off + 3);
    const k = dv.getUint32(off + 4, true);
    const i = off / BPF_INSN_SIZE;
    const hex = `0x${k.toString(16)}`;
    if (code === (BPF.LD | BPF.W | BPF.ABS)) lines.push(`${i}: ld [${k}]`);
    else if (code === (BPF.JMP | BPF.JEQ | BPF.K)) lines.push(`${i}: jeq ${hex} ? ${i + 1 + jt} : ${i + 1 + jf}`);
    else if (code === (BPF.JMP | BPF.JGE | BPF.K)) lines.push(`${i}: jge ${hex} ? ${i + 1 + jt} : ${i + 1 + jf}`);
    else if (code === (BPF.RET | BPF.K)) lines.push(`${i}: ret ${hex}`);
    else lines.push(`${i}: code 0x${code.toString(16)} k ${hex}`);
  }
  return lines;
}
