// The request/response commands: lessons, open, ls, close, exec. Each validates the agent's answer
// and writes its output; attach lives in attach.ts.
import { constants as osConstants } from 'node:os';
import { z } from 'zod';
import { ExecResult, MAX_CLIENT_MESSAGE_BYTES, describeZodError } from '@nslab/shared';
import type { AgentClient } from './client.js';
import { CliError } from './errors.js';
import type { CliOutput } from './io.js';

/** Raw stdin bytes exec can send: base64 of this, plus the rest of the message, fits the agent's message limit. */
export const MAX_EXEC_STDIN_BYTES = Math.floor((MAX_CLIENT_MESSAGE_BYTES - 16 * 1024) / 4) * 3;

// The parts of the agent's answers the CLI uses (the full shapes are LabInfo/PaneInfo in
// @nslab/shared); extra or missing fields that nslab does not show do not break it.
const LessonSummary = z.object({ id: z.string(), title: z.string() });
const OpenedLab = z.object({ id: z.string().min(1) });
const PaneRow = z.object({
  name: z.string(),
  running: z.boolean(),
  exitCode: z.number().nullable().optional(),
  signal: z.number().nullable().optional(),
});
type PaneRow = z.infer<typeof PaneRow>;
const LabRow = z.object({ id: z.string(), lesson: z.string(), createdAt: z.string().optional(), panes: z.array(PaneRow) });
type LabRow = z.infer<typeof LabRow>;

/** The agent's answer, checked: an answer of another shape is a clear error, not a crash. */
export function parseReply<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new CliError(`unexpected answer from the agent to ${what}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

export async function lessonsCommand(client: AgentClient, stdout: CliOutput): Promise<number> {
  const lessons = parseReply(z.array(LessonSummary), await client.request({ type: 'lessons' }), 'lessons');
  stdout.write(lessons.map((l) => `${l.id}\t${l.title}\n`).join(''));
  return 0;
}

export async function openCommand(client: AgentClient, stdout: CliOutput, lesson: string): Promise<number> {
  const lab = parseReply(OpenedLab, await client.request({ type: 'open', lesson }), 'open');
  stdout.write(`${lab.id}\n`);
  return 0;
}

export async function closeCommand(client: AgentClient, lab: string): Promise<number> {
  parseReply(z.object({ closed: z.literal(true) }), await client.request({ type: 'close', lab }), 'close');
  return 0;
}

export async function lsCommand(client: AgentClient, stdout: CliOutput, now = new Date()): Promise<number> {
  const labs = parseReply(z.array(LabRow), await client.request({ type: 'list' }), 'list');
  stdout.write(formatLabs(labs, now));
  return 0;
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(osConstants.signals).map(([name, n]) => [n, name]));

export function signalName(signal: number): string {
  return SIGNAL_NAMES.get(signal) ?? `signal ${signal}`;
}

export function paneState(p: PaneRow): string {
  if (p.running) return 'running';
  if (typeof p.signal === 'number') return `exited (${signalName(p.signal)})`;
  if (typeof p.exitCode === 'number') return `exited (${p.exitCode})`;
  return 'exited';
}

export function formatAge(createdAt: string | undefined, now: Date): string {
  const t = createdAt ? Date.parse(createdAt) : NaN;
  if (Number.isNaN(t)) return '?';
  const s = Math.max(0, Math.floor((now.getTime() - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** A table, one lab per line: LAB LESSON AGE PANES ("host running, container exited (0)"). */
export function formatLabs(labs: LabRow[], now: Date): string {
  if (labs.length === 0) return 'No labs are open. Start one with: nslab open <lesson>\n';
  return formatTable([
    ['LAB', 'LESSON', 'AGE', 'PANES'],
    ...labs.map((lab) => [lab.id, lab.lesson, formatAge(lab.createdAt, now), lab.panes.map((p) => `${p.name} ${paneState(p)}`).join(', ') || '-']),
  ]);
}

/** Rows as aligned columns, two spaces apart; the last column is not padded. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  return rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  ') + '\n').join('');
}

/**
 * The exit status for an exec result, shell style: 124 if it timed out, 128+N if signal N killed
 * it, else its exit code.
 */
export function execExitCode(result: ExecResult): number {
  if (result.timedOut) return 124;
  if (result.signal !== null) return 128 + result.signal;
  if (result.exitCode !== null) return result.exitCode;
  return 1;
}

export async function execCommand(
  client: AgentClient,
  out: { stdout: CliOutput; stderr: CliOutput },
  args: { lab: string; pane: string; argv: string[]; stdin?: Buffer; timeoutMs: number },
): Promise<number> {
  const data = await client.request(
    {
      type: 'exec',
      lab: args.lab,
      pane: args.pane,
      argv: args.argv,
      ...(args.stdin && args.stdin.length > 0 ? { stdin: args.stdin.toString('base64') } : {}),
    },
    { timeoutMs: args.timeoutMs },
  );
  const result = parseReply(ExecResult, data, 'exec');
  const stdout = Buffer.from(result.stdout, 'base64');
  const stderr = Buffer.from(result.stderr, 'base64');
  if (stdout.length > 0) out.stdout.write(stdout);
  if (stderr.length > 0) out.stderr.write(stderr);
  if (result.truncated) out.stderr.write('nslab: the output was too long; the agent truncated it\n');
  if (result.timedOut) out.stderr.write('nslab: the command timed out and was killed\n');
  return execExitCode(result);
}
