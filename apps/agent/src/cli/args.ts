// Command-line parsing for `nslab`. Pure: argv in, a Command out, or a UsageError (exit code 2).
import { isName, LESSON_IDS } from '@nslab/shared';
import { UsageError } from './errors.js';
import { parseWorkshop, WORKSHOP_DETAILS, WORKSHOP_SYNOPSIS, type WorkshopCommand } from './workshop.js';
import { LESSONS_TEST_SYNOPSIS, parseLessonsTest, type LessonsTestCommand } from './lessons-test.js';
import { LESSONS_SERVE_DETAILS, LESSONS_SERVE_SYNOPSIS, parseLessonsServe, type LessonsServeCommand } from './lessons-serve.js';
import { LESSONS_VALIDATE_DETAILS, LESSONS_VALIDATE_SYNOPSIS, parseLessonsValidate, type LessonsValidateCommand } from './lessons-validate.js';
import {
  KEYS_DETAILS,
  KEYS_SYNOPSIS,
  parseKeys,
  parseWebhooks,
  WEBHOOKS_DETAILS,
  WEBHOOKS_SYNOPSIS,
  type KeysCommand,
  type WebhooksCommand,
} from './portal.js';
import { DRAIN_DETAILS, DRAIN_SYNOPSIS, parseDrain, type DrainCommand } from './drain.js';

export type Command =
  | { kind: 'help'; topic?: CommandName }
  | { kind: 'lessons' }
  | LessonsTestCommand
  | LessonsValidateCommand
  | LessonsServeCommand
  | { kind: 'open'; lesson: string }
  | { kind: 'ls' }
  | { kind: 'close'; lab: string }
  | { kind: 'exec'; lab: string; pane: string; argv: string[] }
  | { kind: 'attach'; lab: string; pane: string }
  | WorkshopCommand
  | KeysCommand
  | WebhooksCommand
  | DrainCommand;

export type CommandName = 'lessons' | 'open' | 'ls' | 'close' | 'exec' | 'attach' | 'workshop' | 'keys' | 'webhooks' | 'drain' | 'help';

interface CommandSpec {
  synopsis: string;
  summary: string;
  details?: string;
}

export const COMMANDS: Record<CommandName, CommandSpec> = {
  lessons: {
    synopsis: `nslab lessons | ${LESSONS_TEST_SYNOPSIS} | ${LESSONS_VALIDATE_SYNOPSIS} | ${LESSONS_SERVE_SYNOPSIS}`,
    summary: 'list the lessons, one per line: id<TAB>title; or test or check them (for lesson authors)',
    details: [
      'test  follow every lesson (or those named) as a learner would, in a fresh lab per lesson and',
      "      language, twice: each task pending before its step, the step's click-to-run commands typed",
      '      into their panes, the task done after it. Ends with "N passed, M failed".',
      "      --dir DIR  the lessons to test (default NSLAB_CONTENT, or the checkout's content/lessons)",
      "      --agent    start an agent of its own on DIR (otherwise NSLAB_URL's, which must serve DIR)",
      '      --lang en|zh|all (default all)   --runs N (default 2)',
      LESSONS_VALIDATE_DETAILS,
      LESSONS_SERVE_DETAILS,
    ].join('\n'),
  },
  open: { synopsis: 'nslab open <lesson>', summary: 'open a lab for a lesson and print its id' },
  ls: { synopsis: 'nslab ls', summary: 'list the open labs and the state of their panes' },
  exec: {
    synopsis: 'nslab exec <lab> <pane> -- <cmd> [args...]',
    summary: "run a command in a pane; exit with the command's status",
    details: [
      "The command's stdout and stderr are passed through byte for byte. The exit status is the",
      "command's own, 128+N if a signal N killed it, and 124 if it timed out. When nslab's stdin is",
      'not a terminal it is read to the end and given to the command as its stdin.',
    ].join('\n'),
  },
  attach: {
    synopsis: 'nslab attach <lab> <pane>',
    summary: "connect this terminal to a pane's shell (Ctrl-] detaches)",
    details: [
      'Keys go to the pane, its output comes to this terminal, and the pane follows the size of the',
      'terminal. Press Ctrl-] to detach and leave the pane running. nslab exits when the pane exits',
      "(with the pane's exit status) or when the connection to the agent drops (status 1).",
    ].join('\n'),
  },
  close: { synopsis: 'nslab close <lab>', summary: 'close a lab and everything running in it' },
  workshop: {
    synopsis: WORKSHOP_SYNOPSIS,
    summary: 'make and run workshops: a join code for a room of learners, a dashboard for the instructor',
    details: WORKSHOP_DETAILS,
  },
  keys: { synopsis: KEYS_SYNOPSIS, summary: "training portals' API keys (for their servers), with the origins that may embed lessons", details: KEYS_DETAILS },
  webhooks: { synopsis: WEBHOOKS_SYNOPSIS, summary: "send a portal's learner events to its server, signed (Standard Webhooks)", details: WEBHOOKS_DETAILS },
  drain: {
    synopsis: DRAIN_SYNOPSIS,
    summary: 'stop the agent taking labs; it exits when its labs have ended (several agents, docs/router.md)',
    details: DRAIN_DETAILS,
  },
  help: { synopsis: 'nslab help [command]', summary: 'show this help, or the help for one command' },
};

