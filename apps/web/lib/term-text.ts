// Reading back what a command printed in a pane, from xterm's buffer: the logical lines (a line
// xterm wrapped continues the one before) from the line the command was typed on, without the
// command itself and without the prompt that follows it. Pure: works on anything shaped like
// xterm's IBuffer.

export interface BufferLineLike {
  isWrapped: boolean;
  translateToString(trimRight?: boolean): string;
}

export interface BufferLike {
  readonly type?: string;
  readonly length: number;
  readonly baseY: number;
  readonly cursorY: number;
  getLine(y: number): BufferLineLike | undefined;
}

/** The physical lines [from, to) of the buffer as logical lines. */
export function logicalLines(b: BufferLike, from: number, to: number): string[] {
  const out: string[] = [];
  for (let y = Math.max(0, from); y < Math.min(to, b.length); y++) {
    const line = b.getLine(y);
    if (!line) continue;
    const text = line.translateToString(true);
    if (line.isWrapped && out.length) out[out.length - 1] += text;
    else out.push(text);
  }
  return out;
}

/** A shell prompt, as bash prints it for root or a user: "...# " or "...$ ". */
export const PROMPT = /[#$]\s*$/;

export interface Printed {
  /** The output lines, oldest first (all of them; the caller keeps the last few). */
  lines: string[];
  /** The shell's prompt is back: the command finished. */
  done: boolean;
}

/**
 * What was printed since the command was typed at physical line `start` (its first line there,
 * `commandLines` lines long), up to physical line `end` (exclusive; the next command's line) or,
 * without `end`, up to the cursor.
 */
export function printedSince(b: BufferLike, start: number, commandLines: number, end: number | null): Printed {
  const cursor = b.baseY + b.cursorY;
  const all = logicalLines(b, start, end ?? cursor + 1);
  const lines = all.slice(Math.max(1, commandLines));
  let done = end !== null;
  if (end === null && all.length > Math.max(1, commandLines) && PROMPT.test(lines[lines.length - 1] ?? '')) {
    lines.pop();
    done = true;
  }
  while (lines.length && !lines[lines.length - 1]!.trim()) lines.pop();
  return { lines, done };
}
