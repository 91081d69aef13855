// The chain's economics from polkadot.js, against a dev node (issue 15): a flood of junk tasks
// leaves task creation open to others, a bond and an endpoint go in one utility batch, and a
// worker's proxy key may make round calls but is refused a transfer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { stringToU8a, u8aToHex } from '@polkadot/util';
import { startNode } from '../lib/node.js';
import {
  UNIT, DispatchError, bond, buildTaskSpec, createTask, findEvent, getRunningTasks, signAndWait,
} from '../lib/polchain.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const demo = JSON.parse(readFileSync(join(root, 'tasks', 'digits-demo.json'), 'utf8'));
const inBlock = { waitFor: 'inblock' };

let node;
let api;
const keys = {};

before(async () => {
  await cryptoWaitReady();
  node = await startNode('economics', ['--dev']);
  api = node.api;
  const keyring = new Keyring({ type: 'sr25519' });
  for (const name of ['Alice', 'Charlie', 'Dave', 'Eve', 'Ferdie']) keys[name] = keyring.addFromUri(`//${name}`);
});

after(async () => { if (node) await node.stop(); });

test('a flood of junk tasks leaves task creation open, and each task holds a deposit', async () => {
  const perCreator = api.consts.taskRegistry.maxTasksPerCreator.toNumber();
  const deposit = api.consts.taskRegistry.taskDeposit.toBigInt()
    + api.consts.taskRegistry.roundDeposit.toBigInt() * BigInt(demo.schedule.rounds);
  const spec = buildTaskSpec(demo);
  const budget = BigInt(Math.round(Number(demo.rewardPerRound))) * UNIT;
  // Charlie floods: as many tasks as one creator may run, in one batch.
  const before = (await api.query.system.account(keys.Charlie.address)).data.reserved.toBigInt();
  const flood = api.tx.utility.batchAll(
    Array.from({ length: perCreator }, () => api.tx.taskRegistry.createTask(spec, budget)),
  );
  await signAndWait(api, flood, keys.Charlie, inBlock);
  const reserved = (await api.query.system.account(keys.Charlie.address)).data.reserved.toBigInt();
  assert.equal(reserved - before, BigInt(perCreator) * (budget + deposit), 'every task holds its budget and deposit');
  // One more is refused...
  await assert.rejects(createTask(api, keys.Charlie, spec, demo.rewardPerRound, inBlock),
    (e) => e instanceof DispatchError && /^taskRegistry\.TooManyTasksOfCreator: /.test(e.message));
  // ...a reward below the minimum is refused...
  const cheap = buildTaskSpec({ ...demo, rewardPerRound: '0.5' });
  await assert.rejects(createTask(api, keys.Dave, cheap, '10', inBlock),
    (e) => e instanceof DispatchError && /^taskRegistry\.RewardTooLow: /.test(e.message));
  // ...and anyone else still creates a task.
  const created = await createTask(api, keys.Ferdie, spec, demo.rewardPerRound, inBlock);
  const running = await getRunningTasks(api);
  assert.equal(running.length, perCreator + 1);
  assert.ok(running.includes(created.task));
});

test('a bond and an endpoint go in one utility batch', async () => {
  const out = await bond(api, keys.Eve, { role: 'miner', amount: '150', endpoint: 'http://127.0.0.1:8799' }, inBlock);
  assert.deepEqual(out.bonded, { role: 'Miner', amount: 150n * UNIT });
  const block = await api.rpc.chain.getBlock(out.blockHash);
  const calls = block.block.extrinsics.map((x) => `${x.method.section}.${x.method.method}`);
  assert.ok(calls.includes('utility.batchAll'), `one batch extrinsic: ${calls}`);
  const endpoint = (await api.query.polStaking.endpoints(keys.Eve.address)).unwrap();
  assert.equal(Buffer.from(endpoint.toU8a(true)).toString(), 'http://127.0.0.1:8799');
});

/** The inner result of a `proxy.proxy` call: null if it succeeded, else "section.Name". */
function proxyResult(events) {
  const ev = findEvent(api, events, 'proxy', 'ProxyExecuted');
  const result = ev.data[0];
  if (result.isOk) return null;
  const err = result.asErr;
  if (!err.isModule) return err.type;
  const { section, name } = api.registry.findMetaError(err.asModule);
  return `${section}.${name}`;
}

test('a worker proxy key makes round calls for its account but cannot move the stake', async () => {
  // Eve (bonded above) lets Dave's key act for her as a worker.
  const added = await signAndWait(api, api.tx.proxy.addProxy(keys.Dave.address, 'Worker', 0), keys.Eve, inBlock);
  findEvent(api, added.events, 'proxy', 'ProxyAdded');
  const asEve = (call) => api.tx.proxy.proxy(keys.Eve.address, null, call);

  // A round call's kin: the endpoint, set for Eve.
  const url = 'http://127.0.0.1:8800';
  const set = await signAndWait(api, asEve(api.tx.polStaking.setEndpoint(u8aToHex(stringToU8a(url)))), keys.Dave, inBlock);
  assert.equal(proxyResult(set.events), null);
  const endpoint = (await api.query.polStaking.endpoints(keys.Eve.address)).unwrap();
  assert.equal(Buffer.from(endpoint.toU8a(true)).toString(), url);

  // A transfer, an unbond and a batch hiding a transfer are all refused.
  const free = (await api.query.system.account(keys.Eve.address)).data.free.toBigInt();
  const transfer = api.tx.balances.transferKeepAlive(keys.Dave.address, 10n * UNIT);
  for (const call of [
    transfer,
    api.tx.polStaking.unbond(50n * UNIT),
    api.tx.utility.batchAll([api.tx.polStaking.setEndpoint(u8aToHex(stringToU8a(url))), transfer]),
  ]) {
    const { events } = await signAndWait(api, asEve(call), keys.Dave, inBlock);
    assert.equal(proxyResult(events), 'system.CallFiltered', `${call.method.section}.${call.method.method} is filtered`);
  }
  assert.equal((await api.query.system.account(keys.Eve.address)).data.free.toBigInt(), free, 'Eve\'s funds did not move');
  assert.equal((await api.query.polStaking.ledger(keys.Eve.address)).unwrap().active.toBigInt(), 150n * UNIT);

  // Only Eve decides whose challenge proofs stand for her: her worker key may not register one.
  const grab = await signAndWait(api, asEve(api.tx.polStaking.setChallengeKey(keys.Dave.publicKey)), keys.Dave, inBlock);
  assert.equal(proxyResult(grab.events), 'system.CallFiltered');
  assert.ok((await api.query.polStaking.challengeKeys(keys.Eve.address)).isNone);
  // Eve herself registers her worker's key (what `pol-worker worker-key` does).
  const own = await signAndWait(api, api.tx.polStaking.setChallengeKey(keys.Dave.publicKey), keys.Eve, inBlock);
  findEvent(api, own.events, 'polStaking', 'ChallengeKeySet');
  assert.equal(u8aToHex((await api.query.polStaking.challengeKeys(keys.Eve.address)).unwrap()), u8aToHex(keys.Dave.publicKey));
});
