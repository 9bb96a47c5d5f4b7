// The client address behind proxies: X-Forwarded-For is believed only from the proxies named,
// read from the right past every trusted hop; anything else is the peer's own address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { clientAddress } from '../../apps/agent/src/server/address.ts';
import { ConfigError, loadConfig } from '../../apps/agent/src/config.ts';

const req = (peer: string, xff?: string | string[]) =>
  ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

test('no trusted proxy: the peer, whatever X-Forwarded-For says', () => {
  const of = clientAddress([]);
  assert.equal(of(req('203.0.113.9', '198.51.100.1')), '203.0.113.9');
});

test('from a trusted proxy: the nearest address that is not a trusted proxy', () => {
  const of = clientAddress(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
  assert.equal(of(req('10.1.2.3', '198.51.100.7')), '198.51.100.7');
  assert.equal(of(req('::ffff:127.0.0.1', '198.51.100.7')), '198.51.100.7', 'IPv4 mapped in IPv6 is the same proxy');
  assert.equal(of(req('10.1.2.3', '1.2.3.4, 198.51.100.7, 10.9.9.9')), '198.51.100.7', 'a client cannot hide behind a forged left part');
  assert.equal(of(req('10.1.2.3', ['1.2.3.4', '198.51.100.8'])), '198.51.100.8', 'repeated headers read as one list');
  assert.equal(of(req('fd00::5', '2001:db8::1')), '2001:db8::1');
  assert.equal(of(req('10.1.2.3', '10.4.4.4')), '10.4.4.4', 'only proxies in the header: the farthest of them');
  assert.equal(of(req('10.1.2.3')), '10.1.2.3', 'no header: the proxy itself');
  assert.equal(of(req('10.1.2.3', 'not-an-address')), '10.1.2.3', 'garbage is not believed');
  assert.equal(of(req('10.1.2.3', '198.51.100.7, nonsense')), '10.1.2.3', 'garbage at the right stops the walk');
  assert.equal(of(req('203.0.113.9', '198.51.100.1')), '203.0.113.9', 'an untrusted peer is believed about nothing');
});

test('the setting takes addresses and CIDR ranges and refuses anything else', () => {
  const env = (v: string) => ({ NSLAB_TRUSTED_PROXIES: v });
  const load = (v: string) => {
    const saved = process.env.NSLAB_TRUSTED_PROXIES;
    process.env.NSLAB_TRUSTED_PROXIES = env(v).NSLAB_TRUSTED_PROXIES;
    try {
      return loadConfig({}, {}).trustedProxies;
    } finally {
      if (saved === undefined) delete process.env.NSLAB_TRUSTED_PROXIES;
      else process.env.NSLAB_TRUSTED_PROXIES = saved;
    }
  };
  assert.deepEqual(load('10.0.0.0/8, 127.0.0.1 fd00::/8'), ['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
  for (const bad of ['10.0.0.0/33', 'proxy.example', '10.0.0.0/8/1', '::/129']) assert.throws(() => load(bad), ConfigError, bad);
});
