// `nslab keys` and `nslab webhooks`: what the parser accepts and refuses (usage errors exit 2
// with a line that says what is wrong), and the help. The commands against a real agent are in
// test/portal/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseArgs } from '../../apps/agent/src/cli/args.ts';
import { runCli } from '../../apps/agent/src/cli/run.ts';
import { makeIO } from './streams.ts';

test('keys and webhooks: the forms they take', () => {
  assert.deepEqual(parseArgs(['keys', 'create', '--name', 'academy', '--origins', 'https://a.example/, http://localhost:8080']), {
    kind: 'keys',
    action: 'create',
    name: 'academy',
    origins: ['https://a.example', 'http://localhost:8080'],
  });
  assert.deepEqual(parseArgs(['keys', 'revoke', 'academy']), { kind: 'keys', action: 'revoke', name: 'academy' });
  assert.deepEqual(parseArgs(['webhooks', 'add', 'academy', 'https://a.example/hook']), {
    kind: 'webhooks',
    action: 'add',
    key: 'academy',
    url: 'https://a.example/hook',
  });
  assert.deepEqual(parseArgs(['webhooks', 'log', 'abc123def', '--limit', '5']), { kind: 'webhooks', action: 'log', endpoint: 'abc123def', limit: 5 });
  assert.deepEqual(parseArgs(['keys']), { kind: 'help', topic: 'keys' });
  assert.deepEqual(parseArgs(['webhooks', '--help']), { kind: 'help', topic: 'webhooks' });
});

test('keys and webhooks: wrong input is a usage error that says what is wrong', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['keys', 'create'], /--name is needed/],
    [['keys', 'create', '--name', 'Bad Name'], /not a key name/],
    [['keys', 'create', '--name', 'a', '--origins', 'https://a.example/path'], /not an origin/],
    [['keys', 'revoke'], /missing <name>/],
    [['keys', 'frob'], /unknown action 'frob'/],
    [['webhooks', 'add', 'academy'], /missing <url>/],
    [['webhooks', 'add', 'academy', 'ftp://x'], /not an http\(s\) URL/],
    [['webhooks', 'log', 'abc123def', '--limit', '0'], /--limit/],
    [['webhooks', 'rm', '../x'], /not an endpoint id/],
    [['webhooks', 'ls', 'extra'], /unexpected argument 'extra'/],
  ];
  for (const [argv, want] of cases) {
    const io = makeIO({ env: {} });
    assert.equal(await runCli(argv, { ...io, tokenFile: '/nonexistent' }), 2, argv.join(' '));
    assert.match(io.stderr.text(), want, argv.join(' '));
  }
  const io = makeIO({ env: {} });
  assert.equal(await runCli(['help', 'webhooks'], { ...io, tokenFile: '/nonexistent' }), 0);
  assert.match(io.stdout.text(), /whsec_/);
});
