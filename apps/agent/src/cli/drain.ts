// `nslab drain [--deadline S] [--wait]`: the agent at NSLAB_URL stops taking labs and closes once
// its last lab has ended, or S seconds from now (docs/router.md). With --wait, nslab waits until
// the agent is gone, which is what a Kubernetes preStop hook wants (deploy/kubernetes).
import { z } from 'zod';
import { CliError, UsageError } from './errors.js';
import type { CliOutput } from './io.js';

export interface DrainCommand {
  kind: 'drain';
  deadlineS: number | null;
  wait: boolean;
}

export const DRAIN_SYNOPSIS = 'nslab drain [--deadline S] [--wait]';
export const DRAIN_DETAILS = [
  'The agent opens no new lab from now on (routers send new learners elsewhere), closes its labs made',
  'ahead of time, and exits once the last learner lab has ended or S seconds have passed (default:',
  "the agent's NSLAB_DRAIN_DEADLINE_S, an hour). --wait: wait here until the agent has exited.",
].join('\n');

export function parseDrain(args: readonly string[]): DrainCommand | 'help' {
  const out: DrainCommand = { kind: 'drain', deadlineS: null, wait: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--wait') out.wait = true;
    else if (a === '--deadline') {
      const v = args[++i];
      const n = Number(v);
      if (v === undefined || !/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n) || n > 7 * 24 * 3600) {
        throw new UsageError(`drain: --deadline needs seconds (0 to ${7 * 24 * 3600}) (usage: ${DRAIN_SYNOPSIS})`);
      }
      out.deadlineS = n;
    } else throw new UsageError(`drain: unexpected argument '${a}' (usage: ${DRAIN_SYNOPSIS})`);
  }
  return out;
}

const Drained = z.object({ draining: z.literal(true), labs: z.number(), deadline: z.string() });

/** `url`: the agent's HTTP base URL; `token`: its token. */
export async function drainCommand(command: DrainCommand, stdout: CliOutput, url: string, token: string, pollMs = 1000): Promise<number> {
  const base = url.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(`${base}/api/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(command.deadlineS === null ? {} : { deadlineS: command.deadlineS }),
    });
  } catch (err) {
    throw new CliError(`drain: cannot reach the agent at ${base}: ${(err as Error).cause ?? (err as Error).message}`);
  }
  const body: unknown = await res.json().catch(() => null);
  if (res.status !== 202) {
    const message = (body as { message?: unknown } | null)?.message;
    throw new CliError(`drain: the agent answered ${res.status}${typeof message === 'string' ? `: ${message}` : ''}`);
  }
  const parsed = Drained.safeParse(body);
  if (!parsed.success) throw new CliError('drain: unexpected answer from the agent');
  stdout.write(`draining: ${parsed.data.labs} lab(s) open; the agent exits when they end, at the latest ${parsed.data.deadline}\n`);
  if (!command.wait) return 0;
  // Gone when it no longer answers (it closed its port as its last act).
  for (;;) {
    await new Promise((r) => setTimeout(r, pollMs));
    const up = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) }).then(
      (r) => r.arrayBuffer().then(() => true),
      () => false,
    );
    if (!up) break;
  }
  stdout.write('drained: the agent has exited\n');
  return 0;
}
