// In-memory stdin/stdout/stderr for driving runCli in-process.
import { PassThrough } from 'node:stream';

export class Capture extends PassThrough {
  private chunks: Buffer[] = [];
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  constructor(tty?: { columns: number; rows: number }) {
    super();
    if (tty) {
      this.isTTY = true;
      this.columns = tty.columns;
      this.rows = tty.rows;
    }
    this.on('data', (c: Buffer) => this.chunks.push(c));
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  text(): string {
    return this.bytes().toString('utf8');
  }
}

/** A stdin: a pipe with the given content, already ended. */
export function pipeIn(content: string | Uint8Array = ''): PassThrough {
  const s = new PassThrough();
  s.end(content);
  return s;
}

/** A terminal stdin that records setRawMode calls and stays open. */
export class FakeTty extends PassThrough {
  readonly isTTY = true;
  readonly rawModeCalls: boolean[] = [];
  isRaw = false;
  setRawMode(mode: boolean): this {
    this.rawModeCalls.push(mode);
    this.isRaw = mode;
    return this;
  }
}

export function makeIO(opts: { stdin?: NodeJS.ReadableStream; env?: Record<string, string | undefined>; stdoutTty?: { columns: number; rows: number } } = {}) {
  const stdout = new Capture(opts.stdoutTty);
  const stderr = new Capture();
  return { stdout, stderr, stdin: (opts.stdin ?? pipeIn()) as NodeJS.ReadableStream & { isTTY?: boolean }, env: opts.env ?? {} };
}