const ORDER: CommandName[] = ['lessons', 'open', 'ls', 'exec', 'attach', 'close', 'workshop', 'keys', 'webhooks', 'drain', 'help'];

export function usageText(): string {
  const width = Math.max(...ORDER.map((c) => COMMANDS[c].synopsis.length)) + 2;
  const lines = ORDER.map((c) => `  ${COMMANDS[c].synopsis.padEnd(width)}${COMMANDS[c].summary}`);
  return [
    'nslab: the command-line client for the nslab agent',
    '',
    'Usage:',
    ...lines,
    '',
    `Lessons: ${LESSON_IDS.join(', ')}`,
    '',
    'Environment:',
    '  NSLAB_URL    where the agent listens (default http://127.0.0.1:3000)',
    '  NSLAB_TOKEN  the agent token (default: the contents of /run/nslab/token)',
    '',
    "Exit status: 0 on success, 1 on an error, 2 on a usage error; exec exits with the command's",
    'status (128+N if killed by signal N, 124 if it timed out).',
    '',
  ].join('\n');
}

export function commandHelpText(name: CommandName): string {
  const spec = COMMANDS[name];
  return [`Usage: ${spec.synopsis}`, '', `${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.`, ...(spec.details ? ['', spec.details] : []), ''].join(
    '\n',
  );
}

// Same shapes the protocol accepts (packages/shared/src/protocol.ts); checked here so a typo is a
// usage error with a helpful message rather than a schema error from the agent.
const LAB_ID = /^[a-z0-9]{6,32}$/;

function isCommandName(s: string): s is CommandName {
  return Object.hasOwn(COMMANDS, s);
}

function isHelpFlag(s: string): boolean {
  return s === '-h' || s === '--help';
}

function checkLab(s: string): string {
  if (!LAB_ID.test(s)) throw new UsageError(`'${s}' is not a lab id (6 to 32 lowercase letters or digits; see nslab ls)`);
  return s;
}

function checkPane(s: string): string {
  if (!isName(s)) throw new UsageError(`'${s}' is not a pane name (a lowercase word such as host or container)`);
  return s;
}

/** Lessons come from the agent's content files; here only the shape of an id is checked. */
function checkLesson(s: string): string {
  if (!isName(s)) throw new UsageError(`'${s}' is not a lesson id (built-in lessons: ${LESSON_IDS.join(', ')}; \`nslab lessons\` lists the agent's)`);
  return s;
}

/**
 * Collect exactly `names.length` positional arguments for `command`. `--` ends option parsing;
 * -h/--help anywhere before it asks for the command's help.
 */
function positionals(command: CommandName, rest: string[], names: string[]): string[] | 'help' {
  const out: string[] = [];
  let optionsDone = false;
  for (const arg of rest) {
    if (!optionsDone && arg === '--') {
      optionsDone = true;
    } else if (!optionsDone && isHelpFlag(arg)) {
      return 'help';
    } else if (!optionsDone && arg.startsWith('-') && arg !== '-') {
      throw new UsageError(`${command}: unknown option '${arg}' (usage: ${COMMANDS[command].synopsis})`);
    } else {
      out.push(arg);
    }
  }
  if (out.length < names.length) {
    throw new UsageError(
      `${command}: missing ${names
        .slice(out.length)
        .map((n) => `<${n}>`)
        .join(' ')} (usage: ${COMMANDS[command].synopsis})`,
    );
  }
  if (out.length > names.length) {
    throw new UsageError(`${command}: unexpected argument '${out[names.length]}' (usage: ${COMMANDS[command].synopsis})`);
  }
  return out;
}

