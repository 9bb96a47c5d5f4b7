// A PTY master owned by the agent. The master is opened in the lab's own devpts instance, so
// the learner sees their terminal as /dev/pts/N of the lab. Reading: koffi's poll on the
// non-blocking master (not fs streams: those block the libuv threadpool on a tty).
import koffi from 'koffi';
import { EventEmitter } from 'node:events';
import { sys } from '../native/sys.js';
import { O } from '../native/constants.js';

const EAGAIN = 11;
const READ_CHUNK = 64 * 1024;

export interface PtyEvents {
  data: [chunk: Buffer];
  end: [];
}

export class Pty extends EventEmitter<PtyEvents> {
  private fd: number;
  private poller: ReturnType<typeof koffi.node.poll> | null = null;
  private readonly buf = Buffer.alloc(READ_CHUNK);
  private writeQueue: Buffer[] = [];
  private reading = false;
  private paused = false;
  private ended = false;
  readonly number: number;

  /**
   * Open a new terminal in the devpts instance behind `devptsFd`, give its slave to uid/gid.
   * Returns the PTY; the slave's path inside the lab is `/dev/pts/${pty.number}`.
   */
  constructor(devptsFd: number, slaveUid: number, slaveGid: number, cols: number, rows: number) {
    super();
    this.fd = sys.openat(devptsFd, 'ptmx', O.RDWR | O.NOCTTY | O.CLOEXEC | O.NONBLOCK | O.NOFOLLOW);
    try {
      sys.unlockpt(this.fd);
      this.number = sys.ptsNumber(this.fd);
      sys.fchownatNoFollow(devptsFd, String(this.number), slaveUid, slaveGid);
      sys.setWinSize(this.fd, cols, rows);
    } catch (err) {
      sys.close(this.fd);
      throw err;
    }
  }

  get slavePath(): string {
    return `/dev/pts/${this.number}`;
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /** Start delivering output ('data' events) until the terminal's other side is gone ('end'). */
  start() {
    if (this.reading || this.fd < 0) return;
    this.reading = true;
    this.watch();
  }

  /**
   * One poll handle for the master, its interest set to what is wanted now: readable while
   * reading and not paused, writable while input waits. (Two poll handles on one fd abort Node.)
   */
  private watch() {
    if (this.fd < 0) return;
    const readable = this.reading && !this.paused && !this.ended;
    const writable = this.writeQueue.length > 0;
    if (!readable && !writable) {
      this.poller?.stop();
      return;
    }
    // Only the wanted events, named: koffi reads any key present as a request for that event.
    const opts: { readable?: boolean; writable?: boolean; disconnect?: boolean } = {};
    if (readable) opts.readable = opts.disconnect = true;
    if (writable) opts.writable = true;
    // koffi calls back with (status, events), whatever its typings say; a status < 0 is an error
    // on the descriptor, which the next read or write reports properly.
    const onEvent = (...args: unknown[]) => {
      const ev = (args.find((a) => typeof a === 'object' && a !== null) ?? { readable: true, writable: true, disconnect: false }) as {
        readable: boolean;
        writable: boolean;
        disconnect: boolean;
      };
      const failed = typeof args[0] === 'number' && args[0] !== 0;
      if (failed) ev.readable = ev.writable = true;
      if (ev.writable || (!readable && (ev.readable || ev.disconnect))) this.flushWrites();
      if (readable && (ev.readable || ev.disconnect)) this.drain();
      // libuv stops a poll handle that reported an error: watch again unless the terminal is
      // gone (then the read above saw its end and nothing is wanted any more).
      if (failed && !this.ended && this.fd >= 0) this.watch();
    };
    if (this.poller) this.poller.start(opts, onEvent as never);
    else this.poller = koffi.node.poll(this.fd, opts, onEvent as never);
  }

  private drain() {
    if (this.fd < 0) return;
    for (;;) {
      const n = sys.readRaw(this.fd, this.buf);
      if (n > 0) {
        this.emit('data', Buffer.from(this.buf.subarray(0, n)));
        if (this.paused || this.fd < 0) return;
        continue;
      }
      if (n === -EAGAIN) return;
      // 0 or EIO: every slave fd is closed (the shell and its children are gone).
      if (!this.ended) {
        this.ended = true;
        this.watch();
        this.emit('end');
      }
      return;
    }
  }

  /** Flow control: stop reading (the writer in the lab blocks once the kernel buffer is full). */
  pause() {
    if (this.paused) return;
    this.paused = true;
    this.watch();
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    this.watch();
  }

  write(data: string | Buffer) {
    if (this.fd < 0) return;
    this.writeQueue.push(typeof data === 'string' ? Buffer.from(data) : data);
    if (this.writeQueue.length === 1) this.flushWrites();
  }

  private flushWrites() {
    const before = this.writeQueue.length;
    while (this.writeQueue.length && this.fd >= 0) {
      const head = this.writeQueue[0]!;
      const n = sys.writeRaw(this.fd, head);
      if (n === -EAGAIN) break;
      if (n < 0) {
        // The terminal is gone (EIO): what was typed has nowhere to go.
        this.writeQueue = [];
        break;
      }
      if (n < head.length) this.writeQueue[0] = head.subarray(n);
      else this.writeQueue.shift();
    }
    // Wait for room only while something waits, and stop waiting once it is all written.
    if (before > 0 !== this.writeQueue.length > 0 || this.writeQueue.length > 0) this.watch();
  }

  resize(cols: number, rows: number) {
    if (this.fd >= 0) sys.setWinSize(this.fd, cols, rows);
  }

  close() {
    if (this.fd < 0) return;
    this.poller?.close();
    this.poller = null;
    sys.close(this.fd);
    this.fd = -1;
  }
}
