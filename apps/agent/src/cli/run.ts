// runCli: parse the command line, connect to the agent, run one command, return the exit code.
// Everything goes through the given streams, so tests drive it in-process.
import { attach } from './attach.js';
import { commandHelpText, parseArgs, usageText, type Command } from './args.js';
import { AgentClient } from './client.js';
import { MAX_EXEC_STDIN_BYTES, closeCommand, execCommand, lessonsCommand, lsCommand, openCommand } from './commands.js';
import { DEFAULT_TOKEN_FILE, DEFAULT_URL, agentWsUrl, lookupToken } from './config.js';
import { AgentError, CliError, UsageError } from './errors.js';
import { readAll, type CliIO, type CliOptions } from './io.js';
import { workshopCommand } from './workshop.js';
import { keysCommand, webhooksCommand } from './portal.js';
import { lessonsTestCommand } from './lessons-test.js';
import { lessonsValidateCommand } from './lessons-validate.js';
import { lessonsServeCommand } from './lessons-serve.js';
import { drainCommand } from './drain.js';

export type { CliIO, CliOptions } from './io.js';

/** Longest exec the agent allows (the protocol caps timeoutMs at 10 min), plus a margin. */
const DEFAULT_EXEC_TIMEOUT_MS = 11 * 60_000;

export async function runCli(argv: string[], options: CliOptions = {}): Promise<number> {
  const io: CliIO = {
    stdout: options.stdout ?? process.stdout,
    stderr: options.stderr ?? process.stderr,
    stdin: options.stdin ?? process.stdin,
    env: options.env ?? process.env,
  };

  let command: Command;
  try {
    command = parseArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`nslab: ${err.message}\n`);
      if (argv.length === 0) io.stderr.write(`\n${usageText()}`);
      return err.exitCode;
    }
    throw err;
  }

  if (command.kind === 'help') {
    io.stdout.write(command.topic && command.topic !== 'help' ? commandHelpText(command.topic) : usageText());
    return 0;
  }

  try {
    return await runCommand(command, io, options);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`nslab: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof AgentError) {
      io.stderr.write(`nslab: ${err.message}\n`);
      return 1;
    }
    io.stderr.write(`nslab: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

async function runCommand(command: Exclude<Command, { kind: 'help' }>, io: CliIO, options: CliOptions): Promise<number> {
  // exec reads its stdin before connecting, so a slow producer does not hold an idle connection.
  let stdin: Buffer | undefined;
  if (command.kind === 'exec' && !io.stdin.isTTY) {
    try {
      stdin = await readAll(io.stdin, MAX_EXEC_STDIN_BYTES);
    } catch (err) {
      if (err instanceof RangeError) {
        throw new CliError(`exec: standard input is too large to send; the agent accepts at most ${Math.floor(MAX_EXEC_STDIN_BYTES / 1024)} KiB`);
      }
      throw new CliError(`exec: cannot read standard input: ${(err as Error).message}`);
    }
  }

  // Serving lessons starts an agent of its own, in the foreground.
  if (command.kind === 'lessons' && 'action' in command && command.action === 'serve') return lessonsServeCommand(command, io);
  // Checking lesson files needs no agent.
  if (command.kind === 'lessons' && 'action' in command && command.action === 'validate') return lessonsValidateCommand(io.stdout, io.stderr, command, io.env);
  const displayUrl = io.env.NSLAB_URL?.trim() || DEFAULT_URL;
  const tokenFile = options.tokenFile ?? DEFAULT_TOKEN_FILE;
  /** The agent of NSLAB_URL (and the token it wants), or the one at `url` with `token`. */
  const connect = async (url = displayUrl, given: string | null = null) => {
    const { token, hint } = given ? { token: given, hint: undefined } : await lookupToken(io.env, tokenFile);
    return AgentClient.connect({
      wsUrl: agentWsUrl(url),
      displayUrl: url,
      ...(token ? { token, tokenSource: given ? 'the agent it started' : io.env.NSLAB_TOKEN?.trim() ? 'NSLAB_TOKEN' : tokenFile } : {}),
      ...(hint ? { noTokenHint: hint } : {}),
      ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    });
  };
  // Lesson tests may start an agent of their own, and connect to it.
  if (command.kind === 'lessons' && 'action' in command) return lessonsTestCommand(command, io, (url, token) => connect(url || displayUrl, token));
  // Draining is plain HTTP (a preStop hook runs it as the agent goes): no WebSocket needed.
  if (command.kind === 'drain') {
    const { token, hint } = await lookupToken(io.env, tokenFile);
    if (!token) throw new CliError(`drain: ${hint ?? 'no agent token'}`);
    return drainCommand(command, io.stdout, displayUrl, token);
  }
  const client = await connect();

  try {
    switch (command.kind) {
      case 'lessons':
        return await lessonsCommand(client, io.stdout);
      case 'open':
        return await openCommand(client, io.stdout, command.lesson);
      case 'ls':
        return await lsCommand(client, io.stdout);
      case 'close':
        return await closeCommand(client, command.lab);
      case 'exec':
        return await execCommand(client, io, {
          lab: command.lab,
          pane: command.pane,
          argv: command.argv,
          ...(stdin ? { stdin } : {}),
          timeoutMs: options.execTimeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
        });
      case 'workshop':
        return await workshopCommand(client, io.stdout, command, displayUrl);
      case 'keys':
        return await keysCommand(client, io.stdout, command);
      case 'webhooks':
        return await webhooksCommand(client, io.stdout, command);
      case 'attach': {
        const outcome = await attach(client, { ...io, signals: options.signals ?? process }, command.lab, command.pane);
        io.stderr.write(`nslab: ${outcome.note}\n`);
        return outcome.exitCode;
      }
    }
  } finally {
    await client.close();
  }
}
