// Entry point of the `nslab` command (bundled to apps/agent/dist/cli.cjs; run from source by
// apps/agent/bin/nslab.cjs through tsx). The logic is in run.ts; runCli is re-exported here so
// importing this module in-process is harmless: it only runs when it is the program.
import { realpathSync } from 'node:fs';
import { runCli } from './run.js';

export { runCli };
export type { CliIO, CliOptions } from './run.js';

/** Resolves once everything written to the stream so far has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write('', () => resolve());
  });
}

/**
 * True when this module is the program. The CommonJS bundle exists only to be run (the launcher
 * requires it), so there it always is; from source (ESM under tsx) it is when node was started on
 * this file. No import.meta: that would not survive bundling to CommonJS.
 */
function isProgram(): boolean {
  if (typeof require === 'function' && typeof __filename === 'string') return true;
  const script = process.argv[1];
  if (!script) return false;
  let path = script;
  try {
    path = realpathSync(script);
  } catch {
    // keep the name as given
  }
  return /[\\/]cli[\\/]main\.[cm]?[jt]s$/.test(path);
}

async function main(): Promise<void> {
  // `nslab lessons | head -1`: a closed pipe is not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  const code = await runCli(process.argv.slice(2));
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  // Exit explicitly: a half-closed socket or a paused TTY must not keep the process around.
  process.exit(code);
}

if (isProgram()) void main();
