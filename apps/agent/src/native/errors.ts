import koffi from 'koffi';

const names: Record<number, string> = {};
for (const [name, num] of Object.entries(koffi.os.errno)) {
  if (names[num] === undefined) names[num] = name;
}

/** The name of an errno value, e.g. 1 -> "EPERM". */
export function errnoName(errno: number): string {
  return names[errno] ?? `E${errno}`;
}

/** A failed system call: says which call, on what, and the kernel's errno by name. */
export class SyscallError extends Error {
  readonly code: string;
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly what?: string,
  ) {
    super(`${syscall}${what ? ` (${what})` : ''} failed: ${errnoName(errno)}`);
    this.name = 'SyscallError';
    this.code = errnoName(errno);
  }
}
