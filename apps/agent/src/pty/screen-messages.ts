// What the agent and its screen worker say to each other (one thread to another, never a client).
export type ToScreenWorker =
  | { op: 'open'; id: number; cols: number; rows: number; scrollback: number }
  | { op: 'write'; id: number; data: Uint8Array; end: number }
  | { op: 'resize'; id: number; cols: number; rows: number }
  | { op: 'snapshot'; id: number; req: number }
  | { op: 'close'; id: number };

export type FromScreenWorker =
  /** [screen id, stream offset parsed] for every screen that progressed. */
  { op: 'parsed'; parsed: Array<[number, number]> } | { op: 'snapshot'; req: number; screen: string; cols: number; rows: number };
