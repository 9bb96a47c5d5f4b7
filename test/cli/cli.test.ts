// runCli against a fake agent, in-process: every command, exit codes, and the error messages.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { LESSON_IDS } from '@nslab/shared';
import { runCli } from '../../apps/agent/src/cli/run.ts';
import { FAKE_LESSONS, FakeAgent, useFakeAgent } from './fake-agent.ts';
import { makeIO, pipeIn } from './streams.ts';

/** No test may hang: a missed event fails it instead. */
const T = { timeout: 10000 };

let tmp: string;
/** A token file that does not exist, so tests never read the real /run/nslab/token. */
let noTokenFile: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'nslab-cli-'));
  noTokenFile = join(tmp, 'no-such-token');
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

type RunOptions = Parameters<typeof makeIO>[0] & { tokenFile?: string; requestTimeoutMs?: number; connectTimeoutMs?: number };

async function run(agent: FakeAgent | null, argv: string[], opts: RunOptions = {}) {
  const io = makeIO({ ...opts, env: opts.env ?? agent?.env() ?? {} });
  const code = await runCli(argv, {
    ...io,
    tokenFile: opts.tokenFile ?? noTokenFile,
    ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
  });
  return { code, stdout: io.stdout.text(), stderr: io.stderr.text(), stdoutBytes: io.stdout.bytes(), stderrBytes: io.stderr.bytes() };
}

