// `npm start`: the nslab agent with the web app, on one port.
import { loadConfig } from './config.js';
import { startAgent } from './server/agent.js';
import { checkHost } from './preflight.js';

async function main() {
  const at = process.argv.indexOf('--config');
  if (at >= 0) {
    const path = process.argv[at + 1];
    if (!path) throw new Error('--config needs a file: --config /etc/nslab/config.yaml');
    process.env.NSLAB_CONFIG = path;
  }
  const problem = checkHost();
  if (problem) {
    process.stderr.write(`nslab: ${problem}\n`);
    process.exit(1);
  }
  const config = loadConfig();
  const agent = await startAgent(config);
  process.stdout.write(
    `\n  nslab is running at ${agent.url}\n  token: ${agent.tokenFile ? `in ${agent.tokenFile} (root only)` : 'from NSLAB_TOKEN'}\n  CLI:   npx nslab lessons\n\n`,
  );
  // A drain that is over (docs/router.md): the agent has closed; this process has nothing left to do.
  void agent.drained.then((why) => {
    process.stdout.write(`nslab: drained (${why}); exiting\n`);
    process.exit(0);
  });
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`nslab: ${sig}, closing labs...\n`);
    await agent.close();
    process.exit(0);
  };
  // A promise nobody awaited is a bug, not a reason to drop every learner's lab.
  process.on('unhandledRejection', (err) => process.stderr.write(`nslab: unhandled rejection: ${(err as Error)?.stack ?? String(err)}\n`));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: Error) => {
  process.stderr.write(`nslab: ${err.message}\n`);
  process.exit(1);
});
