// Building and running the namespace builder's snippets as root: host root, or a lab's root in its
// host pane. Either way every program runs in a scratch mount namespace of the test's own
// (`unshare --mount --propagation private`), so a /proc (or any other mount) it makes can never
// reach the mount table it was started from.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NAMESPACE_TYPES, type BuilderSnippets, type NamespaceType } from '@nslab/shared';
import { IN_CI, rootOrSkip } from '../helpers/env.ts';

export const REPO = join(import.meta.dirname, '..', '..');
export const LANGS = ['shell', 'c', 'go', 'ts'] as const;
export type Lang = (typeof LANGS)[number];

/** The ns links compared: every type's own link, and the two "for children" ones. */
export const NS_LINKS = [...NAMESPACE_TYPES, 'pid_for_children', 'time_for_children'] as const;

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** The `skip` of the snippet tests: root, gcc, go, unshare and nsenter; under CI=true, a missing one fails. */
export function snippetTestsSkip(): string | false {
  const root = rootOrSkip('the builder snippet tests');
  if (root) return root;
  const missing = ['gcc', 'go', 'unshare', 'nsenter'].filter((c) => !have(c));
  if (!missing.length) return false;
  if (IN_CI) throw new Error(`the builder snippet tests need ${missing.join(', ')}, and CI=true forbids skipping them`);
  return `needs ${missing.join(', ')}`;
}

/** A fresh directory the snippets are built in, readable by anyone (an unmapped shell runs as nobody). */
export function workDir(): string {
  const dir = mkdtempSync('/var/tmp/nslab-builder-');
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'go-cache'));
  return dir;
}

export function removeDir(dir: string) {
  rmSync(dir, { recursive: true, force: true });
}

function must(what: string, r: ReturnType<typeof spawnSync>) {
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${what} failed (status ${r.status}, signal ${r.signal}):\n${r.stdout}\n${r.stderr}`);
}

/** Write the four snippets under dir/name/ and compile the C and Go ones: the program of each (the .ts file for ts). */
export function buildSnippets(root: string, name: string, s: BuilderSnippets): Record<Lang, string[]> {
  const dir = join(root, name);
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'pane.sh'), s.shell);
  writeFileSync(join(dir, 'pane.c'), s.c);
  writeFileSync(join(dir, 'pane.ts'), s.ts);
  const goDir = join(dir, 'go');
  mkdirSync(goDir);
  writeFileSync(join(goDir, 'pane.go'), s.go);
  must(`gcc (${name})`, spawnSync('gcc', ['-Wall', '-Werror', '-o', join(dir, 'pane-c'), join(dir, 'pane.c')], { encoding: 'utf8', timeout: 60_000 }));
  const goEnv = {
    ...process.env,
    HOME: root,
    GOCACHE: join(root, 'go-cache'),
    GOPATH: join(root, 'go-path'),
    GOFLAGS: '',
    GO111MODULE: 'on',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
  };
  must(`go mod init (${name})`, spawnSync('go', ['mod', 'init', 'pane'], { cwd: goDir, env: goEnv, encoding: 'utf8', timeout: 60_000 }));
  must(`go vet (${name})`, spawnSync('go', ['vet', '.'], { cwd: goDir, env: goEnv, encoding: 'utf8', timeout: 120_000 }));
  must(`go build (${name})`, spawnSync('go', ['build', '-o', join(dir, 'pane-go'), '.'], { cwd: goDir, env: goEnv, encoding: 'utf8', timeout: 120_000 }));
  const gofmt = spawnSync('gofmt', ['-l', goDir], { encoding: 'utf8' });
  if (gofmt.status === 0 && gofmt.stdout.trim())
    throw new Error(`the Go snippet (${name}) is not gofmt-formatted:\n${spawnSync('gofmt', ['-d', goDir], { encoding: 'utf8' }).stdout}`);
  return {
    shell: ['/bin/sh', join(dir, 'pane.sh')],
    c: [join(dir, 'pane-c')],
    go: [join(dir, 'pane-go')],
    ts: [join(dir, 'pane.ts')],
  };
}

/**
 * The script the pane's shell reads on stdin: builtins, and one last exec. In a new PID namespace
 * without fork the shell's first child is PID 1 there and, once it ends, no other process can be
 * made in it: the probe forks that one child only (`firstChild`), and nothing otherwise.
 */
export function probeScript(listProc: boolean, firstChild: boolean): string {
  return [
    // In a new PID namespace without fork: the one child the shell may have, PID 1 there (and it
    // makes the pid_for_children link readable: it is empty until that namespace has a process).
    firstChild ? '/bin/sh -c \'echo "child=$$"\'' : '',
    'echo "pid=$$"',
    'echo "uid=$EUID"',
    'read -r h < /proc/sys/kernel/hostname; echo "hostname=$h"',
    'while read -r a b c; do echo "uid_map=$a $b $c"; done < /proc/self/uid_map',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
    listProc ? 'for d in /proc/[0-9]*; do echo "proc=${d#/proc/}"; done' : '',
    `exec readlink ${NS_LINKS.map((l) => `/proc/self/ns/${l}`).join(' ')}`,
    '',
  ].join('\n');
}

/** What a probe said. */
export interface Probe {
  pid: number;
  /** The PID (in its own namespace) of the probe's one child, when it makes one. */
  childPid: number;
  uid: number;
  hostname: string;
  uidMap: string[];
  procs: string[];
  /** ns link name -> its target, e.g. 'uts' -> 'uts:[4026531838]'. */
  ns: Record<string, string>;
  /** The namespaces, hostname and uid map of the scratch wrapper that started the program. */
  base: Reference;
  stdout: string;
  stderr: string;
}

/** What a pane is compared with: the namespaces it was made from. */
export interface Reference {
  ns: Record<string, string>;
  hostname: string;
  uidMap: string[];
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Where the snippets run: as host root, or as a lab's root in its host pane. `exec` runs argv,
 * bounded by timeoutMs; `tsCwd` is the directory the TypeScript snippet runs from (koffi there).
 */
export interface Runner {
  name: string;
  exec(argv: string[], stdin: string, timeoutMs?: number): Promise<ExecResult>;
  tsCwd: string;
  tsx: string[];
}

/** Host root: each run in a process group of its own, killed whole at the end or the timeout. */
export function hostRunner(): Runner {
  return {
    name: 'host',
    tsCwd: REPO,
    tsx: [join(REPO, 'node_modules', '.bin', 'tsx')],
    exec: (argv, stdin, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const [file, ...args] = argv;
        const child = spawn(file!, args, { cwd: REPO, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const timer = setTimeout(() => {
          killGroup(child.pid!);
          reject(new Error(`${argv.join(' ')} did not finish in ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        }, timeoutMs);
        child.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          killGroup(child.pid!);
          resolve({ code, stdout, stderr });
        });
        // A program that exits without reading its stdin (kill, say) closes the pipe first.
        child.stdin.on('error', () => {});
        child.stdin.end(stdin);
      }),
  };
}

