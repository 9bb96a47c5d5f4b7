// A minimal request/response WebSocket client for the benchmark.
import WebSocket from 'ws';

export class BenchClient {
  private pending = new Map<number, (m: { type: string; data?: unknown }) => void>();
  private next = 1;
  private constructor(private ws: WebSocket) {
    ws.on('message', (data, binary) => {
      if (binary) return;
      const m = JSON.parse(data.toString());
      const f = this.pending.get(m.id);
      if (f) {
        this.pending.delete(m.id);
        f(m);
      }
    });
  }
  static connect(url: string, token: string): Promise<BenchClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url.replace(/^http/, 'ws') + '/api/ws', { headers: { authorization: `Bearer ${token}` } });
      ws.once('open', () => resolve(new BenchClient(ws)));
      ws.once('error', reject);
    });
  }
  request(msg: Record<string, unknown>): Promise<{ type: string; data?: unknown }> {
    const id = this.next++;
    return new Promise((r) => {
      this.pending.set(id, r);
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  }
  close() {
    this.ws.close();
  }
}
