// `node apps/router/dist/router.cjs`: the router, configured from the environment (docs/router.md).
// It prints one line on stdout once it listens (scripts and tests read it); logs go to stderr.
import { ConfigError, loadConfig } from './config.js';
import { startRouter } from './server.js';

async function main() {
  const config = loadConfig();
  const router = await startRouter(config);
  process.stdout.write(`nslab router listening on ${router.url}\n`);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`nslab router: ${sig}, closing\n`);
    // Open WebSockets are told to reconnect (to another replica); nothing else is kept here.
    void router.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: Error) => {
  process.stderr.write(`nslab router: ${err instanceof ConfigError ? err.message : (err.stack ?? err.message)}\n`);
  process.exit(1);
});
