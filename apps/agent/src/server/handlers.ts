// One function per request type, typed by the protocol's result map (ResultOf in
// @nslab/shared): each checks access through the connection's Access, does its one thing, and
// returns what the client is told (undefined: nothing, for messages sent without an id).
import { BUILDER_LESSON, NAMESPACE_TYPES, builderProblems, paneChoice } from '@nslab/shared';
import { takePictureWithFacts } from '../inspect/picture.js';
import type { Lab } from '../sandbox/lab.js';
import { admitOpen } from './admission.js';
import { ClientError } from './errors.js';
import type { Handled, Handler } from './scope.js';
import { WORKSHOP_HANDLERS } from './workshop-handlers.js';
import { PORTAL_HANDLERS } from './portal-handlers.js';

export type { HandlerScope } from './scope.js';

/** The first of ns1, ns2, ... that the lab has no pane of. */
function freePaneName(lab: Lab): string {
  for (let i = 1; ; i++) if (!lab.pane(`ns${i}`)) return `ns${i}`;
}

export const HANDLERS: { [T in Handled]: Handler<T> } = {
  lessons: ({ ctx }) =>
    ctx.manager.catalogue.list().map(({ def, titles }) => ({
      id: def.id,
      title: def.title,
      titles,
      panes: def.panes.map((p) => ({ name: p.name, unshare: [...p.unshare] })),
    })),

  async open({ ctx, access, address, holder, closed }, msg) {
    if (!access.isToken) admitOpen(ctx, access.owner, address);
    const lab = await ctx.manager.open(msg.lesson, access.owner);
    if (access.owner) lab.address = address;
    ctx.presence.hold(lab.id, holder);
    // The client left while its lab was being made: it gets the grace period like any other.
    if (closed()) ctx.presence.release(lab.id, holder);
    return lab.info();
  },

  list: ({ access }) => access.visible().map((l) => l.info()),

  async close({ ctx, access }, msg) {
    access.lab(msg.lab);
    await ctx.manager.close(msg.lab);
    return { closed: true as const };
  },

  exec({ access }, msg) {
    const lab = access.lab(msg.lab);
    const pane = access.pane(lab, msg.pane);
    if (!pane.running) throw new ClientError('pane-not-running', `pane ${pane.name} has exited; restart it first`);
    lab.touch();
    return lab.exec(pane, msg.argv, {
      stdin: msg.stdin !== undefined ? Buffer.from(msg.stdin, 'base64') : undefined,
      timeoutMs: msg.timeoutMs,
    });
  },

  async attach({ ctx, access, subs, holder, announce }, msg) {
    const lab = access.lab(msg.lab, 'read');
    const pane = access.pane(lab, msg.pane);
    const readOnly = !access.mayUse(lab);
    if (!readOnly) {
      ctx.presence.hold(lab.id, holder);
      if (msg.cols && msg.rows) pane.resize(msg.cols, msg.rows);
    }
    await subs.attach(lab, pane, readOnly, msg.from, (result) => announce(msg.id, result));
    return undefined;
  },

  detach({ subs }, msg) {
    subs.detach(msg.lab, msg.pane);
    return msg.id !== undefined ? { detached: true as const } : undefined;
  },

  ack({ subs }, msg) {
    subs.stream(msg.lab, msg.pane)?.ack(msg.offset);
    return undefined;
  },

  focus({ subs }, msg) {
    subs.stream(msg.lab, msg.pane)?.use();
    return undefined;
  },

  input({ ctx, access, subs, input }, msg) {
    const lab = access.lab(msg.lab);
    const pane = access.pane(lab, msg.pane);
    if (!pane.running) throw new ClientError('pane-not-running', `pane ${pane.name} has exited`);
    const bytes = Buffer.from(msg.data);
    if (!input.take(bytes.length)) {
      throw new ClientError(
        'rate-limited',
        `input refused: more than ${ctx.rates.inputBytes.perSecond} bytes a second; send it again in ${input.waitFor(bytes.length)} s`,
      );
    }
    lab.touch();
    // The client that types is the one in use: flow control follows it.
    subs.stream(lab.id, pane.name)?.use();
    pane.write(bytes);
    ctx.recordings.input(lab.id, pane.name, bytes);
    // Enter: a command runs, and what it changed is worth checking now rather than in a second.
    if (bytes.includes(0x0d) || bytes.includes(0x0a)) ctx.watchers.nudge(lab.id);
    ctx.metrics?.bytesIn.inc(bytes.length);
    return msg.id !== undefined ? { written: bytes.length } : undefined;
  },

  resize({ access }, msg) {
    access.pane(access.lab(msg.lab), msg.pane).resize(msg.cols, msg.rows);
    return undefined;
  },

  async restart({ access }, msg) {
    const lab = access.lab(msg.lab);
    const pane = access.pane(lab, msg.pane);
    lab.touch();
    await lab.startPane(pane);
    return pane.info();
  },

  async 'pane-add'({ access }, msg) {
    const lab = access.lab(msg.lab);
    if (lab.lesson?.id !== BUILDER_LESSON.id) {
      throw new ClientError('failed', `panes can be added only to a lab of the namespace builder (open lesson "${BUILDER_LESSON.id}"), not to a lesson's lab`);
    }
    const parentDef = msg.parent !== undefined ? lab.pane(msg.parent)?.def : undefined;
    if (parentDef?.built && parentDef.unshare.includes('user') && !parentDef.built.mapUser) {
      throw new ClientError(
        'bad-message',
        `pane ${msg.parent} has a user namespace with no id maps: no process can join it as its root, so nothing can be made inside it`,
      );
    }
    const problems = builderProblems(msg.choice, parentDef ? paneChoice(parentDef) : undefined);
    if (problems.length) throw new ClientError('bad-message', problems.join(' '));
    if (msg.choice.types.includes('pid') && !msg.choice.fork) {
      throw new ClientError(
        'bad-message',
        "a builder pane with a PID namespace forks: without the fork its shell would stay outside, and the shell's first child would be PID 1",
      );
    }
    const name = msg.name ?? freePaneName(lab);
    lab.touch();
    const pane = await lab.addPane({
      name,
      unshare: NAMESPACE_TYPES.filter((t) => msg.choice.types.includes(t)),
      built: {
        ...(msg.parent !== undefined ? { parent: msg.parent } : {}),
        mapUser: msg.choice.mapUser,
        mountProc: msg.choice.mountProc,
        ...(msg.choice.hostname !== undefined ? { hostname: msg.choice.hostname } : {}),
      },
    });
    return pane.info();
  },

  async 'pane-close'({ access }, msg) {
    const lab = access.lab(msg.lab);
    access.pane(lab, msg.pane);
    lab.touch();
    return { closed: await lab.removePane(msg.pane) };
  },

  watch({ ctx, access, subs, holder }, msg) {
    const lab = access.lab(msg.lab, 'read');
    if (access.mayUse(lab)) ctx.presence.hold(lab.id, holder);
    subs.watch(lab);
    const w = ctx.watchers.of(lab);
    return { tasks: w?.tasks ?? [], picture: w?.picture ?? null };
  },

  unwatch({ subs }, msg) {
    subs.unwatch(msg.lab);
    return msg.id !== undefined ? { watching: false as const } : undefined;
  },

  async check({ ctx, access }, msg) {
    const w = ctx.watchers.of(access.lab(msg.lab));
    await w?.tick();
    return { tasks: w?.tasks ?? [] };
  },

  inspect: ({ access }, msg) => takePictureWithFacts(access.lab(msg.lab, 'read')),

  async progress({ ctx, access }) {
    const owner = access.owner;
    if (!owner) return { tasks: [] };
    const done = await ctx.store.progress(owner);
    return { tasks: done.map((t) => ({ lesson: t.lesson, task: t.task, doneAt: t.doneAt.toISOString() })) };
  },

  share({ ctx, access }, msg) {
    const lab = access.lab(msg.lab);
    if (msg.revoke) {
      ctx.shares.revoke(lab.id);
      return { revoked: true as const };
    }
    return { token: ctx.shares.mint(lab.id) };
  },

  view({ ctx, access }, msg) {
    const id = ctx.shares.verify(msg.token);
    const lab = id ? ctx.manager.get(id) : undefined;
    if (!lab) throw new ClientError('bad-link', 'this read-only link is not valid: the lab has closed or its owner revoked the link');
    access.viewing.add(lab.id);
    return { ...lab.info(), readOnly: true as const };
  },

  ...WORKSHOP_HANDLERS,
  ...PORTAL_HANDLERS,
};
