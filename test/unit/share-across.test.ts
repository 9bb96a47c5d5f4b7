// Watch links across agents: minted with the cluster key on one agent, accepted by any agent that
// has the key, until they expire; altered, foreign or expired ones are refused, and the links an
// agent mints for its own labs keep working as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Shares } from '../../apps/agent/src/server/share.ts';

const KEY = Buffer.from('cluster-key-for-tests-0123456789abcdef');

test('a link minted on one agent is accepted on another with the same key, and only there', () => {
  const here = new Shares(KEY);
  const there = new Shares(KEY);
  const token = here.mintAcross('abcdefabcdef')!;
  assert.equal(there.verify(token), 'abcdefabcdef');
  assert.equal(new Shares(Buffer.from('another-cluster-key-another-cluster-key')).verify(token), null, 'another cluster');
  assert.equal(new Shares().verify(token), null, 'an agent without a cluster key');
  assert.equal(new Shares().mintAcross('abcdefabcdef'), null, 'and it mints none');
  const [lab, nonce, sig] = token.split('.') as [string, string, string];
  assert.equal(there.verify(`bbbbbbbbbbbb.${nonce}.${sig}`), null, 'moved onto another lab');
  const later = `~${(Number.parseInt(nonce.slice(1), 36) + 3_600_000).toString(36)}`;
  assert.equal(there.verify(`${lab}.${later}.${sig}`), null, 'its expiry pushed back');
});

test('an expired link is refused; local links are untouched by the key', () => {
  const shares = new Shares(KEY);
  assert.equal(shares.verify(shares.mintAcross('abcdefabcdef', -1)!), null, 'expired');
  for (let i = 0; i < 200; i++) {
    const lab = `lab${String(i).padStart(9, '0')}`;
    assert.equal(shares.verify(shares.mint(lab)), lab, 'a local link, whatever its nonce begins with');
  }
  shares.revoke('lab000000001');
  assert.equal(shares.verify(shares.mintAcross('lab000000001')!), 'lab000000001', 'a new link across after a revoke (it is minted anew)');
});
