// A PTY master owned by the agent. The master is opened in the lab's own devpts instance, so
// the learner sees their terminal as /dev/pts/N of the lab. Reading: koffi's poll on the
// non-blocking master (not fs streams: those block the libuv threadpool on a tty).
import koffi from 'koffi';
import { EventEmitter } from 'node:events';
import { sys } from '../native/sys.js';
import { O } from '../native/constants.js';

const EAGAIN = 11;
const EIO = 5;
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
  private writePoller: ReturnType<typeof koffi.node.poll> | null = null;
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
    if (this.poller || this.fd < 0) return;
    this.poller = koffi.node.poll(this.fd, { readable: true, disconnect: true }, () => this.drain());
  }

  private drain() {
    if (this.fd < 0) return;
    for (;;) {
      const n = sys.readRaw(this.fd, this.buf);
      if (n > 0) {
        this.emit('data', Buffer.from(this.buf.subarray(0, n)));
        if (this.paused) return;
        continue;
      }
      if (n === -EAGAIN) return;
      // 0 or EIO: every slave fd is closed (the shell and its children are gone).
      if (n === 0 || n === -EIO || n < 0) {
        this.poller?.stop();
        if (!this.ended) {
          this.ended = true;
          this.emit('end');
        }
        return;
      }
    }
  }

  /** Flow control: stop reading (the writer in the lab blocks once the kernel buffer is full). */
  pause() {
    if (this.paused) return;
    this.paused = true;
    this.poller?.stop();
  }

  resume() {
    if (!this.paused || this.fd < 0) return;
    this.paused = false;
    if (!this.ended) this.poller?.start({ readable: true, disconnect: true }, () => this.drain());
  }

  write(data: string | Buffer) {
    if (this.fd < 0) return;
    this.writeQueue.push(typeof data === 'string' ? Buffer.from(data) : data);
    this.flushWrites();
  }

  private flushWrites() {
    while (this.writeQueue.length && this.fd >= 0) {
      const head = this.writeQueue[0]!;
      const n = sys.writeRaw(this.fd, head);
      if (n === -EAGAIN) {
        if (!this.writePoller) {
          this.writePoller = koffi.node.poll(this.fd, { writable: true }, () => {
            this.writePoller?.close();
            this.writePoller = null;
            this.flushWrites();
          });
        }
        return;
      }
      if (n < 0) {
        this.writeQueue = [];
        return;
      }
      if (n < head.length) this.writeQueue[0] = head.subarray(n);
      else this.writeQueue.shift();
    }
  }

  resize(cols: number, rows: number) {
    if (this.fd >= 0) sys.setWinSize(this.fd, cols, rows);
  }

  close() {
    if (this.fd < 0) return;
    this.poller?.close();
    this.writePoller?.close();
    this.poller = this.writePoller = null;
    sys.close(this.fd);
    this.fd = -1;
  }
}
