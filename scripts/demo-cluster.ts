// `npm run demo:cluster`: several machines on this one, as the cluster tests make them: three
// agents, each in a network namespace of its own (198.18.0.11-13, on a bridge at 198.18.0.1),
// sharing one PostgreSQL, with a router in front on this machine's loopback. Prints the router's
// address; Ctrl-C (or SIGTERM) stops and removes everything it started. Needs root (namespaces,
// a bridge, the agents), iproute2 and Debian's postgresql.
//   NSLAB_DEMO_PORT   the router's port on 127.0.0.1 (default 8080; 0: any free one)
//   NSLAB_DEMO_HOSTS  how many agents (1 to 5, default 3)
import { Cluster } from '../test/helpers/cluster.ts';

const say = (line: string) => process.stderr.write(`demo: ${line}\n`);

function setting(name: string, fallback: number, min: number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    say(`${name} must be a whole number from ${min} to ${max}, got "${text}"`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    say('this needs root: it makes network namespaces, a bridge and real agents (sudo npm run demo:cluster)');
    process.exit(1);
  }
  const port = setting('NSLAB_DEMO_PORT', 8080, 0, 65535);
  const hosts = setting('NSLAB_DEMO_HOSTS', 3, 1, 5);
  say(`starting PostgreSQL and ${hosts} agents (each in its own network namespace), then the router...`);
  const cluster = await Cluster.start({
    hosts,
    web: true,
    maxLabs: 16,
    env: { NSLAB_WARM_LABS: '1', LOG_LEVEL: 'warn' },
  });
  let stopping: Promise<void> | null = null;
  const stop = (why: string) => {
    stopping ??= (async () => {
      say(`${why}: stopping the router, the agents and PostgreSQL, removing the namespaces...`);
      try {
        await cluster.stop();
        say('stopped; nothing is left');
        process.exit(0);
      } catch (err) {
        say(String(err));
        process.exit(1);
      }
    })();
    return stopping;
  };
  process.on('SIGINT', () => void stop('Ctrl-C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  try {
    const agents = [...cluster.hosts.values()].map((h) => h.url);
    const router = await cluster.startRouter({ port, agents });
    await router.waitAgents(`${hosts} healthy agents`, (a) => a.filter((x) => x.healthy).length === hosts, 60_000);
    const lines = [
      '',
      `  nslab cluster demo: open ${router.url}`,
      '',
      ...[...cluster.hosts.values()].map((h) => `  ${h.id.padEnd(6)} ${h.url}  (lab ids begin with ${h.tag})`),
      `  router ${router.url}/healthz shows which agent holds how many labs`,
      `  token  ${cluster.token}  (for /en/instructor, or curl -H 'Authorization: Bearer ...')`,
      '',
      '  Try: open a lesson in two browsers and see the lab ids name different agents; drain one',
      `  (curl -X POST -H 'Authorization: Bearer ${cluster.token}' ${cluster.host(1).url}/api/drain)`,
      '  and see new labs go elsewhere. Ctrl-C stops everything.',
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } catch (err) {
    say(String(err instanceof Error ? err.message : err));
    await stop('the demo could not start');
  }
}

void main().catch((err) => {
  say(String(err instanceof Error ? err.message : err));
  process.exit(1);
});
