// Who may do what with which lab, for one connection: the token holder every lab; a browser
// session the labs it opened; a read-only link (redeemed with `view`) one lab, to watch only.
// Soon: instructors and portals. Another session's lab is answered exactly like one that does
// not exist.
import type { LabManager } from '../sandbox/labs.js';
import type { Lab } from '../sandbox/lab.js';
import type { Pane } from '../sandbox/pane.js';
import { ClientError } from './errors.js';

/** Who is on the other end: the token holder (every lab), or a browser session (its own labs). */
export type Principal = { kind: 'token' } | { kind: 'session'; sid: string };

export class Access {
  /** Labs this connection may watch through a read-only link. */
  readonly viewing = new Set<string>();

  constructor(
    private readonly manager: LabManager,
    public principal: Principal | null,
  ) {}

  get authenticated(): boolean {
    return this.principal !== null;
  }

  get isToken(): boolean {
    return this.principal?.kind === 'token';
  }

  /** The session's own id, or null for the token holder (and the unauthenticated). */
  get owner(): string | null {
    return this.principal?.kind === 'session' ? this.principal.sid : null;
  }

  /** Labs this connection may write to besides its own (an allowed take-over). */
  alsoMayUse: (lab: Lab) => boolean = () => false;

  /** May this connection write to (type into, change) the lab? */
  mayUse(lab: Lab): boolean {
    return this.isToken || (lab.owner !== null && lab.owner === this.owner) || this.alsoMayUse(lab);
  }

  /** A lab this connection may write to (`write`) or at least watch (`read`). */
  lab(id: string, need: 'read' | 'write' = 'write'): Lab {
    const lab = this.manager.get(id);
    if (lab && this.mayUse(lab)) return lab;
    if (lab && this.viewing.has(id)) {
      if (need === 'read') return lab;
      throw new ClientError('read-only', `lab ${id} is shared with you read-only: you can watch it, not type into it or change it`);
    }
    throw new ClientError('unknown-lab', `no open lab ${id}`);
  }

  pane(lab: Lab, name: string): Pane {
    const pane = lab.pane(name);
    if (!pane) throw new ClientError('unknown-pane', `lab ${lab.id} has no pane "${name}" (it has: ${[...lab.panes.keys()].join(', ')})`);
    return pane;
  }

  /** Labs this connection sees in `list`. */
  visible(): Lab[] {
    return this.manager.list().filter((l) => this.mayUse(l));
  }
}
