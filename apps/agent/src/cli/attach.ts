// `nslab attach`: bridge the local terminal and a pane's PTY. Raw mode while attached (when stdin is
// a terminal), resize on start and on SIGWINCH, keys out as `input` messages, output frames to
// stdout. Ends on Ctrl-] (detach), when the pane exits, when the lab is closed, when the
// connection drops, or on SIGINT/SIGTERM/SIGHUP; the terminal is restored in every case.
import { StringDecoder } from 'node:string_decoder';
import { FRAME_OUTPUT, FRAME_SNAPSHOT, decodeSnapshot, splitInput } from '@nslab/shared';
import type { AgentClient, ServerEvent } from './client.js';
import { signalName } from './commands.js';
import type { CliInput, CliOutput } from './io.js';

/** Ctrl-], as with telnet. */
export const DETACH_BYTE = 0x1d;
/** Largest `data` string per input message (the protocol allows 64 Ki characters). */
const DEFAULT_SIZE = { cols: 80, rows: 24 };
const EXIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const SIGNAL_NUMBERS: Record<(typeof EXIT_SIGNALS)[number], number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

export interface AttachIO {
  stdin: CliInput;
  stdout: CliOutput;
  stderr: CliOutput;
  signals: NodeJS.EventEmitter;
}

export interface AttachOutcome {
  exitCode: number;
  /** A short line for stderr, printed after the terminal is restored. */
  note: string;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(n)));
}

/** The terminal size to give the pane: stdout's, or 80x24 when it is not a terminal. */
export function terminalSize(out: CliOutput): { cols: number; rows: number } {
  const cols = out.columns;
  const rows = out.rows;
  if (typeof cols !== 'number' || typeof rows !== 'number' || !(cols > 0) || !(rows > 0)) return { ...DEFAULT_SIZE };
  return { cols: clamp(cols, 2, 1000), rows: clamp(rows, 1, 500) };
}

function describeExit(key: string, exitCode: number | null, signal: number | null): AttachOutcome {
  if (signal !== null) return { exitCode: 128 + signal, note: `pane ${key} exited (${signalName(signal)})` };
  // The agent reports no status for a shell that is PID 1 of its own PID namespace.
  if (exitCode === null) return { exitCode: 0, note: `pane ${key} exited` };
  return { exitCode, note: `pane ${key} exited (code ${exitCode})` };
}

/**
 * Attach to lab/pane and run until it ends. Errors from the attach request itself (unknown lab,
 * pane not running) are thrown before the terminal is touched.
 */
export async function attach(client: AgentClient, io: AttachIO, lab: string, pane: string): Promise<AttachOutcome> {
  const key = `${lab}/${pane}`;
  const { stdin, stdout, signals } = io;

  let finish!: (outcome: AttachOutcome) => void;
  const done = new Promise<AttachOutcome>((resolve) => {
    let finished = false;
    finish = (outcome) => {
      if (finished) return;
      finished = true;
      resolve(outcome);
    };
  });

  let lastByte = 0x0a;
  let acked = 0;
  // Listen before asking: the screen (a snapshot) arrives right behind the result.
  const offFrame = client.onFrame((frame) => {
    if (frame.key !== key) return;
    let bytes: Uint8Array;
    if (frame.op === FRAME_SNAPSHOT) {
      const snap = decodeSnapshot(frame.payload);
      if (!snap) return;
      // The snapshot redraws the screen (and its scrollback) from a clean terminal.
      bytes = Buffer.concat([Buffer.from('\x1b[H\x1b[2J'), snap.screen]);
      acked = frame.offset;
    } else if (frame.op === FRAME_OUTPUT) bytes = frame.payload;
    else return;
    if (bytes.length === 0) return;
    const end = frame.offset + (frame.op === FRAME_OUTPUT ? frame.payload.length : 0);
    // Acknowledge once the terminal took it (every frame: they are already coalesced): the
    // agent holds the shell back while we are behind.
    stdout.write(bytes, () => {
      if (end <= acked) return;
      acked = end;
      client.notify({ type: 'ack', lab, pane, offset: end });
    });
    lastByte = bytes[bytes.length - 1]!;
  });
  const offEvent = client.onEvent((event: ServerEvent) => {
    if (event.type === 'pane-exit' && event.lab === lab && event.pane === pane) {
      finish(describeExit(key, event.exitCode, event.signal));
    } else if (event.type === 'pane-closed' && event.lab === lab && event.pane === pane) {
      finish({ exitCode: 1, note: `pane ${pane} of lab ${lab} was closed` });
    } else if (event.type === 'lab-closed' && event.lab === lab) {
      finish({ exitCode: 1, note: `lab ${lab} was closed${event.reason ? ` (${event.reason})` : ''}` });
    }
  });
  const offClose = client.onClose((message) => finish({ exitCode: 1, note: message }));

  let size = terminalSize(stdout);
  try {
    await client.request({ type: 'attach', lab, pane, cols: size.cols, rows: size.rows });
  } catch (err) {
    offFrame();
    offEvent();
    offClose();
    throw err;
  }

  const sendResize = (force: boolean): void => {
    const next = terminalSize(stdout);
    if (!force && next.cols === size.cols && next.rows === size.rows) return;
    size = next;
    client.notify({ type: 'resize', lab, pane, cols: size.cols, rows: size.rows });
  };
  const onResize = (): void => sendResize(false);

  const decoder = new StringDecoder('utf8');
  const forward = (bytes: Buffer): void => {
    if (bytes.length === 0) return;
    const text = decoder.write(bytes);
    for (const data of splitInput(text)) client.notify({ type: 'input', lab, pane, data });
  };
  const onData = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const at = bytes.indexOf(DETACH_BYTE);
    if (at === -1) {
      forward(bytes);
      return;
    }
    forward(bytes.subarray(0, at));
    client.notify({ type: 'detach', lab, pane });
    finish({ exitCode: 0, note: `detached from ${key}` });
  };
  // Without a terminal, end of input does not end the session: the pane decides (e.g. `exit`).
  const onInputError = (): void => {};

  const signalHandlers = EXIT_SIGNALS.map((sig) => {
    const handler = (): void => finish({ exitCode: 128 + SIGNAL_NUMBERS[sig], note: `${sig}: detached from ${key}` });
    return [sig, handler] as const;
  });

  const raw = Boolean(stdin.isTTY && typeof stdin.setRawMode === 'function');
  const restore = (): void => {
    if (raw) {
      try {
        stdin.setRawMode!(false);
      } catch {
        // the terminal is gone
      }
    }
  };
  const restoreOnExit = (): void => restore();

  try {
    if (raw) stdin.setRawMode!(true);
    signals.on('exit', restoreOnExit);
    stdin.on('data', onData);
    stdin.on('error', onInputError);
    stdin.resume();
    sendResize(true);
    signals.on('SIGWINCH', onResize);
    stdout.on?.('resize', onResize);
    for (const [sig, handler] of signalHandlers) signals.on(sig, handler);

    const outcome = await done;
    if (stdout.isTTY && lastByte !== 0x0a) stdout.write('\r\n');
    return outcome;
  } finally {
    for (const [sig, handler] of signalHandlers) signals.off(sig, handler);
    signals.off('SIGWINCH', onResize);
    stdout.off?.('resize', onResize);
    stdin.off('data', onData);
    stdin.off('error', onInputError);
    stdin.pause();
    restore();
    signals.off('exit', restoreOnExit);
    offFrame();
    offEvent();
    offClose();
  }
}