/** A port on 127.0.0.1 with nothing listening. */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('nslab against a fake agent', () => {
  const fake = useFakeAgent();
  let agent: FakeAgent;
  beforeEach(() => {
    agent = fake();
  });

  test('lessons prints id<TAB>title, one per line', T, async () => {
    const r = await run(agent, ['lessons']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const expected = LESSON_IDS.map((id) => `${id}\t${FAKE_LESSONS[id].title}\n`).join('');
    assert.equal(r.stdout, expected);
  });

  test('the token goes in the Authorization header', T, async () => {
    const before = agent.authHeaders.length;
    await run(agent, ['lessons']);
    assert.equal(agent.authHeaders.length, before + 1);
    assert.equal(agent.authHeaders.at(-1), 'Bearer secret-token');
  });

  test('open prints only the new lab id', T, async () => {
    const r = await run(agent, ['open', 'pid']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[a-z0-9]{6,32}\n$/);
    const id = r.stdout.trim();
    assert.equal(agent.labs.get(id)?.lesson, 'pid');
    const sent = agent.received.filter((m) => m.type === 'open').at(-1);
    assert.deepEqual({ type: sent?.type, lesson: sent && 'lesson' in sent ? sent.lesson : undefined }, { type: 'open', lesson: 'pid' });
  });

  test('ls shows labs, lessons and pane states', T, async () => {
    const lab = agent.addLab('net', 'lsnet001');
    lab.panes[1]!.running = false;
    lab.panes[1]!.exitCode = 0;
    const killed = agent.addLab('uts', 'lsuts002');
    killed.panes[0]!.running = false;
    killed.panes[0]!.signal = 9;
    const r = await run(agent, ['ls']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^LAB\s+LESSON\s+AGE\s+PANES$/);
    const netLine = lines.find((l) => l.startsWith('lsnet001'));
    assert.ok(netLine, r.stdout);
    assert.match(netLine, /^lsnet001\s+net\s+5m\s+host running, container exited \(0\)$/);
    assert.match(lines.find((l) => l.startsWith('lsuts002')) ?? '', /host exited \(SIGKILL\), container running$/);
    // Columns line up: PANES starts at the same offset on every line.
    const offsets = lines.map((l) => l.search(/(PANES|host)/));
    assert.equal(new Set(offsets).size, 1, r.stdout);
    agent.labs.delete('lsnet001');
    agent.labs.delete('lsuts002');
  });

  test('ls with no labs says so', T, async () => {
    const solo = await FakeAgent.start();
    try {
      const r = await run(solo, ['ls']);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /No labs are open/);
    } finally {
      await solo.close();
    }
  });

  test('close closes the lab and prints nothing', T, async () => {
    agent.addLab('ipc', 'closeme01');
    const r = await run(agent, ['close', 'closeme01']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(agent.labs.has('closeme01'), false);
  });

  test('an agent error is printed as "nslab: <message>" with exit code 1', T, async () => {
    const r = await run(agent, ['close', 'nosuchlab']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'nslab: there is no lab nosuchlab\n');
  });

  describe('exec', () => {
    const lab = 'execlab01';
    before(() => {
      agent.addLab('uts', lab);
    });

    test('passes stdout and stderr bytes through and exits with the exit code', T, async () => {
      const r = await run(agent, ['exec', lab, 'container', '--', 'bytes']);
      assert.equal(r.code, 3);
      assert.deepEqual([...r.stdoutBytes], [0x00, 0xff, 0xfe, 0x41, 0x0a, 0x80]);
      assert.equal(r.stderr, 'warning: \u00e9\n');
    });

    test('sends argv verbatim, including a second -- and options', T, async () => {
      const argv = ['argv', '-c', 'echo "$1"', '--', '--help', '', 'sp ace'];
      const r = await run(agent, ['exec', lab, 'host', '--', ...argv]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), argv);
      const sent = agent.received.filter((m) => m.type === 'exec').at(-1);
      assert.ok(sent && sent.type === 'exec');
      assert.equal(sent.lab, lab);
      assert.equal(sent.pane, 'host');
      assert.deepEqual(sent.argv, argv);
    });

    test('the -- is optional', T, async () => {
      const r = await run(agent, ['exec', lab, 'host', 'argv', 'x']);
      assert.deepEqual(JSON.parse(r.stdout), ['argv', 'x']);
    });

    test('exit codes pass through', T, async () => {
      for (const n of [0, 1, 42, 255]) {
        const r = await run(agent, ['exec', lab, 'host', '--', 'exit', String(n)]);
        assert.equal(r.code, n);
      }
    });

    test('killed by a signal: 128+signal', T, async () => {
      const r = await run(agent, ['exec', lab, 'host', '--', 'kill']);
      assert.equal(r.code, 128 + 9);
      assert.equal(r.stdout, 'partial');
    });

    test('timed out: 124 and a note', T, async () => {
      const r = await run(agent, ['exec', lab, 'host', '--', 'sleep', '1000']);
      assert.equal(r.code, 124);
      assert.match(r.stderr, /^nslab: the command timed out/m);
    });

    test('truncated output is flagged on stderr', T, async () => {
      const r = await run(agent, ['exec', lab, 'host', '--', 'flood']);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, 'x'.repeat(100));
      assert.match(r.stderr, /truncated/);
    });

    test('piped stdin is sent as base64 stdin, byte for byte', T, async () => {
      const input = Buffer.from([0x68, 0x69, 0x00, 0xff, 0x0a]);
      const r = await run(agent, ['exec', lab, 'host', '--', 'cat'], { stdin: pipeIn(input) });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual([...r.stdoutBytes], [...input]);
      const sent = agent.received.filter((m) => m.type === 'exec').at(-1);
      assert.ok(sent && sent.type === 'exec');
      assert.equal(sent.stdin, input.toString('base64'));
    });

    test('an empty piped stdin is not sent', T, async () => {
      const r = await run(agent, ['exec', lab, 'host', '--', 'has-stdin'], { stdin: pipeIn('') });
      assert.equal(r.stdout, 'no');
    });

    test('a terminal stdin is not read or sent', T, async () => {
      const tty = pipeIn('must not be sent') as ReturnType<typeof pipeIn> & { isTTY?: boolean };
      tty.isTTY = true;
      const r = await run(agent, ['exec', lab, 'host', '--', 'has-stdin'], { stdin: tty });
      assert.equal(r.stdout, 'no');
    });

    test('stdin too large for the agent is refused before sending', T, async () => {
      const before = agent.received.length;
      const r = await run(agent, ['exec', lab, 'host', '--', 'cat'], { stdin: pipeIn(Buffer.alloc(300 * 1024, 0x61)) });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^nslab: exec: standard input is too large/);
      assert.equal(agent.received.length, before);
    });

    test('an unknown pane is an agent error', T, async () => {
      const r = await run(agent, ['exec', lab, 'sidecar', '--', 'true']);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `nslab: lab ${lab} has no pane sidecar\n`);
    });

    test('a malformed answer from the agent is an error, not a crash', T, async () => {
      const r = await run(agent, ['exec', lab, 'host', '--', 'malformed']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^nslab: unexpected answer from the agent to exec: exitCode: /);
    });

    test('a command that is not found exits 127 with its stderr', T, async () => {
      const r = await run(agent, ['exec', lab, 'host', '--', 'frobnicate']);
      assert.equal(r.code, 127);
      assert.equal(r.stderr, 'frobnicate: command not found\n');
    });
  });
});