function killGroup(pgid: number) {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* gone already */
  }
}

/** The lab's own exec, as lab.exec(pane, argv, { stdin, timeoutMs }) has it (output in base64). */
export type LabExec = (argv: string[], opts: { stdin: Buffer; timeoutMs: number }) => Promise<{ exitCode: number | null; stdout: string; stderr: string }>;

/**
 * A lab's root, in its host pane. The repository is hidden from labs: the TypeScript snippet runs
 * with copies of tsx, esbuild and koffi under `dir` (which the lab can read).
 */
export function labRunner(exec: LabExec, dir: string): Runner {
  const runner = join(dir, 'ts-runner');
  mkdirSync(join(runner, 'node_modules'), { recursive: true });
  for (const m of ['koffi', '@koromix', 'tsx', 'esbuild', '@esbuild'])
    cpSync(join(REPO, 'node_modules', m), join(runner, 'node_modules', m), { recursive: true, dereference: true });
  return {
    name: 'lab',
    tsCwd: runner,
    tsx: [process.execPath, join(runner, 'node_modules', 'tsx', 'dist', 'cli.mjs')],
    async exec(argv, stdin, timeoutMs = 60_000) {
      const r = await exec(argv, { stdin: Buffer.from(stdin), timeoutMs });
      return { code: r.exitCode, stdout: Buffer.from(r.stdout, 'base64').toString(), stderr: Buffer.from(r.stderr, 'base64').toString() };
    },
  };
}

function parseLinks(lines: string[], prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  const targets = lines.filter((l) => l.startsWith(prefix) && /^[a-z_]+:\[\d+\]$/.test(l.slice(prefix.length))).map((l) => l.slice(prefix.length));
  NS_LINKS.forEach((l, i) => {
    if (targets[i] !== undefined) out[l] = targets[i]!;
  });
  return out;
}

const READ_LINKS = `readlink ${NS_LINKS.map((l) => `/proc/self/ns/${l}`).join(' ')}`;

/** Runs "$2..." in a private mount namespace of its own, from directory $1, reporting where it started first. */
const SCRATCH = [
  `for l in $(${READ_LINKS}); do echo "base:$l"; done`,
  'read -r h < /proc/sys/kernel/hostname; echo "base-hostname=$h"',
  'while read -r a b c; do echo "base-uid_map=$a $b $c"; done < /proc/self/uid_map',
  'cd "$1" && shift && exec "$@"',
].join('\n');

