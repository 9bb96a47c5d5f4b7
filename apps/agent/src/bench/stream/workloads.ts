// The streaming bench's workloads and how each is timed: throughput typed at a prompt or read
// straight from a PTY, keystroke echo, and how long Ctrl-C takes to bring the prompt back.
import { spawn } from 'node:child_process';
import { closeSync, constants as fsc, openSync } from 'node:fs';
import { Pty } from '../../pty/pty.js';
import { sleep } from '../util.js';
import { type Term, Tap, ECHO_MARK, MARK, PROMPT, CTRL_C_BOUND_MS, COLS, ROWS, now } from './terms.js';

export interface Rate {
  bytes: number;
  ms: number;
  /** Messages the client received for it. */
  chunks: number;
}
export const mbPerS = (r: Rate) => r.bytes / 1e6 / (r.ms / 1000);

/** The workload typed at a prompt: from the keystroke Enter to the end marker's arrival. */
export async function typedWorkload(t: Term, command: string): Promise<Rate> {
  await t.tap.quiet(150);
  const b0 = t.tap.bytes;
  const c0 = t.tap.chunks;
  const done = t.tap.expect(MARK, 120_000);
  const t0 = now();
  t.input(`${command}; ${ECHO_MARK}\r`);
  const seen = await done;
  const chunks = t.tap.chunks - c0;
  await t.tap.quiet(100);
  return { bytes: seen.bytes - b0, ms: seen.at - t0, chunks };
}

/**
 * The same workload on a PTY of the host's devpts, read in this process with the agent's own Pty
 * class: what the kernel delivers with no WebSocket, no screen, no client.
 */
export async function rawWorkload(command: string): Promise<Rate> {
  const devpts = openSync('/dev/pts', fsc.O_RDONLY | fsc.O_DIRECTORY);
  const pty = new Pty(devpts, 0, 0, COLS, ROWS);
  const tap = new Tap('raw PTY');
  pty.on('data', (chunk) => tap.push(chunk));
  pty.start();
  const slave = openSync(pty.slavePath, fsc.O_RDWR | fsc.O_NOCTTY);
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const done = tap.expect(MARK, 120_000);
    const t0 = now();
    child = spawn('/bin/sh', ['-c', `${command}; ${ECHO_MARK}`], { stdio: [slave, slave, slave], detached: true });
    closeSync(slave);
    const exited = new Promise<void>((r) => child!.once('exit', () => r()));
    const seen = await done;
    await exited;
    return { bytes: seen.bytes, ms: seen.at - t0, chunks: tap.chunks };
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    pty.close();
    closeSync(devpts);
  }
}

/** Keystroke to its echo, `n` times, alternating a letter and a backspace, spaced out. */
export async function echoLatency(t: Term, n: number): Promise<number[]> {
  await t.tap.quiet(200);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const echoed = t.tap.next();
    const t0 = now();
    t.input(i % 2 ? '\x7f' : 'x');
    out.push((await echoed).at - t0);
    await t.tap.quiet(3);
    await sleep(5 + Math.random() * 10);
  }
  t.input('\x15'); // clear the line (Ctrl-U)
  await t.tap.quiet(100);
  return out;
}

/**
 * `yes` for a second with the client consuming everything, then Ctrl-C: from sending it to the
 * last output byte's arrival, "stopped" being the prompt back and then quiet for 500 ms.
 */
export async function ctrlCStop(t: Term): Promise<{ ms: number; bytes: number }> {
  await t.tap.quiet(150);
  t.input('yes\r');
  await sleep(1000);
  const prompt = t.tap.expect(PROMPT, CTRL_C_BOUND_MS);
  const t0 = now();
  const b0 = t.tap.bytes;
  t.input('\x03');
  await prompt;
  await t.tap.quiet(500);
  return { ms: t.tap.lastAt - t0, bytes: t.tap.bytes - b0 };
}