describe('authentication', () => {
  test('a wrong token refused at the upgrade (HTTP 401)', T, async () => {
    const agent = await FakeAgent.start({ authMode: 'http' });
    try {
      const r = await run(agent, ['lessons'], { env: agent.env({ NSLAB_TOKEN: 'wrong' }) });
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^nslab: the agent at http:\/\/127\.0\.0\.1:\d+ refused the token from NSLAB_TOKEN \(HTTP 401\)/);
    } finally {
      await agent.close();
    }
  });

  test('a wrong token refused after hello (auth message fallback)', T, async () => {
    const agent = await FakeAgent.start({ authMode: 'hello' });
    try {
      const r = await run(agent, ['lessons'], { env: agent.env({ NSLAB_TOKEN: 'wrong' }) });
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^nslab: the agent at .* refused the token from NSLAB_TOKEN \(wrong token\)/);
      assert.ok(agent.received.some((m) => m.type === 'auth' && m.token === 'wrong'));
      assert.ok(!agent.received.some((m) => m.type === 'lessons'), 'no request after a refused token');
    } finally {
      await agent.close();
    }
  });

  test('the auth message fallback works with the right token', T, async () => {
    // As if a proxy had dropped the Authorization header: only the auth message gets us in.
    const agent = await FakeAgent.start({ authMode: 'hello', acceptHeader: false });
    try {
      const r = await run(agent, ['lessons']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.split('\n').length - 1, LESSON_IDS.length);
      assert.ok(agent.received.some((m) => m.type === 'auth' && m.token === 'secret-token'));
    } finally {
      await agent.close();
    }
  });

  test('the token is read from the token file when NSLAB_TOKEN is unset', T, async () => {
    const agent = await FakeAgent.start();
    const file = join(tmp, 'token');
    await writeFile(file, 'secret-token\n');
    try {
      const r = await run(agent, ['lessons'], { env: { NSLAB_URL: agent.url }, tokenFile: file });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(agent.authHeaders.at(-1), 'Bearer secret-token');
    } finally {
      await agent.close();
    }
  });

  test('a wrong token from the file names the file', T, async () => {
    const agent = await FakeAgent.start();
    const file = join(tmp, 'bad-token');
    await writeFile(file, 'nope\n');
    try {
      const r = await run(agent, ['lessons'], { env: { NSLAB_URL: agent.url }, tokenFile: file });
      assert.equal(r.code, 1);
      assert.ok(r.stderr.includes(`refused the token from ${file}`), r.stderr);
    } finally {
      await agent.close();
    }
  });

  test('no token at all says how to get one', T, async () => {
    for (const authMode of ['http', 'hello'] as const) {
      const agent = await FakeAgent.start({ authMode });
      try {
        const r = await run(agent, ['lessons'], { env: { NSLAB_URL: agent.url } });
        assert.equal(r.code, 1, authMode);
        assert.match(r.stderr, /^nslab: no agent token: NSLAB_TOKEN is not set and .*no-such-token does not exist\./, authMode);
        assert.match(r.stderr, /export NSLAB_TOKEN=/);
      } finally {
        await agent.close();
      }
    }
  });

  test('no token is fine when the agent does not ask for one', T, async () => {
    const agent = await FakeAgent.start({ token: null });
    try {
      const r = await run(agent, ['lessons'], { env: { NSLAB_URL: agent.url } });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(agent.authHeaders.at(-1), undefined);
    } finally {
      await agent.close();
    }
  });
});

