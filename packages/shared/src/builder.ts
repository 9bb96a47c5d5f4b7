// The namespace builder: from a learner's choice of namespace types and options, the code that
// makes exactly that pane, four ways: the unshare(1) command line, a C program, a Go program in
// the style of the Go container books, and the agent's own TypeScript/koffi sequence.
//
// Every snippet is complete (no placeholders), is run as root, and ends by exec'ing a shell
// (/bin/bash, else /bin/sh) in exactly the chosen namespaces. The snippets agree on the meaning
// of each option, the one the unshare(1) options have:
// - fork: the shell is PID 1 of the new PID namespace. Without it the shell stays outside (only
//   its children go in: the first becomes PID 1, and once that one ends, no more can be made).
// - mapUser: the caller's uid and gid are root in the new user namespace. Without it nothing is
//   mapped: the shell runs as the overflow user (nobody).
// - mountProc: a /proc of the new PID namespace, mounted in the new mount namespace.
// A new mount namespace is made private first (as unshare(1) does), so no mount made in it
// reaches the parent's.
//
// Time namespaces: unshare(CLONE_NEWTIME) moves only the caller's future children (the
// time_for_children link). Current kernels also move the caller at its next execve (measured on
// Linux 6.18); older ones do not. The C and TypeScript programs fork after unshare so that
// the shell is in the new time namespace either way; the Go program unshares it on the thread
// that starts the shell, whose child is born in it.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the snippets are source text, with template literals of their own
import { z } from 'zod';
import { NAMESPACES, NAMESPACE_TYPES, type NamespaceType } from './namespaces.js';

export interface BuilderChoice {
  /** The namespace types to make new, any subset of NAMESPACE_TYPES (may be empty: a plain shell). */
  types: NamespaceType[];
  /** With 'user': map the caller's uid and gid to root in the new user namespace (unshare --map-root-user). Without: unmapped. */
  mapUser: boolean;
  /** With 'mnt' and 'pid': mount a new /proc for the new PID namespace (unshare --mount-proc). */
  mountProc: boolean;
  /**
   * With 'pid': fork, so the shell is PID 1 of the new PID namespace (unshare --fork). Without it
   * the shell stays outside, and its first child is PID 1. (For 'time' the C and TS programs fork
   * by themselves, this option or not: see the top of this file.)
   */
  fork: boolean;
  /** Hostname to set when 'uts' is chosen (optional). */
  hostname?: string;
}

export interface BuilderTarget {
  /** Nested: the PID (as seen from the lab's host pane) of the parent pane's shell, whose namespaces are joined first. */
  parentPid?: number;
  /** Nested, optional: the choice the parent pane was made with, for builderProblems' checks of the nesting. */
  parent?: BuilderChoice;
}

export interface BuilderSnippets {
  shell: string;
  c: string;
  go: string;
  ts: string;
}

/** The longest hostname the kernel takes (HOST_NAME_MAX). */
export const HOSTNAME_MAX = 64;
const HOSTNAME_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME_RE = new RegExp(`^${HOSTNAME_LABEL}(?:\\.${HOSTNAME_LABEL})*$`);

/** A hostname as RFC 1123 has it (letters, digits, hyphens; dot-separated labels), at most 64 bytes. */
export function isValidHostname(name: string): boolean {
  return name.length >= 1 && name.length <= HOSTNAME_MAX && HOSTNAME_RE.test(name);
}

const HOSTNAME_PROBLEM = `the hostname must be 1 to ${HOSTNAME_MAX} letters, digits, hyphens and dots, each dot-separated part starting and ending with a letter or digit`;

/**
 * What is wrong with a choice, as sentences a learner reads (empty: valid). `parent`, when the
 * pane is to be made inside another builder pane: the choice that one was made with.
 */
export function builderProblems(choice: BuilderChoice, parent?: BuilderChoice): string[] {
  if (typeof choice !== 'object' || choice === null) return ['A choice is an object: { types, mapUser, mountProc, fork, hostname? }.'];
  const problems: string[] = [];
  const types = Array.isArray(choice?.types) ? choice.types : [];
  if (!Array.isArray(choice?.types)) problems.push('The namespace types must be a list.');
  const unknown = types.filter((t) => !(NAMESPACE_TYPES as readonly string[]).includes(t));
  if (unknown.length) problems.push(`Unknown namespace type ${unknown.map((t) => JSON.stringify(t)).join(', ')}: the types are ${NAMESPACE_TYPES.join(', ')}.`);
  const dup = types.filter((t, i) => types.indexOf(t) !== i);
  if (dup.length) problems.push(`Each namespace type may be chosen once (${[...new Set(dup)].join(', ')} is there twice).`);
  const has = (t: NamespaceType) => types.includes(t);
  if (choice.mapUser && !has('user')) {
    problems.push('Mapping the user to root needs a new user namespace: tick user, or untick "map the user to root".');
  }
  if (choice.fork && !has('pid')) {
    problems.push('Fork makes the shell PID 1 of a new PID namespace: tick pid, or untick fork.');
  }
  if (choice.mountProc) {
    if (!has('mnt') || !has('pid')) {
      problems.push(
        'Mounting a new /proc needs a new mount namespace (so the host keeps its /proc) and a new PID namespace (for the new /proc to show): tick mnt and pid.',
      );
    } else if (!choice.fork) {
      problems.push(
        'Mounting a new /proc needs fork: without it the shell stays outside the new PID namespace, and a /proc mounted from there shows the old one.',
      );
    }
  }
  if (choice.hostname !== undefined) {
    if (typeof choice.hostname !== 'string' || !isValidHostname(choice.hostname)) problems.push(`Bad hostname: ${HOSTNAME_PROBLEM}.`);
    else if (!has('uts')) problems.push('Setting the hostname needs a new UTS namespace (or it would rename the host): tick uts, or clear the hostname.');
  }
  if (has('user') && !choice.mapUser) {
    const needs = [choice.hostname !== undefined && has('uts') ? 'set the hostname' : '', choice.mountProc ? 'mount /proc' : ''].filter(Boolean);
    if (needs.length) {
      problems.push(
        `To ${needs.join(' and ')} in a new user namespace, tick "map the user to root": unmapped, the shell runs as nobody, and a program loses its capabilities at exec, before it could do it.`,
      );
    }
  }
  if (parent?.types?.includes('user') && !parent.mapUser && types.length) {
    // unshare(1) and a Go program are exec'd as that user before they make anything.
    problems.push(
      'Inside a pane whose user namespace is unmapped (no "map the user to root"), a program runs as nobody, without capabilities, and cannot make namespaces: only joining that pane works there.',
    );
  }
  return problems;
}

