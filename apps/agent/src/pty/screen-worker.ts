// The screens of every pane, in a worker thread: parsing terminal output into a headless xterm.js
// costs as much CPU as reading it, so it runs beside the agent's event loop instead of on it.
// Messages from the agent are handled in order, so a snapshot shows exactly the output written
// before it was asked for. Bundled as screen-worker.cjs (see scripts/build.mjs).
import { parentPort } from 'node:worker_threads';
import headless from '@xterm/headless';
import { SerializeAddon } from '@xterm/addon-serialize';
import type { ToScreenWorker, FromScreenWorker } from './screen-messages.js';

type Term = InstanceType<typeof headless.Terminal>;
const screens = new Map<number, { term: Term; serializer: SerializeAddon; scrollback: number; parsed: number }>();
const port = parentPort!;

/** Parsing progress goes back at most once per turn of the worker's loop, for every screen. */
const progress = new Map<number, number>();
let reporting = false;
function report(id: number, offset: number) {
  progress.set(id, offset);
  if (reporting) return;
  reporting = true;
  setImmediate(() => {
    reporting = false;
    const parsed = [...progress];
    progress.clear();
    send({ op: 'parsed', parsed });
  });
}

function send(msg: FromScreenWorker) {
  port.postMessage(msg);
}

port.on('message', (msg: ToScreenWorker) => {
  switch (msg.op) {
    case 'open': {
      const term = new headless.Terminal({ cols: msg.cols, rows: msg.rows, scrollback: msg.scrollback, allowProposedApi: true });
      const serializer = new SerializeAddon();
      // The addon needs only the public buffer API, which the headless build shares.
      term.loadAddon(serializer as unknown as Parameters<Term['loadAddon']>[0]);
      screens.set(msg.id, { term, serializer, scrollback: msg.scrollback, parsed: 0 });
      return;
    }
    case 'write': {
      const s = screens.get(msg.id);
      if (!s) return;
      s.term.write(msg.data, () => {
        s.parsed = msg.end;
        report(msg.id, msg.end);
      });
      return;
    }
    case 'resize': {
      const s = screens.get(msg.id);
      if (s && (s.term.cols !== msg.cols || s.term.rows !== msg.rows)) s.term.resize(msg.cols, msg.rows);
      return;
    }
    case 'snapshot': {
      const s = screens.get(msg.id);
      if (!s) return send({ op: 'snapshot', req: msg.req, screen: '', cols: 0, rows: 0 });
      // Runs right after the last write before this message is parsed, and before any later one.
      s.term.write('', () =>
        send({ op: 'snapshot', req: msg.req, screen: s.serializer.serialize({ scrollback: s.scrollback }), cols: s.term.cols, rows: s.term.rows }),
      );
      return;
    }
    case 'close': {
      screens.get(msg.id)?.term.dispose();
      screens.delete(msg.id);
      progress.delete(msg.id);
      return;
    }
  }
});
