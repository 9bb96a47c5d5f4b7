// Preloaded (`node --require bench-deathsig.cjs ...`) into every process the bench or the soak
// harness starts (an agent, the peer server), so that it never outlives the harness, not even a
// harness killed with SIGKILL: the kernel sends this process SIGTERM when its parent dies
// (PR_SET_PDEATHSIG). An agent then closes its labs as it does on any SIGTERM; if it has not
// exited 15 s later, it is killed outright (its spawner, and with it every lab, die with it).
//
// Its own koffi binding, with no named types: the agent's bundle in the same process defines the
// named ones of apps/agent/src/native/libc.ts, and koffi refuses a type name defined twice.
import { openSync } from 'node:fs';
import koffi from 'koffi';
import { PR, SIG } from '../native/constants.js';

const libc = koffi.load('libc.so.6');
const prctl = libc.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)');
const getppid = libc.func('int getppid(void)');
const dup2 = libc.func('int dup2(int oldfd, int newfd)');

const parent = Number(process.env.NSLAB_HARNESS_PID);
if (prctl(PR.SET_PDEATHSIG, SIG.TERM, 0, 0, 0) !== 0) {
  process.stderr.write('bench-deathsig: PR_SET_PDEATHSIG failed\n');
  process.exit(1);
}
// The harness may have died between our fork and the prctl: then nobody will signal us.
if (parent > 0 && getppid() !== parent) process.exit(1);

// Output to a harness that is gone fails (EPIPE): it must not stop the program closing its labs.
for (const s of [process.stdout, process.stderr]) s.on('error', () => {});

process.on('SIGTERM', () => {
  // Before the program installed its own handler (still starting): just go.
  if (process.listenerCount('SIGTERM') === 1) process.exit(143);
  // Only when orphaned: a harness that sends SIGTERM itself kills with SIGKILL if it must.
  if (getppid() === parent) return;
  // Nobody reads our output any more: let it go nowhere (the logger writes to fd 1 directly).
  const devnull = openSync('/dev/null', 'w');
  dup2(devnull, 1);
  dup2(devnull, 2);
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), 15_000).unref();
});