function scratch(cwd: string, cmd: string[]): string[] {
  return ['unshare', '--mount', '--propagation', 'private', '--', '/bin/bash', '-c', SCRATCH, 'scratch', cwd, ...cmd];
}

/** The command that runs one snippet (built by buildSnippets) on this runner. */
export function snippetCommand(r: Runner, built: Record<Lang, string[]>, lang: Lang): string[] {
  return scratch(lang === 'ts' ? r.tsCwd : '/', lang === 'ts' ? [...r.tsx, built.ts.at(-1)!] : built[lang]);
}

/** Run a snippet with the probe and parse what it printed; throws with the output when it failed. */
export async function probe(r: Runner, cmd: string[], listProc: boolean, firstChild: boolean): Promise<Probe> {
  const out = await r.exec(cmd, probeScript(listProc, firstChild));
  const lines = out.stdout.split('\n');
  const val = (k: string) => lines.filter((l) => l.startsWith(`${k}=`)).map((l) => l.slice(k.length + 1));
  const ns = parseLinks(lines, '');
  const base = { ns: parseLinks(lines, 'base:'), hostname: val('base-hostname')[0] ?? '', uidMap: val('base-uid_map').map(normalMap) };
  const p: Probe = {
    pid: Number(val('pid')[0]),
    childPid: Number(val('child')[0]),
    uid: Number(val('uid')[0]),
    hostname: val('hostname')[0] ?? '',
    uidMap: val('uid_map').map(normalMap),
    procs: val('proc'),
    ns,
    base,
    stdout: out.stdout,
    stderr: out.stderr,
  };
  if (out.code !== 0 || Object.keys(ns).length !== NS_LINKS.length || Object.keys(base.ns).length !== NS_LINKS.length) {
    throw new Error(`${r.name}: ${cmd.join(' ')} exited ${out.code}\nstdout:\n${out.stdout}\nstderr:\n${out.stderr}`);
  }
  return p;
}

function normalMap(line: string): string {
  return line.trim().split(/\s+/).join(' ');
}

/** The namespaces and uid map of a process, by its PID as the runner sees it. */
export async function inspect(r: Runner, pid: number): Promise<Omit<Reference, 'hostname'>> {
  const script = `cd /proc/${pid} && ${READ_LINKS.replaceAll('/proc/self/', '')} && while read -r a b c; do echo "uid_map=$a $b $c"; done < uid_map`;
  const out = await r.exec(['/bin/bash', '-c', script], '', 10_000);
  if (out.code !== 0) throw new Error(`${r.name}: cannot read the namespaces of ${pid}: ${out.stderr}`);
  const lines = out.stdout.split('\n');
  return {
    ns: parseLinks(lines, ''),
    uidMap: lines.filter((l) => l.startsWith('uid_map=')).map((l) => normalMap(l.slice(8))),
  };
}

/** A long-lived pane to nest in. */
export interface RunningPane {
  /** The PID of the pane's shell, as the runner sees it. */
  pid: number;
  stop(): Promise<void>;
}

/**
 * Start a snippet in the background (its own session) whose shell then execs `sleep` with a
 * marker argument: the same process, in the same namespaces, found by that marker.
 */
const LAUNCH = [
  'm=$1; shift',
  `printf 'exec sleep %s\\n' "$m" | setsid "$@" >/dev/null 2>&1 &`,
  'for i in $(seq 1 400); do',
  '  for p in /proc/[0-9]*; do',
  `    mapfile -d '' a 2>/dev/null < "$p/cmdline" || continue`,
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansions
  '    if [ "${a[0]}" = sleep ] && [ "${a[1]}" = "$m" ]; then echo "pid=${p#/proc/}"; exit 0; fi',
  '  done',
  '  sleep 0.05',
  'done',
  'exit 1',
].join('\n');

export async function startPane(r: Runner, cmd: string[]): Promise<RunningPane> {
  const marker = `600.${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const out = await r.exec(['/bin/bash', '-c', LAUNCH, 'launch', marker, ...cmd], '', 30_000);
  const pid = Number(/^pid=(\d+)$/m.exec(out.stdout)?.[1]);
  if (out.code !== 0 || !pid) throw new Error(`${r.name}: the parent pane did not start:\n${out.stdout}\n${out.stderr}`);
  return {
    pid,
    stop: async () => {
      await r.exec(['kill', '-KILL', String(pid)], '', 10_000);
    },
  };
}

/** Which links must differ from the parent's for a choice: chosen types, with pid and fork read apart. */
export function expectedNew(types: NamespaceType[], fork: boolean): Set<string> {
  const out = new Set<string>();
  for (const t of types) {
    if (t === 'pid') {
      out.add('pid_for_children');
      if (fork) out.add('pid');
    } else if (t === 'time') {
      out.add('time');
      out.add('time_for_children');
    } else out.add(t);
  }
  return out;
}
