// Stake-elected authorities, end to end: on a local testnet of Alice, Bob and Charlie, a fourth
// node's validator (Dave) bonds and sets session keys from polkadot.js, becomes an authority
// after the next session rotations; when it chills, the three left are fewer than
// `MinAuthorities` (4), so the set of four stands.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Keyring } from '@polkadot/keyring';
import { u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, decodeAddress } from '@polkadot/util-crypto';
import { startLocalTestnet, submitFinalized, waitFor } from '../lib/node.js';

const UNIT = 10n ** 12n;
const SESSION_BLOCKS = 5;
let nodes = [];
let api;
let dave;

before(async () => {
  await cryptoWaitReady();
  // Dave's node accepts `author_rotateKeysWithOwner`, an unsafe RPC, from this test only.
  nodes = await startLocalTestnet(['alice', 'bob', 'charlie', 'dave'], { dave: ['--rpc-methods', 'unsafe'] });
  api = nodes[3].api;
  dave = new Keyring({ type: 'sr25519' }).addFromUri('//Dave');
  // Sessions of 5 blocks rather than the chain's minute (sudo, through pallet-parameters, as
  // governance would): the rotations this test waits for take seconds, not minutes.
  const alice = new Keyring({ type: 'sr25519' }).addFromUri('//Alice');
  const period = api.tx.parameters.setParameter({ Pol: { SessionPeriod: [null, SESSION_BLOCKS] } });
  const set = await submitFinalized(api, api.tx.sudo.sudo(period), alice);
  assert.equal(set.dispatchError, null, 'the session period is set');
  assert.ok(set.events.some(({ event }) => api.events.sudo.Sudid.is(event) && event.data[0].isOk), 'sudo dispatched it');
});

after(async () => { await Promise.all(nodes.map((n) => n.stop())); });

const validators = async () => (await api.query.session.validators()).map((v) => v.toString());

test('a bonded validator with session keys is elected, and the set of four stands when it chills', { timeout: 900_000 }, async () => {
  assert.deepEqual(
    new Set(await validators()),
    new Set(['//Alice', '//Bob', '//Charlie'].map((u) => new Keyring({ type: 'sr25519' }).addFromUri(u).address)),
    'the genesis authorities stand',
  );
  assert.ok(!(await validators()).includes(dave.address));

  const bond = await submitFinalized(api, api.tx.polStaking.bond('Validator', 5_000n * UNIT), dave);
  assert.equal(bond.dispatchError, null, 'Dave bonds');
  assert.ok(bond.events.some(({ event }) => api.events.polStaking.Bonded.is(event)));

  // The node makes the keys and proves Dave owns them; Dave registers them on chain.
  const owner = u8aToHex(decodeAddress(dave.address));
  const generated = await nodes[3].provider.send('author_rotateKeysWithOwner', [owner]);
  const setKeys = await submitFinalized(api, api.tx.session.setKeys(generated.keys, generated.proof), dave);
  assert.equal(setKeys.dispatchError, null, 'Dave sets session keys');

  await waitFor('Dave in the authority set', async () => (await validators()).includes(dave.address));
  const auraKeys = (await api.query.aura.authorities()).map((k) => k.toHex());
  const daveAura = (await api.query.session.nextKeys(dave.address)).unwrap().aura.toHex();
  assert.ok(auraKeys.includes(daveAura), 'Dave\'s Aura key is an authority key');
  assert.equal((await validators()).length, 4);

  // Dave's node now authors blocks too: find one whose Aura pre-digest names Dave's slot.
  const authoredByDave = await waitFor('a block authored by Dave', async () => {
    const header = await api.rpc.chain.getHeader();
    const author = await api.derive.chain.getHeader(header.hash).then((h) => h.author?.toString());
    return author === dave.address;
  }, { timeoutMs: 120_000 });
  assert.ok(authoredByDave);

  // Chilling Dave leaves three candidates, fewer than `MinAuthorities` (4) outside the dev
  // chain: the elections are skipped and the set of four stands, so slashing or unbonding
  // cannot shrink block production to a few nodes.
  const chill = await submitFinalized(api, api.tx.polStaking.chill(), dave);
  assert.equal(chill.dispatchError, null, 'Dave chills');
  const session = (await api.query.session.currentIndex()).toNumber();
  await waitFor('two more sessions', async () => (await api.query.session.currentIndex()).toNumber() >= session + 2);
  assert.equal((await validators()).length, 4);
  assert.ok((await validators()).includes(dave.address), 'the set of four stands');

  // Finality went on throughout.
  const head = await api.rpc.chain.getFinalizedHead();
  const number = (await api.rpc.chain.getHeader(head)).number.toNumber();
  assert.ok(number > 0);
});
