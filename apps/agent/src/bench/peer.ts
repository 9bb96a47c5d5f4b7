// The peer baseline for the streaming benchmark: what a plain browser-terminal server does
// (ttyd, gotty, wetty). One WebSocket connection = one login shell in a node-pty; the shell's
// output goes out as binary messages exactly as node-pty reads it (no header, no coalescing, no
// screen kept, so nothing to replay on reconnect); input comes in as JSON text messages.
//
// Flow control, simple and the same as nslab's so that throughput compares like with like: the
// client acknowledges the bytes it consumed ({"ack": total}); above FLOW_HIGH_BYTES unacknowledged
// the server pauses the PTY (node-pty stops reading, the shell blocks), below FLOW_LOW_BYTES it
// resumes. Run as its own process (own event loop); prints {"port": N} on stdout once listening.
import { createServer } from 'node:http';
import { WebSocketServer, type RawData } from 'ws';
import * as pty from '@lydell/node-pty';
import { FLOW_HIGH_BYTES, FLOW_LOW_BYTES } from '@nslab/shared';

const SHELL_ENV: Record<string, string> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  USER: 'root',
  LOGNAME: 'root',
  TERM: 'xterm-256color',
  COLORTERM: 'truecolor',
  LANG: 'C.UTF-8',
};

interface PeerMessage {
  input?: string;
  ack?: number;
  resize?: { cols: number; rows: number };
}

const server = createServer((_req, res) => {
  res.writeHead(404);
  res.end();
});
const wss = new WebSocketServer({ server, perMessageDeflate: false });

wss.on('connection', (ws) => {
  const term = pty.spawn('/bin/bash', ['-l'], { name: 'xterm-256color', cols: 100, rows: 30, cwd: '/root', env: SHELL_ENV, encoding: null });
  let sent = 0;
  let acked = 0;
  let paused = false;
  const flow = () => {
    const inFlight = sent - acked;
    if (!paused && inFlight > FLOW_HIGH_BYTES) {
      paused = true;
      term.pause();
    } else if (paused && inFlight <= FLOW_LOW_BYTES) {
      paused = false;
      term.resume();
    }
  };
  // With `encoding: null` node-pty hands over Buffers (its typings say string).
  term.onData((data: string | Buffer) => {
    if (ws.readyState !== ws.OPEN) return;
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    ws.send(bytes, { binary: true });
    sent += bytes.length;
    flow();
  });
  term.onExit(() => ws.close(1000, 'shell exited'));
  ws.on('message', (raw: RawData, isBinary: boolean) => {
    if (isBinary) return;
    let msg: PeerMessage;
    try {
      msg = JSON.parse(raw.toString()) as PeerMessage;
    } catch {
      return;
    }
    if (typeof msg.input === 'string') term.write(msg.input);
    if (typeof msg.ack === 'number' && msg.ack > acked) {
      acked = Math.min(msg.ack, sent);
      flow();
    }
    if (msg.resize) term.resize(msg.resize.cols, msg.resize.rows);
  });
  ws.on('close', () => {
    try {
      term.kill('SIGHUP');
    } catch {
      /* already gone */
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 }) + '\n');
});
process.on('SIGTERM', () => {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
});
