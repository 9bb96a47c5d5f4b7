// Prometheus metrics at /metrics, every name prefixed nslab_. No lab ids in labels: they would
// make a new series per lab. The agent process's own figures (memory, event-loop lag, fds) come
// from prom-client's defaults under the same prefix.
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { LabManager } from '../sandbox/labs.js';

export class Metrics {
  readonly registry = new Registry();
  readonly labsOpened = new Counter({ name: 'nslab_labs_opened_total', help: 'Labs opened, by lesson', labelNames: ['lesson'], registers: [this.registry] });
  readonly labsClosed = new Counter({ name: 'nslab_labs_closed_total', help: 'Labs closed, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly labOpenSeconds = new Histogram({
    name: 'nslab_lab_open_seconds',
    help: 'Time to open a lab for a lesson, its panes started',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly paneSpawnSeconds = new Histogram({
    name: 'nslab_pane_spawn_seconds',
    help: 'Time to start a pane (a shell in its namespaces) in a lab',
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly bytesOut = new Counter({ name: 'nslab_output_bytes_total', help: 'Terminal output bytes sent to clients', registers: [this.registry] });
  readonly bytesIn = new Counter({ name: 'nslab_input_bytes_total', help: 'Terminal input bytes received from clients', registers: [this.registry] });
  readonly limitHits = new Counter({
    name: 'nslab_limit_hits_total',
    help: 'Limits hit: memory and pids (inside labs), labs (all in use), rate (a client over its rate)',
    labelNames: ['limit'],
    registers: [this.registry],
  });
  readonly errors = new Counter({ name: 'nslab_errors_total', help: 'Error answers to clients, by code', labelNames: ['code'], registers: [this.registry] });
  readonly connections = new Gauge({ name: 'nslab_connections', help: 'Open WebSocket connections', registers: [this.registry] });

  constructor(manager: LabManager, waiting: () => number) {
    collectDefaultMetrics({ register: this.registry, prefix: 'nslab_' });
    new Gauge({
      name: 'nslab_labs_open',
      help: 'Labs open for a lesson',
      registers: [this.registry],
      collect() {
        this.set(manager.labs.size);
      },
    });
    new Gauge({
      name: 'nslab_labs_warm',
      help: 'Labs made ahead of time, waiting for a lesson',
      registers: [this.registry],
      collect() {
        this.set(manager.warmCount);
      },
    });
    new Gauge({
      name: 'nslab_labs_abandoned',
      help: 'Labs whose clients left, within their grace period',
      registers: [this.registry],
      collect() {
        this.set(waiting());
      },
    });
    new Gauge({
      name: 'nslab_panes_running',
      help: 'Pane shells running',
      registers: [this.registry],
      collect() {
        let n = 0;
        for (const lab of manager.labs.values()) for (const p of lab.panes.values()) if (p.running) n++;
        this.set(n);
      },
    });
    manager.on('opened', (lab, ms) => {
      this.labsOpened.inc({ lesson: lab.lesson?.id ?? 'none' });
      this.labOpenSeconds.observe(ms / 1000);
    });
    manager.on('closed', (lab, reason) => {
      if (lab.lesson) this.labsClosed.inc({ reason: reasonLabel(reason) });
    });
    manager.on('limit', (_lab, which) => this.limitHits.inc({ limit: which }));
    manager.on('paneStarted', (_lab, ms) => this.paneSpawnSeconds.observe(ms / 1000));
  }
}

/** A few fixed labels (free text would make a series per message). */
function reasonLabel(reason: string): string {
  if (/request/.test(reason)) return 'request';
  if (/abandoned/.test(reason)) return 'abandoned';
  if (reason === 'idle' || reason === 'lifetime') return reason;
  if (/stopping/.test(reason)) return 'shutdown';
  if (/replaced/.test(reason)) return 'replaced';
  return 'other';
}