/** The zod schema of a BuilderChoice (strict; types unique; hostname valid), for the agent's boundary. */
export const BuilderChoiceSchema: z.ZodType<BuilderChoice> = z
  .object({
    types: z
      .array(z.enum(NAMESPACE_TYPES))
      .max(NAMESPACE_TYPES.length)
      .refine((ts) => new Set(ts).size === ts.length, 'each namespace type may be chosen once'),
    mapUser: z.boolean(),
    mountProc: z.boolean(),
    fork: z.boolean(),
    hostname: z.string().refine(isValidHostname, HOSTNAME_PROBLEM).optional(),
  })
  .strict();

/** The four snippets; throws on a choice with problems. */
export function builderSnippets(choice: BuilderChoice, target: BuilderTarget = {}): BuilderSnippets {
  const problems = builderProblems(choice, target.parent);
  if (target.parentPid !== undefined && !(Number.isSafeInteger(target.parentPid) && target.parentPid > 0)) {
    problems.push(`The parent PID must be a positive integer (got ${JSON.stringify(target.parentPid)}).`);
  }
  if (problems.length) throw new Error(`cannot build this pane: ${problems.join(' ')}`);
  const plan = makePlan(choice, target);
  return { shell: shellSnippet(plan), c: cSnippet(plan), go: goSnippet(plan), ts: tsSnippet(plan) };
}

// ---- the plan every snippet follows --------------------------------------------------------------

interface Plan {
  /** The chosen types, in NAMESPACE_TYPES order. */
  types: NamespaceType[];
  has: (t: NamespaceType) => boolean;
  mapUser: boolean;
  mountProc: boolean;
  fork: boolean;
  hostname: string | undefined;
  parentPid: number | undefined;
  /** One line saying what the snippet makes. */
  title: string;
}

/** The order setns() joins a parent's namespaces in: user first, mnt last. */
const JOIN_ORDER: NamespaceType[] = ['user', 'uts', 'ipc', 'net', 'pid', 'cgroup', 'time', 'mnt'];

const UNSHARE_OPTION: Record<NamespaceType, string> = {
  uts: '--uts',
  ipc: '--ipc',
  pid: '--pid',
  mnt: '--mount',
  net: '--net',
  user: '--user',
  cgroup: '--cgroup',
  time: '--time',
};

const WHAT: Record<NamespaceType, string> = {
  uts: 'its own hostname',
  ipc: 'its own System V IPC objects and POSIX message queues',
  pid: 'its own process numbers',
  mnt: 'its own mount table',
  net: 'its own network devices, addresses and ports',
  user: 'its own user and group ids',
  cgroup: 'its own view of the cgroup tree (its cgroup is the root)',
  time: 'its own monotonic and boot-time clocks',
};

function makePlan(choice: BuilderChoice, target: BuilderTarget): Plan {
  const types = NAMESPACE_TYPES.filter((t) => choice.types.includes(t));
  const hostname = types.includes('uts') ? choice.hostname : undefined;
  const parentPid = target.parentPid;
  const where = parentPid !== undefined ? `, inside those of PID ${parentPid} (the parent pane's shell)` : '';
  const what = types.length ? `new ${types.join(', ')} namespace${types.length > 1 ? 's' : ''}` : 'no new namespaces';
  return {
    types,
    has: (t) => types.includes(t),
    mapUser: choice.mapUser,
    mountProc: choice.mountProc,
    fork: choice.fork,
    hostname,
    parentPid,
    title: `A shell in ${what}${where}.`,
  };
}

function optionNotes(p: Plan): string[] {
  const notes: string[] = [];
  for (const t of p.types) notes.push(`${UNSHARE_OPTION[t]}: a new ${t} namespace, ${WHAT[t]}`);
  if (p.mapUser) notes.push('--map-root-user: our uid and gid become root (0) in the new user namespace');
  else if (p.has('user')) notes.push('(no --map-root-user: nothing is mapped, so the shell runs as nobody)');
  if (p.mountProc) notes.push('--mount-proc: mount a /proc that shows the new PID namespace');
  if (p.fork) notes.push('--fork: run the shell as a child, PID 1 of the new PID namespace');
  else if (p.has('pid')) notes.push('(no --fork: the shell stays outside the new PID namespace; only its children go in)');
  return notes;
}

