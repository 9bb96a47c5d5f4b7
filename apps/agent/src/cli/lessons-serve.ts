// `nslab lessons serve DIR [DIR...] [--no-build]`: the authoring loop. Starts the agent as
// `npm start` does (the checkout brought up to date first, then the agent with the web app), on
// the lessons in DIR, watching them: a saved file shows at once in the open lesson page, its
// mistakes instead of the lesson (docs/lesson-format.md, "Write your own lesson"). It runs until
// Ctrl-C (SIGINT) or SIGTERM, which it passes on to the agent, and exits with the agent's status;
// the agent dies with it if it is killed. Root is needed, as for the agent.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SHIPPED_LESSONS } from '@nslab/shared/content';
import type { Env } from './config.js';
import { CliError, UsageError } from './errors.js';
import type { CliOutput } from './io.js';
import { checkoutRoot } from './where.js';

export interface LessonsServeCommand {
  kind: 'lessons';
  action: 'serve';
  /** Absolute directories, or the word `shipped` (the checkout's own lessons). */
  dirs: string[];
  /** Start the agent as it was built, without bringing the checkout up to date first. */
  noBuild: boolean;
}

export const LESSONS_SERVE_SYNOPSIS = 'nslab lessons serve DIR [DIR...] [--no-build]';
export const LESSONS_SERVE_DETAILS = [
  'serve     start the agent with the web app (as npm start does, root needed) on the lessons in',
  '          DIR (several: merged; the word shipped adds the lessons nslab comes with), and reload',
  '          them when a file changes: an open lesson page shows the new text and tasks, or the',
  "          file's problems. Same as NSLAB_CONTENT=DIR NSLAB_LESSONS_WATCH=1 npm start; stops on",
  '          Ctrl-C. --no-build: start the agent as built, without checking the build first.',
].join('\n');

export function parseLessonsServe(args: string[]): LessonsServeCommand | 'help' {
  const dirs: string[] = [];
  let noBuild = false;
  let optionsDone = false;
  for (const arg of args) {
    if (!optionsDone && arg === '--') optionsDone = true;
    else if (!optionsDone && (arg === '-h' || arg === '--help')) return 'help';
    else if (!optionsDone && arg === '--no-build') noBuild = true;
    else if (!optionsDone && arg.startsWith('-')) throw new UsageError(`lessons serve: unknown option '${arg}' (usage: ${LESSONS_SERVE_SYNOPSIS})`);
    else if (arg === '') throw new UsageError('lessons serve: a directory name is empty');
    else dirs.push(arg === SHIPPED_LESSONS ? arg : resolve(arg));
  }
  if (!dirs.length) throw new UsageError(`lessons serve: which lessons? (usage: ${LESSONS_SERVE_SYNOPSIS})`);
  return { kind: 'lessons', action: 'serve', dirs, noBuild };
}

type Spawned = { exitCode: number | null; signalCode: NodeJS.Signals | null };

function waitFor(child: ReturnType<typeof spawn>): Promise<Spawned> {
  return new Promise((resolveExit, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolveExit({ exitCode: code, signalCode: signal }));
  });
}

export async function lessonsServeCommand(cmd: LessonsServeCommand, io: { stderr: CliOutput; env: Env }, opts: { uid?: number } = {}): Promise<number> {
  for (const dir of cmd.dirs) {
    if (dir !== SHIPPED_LESSONS && (!existsSync(dir) || !statSync(dir).isDirectory())) throw new CliError(`lessons serve: ${dir} is not a directory`);
  }
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  if (uid !== 0) throw new CliError('lessons serve: the agent makes namespaces and needs root; run it with sudo (sudo npx nslab lessons serve DIR)');
  const root = checkoutRoot();
  if (!root) throw new CliError('lessons serve: not in an nslab checkout (apps/agent not found above this command)');
  const env = { ...io.env, NSLAB_CONTENT: cmd.dirs.join(':'), NSLAB_LESSONS_WATCH: '1' } as unknown as NodeJS.ProcessEnv;

  // One child at a time, each getting the signals this command gets (a terminal's Ctrl-C reaches
  // both: the agent stops once either way).
  let current: ReturnType<typeof spawn> | null = null;
  let stopSignal: NodeJS.Signals | null = null;
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
    const h = () => {
      stopSignal ??= sig;
      if (current && current.exitCode === null && current.signalCode === null) current.kill(sig);
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  try {
    if (!cmd.noBuild) {
      current = spawn(process.execPath, [join(root, 'scripts', 'prepare.mjs'), '--build-only'], { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
      const built = await waitFor(current);
      if (stopSignal) return 130;
      if (built.exitCode !== 0) throw new CliError('lessons serve: bringing the checkout up to date failed (see above)');
    }
    const main = join(root, 'apps', 'agent', 'dist', 'main.cjs');
    if (!existsSync(main)) throw new CliError(`lessons serve: the agent is not built (${main}); run npm run build in the nslab checkout`);
    io.stderr.write(`nslab: serving the lessons in ${cmd.dirs.join(', ')}, reloaded when they change (Ctrl-C stops)\n`);
    const deathsig = join(root, 'apps', 'agent', 'dist', 'bench-deathsig.cjs');
    const argv = existsSync(deathsig) ? ['--require', deathsig, main] : [main];
    current = spawn(process.execPath, argv, { cwd: root, env: { ...env, NSLAB_HARNESS_PID: String(process.pid) }, stdio: ['ignore', 'inherit', 'inherit'] });
    const done = await waitFor(current);
    if (done.signalCode) return 128 + (done.signalCode === 'SIGINT' ? 2 : done.signalCode === 'SIGTERM' ? 15 : 1);
    return done.exitCode ?? 1;
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}
