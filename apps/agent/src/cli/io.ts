// The streams and environment the CLI works with: process.* by default, fakes in tests.
import type { Env } from './config.js';

export interface CliOutput {
  write(chunk: string | Uint8Array, cb?: (err?: Error | null) => void): boolean;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  on?(event: 'resize', listener: () => void): unknown;
  off?(event: 'resize', listener: () => void): unknown;
}

export interface CliInput extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
}

export interface CliIO {
  stdout: CliOutput;
  stderr: CliOutput;
  stdin: CliInput;
  env: Env;
}

export interface CliOptions extends Partial<CliIO> {
  /** Token file to read when NSLAB_TOKEN is unset (default /run/nslab/token). */
  tokenFile?: string;
  /** Connect + handshake timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** Timeout for ordinary requests (default 30 s). */
  requestTimeoutMs?: number;
  /** Timeout for an exec request's answer (default 11 min: the agent's longest exec timeout plus a margin). */
  execTimeoutMs?: number;
  /** Process-wide signals attach listens to (SIGWINCH, SIGINT...). Default: process. */
  signals?: NodeJS.EventEmitter;
}

/** Read a stream to its end; throws a CliError-friendly Error if it holds more than `limit` bytes. */
export function readAll(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const onData = (chunk: string | Buffer): void => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buf.length;
      if (size > limit) {
        cleanup();
        stream.pause();
        reject(new RangeError(`more than ${limit} bytes`));
        return;
      }
      chunks.push(buf);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.resume();
  });
}