/** A comment of at most 100 columns: `prefix` on every line, continuation lines indented by `indent`. */
function comment(prefix: string, text: string, indent = 0): string[] {
  const width = 100 - prefix.length;
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const pad = lines.length ? ' '.repeat(indent) : '';
    if (line && pad.length + line.length + 1 + word.length > width) {
      lines.push(pad + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push((lines.length ? ' '.repeat(indent) : '') + line);
  return lines.map((l) => `${prefix}${l}`);
}

/** A TypeScript string literal, single-quoted. */
function tsString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

// ---- shell -------------------------------------------------------------------------------------

function shellSnippet(p: Plan): string {
  const lines = ['#!/bin/sh', ...comment('# ', p.title), '# Run as root: sh pane.sh'];
  const notes = optionNotes(p);
  if (p.parentPid !== undefined) {
    lines.push(
      `# nsenter --target ${p.parentPid} --all: first join every namespace of PID ${p.parentPid}`,
      '#   (nsenter forks when it joins a PID namespace, so what it runs is inside that one too)',
      '# --preserve-credentials: keep our uid and gids. Without it nsenter sets them anew, and a',
      '#   user namespace whose setgroups is denied (as a mapped one is) refuses that.',
    );
  }
  if (notes.length) {
    lines.push('# unshare then makes the new namespaces and runs the program after "--" in them:');
    for (const n of notes) lines.push(`#   ${n}`);
  }
  lines.push('shell=$(command -v bash || echo /bin/sh)');
  const words: string[] = [];
  if (p.parentPid !== undefined) words.push('nsenter', '--target', String(p.parentPid), '--all', '--preserve-credentials', '--');
  if (p.types.length) {
    words.push('unshare', ...p.types.map((t) => UNSHARE_OPTION[t]));
    if (p.mapUser) words.push('--map-root-user');
    if (p.mountProc) words.push('--mount-proc');
    if (p.fork) words.push('--fork');
    words.push('--');
  }
  if (p.hostname !== undefined) {
    lines.push('# The hostname is set inside, by a small sh, before it becomes the shell.');
    words.push('/bin/sh', '-c', `'hostname "$1" && exec "$2"'`, 'sh', `'${p.hostname}'`, '"$shell"');
  } else {
    words.push('"$shell"');
  }
  lines.push(`exec ${words.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

// ---- C -----------------------------------------------------------------------------------------

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function cFlags(types: NamespaceType[]): string {
  return types.length ? types.map((t) => NAMESPACES[t].flag).join(' | ') : '0';
}

function cSnippet(p: Plan): string {
  const nested = p.parentPid !== undefined;
  // The fork for the time namespace separates CLONE_NEWPID from the main unshare: the shell must
  // be PID 1 only with fork.
  const timeFork = p.has('time');
  const mainTypes = p.types.filter((t) => !(t === 'pid' && timeFork));
  const o: string[] = [];
  o.push(
    ...comment('// ', p.title),
    '// Build: gcc -Wall -Werror -o pane pane.c',
    '// Run as root: ./pane',
    '#define _GNU_SOURCE',
    '#include <errno.h>',
    '#include <fcntl.h>',
    '#include <sched.h>',
    '#include <signal.h>',
    '#include <stdio.h>',
    '#include <stdlib.h>',
    '#include <string.h>',
    '#include <sys/mount.h>',
    '#include <sys/stat.h>',
    '#include <sys/types.h>',
    '#include <sys/wait.h>',
    '#include <unistd.h>',
    '',
    "// Older C libraries lack the newest flags: the kernel's values.",
    '#ifndef CLONE_NEWCGROUP',
    `#define CLONE_NEWCGROUP ${hex(NAMESPACES.cgroup.value)}`,
    '#endif',
    '#ifndef CLONE_NEWTIME',
    `#define CLONE_NEWTIME ${hex(NAMESPACES.time.value)}`,
    '#endif',
    '',
    '// Every call is checked: on failure, say which and why, and stop.',
    'static void die(const char *what) {',
    '  perror(what);',
    '  exit(1);',
    '}',
  );
  if (nested || timeFork || p.fork) {
    o.push(
      '',
      '// Fork. The child returns; the parent waits for it and exits with its status.',
      'static void fork_and_wait(void) {',
      '  pid_t child = fork();',
      '  if (child < 0) die("fork");',
      '  if (child == 0) return;',
      '  // Ctrl-C in the shell reaches us too (same terminal): leave it to the shell.',
      '  if (signal(SIGINT, SIG_IGN) == SIG_ERR) die("signal SIGINT");',
      '  if (signal(SIGQUIT, SIG_IGN) == SIG_ERR) die("signal SIGQUIT");',
      '  int status;',
      '  while (waitpid(child, &status, 0) < 0)',
      '    if (errno != EINTR) die("waitpid");',
      '  exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));',
      '}',
    );
  }
  if (p.mapUser) {
    o.push(
      '',
      '// Write one of our own /proc files (the id maps, setgroups).',
      'static void write_proc_self(const char *name, const char *text) {',
      '  char path[64];',
      '  snprintf(path, sizeof path, "/proc/self/%s", name);',
      '  int fd = open(path, O_WRONLY | O_CLOEXEC);',
      '  if (fd < 0) die(path);',
      '  ssize_t len = (ssize_t)strlen(text);',
      '  if (write(fd, text, len) != len) die(path);',
      '  if (close(fd) < 0) die(path);',
      '}',
    );
  }
  if (nested) {
    o.push(
      '',
      `// Join the namespaces of PID ${p.parentPid} (the parent pane's shell), in this order:`,
      '// - user first: setns() needs CAP_SYS_ADMIN in the user namespace that owns the namespace',
      "//   joined. The parent's namespaces were made with (so are owned by) its user namespace;",
      '//   once we are in it we hold every capability there, and none over the namespaces of',
      '//   the host, which is why a namespace we already share is skipped (and setns into our',
      '//   own user namespace would fail anyway).',
      '// - mnt last: joining it changes our root, working directory and /proc; every file was',
      '//   opened before the first setns, so nothing is looked up in the new view halfway.',
      '// pid and time change only what our children are born in: the caller forks next.',
      'static void join_namespaces(pid_t target) {',
      '  static const struct { const char *name; int flag; } ns[] = {',
      ...JOIN_ORDER.map((t) => `    {"${NAMESPACES[t].procName}", ${NAMESPACES[t].flag}},`),
      '  };',
      '  enum { N = sizeof ns / sizeof ns[0] };',
      '  int fd[N];',
      '  int same[N];',
      '  char path[64];',
      '  for (int i = 0; i < N; i++) {',
      '    struct stat theirs, ours;',
      '    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)target, ns[i].name);',
      '    fd[i] = open(path, O_RDONLY | O_CLOEXEC);',
      '    if (fd[i] < 0) die(path);',
      '    if (fstat(fd[i], &theirs) < 0) die(path);',
      '    snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i].name);',
      '    if (stat(path, &ours) < 0) die(path);',
      '    same[i] = theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;',
      '  }',
      '  for (int i = 0; i < N; i++) {',
      '    if (!same[i] && setns(fd[i], ns[i].flag) < 0) {',
      '      snprintf(path, sizeof path, "setns %s", ns[i].name);',
      '      die(path);',
      '    }',
      '    if (close(fd[i]) < 0) die("close");',
      '  }',
      '}',
    );
  }
  o.push(
    '',
    '// Become the shell: bash if there is one, else sh.',
    'static void exec_shell(void) {',
    '  char *bash[] = {"/bin/bash", NULL};',
    '  char *sh[] = {"/bin/sh", NULL};',
    '  execv(bash[0], bash);',
    '  execv(sh[0], sh);',
    '  die("execv /bin/sh");',
    '}',
    '',
    'int main(void) {',
  );
  let step = 0;
  const say = (text: string) => {
    const head = `${++step}. `;
    o.push(...comment('  // ', head + text, head.length));
  };
  if (nested) {
    say(`join the namespaces of PID ${p.parentPid}`);
    o.push(`  join_namespaces(${p.parentPid});`);
    say('fork, into the joined PID and time namespaces (setns moved only our children)');
    o.push('  fork_and_wait();');
  }
  if (mainTypes.length) {
    if (p.mapUser) {
      o.push('  // Our ids, before the new user namespace (where they are unmapped until the maps are written).');
      o.push('  unsigned uid = (unsigned)getuid();', '  unsigned gid = (unsigned)getgid();');
    }
    say(`make the new namespaces${timeFork && p.has('pid') ? ' (the PID one after the fork below)' : ''}`);
    o.push(`  if (unshare(${cFlags(mainTypes)}) < 0) die("unshare");`);
  }
  if (p.mapUser) {
    say(
      'map our uid and gid to root in the new user namespace (setgroups denied first: the kernel wants that before a gid_map written without CAP_SETGID over the parent namespace)',
    );
    o.push(
      '  char map[64];',
      '  write_proc_self("setgroups", "deny");',
      '  snprintf(map, sizeof map, "0 %u 1\\n", uid);',
      '  write_proc_self("uid_map", map);',
      '  snprintf(map, sizeof map, "0 %u 1\\n", gid);',
      '  write_proc_self("gid_map", map);',
    );
  }
  if (p.hostname !== undefined) {
    say('set the hostname of the new UTS namespace');
    o.push(`  if (sethostname("${p.hostname}", ${p.hostname.length}) < 0) die("sethostname");`);
  }
  if (p.has('mnt')) {
    say("make every mount private, so nothing mounted here reaches the parent's mount namespace");
    o.push('  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die("mount / private");');
  }
  if (timeFork) {
    say('fork into the new time namespace: unshare moved only our children there (current kernels also move us at exec, older ones do not)');
    o.push('  fork_and_wait();');
    if (p.has('pid')) {
      say('make the new PID namespace');
      o.push(`  if (unshare(${NAMESPACES.pid.flag}) < 0) die("unshare pid");`);
    }
  }
  if (p.fork) {
    say('fork: the child is PID 1 of the new PID namespace');
    o.push('  fork_and_wait();');
  }
  if (p.mountProc) {
    say('mount a /proc that shows the new PID namespace');
    o.push('  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) die("mount /proc");');
  }
  say('become the shell');
  o.push('  exec_shell();', '}');
  return `${o.join('\n')}\n`;
}

// ---- Go ----------------------------------------------------------------------------------------

function goFlag(t: NamespaceType): string {
  return t === 'time' ? 'cloneNewTime' : t === 'cgroup' ? 'cloneNewCgroup' : `syscall.${NAMESPACES[t].flag}`;
}

function goSnippet(p: Plan): string {
  const nested = p.parentPid !== undefined;
  // What the child is cloned with; CLONE_NEWNS goes to Unshareflags (see below), CLONE_NEWPID too
  // without fork, and CLONE_NEWTIME is unshared on the starting thread.
  const clone = p.types.filter((t) => t !== 'mnt' && t !== 'time' && !(t === 'pid' && !p.fork));
  const unshareInChild = p.types.filter((t) => t === 'mnt' || (t === 'pid' && !p.fork));
  const useInit = p.mountProc || p.hostname !== undefined;
  const o: string[] = [];
  o.push(
    ...comment('// ', p.title),
    '// Build (Go 1.19 or later, standard library only): go mod init pane && go build -o pane .',
    '// Run as root: ./pane',
    '//',
    '// As the Go container books write it: exec.Command starts the shell, and',
    '// SysProcAttr.Cloneflags makes the child in new namespaces (clone(2) with those flags).',
    'package main',
    '',
    'import (',
    '\t"fmt"',
    '\t"os"',
    '\t"os/exec"',
    '\t"os/signal"',
  );
  if (p.has('time')) o.push('\t"runtime"');
  o.push('\t"syscall"', ')', '');
  if (p.has('cgroup') || p.has('time')) {
    o.push('// The syscall package (Go 1.19) lacks these flags (golang.org/x/sys/unix has them):', "// the kernel's values.");
    if (p.has('cgroup')) o.push(`const cloneNewCgroup = ${hex(NAMESPACES.cgroup.value)}`, '');
    if (p.has('time')) {
      o.push(
        '// clone(2) cannot take CLONE_NEWTIME at all: 0x80 falls in the byte that holds the exit',
        '// signal. So it is unshared on the thread that starts the shell, below.',
        `const cloneNewTime = ${hex(NAMESPACES.time.value)}`,
        '',
      );
    }
  }
  o.push(
    'func must(what string, err error) {',
    '\tif err != nil {',
    '\t\tfmt.Fprintf(os.Stderr, "%s: %v\\n", what, err)',
    '\t\tos.Exit(1)',
    '\t}',
    '}',
    '',
    '// The shell: bash if there is one, else sh.',
    'func shell() string {',
    '\tif p, err := exec.LookPath("bash"); err == nil {',
    '\t\treturn p',
    '\t}',
    '\treturn "/bin/sh"',
    '}',
    '',
  );
  if (nested) {
    o.push(
      `// Join the namespaces of PID ${p.parentPid} (the parent pane's shell). Go cannot do it with`,
      '// setns(2): the kernel refuses to move a multi-threaded process into another user or mount',
      '// namespace, and every Go program runs several threads from its start. So the program',
      '// runs itself again under nsenter(1), which joins them all (user first, mnt last, and forks',
      '// into the PID namespace) and then executes this same binary, with the argument "joined".',
      "// The binary must be at the same path inside the parent's mount namespace.",
      'func joinParent() {',
      '\tself, err := os.Executable()',
      '\tmust("find this program", err)',
      '\tnsenter, err := exec.LookPath("nsenter")',
      '\tmust("find nsenter", err)',
      '\t// --preserve-credentials: keep our ids (nsenter would set them anew, and a user namespace',
      '\t// whose setgroups is denied, as a mapped one is, refuses that).',
      `\targs := []string{"nsenter", "--target", "${p.parentPid}", "--all", "--preserve-credentials", "--", self, "joined"}`,
      '\tmust("exec nsenter", syscall.Exec(nsenter, args, os.Environ()))',
      '}',
      '',
    );
  }
  if (useInit) {
    o.push(
      '// The child, started as "/proc/self/exe init" inside the new namespaces: what must happen',
      '// in them before the shell runs (SysProcAttr cannot), then it becomes the shell.',
      'func initChild() {',
    );
    if (p.hostname !== undefined) o.push(`\tmust("sethostname", syscall.Sethostname([]byte("${p.hostname}")))`);
    if (p.mountProc) {
      o.push(
        '\t// / is private already (Unshareflags CLONE_NEWNS): this mount stays in the new namespace.',
        '\tmust("mount /proc", syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""))',
      );
    }
    o.push('\tsh := shell()', '\tmust("exec "+sh, syscall.Exec(sh, []string{sh}, os.Environ()))', '}', '');
  }
  o.push('func main() {');
  if (useInit) {
    o.push('\tif len(os.Args) > 1 && os.Args[1] == "init" {', '\t\tinitChild()', '\t\treturn', '\t}');
  }
  if (nested) {
    o.push('\tif len(os.Args) < 2 || os.Args[1] != "joined" {', '\t\tjoinParent()', '\t}');
  }
  if (p.has('time')) {
    o.push(
      '\t// The new time namespace, for the children of this thread (the thread stays locked, so',
      '\t// the child below is started from it and is born in the new time namespace).',
      '\truntime.LockOSThread()',
      '\tmust("unshare time", syscall.Unshare(cloneNewTime))',
    );
  }
  o.push(useInit ? '\tcmd := exec.Command("/proc/self/exe", "init")' : '\tcmd := exec.Command(shell())');
  o.push('\tcmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr');
  // Key and value, aligned as gofmt aligns them.
  const fields: Array<[string, string]> = [];
  if (clone.length) fields.push(['Cloneflags', clone.map(goFlag).join(' | ')]);
  if (unshareInChild.length) fields.push(['Unshareflags', unshareInChild.map(goFlag).join(' | ')]);
  if (p.mapUser) {
    fields.push(['UidMappings', '[]syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}']);
    fields.push(['GidMappings', '[]syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}']);
  }
  const width = Math.max(0, ...fields.map(([k]) => k.length));
  const attr = fields.map(([k, v]) => `\t\t${`${k}:`.padEnd(width + 2)}${v},`);
  if (attr.length) {
    const why: string[] = [];
    if (p.has('mnt')) {
      why.push(
        '\t// CLONE_NEWNS in Unshareflags, not Cloneflags: the child then unshares it and Go makes /',
        '\t// private (MS_REC|MS_PRIVATE), as unshare(1) does, so no mount in it reaches the parent.',
      );
    }
    if (p.has('pid') && !p.fork) {
      why.push(
        '\t// CLONE_NEWPID in Unshareflags (no fork): the child unshares it before exec, so the shell',
        '\t// stays outside the new PID namespace and only its children go in.',
      );
    }
    if (p.mapUser) {
      why.push("\t// The maps are written by this process into the child's uid_map and gid_map (setgroups denied).");
    } else if (p.has('user')) {
      why.push('\t// No UidMappings: the new user namespace stays unmapped, and the shell runs as nobody.');
    }
    o.push(...why, '\tcmd.SysProcAttr = &syscall.SysProcAttr{', ...attr, '\t}');
  }
  o.push(
    '\tmust("start the shell", cmd.Start())',
    '\t// Ctrl-C in the shell reaches us too (same terminal): leave it to the shell.',
    '\tsignal.Notify(make(chan os.Signal, 1), os.Interrupt, syscall.SIGQUIT)',
    '\terr := cmd.Wait()',
    '\tif ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {',
    '\t\tos.Exit(128 + int(ws.Signal()))',
    '\t}',
    '\tif exit, ok := err.(*exec.ExitError); ok {',
    '\t\tos.Exit(exit.ExitCode())',
    '\t}',
    '\tmust("wait for the shell", err)',
    '}',
  );
  return `${o.join('\n')}\n`;
}

// ---- TypeScript / koffi ------------------------------------------------------------------------

function tsSnippet(p: Plan): string {
  const nested = p.parentPid !== undefined;
  const timeFork = p.has('time');
  const mainTypes = p.types.filter((t) => !(t === 'pid' && timeFork));
  const flagsExpr = (types: NamespaceType[]) => types.map((t) => `CLONE.${NAMESPACES[t].flag.slice('CLONE_'.length)}`).join(' | ');
  const o: string[] = [];
  o.push(
    ...comment('// ', p.title),
    "// The nslab agent's own sequence, standalone. Run as root from a directory where koffi is",
    '// installed (the nslab repository, say): npx tsx pane.ts',
    '//',
    '// Node always runs several threads, and the kernel refuses unshare(CLONE_NEWUSER) and setns()',
    '// into a user or mount namespace to a multi-threaded process. So the first step forks',
    '// through koffi: the child has one thread, and does every other step with plain libc calls.',
    '// Node marks its JavaScript heap MADV_DONTFORK (a forked child would crash on its first',
    '// instruction): before every fork the address space is marked MADV_DOFORK again.',
    nested ? "import { fstatSync, readFileSync, statSync } from 'node:fs';" : "import { readFileSync } from 'node:fs';",
    "import { createRequire } from 'node:module';",
    "import { join } from 'node:path';",
    '',
    '// koffi from the current directory, wherever this file is saved.',
    "const koffi = createRequire(join(process.cwd(), 'pane.cjs'))('koffi');",
    "const lib = koffi.load('libc.so.6');",
    'const libc = {',
    "  fork: lib.func('int fork(void)'),",
    "  _exit: lib.func('void _exit(int status)'),",
    "  waitpid: lib.func('int waitpid(int pid, int *status, int options)'),",
    "  signal: lib.func('intptr_t signal(int sig, intptr_t handler)'),",
    "  sigprocmask: lib.func('int sigprocmask(int how, const uint8_t *set, uint8_t *oldset)'),",
    "  madvise: lib.func('int madvise(uintptr_t addr, size_t len, int advice)'),",
    "  execve: lib.func('int execve(const char *path, const char **argv, const char **envp)'),",
    "  getuid: lib.func('uint32_t getuid(void)'),",
    "  getgid: lib.func('uint32_t getgid(void)'),",
    "  unshare: lib.func('int unshare(int flags)'),",
    "  sethostname: lib.func('int sethostname(const char *name, size_t len)'),",
    "  mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'),",
    "  open: lib.func('int open(const char *path, int flags)'),",
    "  write: lib.func('long write(int fd, const uint8_t *buf, size_t count)'),",
    "  close: lib.func('int close(int fd)'),",
    "  fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),",
    "  strerror: lib.func('const char *strerror(int errnum)'),",
    ...(nested ? ["  setns: lib.func('int setns(int fd, int nstype)'),"] : []),
    '};',
    '',
    'const CLONE = {',
    ...NAMESPACE_TYPES.map((t) => `  ${NAMESPACES[t].flag.slice('CLONE_'.length)}: ${hex(NAMESPACES[t].value)},`),
    '};',
    'const O_RDONLY = 0;',
    'const O_WRONLY = 1;',
    'const O_CLOEXEC = 0o2000000;',
    'const MS_NOSUID = 2;',
    'const MS_NODEV = 4;',
    'const MS_NOEXEC = 8;',
    'const MS_REC = 0x4000;',
    'const MS_PRIVATE = 0x40000;',
    'const MADV_DOFORK = 11;',
    'const SIG_DFL = 0;',
    'const SIG_IGN = 1;',
    'const SIG_SETMASK = 2;',
    'const SIGINT = 2;',
    'const SIGQUIT = 3;',
    'const SIGKILL = 9;',
    'const SIGSTOP = 19;',
    'const F_SETFD = 2;',
    'const EINTR = 4;',
    'const EINVAL = 22;',
    '',
    "let current = 'start';",
    '',
    "/** On failure: the step, the call and the errno on stderr (not through Node's streams); stop. */",
    'function fail(what: string): never {',
    '  const errno = koffi.errno();',
    '  const text = `pane: ${current}: ${what}: ${libc.strerror(errno)}\\n`;',
    '  const buf = Buffer.from(text);',
    '  libc.write(2, buf, buf.length);',
    '  libc._exit(1);',
    "  throw new Error('unreachable');",
    '}',
    '',
    '/** A libc result: -1 is an error. */',
    'function check(what: string, ret: number | bigint): number {',
    '  const n = Number(ret);',
    '  if (n < 0) fail(what);',
    '  return n;',
    '}',
    '',
    '/** One named step of the sequence, as the agent names them. */',
    'function step(name: string, fn: () => void) {',
    '  current = name;',
    '  fn();',
    '}',
    '',
    "// The user address space minus the mappings madvise(MADV_DOFORK) refuses (the kernel's [vvar]:",
    '// a refusal would end its walk over the rest of a range), worked out once, before any fork.',
    "const USER_SPACE_END = process.arch === 'arm64' ? 1n << 48n : 0x7ffffffff000n;",
    'const doForkRanges: Array<[bigint, bigint]> = [];',
    '{',
    '  const refused: Array<[bigint, bigint]> = [];',
    "  for (const line of readFileSync('/proc/self/maps', 'latin1').split('\\n')) {",
    '    const m = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);',
    '    if (!m) continue;',
    '    const lo = BigInt(`0x${m[1]}`);',
    '    const hi = BigInt(`0x${m[2]}`);',
    '    if (hi > USER_SPACE_END) continue;',
    '    if (libc.madvise(lo, hi - lo, MADV_DOFORK) < 0 && koffi.errno() === EINVAL) refused.push([lo, hi]);',
    '  }',
    '  let at = 0x1000n;',
    '  for (const [lo, hi] of refused.sort((a, b) => (a[0] < b[0] ? -1 : 1))) {',
    '    if (lo > at) doForkRanges.push([at, lo - at]);',
    '    at = hi;',
    '  }',
    '  if (at < USER_SPACE_END) doForkRanges.push([at, USER_SPACE_END - at]);',
    '}',
    '',
    '/** Fork. The child returns; the parent waits for it and exits with its status. */',
    'function forkAndWait() {',
    '  // Not checked: madvise says ENOMEM for the holes in a range, after marking the rest.',
    '  for (const [lo, len] of doForkRanges) libc.madvise(lo, len, MADV_DOFORK);',
    "  const child = check('fork', libc.fork());",
    '  if (child === 0) return;',
    '  // Ctrl-C in the shell reaches us too (same terminal): leave it to the shell.',
    "  check('signal SIGINT', libc.signal(SIGINT, SIG_IGN));",
    "  check('signal SIGQUIT', libc.signal(SIGQUIT, SIG_IGN));",
    '  const status = new Int32Array(1);',
    '  while (libc.waitpid(child, status, 0) < 0) {',
    "    if (koffi.errno() !== EINTR) fail('waitpid');",
    '  }',
    '  const st = status[0]!;',
    '  libc._exit((st & 0x7f) === 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f));',
    '}',
    '',
  );
  if (p.mapUser) {
    o.push(
      '/** Write one of our own /proc files (the id maps, setgroups). */',
      'function writeProcSelf(name: string, text: string) {',
      '  const path = `/proc/self/${name}`;',
      '  const fd = check(path, libc.open(path, O_WRONLY | O_CLOEXEC));',
      '  const buf = Buffer.from(text);',
      '  if (check(path, libc.write(fd, buf, buf.length)) !== buf.length) fail(path);',
      '  check(path, libc.close(fd));',
      '}',
      '',
    );
  }
  if (nested) {
    o.push(
      `/** Join the namespaces of PID ${p.parentPid} (the parent pane's shell). */`,
      'function joinNamespaces(target: number) {',
      '  // The order matters. user first: setns() needs CAP_SYS_ADMIN in the user namespace that owns',
      "  // the namespace joined, and the parent's namespaces are owned by its user namespace, where",
      "  // we hold every capability once we are in it (and none over the host's namespaces: a",
      '  // namespace we already share is skipped). mnt last: joining it changes our root, working',
      '  // directory and /proc, so every file is opened before the first setns.',
      `  const order = [${JOIN_ORDER.map((t) => tsString(NAMESPACES[t].procName)).join(', ')}] as const;`,
      `  const flag: Record<string, number> = { ${JOIN_ORDER.map((t) => `${NAMESPACES[t].procName}: CLONE.${NAMESPACES[t].flag.slice('CLONE_'.length)}`).join(', ')} };`,
      '  const joins = order.map((name) => {',
      '    const path = `/proc/${target}/ns/${name}`;',
      '    const fd = check(path, libc.open(path, O_RDONLY | O_CLOEXEC));',
      '    const theirs = fstatSync(fd);',
      '    const ours = statSync(`/proc/self/ns/${name}`);',
      '    return { name, fd, same: theirs.dev === ours.dev && theirs.ino === ours.ino };',
      '  });',
      '  for (const j of joins) {',
      '    if (!j.same) check(`setns ${j.name}`, libc.setns(j.fd, flag[j.name]!));',
      "    check('close', libc.close(j.fd));",
      '  }',
      '}',
      '',
    );
  }
  o.push(
    '/** Become the shell: bash if there is one, else sh. */',
    'function execShell(): never {',
    '  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);',
    "  for (const sh of ['/bin/bash', '/bin/sh']) libc.execve(sh, [sh, null], [...env, null]);",
    "  return fail('execve /bin/sh');",
    '}',
    '',
  );
  const steps: string[] = [];
  const add = (name: string, body: string[]) => {
    steps.push(`step(${tsString(name)}, () => {`, ...body.map((l) => `  ${l}`), '});');
  };
  add('fork a single-threaded child', ['forkAndWait();']);
  if (nested) {
    add(`join the namespaces of pid ${p.parentPid}`, [`joinNamespaces(${p.parentPid});`]);
    add('fork into the joined PID and time namespaces', ['// setns moved only our children into those.', 'forkAndWait();']);
  }
  if (p.mapUser)
    steps.push(
      '// Our ids, before the new user namespace (where they are unmapped until the maps are written).',
      'const uid = libc.getuid();',
      'const gid = libc.getgid();',
    );
  if (mainTypes.length) add('make the new namespaces', [`check('unshare', libc.unshare(${flagsExpr(mainTypes)}));`]);
  if (p.mapUser) {
    add('map our ids to root', [
      '// setgroups denied first: the kernel wants that before a gid_map written without',
      '// CAP_SETGID over the parent namespace.',
      "writeProcSelf('setgroups', 'deny');",
      "writeProcSelf('uid_map', `0 ${uid} 1\\n`);",
      "writeProcSelf('gid_map', `0 ${gid} 1\\n`);",
    ]);
  }
  if (p.hostname !== undefined) {
    add('set the hostname', [`check('sethostname', libc.sethostname(${tsString(p.hostname)}, ${p.hostname.length}));`]);
  }
  if (p.has('mnt')) {
    add('make every mount private', [
      "// So nothing mounted here reaches the parent's mount namespace.",
      "check('mount / private', libc.mount(null, '/', null, MS_REC | MS_PRIVATE, null));",
    ]);
  }
  if (timeFork) {
    add('fork into the new time namespace', [
      '// unshare moved only our children there (current kernels also move us at exec,',
      '// older ones do not).',
      'forkAndWait();',
    ]);
    if (p.has('pid')) add('make the PID namespace', [`check('unshare pid', libc.unshare(CLONE.NEWPID));`]);
  }
  if (p.fork) add('fork PID 1 of the new PID namespace', ['forkAndWait();']);
  if (p.mountProc) {
    add('mount a new /proc', ["check('mount /proc', libc.mount('proc', '/proc', 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC, null));"]);
  }
  add('reset signals', [
    '// Node ignores SIGPIPE and handles others; an ignored signal would stay ignored in the shell.',
    'for (let sig = 1; sig < 32; sig++) {',
    '  if (sig !== SIGKILL && sig !== SIGSTOP) check(`signal ${sig}`, libc.signal(sig, SIG_DFL));',
    '}',
    "check('sigprocmask', libc.sigprocmask(SIG_SETMASK, Buffer.alloc(128), null));",
  ]);
  add('hand stdin, stdout and stderr to the shell', [
    '// Node marks them close-on-exec.',
    "for (const fd of [0, 1, 2]) check(`fcntl ${fd}`, libc.fcntl(fd, F_SETFD, 'int', 0));",
  ]);
  add('exec the shell', ['execShell();']);
  o.push(...steps);
  return `${o.join('\n')}\n`;
}

/** Builder panes a lab holds at once (the agent refuses more; the page says so before). */
export const MAX_BUILDER_PANES = 6;

/**
 * The choice a pane stands for, from what the agent keeps of it (its namespaces and, for a
 * builder pane, its options): a pane with a PID namespace forks; a lesson's pane has no options.
 */
export function paneChoice(pane: { unshare: readonly string[]; built?: { mapUser: boolean; mountProc: boolean; hostname?: string } }): BuilderChoice {
  return {
    types: NAMESPACE_TYPES.filter((t) => pane.unshare.includes(t)),
    mapUser: pane.built?.mapUser ?? false,
    mountProc: pane.built?.mountProc ?? false,
    fork: pane.unshare.includes('pid'),
    ...(pane.built?.hostname !== undefined ? { hostname: pane.built.hostname } : {}),
  };
}