describe('connection problems', () => {
  test('nothing listening: the agent is not running at <url>, start it with npm start', T, async () => {
    const url = `http://127.0.0.1:${await deadPort()}`;
    const r = await run(null, ['lessons'], { env: { NSLAB_URL: url, NSLAB_TOKEN: 't' } });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.startsWith(`nslab: the agent is not running at ${url} `), r.stderr);
    assert.match(r.stderr, /npm start/);
    assert.equal(r.stderr.split('\n').length, 2, 'one line');
  });

  test('a server that is not an nslab agent', T, async () => {
    const agent = await FakeAgent.start();
    try {
      const r = await run(agent, ['lessons'], { env: agent.env({ NSLAB_URL: `${agent.url}/elsewhere/api/ws/x` }) });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /HTTP 404/);
    } finally {
      await agent.close();
    }
  });

  test('a protocol version mismatch is explained', T, async () => {
    const agent = await FakeAgent.start({ version: 99 });
    try {
      const r = await run(agent, ['lessons']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /protocol version 99/);
    } finally {
      await agent.close();
    }
  });

  test('an agent that does not answer: request timeout', T, async () => {
    const agent = await FakeAgent.start({ silent: true });
    try {
      const r = await run(agent, ['lessons'], { requestTimeoutMs: 200 });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^nslab: the agent at .* did not answer the lessons request within 0\.2 s\n$/);
    } finally {
      await agent.close();
    }
  });

  test('the connection dropping mid-request', T, async () => {
    const agent = await FakeAgent.start({ silent: true });
    try {
      const pending = run(agent, ['lessons']);
      await agent.waitFor((m) => m.type === 'lessons');
      agent.dropAll();
      const r = await pending;
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^nslab: lost the connection to the agent at /);
    } finally {
      await agent.close();
    }
  });

  test('a server that accepts the connection but never answers the upgrade', T, async () => {
    const sockets: Socket[] = [];
    const srv = createServer((sock) => sockets.push(sock));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
      const r = await run(null, ['lessons'], { env: { NSLAB_URL: url, NSLAB_TOKEN: 't' }, connectTimeoutMs: 200 });
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `nslab: timed out after 0.2 s connecting to the agent at ${url}\n`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  test('a WebSocket server that never says hello', T, async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/api/ws' });
    await new Promise<void>((r) => wss.once('listening', r));
    try {
      const url = `http://127.0.0.1:${(wss.address() as { port: number }).port}`;
      const r = await run(null, ['lessons'], { env: { NSLAB_URL: url, NSLAB_TOKEN: 't' }, connectTimeoutMs: 200 });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^nslab: connected to .* but the agent did not finish the handshake within 0\.2 s; is NSLAB_URL pointing at an nslab agent\?\n$/);
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    }
  });

  test('an invalid NSLAB_URL', T, async () => {
    const r = await run(null, ['lessons'], { env: { NSLAB_URL: 'ftp://example.com' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^nslab: NSLAB_URL must be an http:\/\/ or https:\/\/ URL/);
  });
});

describe('usage', () => {
  test('--help and help print the usage on stdout, exit 0, without connecting', T, async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const r = await run(null, argv, { env: { NSLAB_URL: 'http://127.0.0.1:1' } });
      assert.equal(r.code, 0, argv.join(' '));
      assert.equal(r.stderr, '');
      for (const cmd of ['lessons', 'open <lesson>', 'exec <lab> <pane> -- <cmd>', 'attach <lab> <pane>', 'ls', 'close <lab>']) {
        assert.ok(r.stdout.includes(`nslab ${cmd}`), `usage mentions nslab ${cmd}`);
      }
      assert.match(r.stdout, /NSLAB_URL/);
      assert.match(r.stdout, /NSLAB_TOKEN/);
    }
  });

  test('help for one command', T, async () => {
    const r = await run(null, ['exec', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: nslab exec <lab> <pane> -- <cmd> \[args\.\.\.\]/);
    const r2 = await run(null, ['help', 'attach']);
    assert.match(r2.stdout, /Ctrl-\]/);
  });

  const usageErrors: Array<[string[], RegExp]> = [
    [[], /missing command/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['--verbose'], /unknown option '--verbose'/],
    [['open'], /open: missing <lesson>/],
    [['open', 'uts', 'extra'], /unexpected argument 'extra'/],
    [['open', 'No/Such'], /'No\/Such' is not a lesson id \(built-in lessons: uts, /],
    [['close'], /close: missing <lab>/],
    [['close', 'BAD!'], /'BAD!' is not a lab id/],
    [['exec'], /exec: missing <lab> <pane>/],
    [['exec', 'abcdef'], /exec: missing <pane>/],
    [['exec', 'abcdef', 'host'], /exec: missing the command/],
    [['exec', 'abcdef', 'host', '--'], /exec: missing the command/],
    [['exec', 'abcdef', '--', 'ls'], /exec: missing <pane> before --/],
    [['exec', 'abcdef', 'Host', '--', 'ls'], /'Host' is not a pane name/],
    [['attach', 'abcdef'], /attach: missing <pane>/],
    [['lessons', '-x'], /lessons: unknown option '-x'/],
    [['ls', 'extra'], /unexpected argument 'extra'/],
    [['help', 'nosuch'], /unknown command 'nosuch'/],
  ];
  for (const [argv, message] of usageErrors) {
    test(`usage error: nslab ${argv.join(' ')}`, T, async () => {
      // A live URL: a usage error must not even connect.
      const agent = await FakeAgent.start();
      try {
        const r = await run(agent, argv);
        assert.equal(r.code, 2);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /^nslab: /);
        assert.match(r.stderr, message);
        assert.equal(agent.connections, 0);
      } finally {
        await agent.close();
      }
    });
  }
});
