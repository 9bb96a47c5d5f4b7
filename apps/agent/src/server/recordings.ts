// Every pane of a workshop's labs recorded as asciicast v2 (docs/workshops.md, Recordings): a
// lab opened by a learner with a seat in an open workshop is recorded from then on, each pane
// in its own file under <data dir>/recordings/<workshop>/<seat>/, output, input, resizes and a
// marker at each task done. Only the instructor reaches them: the room's state carries signed
// links (valid an hour) that /api/casts/... checks. Old recordings go after the retention.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { LabManager } from '../sandbox/labs.js';
import type { Lab } from '../sandbox/lab.js';
import type { Pane } from '../sandbox/pane.js';
import { CastWriter } from '../recordings/cast.js';
import type { Workshops } from '../workshops/workshops.js';

export interface CastFile {
  pane: string;
  lab: string;
  bytes: number;
  /** The file's name in its seat's directory. */
  file: string;
  modifiedAt: Date;
}

const FILE = /^([a-z0-9]{6,32})-([a-z][a-z0-9-]{0,31})\.cast$/;
const ID = /^[a-z0-9]{6,32}$/;
const LINK_MS = 3600_000;
const SWEEP_EVERY_MS = 3600_000;

interface Recording {
  writers: Map<string, CastWriter>;
  off: () => void;
}

/** What the index knows of a file: its writer while it is recorded, else its size and time. */
interface Indexed {
  lab: string;
  pane: string;
  file: string;
  writer: CastWriter | null;
  bytes: number;
  modifiedAt: Date;
}

export class Recordings {
  private readonly live = new Map<string, Recording>();
  /**
   * Each seat's recordings ("<workshop>/<seat>" -> file -> what is known), so the room's state,
   * asked for several times a second, never touches the disk: a seat's directory is read once
   * (recordings from before a restart), then kept up to date as files are made and closed.
   */
  private readonly index = new Map<string, Map<string, Indexed>>();
  private readonly key = randomBytes(32);
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly onOpened = (lab: Lab) => void this.maybeRecord(lab);
  private readonly onClosed = (lab: Lab) => void this.stopRecording(lab.id);

  constructor(
    readonly dir: string,
    private readonly workshops: Workshops,
    private readonly manager: LabManager,
    private readonly capBytes: number,
    private readonly retentionMs: number,
    private readonly log: (msg: string, extra: Record<string, unknown>) => void,
  ) {}

  start() {
    this.manager.on('opened', this.onOpened);
    this.manager.on('closed', this.onClosed);
    this.sweep();
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    this.sweepTimer.unref();
  }

  private async maybeRecord(lab: Lab) {
    const owner = lab.owner;
    if (!owner) return;
    let found: Awaited<ReturnType<Workshops['seatOf']>>;
    try {
      found = await this.workshops.seatOf(owner);
    } catch (err) {
      this.log('could not tell whether a lab is a workshop learner’s; not recorded', { lab: lab.id, error: (err as Error).message });
      return;
    }
    if (!found || lab.state !== 'open' || this.live.has(lab.id)) return;
    const where = join(this.dir, found.workshop.id, found.seat.seatId);
    const files = this.seatIndex(found.workshop.id, found.seat.seatId);
    const writers = new Map<string, CastWriter>();
    const offs: Array<() => void> = [];
    for (const pane of lab.panes.values()) {
      const w = new CastWriter(
        join(where, `${lab.id}-${pane.name}.cast`),
        { width: pane.cols, height: pane.rows, title: `${found.seat.name} · ${lab.lesson?.id ?? ''} · ${pane.name}` },
        this.capBytes,
      );
      writers.set(pane.name, w);
      files.set(`${lab.id}-${pane.name}.cast`, {
        lab: lab.id,
        pane: pane.name,
        file: `${lab.id}-${pane.name}.cast`,
        writer: w,
        bytes: 0,
        modifiedAt: new Date(),
      });
      offs.push(this.follow(pane, w));
    }
    this.live.set(lab.id, {
      writers,
      off: () => {
        for (const f of offs) f();
      },
    });
  }

  private follow(pane: Pane, w: CastWriter): () => void {
    const onData = (chunk: Buffer) => w.output(chunk);
    const onResize = (cols: number, rows: number) => w.resize(cols, rows);
    pane.on('data', onData);
    pane.on('resize', onResize);
    return () => {
      pane.off('data', onData);
      pane.off('resize', onResize);
    };
  }

  /** What the learner typed into a pane of a recorded lab. */
  input(lab: string, pane: string, bytes: Buffer) {
    this.live.get(lab)?.writers.get(pane)?.input(bytes);
  }

  /** A task done in a recorded lab: a marker in each of its panes, named after the task. */
  marker(lab: string, task: string) {
    for (const w of this.live.get(lab)?.writers.values() ?? []) w.marker(task);
  }

