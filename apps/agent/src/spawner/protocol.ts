// Messages between the agent and its spawner process (JSON lines over the spawner's stdin/stdout).
// The spec shapes read like Go's SysProcAttr: which namespaces, id maps, hostname, tty, cgroup.
import { z } from 'zod';

const TimeOffsets = z.object({ monotonic: z.number().int(), boottime: z.number().int() });
/** The lab's resource limits, the same for every process in it (core dumps are always off). */
const Rlimits = z.object({ nproc: z.number().int().nullable(), nofile: z.number().int().min(16) });

/** Everything needed to make a lab: its namespaces, root filesystem, limits and first process. */
export const LabSpec = z.object({
  labId: z.string(),
  /** Host uid/gid that the lab's root maps to; the lab owns [uidBase, uidBase + idCount). */
  uidBase: z.number().int().min(1),
  idCount: z.number().int().min(1),
  hostname: z.string().min(1).max(64),
  /** A host directory, private to this lab, where its root filesystem is assembled. */
  stageDir: z.string(),
  /** The read-only lower layer of the lab's root filesystem. */
  lowerDir: z.string(),
  rootSizeMb: z.number().int().min(1),
  tmpSizeMb: z.number().int().min(1),
  /** PTYs the lab's devpts may hold at once (the agent's panes included). */
  ptys: z.number().int().min(2).max(4096),
  /** Files hidden behind an empty read-only file, directories behind an empty read-only tmpfs. */
  maskFiles: z.array(z.string()),
  maskDirs: z.array(z.string()),
  /** cgroup.procs files the lab's processes join (one per hierarchy on cgroup v1). */
  cgroupProcs: z.array(z.string()),
  /**
   * A cgroup subtree the lab's root manages (a lesson pane asked for one): host root made it and
   * gave it to the lab's root; the lab's init mounts it.
   */
  cgroupDelegation: z
    .object({
      /** Bind mounts: the subtree's directory (a host path) and its place relative to the lab's root. */
      mounts: z
        .array(z.object({ source: z.string().startsWith('/'), target: z.string().regex(/^sys\/fs\/cgroup(\/[\w,.-]+)?$/) }).strict())
        .min(1)
        .max(16),
      /**
       * Where the lab's processes live once its cgroup namespace is made, one cgroup.procs file per
       * hierarchy as in cgroupProcs: the same file on v1; on v2 a leaf of the lab's cgroup, which
       * then hands its controllers to the subtree and may hold no processes itself.
       */
      labProcs: z.array(z.string()),
    })
    .strict()
    .optional(),
  timeOffsets: TimeOffsets,
  rlimits: Rlimits,
});
export type LabSpec = z.infer<typeof LabSpec>;

/** A process started inside a lab: a pane's shell or an exec'd command. */
export const SpawnSpec = z.object({
  /**
   * Join every namespace of this process: the lab's init for a pane, a pane's shell for exec. It
   * must be one the spawner started (it is named to the joiner by the spawner's pidfd).
   */
  targetPid: z.number().int().min(1),
  /** Namespaces to join, as CLONE_* flags. */
  joinFlags: z.number().int(),
  cgroupProcs: z.array(z.string()),
  rlimits: Rlimits,
  /** Credentials inside the joined user namespace. */
  uid: z.number().int().min(0),
  gid: z.number().int().min(0),
  /** New namespaces made for this process after joining (CLONE_* flags). */
  unshareFlags: z.number().int(),
  /**
   * With CLONE_NEWUSER in unshareFlags: the id the new namespace's root maps to, in the joined one
   * (0: the joined namespace's root, as `unshare --map-root-user` run by root maps it).
   */
  nestedUserId: z.number().int().min(0).optional(),
  /** With CLONE_NEWUSER: write no id maps (the shell is the overflow uid, `unshare --user` alone). */
  unmappedUser: z.boolean().optional(),
  /** With CLONE_NEWNS: make every mount of the new namespace private first, as unshare(1) does. */
  privateMounts: z.boolean().optional(),
  /** With CLONE_NEWNS and CLONE_NEWPID: PID 1 mounts a new /proc before its exec (`--mount-proc`). */
  mountProc: z.boolean().optional(),
  timeOffsets: TimeOffsets.optional(),
  hostname: z.string().max(64).optional(),
  /** A terminal: the slave's path inside the lab (its devpts instance). */
  tty: z.object({ path: z.string().regex(/^\/dev\/pts\/\d+$/) }).optional(),
  /** Without a tty: capture stdout and stderr; stdin from these bytes (base64) or /dev/null. */
  stdin: z
    .string()
    .max(8 * 1024 * 1024)
    .optional(),
  /**
   * Without a tty: bytes of stdout and of stderr forwarded at most. Past it the spawner closes
   * its end of that pipe, so the command gets EPIPE (or SIGPIPE) instead of filling memory.
   */
  outputLimit: z
    .number()
    .int()
    .min(0)
    .max(64 * 1024 * 1024)
    .default(4 * 1024 * 1024),
  /** The program to exec; default: argv[0] looked up in PATH inside the lab. */
  file: z.string().optional(),
  argv: z.array(z.string()).min(1),
  env: z.array(z.string()),
  cwd: z.string(),
});
export type SpawnSpec = z.infer<typeof SpawnSpec>;
/** What the agent sends (defaults filled in by the spawner's parse). */
export type SpawnSpecInput = z.input<typeof SpawnSpec>;

export const SpawnerRequest = z.discriminatedUnion('op', [
  z.object({ id: z.number().int(), op: z.literal('lab'), spec: LabSpec }),
  z.object({ id: z.number().int(), op: z.literal('spawn'), spec: SpawnSpec }),
  z.object({ id: z.number().int(), op: z.literal('kill'), pid: z.number().int().min(2), signal: z.number().int() }),
  z.object({ id: z.number().int(), op: z.literal('ping') }),
  /** A lab is closing: drop (kill) the joiners waiting in cgroups under these directories. */
  z.object({ id: z.number().int(), op: z.literal('forget'), cgroupDirs: z.array(z.string().startsWith('/')).max(16) }),
]);
export type SpawnerRequest = z.infer<typeof SpawnerRequest>;

export const SpawnerReply = z.union([
  z.object({ id: z.number(), ok: z.literal(true), anchorPid: z.number().optional(), initPid: z.number().optional(), pid: z.number().optional() }),
  z.object({ id: z.number(), ok: z.literal(false), error: z.string(), step: z.string().optional(), code: z.string().optional() }),
  z.object({ ev: z.literal('exit'), pid: z.number(), exitCode: z.number().nullable(), signal: z.number().nullable() }),
  z.object({ ev: z.literal('out'), pid: z.number(), fd: z.union([z.literal(1), z.literal(2)]), data: z.string() }),
  z.object({ ev: z.literal('eof'), pid: z.number(), fd: z.union([z.literal(1), z.literal(2)]), truncated: z.boolean().optional() }),
  z.object({ ev: z.literal('log'), level: z.string(), msg: z.string() }),
]);
export type SpawnerReply = z.infer<typeof SpawnerReply>;
