// A dev node, driven from polkadot.js: read its version and metadata, make a transfer signed
// by Alice and see it finalized, and see an overdrawn transfer fail with the runtime's error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { startNode, submitFinalized, describeDispatchError } from '../lib/node.js';

let node;
let api;
let alice;

before(async () => {
  await cryptoWaitReady();
  node = await startNode('dev', ['--dev']);
  api = node.api;
  alice = new Keyring({ type: 'sr25519' }).addFromUri('//Alice');
});

after(async () => { if (node) await node.stop(); });

test('runtime version and metadata are polchain\'s', async () => {
  const version = await api.rpc.state.getRuntimeVersion();
  assert.equal(version.specName.toString(), 'polchain');
  assert.ok(version.specVersion.toNumber() >= 100);
  assert.ok(api.runtimeMetadata.version >= 14, 'metadata v14 or later');
  const pallets = api.runtimeMetadata.asLatest.pallets.map((p) => p.name.toString());
  for (const p of ['System', 'Balances', 'PolStaking', 'Session', 'Aura', 'Grandpa', 'Sudo']) {
    assert.ok(pallets.includes(p), `metadata lists ${p}: ${pallets}`);
  }
  assert.equal(api.registry.chainTokens[0], 'POL');
  assert.equal(api.registry.chainDecimals[0], 12);
});

/** An account's free balance at a block. */
async function freeAt(blockHash, who) {
  const at = await api.at(blockHash);
  return (await at.query.system.account(who)).data.free.toBigInt();
}

/** The fee Alice paid in a block, from `transactionPayment.TransactionFeePaid`. */
function feePaid(events, who) {
  const ev = events.find(({ event }) => api.events.transactionPayment.TransactionFeePaid.is(event));
  assert.ok(ev, 'the block has a TransactionFeePaid event');
  assert.equal(ev.event.data.who.toString(), who);
  // `actual_fee` includes the tip.
  return ev.event.data.actualFee.toBigInt();
}

test('a transfer signed by Alice is finalized and moves the balances', async () => {
  const dest = new Keyring({ type: 'sr25519' }).addFromUri(`//polchain-js-${Date.now()}`).address;
  const amount = 12_345n * 10n ** 12n;
  const parent = await api.rpc.chain.getFinalizedHead();
  const aliceBefore = await freeAt(parent, alice.address);

  const { blockHash, events, dispatchError } =
    await submitFinalized(api, api.tx.balances.transferKeepAlive(dest, amount), alice);
  assert.equal(dispatchError, null, 'the transfer succeeds');

  const transfer = events.find(({ event }) => api.events.balances.Transfer.is(event));
  assert.ok(transfer, 'a balances.Transfer event was emitted');
  assert.equal(transfer.event.data.from.toString(), alice.address);
  assert.equal(transfer.event.data.to.toString(), dest);
  assert.equal(transfer.event.data.amount.toBigInt(), amount);

  const fee = feePaid(events, alice.address);
  assert.equal(await freeAt(blockHash, dest), amount);
  // Nothing else moves Alice's funds in a dev chain, so her balance fell by exactly this much.
  const header = await api.rpc.chain.getHeader(blockHash);
  const aliceBeforeBlock = await freeAt(header.parentHash, alice.address);
  assert.equal(aliceBeforeBlock - (await freeAt(blockHash, alice.address)), amount + fee);
  assert.ok(aliceBefore >= aliceBeforeBlock);
});

test('a transfer of more than the balance fails with the runtime\'s error', async () => {
  const dest = new Keyring({ type: 'sr25519' }).addFromUri('//Bob').address;
  const free = (await api.query.system.account(alice.address)).data.free.toBigInt();
  const { blockHash, events, dispatchError } =
    await submitFinalized(api, api.tx.balances.transferAllowDeath(dest, free * 2n), alice);

  assert.ok(dispatchError, 'the transfer fails');
  assert.ok(events.some(({ event }) => api.events.system.ExtrinsicFailed.is(event)));
  assert.ok(!events.some(({ event }) => api.events.balances.Transfer.is(event)));
  assert.deepEqual(describeDispatchError(api, dispatchError), { section: 'token', name: 'FundsUnavailable' });

  // Only the fee left Alice's account.
  const fee = feePaid(events, alice.address);
  const header = await api.rpc.chain.getHeader(blockHash);
  const before = await freeAt(header.parentHash, alice.address);
  assert.equal(before - (await freeAt(blockHash, alice.address)), fee);
});