  /** Labs whose files are being finished (a capped file's end is written as it closes). */
  private readonly finishing = new Map<string, Promise<unknown>>();

  /** Resolves once the file at `path` (a resolve() answer) is whole: no longer being finished. */
  async settled(path: string): Promise<void> {
    const lab = FILE.exec(path.split('/').pop() ?? '')?.[1];
    if (lab) await this.finishing.get(lab);
  }

  private async stopRecording(lab: string) {
    const r = this.live.get(lab);
    if (!r) return;
    this.live.delete(lab);
    r.off();
    const done = Promise.allSettled([...r.writers.values()].map((w) => w.close()));
    this.finishing.set(lab, done);
    await done;
    this.finishing.delete(lab);
    for (const files of this.index.values())
      for (const f of files.values())
        if (f.lab === lab && f.writer) {
          f.bytes = f.writer.bytes;
          f.modifiedAt = f.writer.lastEventAt;
          f.writer = null;
        }
  }

  /** A seat's index, read from its directory the first time it is asked for. */
  private seatIndex(workshop: string, seat: string): Map<string, Indexed> {
    const key = `${workshop}/${seat}`;
    let files = this.index.get(key);
    if (files) return files;
    files = new Map();
    this.index.set(key, files);
    const dir = join(this.dir, workshop, seat);
    for (const file of safeList(dir)) {
      const m = FILE.exec(file);
      if (!m) continue;
      try {
        const st = statSync(join(dir, file));
        files.set(file, { lab: m[1]!, pane: m[2]!, file, writer: null, bytes: st.size, modifiedAt: st.mtime });
      } catch {
        /* removed meanwhile */
      }
    }
    return files;
  }

  /** A seat's recordings, newest first (from memory: see `index`). */
  list(workshop: string, seat: string): CastFile[] {
    if (!ID.test(workshop) || !ID.test(seat)) return [];
    const out: CastFile[] = [];
    for (const f of this.seatIndex(workshop, seat).values()) {
      out.push({
        lab: f.lab,
        pane: f.pane,
        file: f.file,
        bytes: f.writer ? f.writer.bytes : f.bytes,
        modifiedAt: f.writer ? f.writer.lastEventAt : f.modifiedAt,
      });
    }
    return out.sort((a, b) => b.modifiedAt.getTime() - a.modifiedAt.getTime());
  }

  /** A signed link to one recording, valid for an hour. */
  link(workshop: string, seat: string, file: string, now = Date.now()): string {
    const exp = now + LINK_MS;
    return `/api/casts/${workshop}/${seat}/${file}?exp=${exp}&sig=${this.sign(workshop, seat, file, exp)}`;
  }

  /** The file a link names, if its signature is ours and it has not expired; else null. */
  resolve(path: string, query: URLSearchParams, now = Date.now()): string | null {
    const m = /^\/api\/casts\/([a-z0-9]{6,32})\/([a-z0-9]{6,32})\/([^/]+)$/.exec(path);
    if (!m || !FILE.test(m[3]!)) return null;
    const exp = Number(query.get('exp'));
    const sig = query.get('sig') ?? '';
    if (!Number.isSafeInteger(exp) || exp < now) return null;
    const want = Buffer.from(this.sign(m[1]!, m[2]!, m[3]!, exp));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
    return join(this.dir, m[1]!, m[2]!, m[3]!);
  }

  private sign(workshop: string, seat: string, file: string, exp: number): string {
    return createHmac('sha256', this.key).update(`cast:${workshop}/${seat}/${file}:${exp}`).digest('base64url');
  }

  /** Remove recordings older than the retention (whole seat directories once empty). */
  sweep(now = Date.now()) {
    let removed = 0;
    let workshops: string[] = [];
    try {
      workshops = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const w of workshops) {
      for (const seat of safeList(join(this.dir, w))) {
        for (const file of safeList(join(this.dir, w, seat))) {
          const p = join(this.dir, w, seat, file);
          try {
            if (now - statSync(p).mtimeMs > this.retentionMs) {
              rmSync(p, { force: true });
              this.index.get(`${w}/${seat}`)?.delete(file);
              removed++;
            }
          } catch {
            /* gone */
          }
        }
        if (!safeList(join(this.dir, w, seat)).length) rmSync(join(this.dir, w, seat), { recursive: true, force: true });
      }
      if (!safeList(join(this.dir, w)).length) rmSync(join(this.dir, w), { recursive: true, force: true });
    }
    if (removed) this.log('removed old recordings', { removed, retentionDays: this.retentionMs / 86_400_000 });
  }

  async stop() {
    this.manager.off('opened', this.onOpened);
    this.manager.off('closed', this.onClosed);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    await Promise.all([...this.live.keys()].map((id) => this.stopRecording(id)));
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
