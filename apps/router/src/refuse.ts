// Refusals a browser can read: a WebSocket that fails its handshake tells the page nothing (a
// 403 is just "error" to it), so the router completes the handshake itself and closes at once
// with a code and a sentence the page shows (docs/router.md).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';

export const CLOSE = {
  altered: { code: 4403, reason: 'this lab address was altered or is not from this cluster' },
  gone: { code: 4410, reason: 'the machine holding your lab stopped; open a new one' },
  noRoom: { code: 4503, reason: 'no machine has room for a new lab right now; try again in a minute' },
} as const;

export type Refusal = (typeof CLOSE)[keyof typeof CLOSE] | { code: number; reason: string };

/** How long a refused client has to answer the close before its socket is dropped. */
const CLOSE_WAIT_MS = 2000;

export class Refuser {
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: true, maxPayload: 1024 });

  refuse(req: IncomingMessage, socket: Duplex, head: Buffer, why: Refusal) {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      // Whatever the client sends now is not read: it is leaving.
      ws.close(why.code, why.reason);
      setTimeout(() => ws.terminate(), CLOSE_WAIT_MS).unref();
    });
  }

  close() {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}
