// What the soak's learners and chaos loop record: rounds, stalls, every byte lost or repeated,
// what clients were told, failed requests by reason, what the chaos did.
import type { Stall } from '../util.js';
import type { FaultSink, PaneView, SeqCheck, SnapshotCause } from './pane-view.js';

const count = (m: Map<string, number>, k: string, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

/** A message without its ids and numbers, so that the same reason counts once. */
export function reasonOf(text: string): string {
  return text
    .replace(/\b(?=[a-z]*\d)[a-z0-9]{12}\b/g, '<lab>')
    .replace(/\d+/g, 'N')
    .slice(0, 120);
}

export class SoakStats implements FaultSink {
  readonly rounds = new Map<string, number>();
  readonly stalls: Stall[] = [];
  lostBytes = 0;
  repeatedBytes = 0;
  /** The first few stream faults, with where. */
  readonly faults: string[] = [];
  readonly protocolFaults: string[] = [];
  readonly snapshots = new Map<SnapshotCause, number>();
  readonly replays = new Map<string, number>();
  readonly seq = { runs: 0, strict: 0, resynced: 0, endInSnapshot: 0, interrupted: 0, numbers: 0, missing: 0, repeated: 0, strange: 0 };
  /** Why clients lost a lab or a pane, as the agent told them. */
  readonly told = new Map<string, number>();
  /** A client that lost its lab without being told (it found out from an unknown-lab error). */
  readonly untold: string[] = [];
  readonly failed = new Map<string, number>();
  /** Connections the agent closed on a learner (never expected). */
  readonly connectionsLost: string[] = [];
  readonly ctrlCMs: number[] = [];
  readonly openMs: number[] = [];
  readonly chaos = new Map<string, { done: number; told: number; failed: Map<string, number> }>();
  readonly chaosProblems: string[] = [];
  /** Unexpected exceptions in the harness itself. */
  readonly errors: string[] = [];

  round(kind: string) {
    count(this.rounds, kind);
  }

  get roundsTotal(): number {
    return [...this.rounds.values()].reduce((a, b) => a + b, 0);
  }

  stall(s: Stall) {
    this.stalls.push(s);
  }

  private fault(text: string) {
    if (this.faults.length < 20) this.faults.push(text);
  }

  lost(view: PaneView, bytes: number, detail: string) {
    this.lostBytes += bytes;
    this.fault(`${view.who} ${view.key}: ${bytes} bytes lost (${detail})`);
  }

  repeated(view: PaneView, bytes: number, detail: string) {
    this.repeatedBytes += bytes;
    this.fault(`${view.who} ${view.key}: ${bytes} bytes repeated (${detail})`);
  }

  snapshot(_view: PaneView, cause: SnapshotCause) {
    count(this.snapshots, cause);
  }

  protocol(view: PaneView, detail: string) {
    if (this.protocolFaults.length < 20) this.protocolFaults.push(`${view.who} ${view.key}: ${detail}`);
    else this.protocolFaults[19] = '...';
  }

  replay(kind: string) {
    count(this.replays, kind);
  }

  /** A finished (or cut) `seq` run. `interrupted`: the lab or pane went away, as the client was told. */
  seqRun(who: string, s: SeqCheck, interrupted: boolean) {
    this.seq.runs++;
    // Numbers that came out of order before an interruption count all the same.
    if (interrupted) this.seq.interrupted++;
    else if (s.endInSnapshot) this.seq.endInSnapshot++;
    else if (s.resynced) this.seq.resynced++;
    else {
      this.seq.strict++;
      this.seq.numbers += s.last;
    }
    this.seq.missing += s.missing;
    this.seq.repeated += s.repeated;
    this.seq.strange += s.strangeCount;
    this.lostBytes += s.lostBytes;
    this.repeatedBytes += s.repeatedBytes;
    if (!s.ok)
      this.fault(`${who}: seq run ${s.k}: ${s.missing} numbers missing, ${s.repeated} repeated, ${s.strangeCount} strange lines ${s.strange.join(' ')}`);
  }

  tell(reason: string) {
    count(this.told, reasonOf(reason));
  }

  fail(reason: string) {
    count(this.failed, reasonOf(reason));
  }

  chaosAction(action: string, outcome: 'done' | 'told' | { failed: string }) {
    let c = this.chaos.get(action);
    if (!c) this.chaos.set(action, (c = { done: 0, told: 0, failed: new Map() }));
    if (outcome === 'done') c.done++;
    else if (outcome === 'told') {
      c.done++;
      c.told++;
    } else count(c.failed, reasonOf(outcome.failed));
  }
}