/** exec: `<lab> <pane> [--] <cmd> [args...]`; everything after the pane (or after `--`) is the command, verbatim. */
function parseExec(rest: string[]): Command {
  const synopsis = COMMANDS.exec.synopsis;
  const ids: string[] = [];
  let i = 0;
  for (; i < rest.length && ids.length < 2; i++) {
    const arg = rest[i]!;
    if (arg === '--') {
      throw new UsageError(`exec: missing ${ids.length === 0 ? '<lab> <pane>' : '<pane>'} before -- (usage: ${synopsis})`);
    }
    if (isHelpFlag(arg)) return { kind: 'help', topic: 'exec' };
    if (arg.startsWith('-')) throw new UsageError(`exec: unknown option '${arg}' (usage: ${synopsis})`);
    ids.push(arg);
  }
  if (ids.length < 2) throw new UsageError(`exec: missing ${ids.length === 0 ? '<lab> <pane>' : '<pane>'} (usage: ${synopsis})`);
  if (rest[i] === '--') i++;
  const argv = rest.slice(i);
  if (argv.length === 0) throw new UsageError(`exec: missing the command to run (usage: ${synopsis})`);
  if (argv[0] === '') throw new UsageError('exec: the command name is empty');
  return { kind: 'exec', lab: checkLab(ids[0]!), pane: checkPane(ids[1]!), argv };
}

export function parseArgs(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('missing command (run nslab --help for usage)');
  if (isHelpFlag(first) || first === 'help') {
    const topic = rest[0];
    if (topic === undefined || isHelpFlag(topic)) return { kind: 'help' };
    if (!isCommandName(topic)) throw new UsageError(`help: unknown command '${topic}' (run nslab --help for usage)`);
    if (rest.length > 1) throw new UsageError(`help: unexpected argument '${rest[1]}' (usage: ${COMMANDS.help.synopsis})`);
    return { kind: 'help', topic };
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option '${first}' (run nslab --help for usage)`);
  if (!isCommandName(first)) throw new UsageError(`unknown command '${first}' (run nslab --help for usage)`);

  if (first === 'exec') return parseExec(rest);
  if (first === 'workshop') {
    const w = parseWorkshop(rest);
    return w === 'help' ? { kind: 'help', topic: 'workshop' } : w;
  }
  if (first === 'lessons' && rest[0] === 'validate') {
    const v = parseLessonsValidate(rest.slice(1));
    return v === 'help' ? { kind: 'help', topic: 'lessons' } : v;
  }
  if (first === 'lessons' && rest[0] === 'serve') {
    const v = parseLessonsServe(rest.slice(1));
    return v === 'help' ? { kind: 'help', topic: 'lessons' } : v;
  }
  if (first === 'lessons' && rest[0] === 'test') {
    const t = parseLessonsTest(rest.slice(1));
    return t === 'help' ? { kind: 'help', topic: 'lessons' } : t;
  }
  if (first === 'keys') {
    const k = parseKeys(rest);
    return k === 'help' ? { kind: 'help', topic: 'keys' } : k;
  }
  if (first === 'webhooks') {
    const w = parseWebhooks(rest);
    return w === 'help' ? { kind: 'help', topic: 'webhooks' } : w;
  }
  if (first === 'drain') {
    const d = parseDrain(rest);
    return d === 'help' ? { kind: 'help', topic: 'drain' } : d;
  }
  if (first === 'help') return { kind: 'help' }; // handled above; narrows the type

  const specs: Record<Exclude<CommandName, 'exec' | 'help' | 'workshop' | 'keys' | 'webhooks' | 'drain'>, string[]> = {
    lessons: [],
    ls: [],
    open: ['lesson'],
    close: ['lab'],
    attach: ['lab', 'pane'],
  };
  const got = positionals(first, rest, specs[first]);
  if (got === 'help') return { kind: 'help', topic: first };
  switch (first) {
    case 'lessons':
      return { kind: 'lessons' };
    case 'ls':
      return { kind: 'ls' };
    case 'open':
      return { kind: 'open', lesson: checkLesson(got[0]!) };
    case 'close':
      return { kind: 'close', lab: checkLab(got[0]!) };
    case 'attach':
      return { kind: 'attach', lab: checkLab(got[0]!), pane: checkPane(got[1]!) };
  }
}
