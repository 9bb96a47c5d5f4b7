// A process that opens a store, does one thing, says so on stdout and then waits to be killed.
//   child.ts write <target json> <session> <task>   record a task done, print "written"
//   child.ts hold <target json>                     open the store, print "open"
import { openStore } from '../../apps/agent/src/store/index.ts';

const [mode, targetJson, session, task] = process.argv.slice(2);
const store = await openStore(JSON.parse(targetJson!));
if (mode === 'write') {
  await store.recordTaskDone(session!, 'pid', task!, Date.now());
  process.stdout.write('written\n');
} else {
  process.stdout.write('open\n');
}
setInterval(() => {}, 60_000);
