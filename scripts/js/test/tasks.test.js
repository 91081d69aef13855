// Tasks from polkadot.js, against a dev node: Bob bonds as a validator and Dave as a miner,
// Ferdie creates a task (its budget is held) and Dave joins it, all through lib/polchain.js;
// then everything is read back through the runtime API (`api.call.polApi.*`). The CLI scripts
// in bin/ run once as child processes: create-task, fund-task, status (and --follow), and
// their errors for a bad spec, a bad key and a node that is not there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { startNode, freePort } from '../lib/node.js';
import {
  UNIT, PHASES, DispatchError, bond, buildTaskSpec, createTask, getModelHistory, getRoundStatus,
  getTask, getTaskIds, getValidators, joinTask, keypair,
} from '../lib/polchain.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const demo = JSON.parse(readFileSync(join(root, 'tasks', 'digits-demo.json'), 'utf8'));
const inBlock = { waitFor: 'inblock' };

let node;
let api;
let ws;
const keys = {};
let taskId;

before(async () => {
  await cryptoWaitReady();
  node = await startNode('dev', ['--dev']);
  api = node.api;
  ws = `ws://127.0.0.1:${node.rpcPort}`;
  const keyring = new Keyring({ type: 'sr25519' });
  for (const name of ['Alice', 'Bob', 'Charlie', 'Dave', 'Ferdie']) keys[name] = keyring.addFromUri(`//${name}`);
});

after(async () => { if (node) await node.stop(); });

/** Runs bin/<name>.js with `args`; resolves with { code, signal, stdout, stderr }. */
function runScript(name, args, { onStdout, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin', `${name}.js`), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POL_WS: '', POL_SURI: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; if (onStdout) onStdout(stdout, child); });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * No stack trace, no unhandled rejection: one `error: …` line (after create-task's detection
 * summary, which it prints once connected).
 */
function assertCleanError(result, pattern) {
  assert.equal(result.code, 1, `exit code 1: ${JSON.stringify(result)}`);
  assert.match(result.stderr, /^(?:(?:detection|warning): .*\n)*error: /);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(result.stderr, /Unhandled|UnhandledPromiseRejection/);
}

test('the task config becomes a TaskSpec with exact fixed-point fields', () => {
  const spec = buildTaskSpec(demo);
  assert.equal(spec.model, 'mlp:64-32-10');
  assert.equal(spec.hyperparameters.learningRate, 400_000n, 'FixedU64 0.0004');
  assert.equal(spec.hyperparameters.localSteps, 10_000);
  assert.equal(spec.hyperparameters.checkpointInterval, 25);
  assert.equal(spec.verification.segmentsPerCheck, 8);
  assert.equal(spec.hyperparameters.momentum, 900_000_000n);
  assert.equal(spec.dataset.validation, 200_000_000n, 'Perbill 0.2');
  assert.equal(spec.validatorShare, 200_000_000n, 'Perbill 20%');
  assert.equal(spec.rewardPerRound, 100n * UNIT);
  assert.equal(spec.dataset.source, 'Digits');
  assert.equal(spec.dataset.partition, 'Iid');
  assert.equal(spec.verification.comparison, 'Exact');
  assert.equal(spec.aggregation, 'FedAvg');
  const { aggregation: _, ...noRule } = demo;
  assert.equal(buildTaskSpec(noRule).aggregation, 'FedAvg', 'FedAvg when left out');
  const rule = (aggregation) => buildTaskSpec({ ...demo, aggregation }).aggregation;
  assert.equal(rule({ rule: 'median' }), 'Median');
  assert.deepEqual(rule({ rule: 'trimmed-mean', trim: '0.2' }), { TrimmedMean: { trim: 200_000_000n } });
  assert.deepEqual(rule({ rule: 'norm-clip', maxNorm: 5 }), { NormClip: { maxNorm: 5_000_000_000n } });
  assert.throws(() => rule({ rule: 'trimmed-mean', trim: 0.5 }), /trim must be below 0\.5/);
  assert.throws(() => rule({ rule: 'norm-clip', maxNorm: 0 }), /maxNorm must be above 0/);
  assert.throws(() => rule({ rule: 'norm-clip', maxNorm: '1000000.000000001' }), /at most 1000000/);
  assert.throws(() => rule({ rule: 'median', trim: 0.1 }), /trim is only for rule "trimmed-mean"/);
  assert.throws(() => rule({ rule: 'krum' }), /aggregation\.rule must be/);
  const skewed = buildTaskSpec({
    ...demo,
    dataset: { ...demo.dataset, partition: 'dirichlet', alpha: '0.05' },
    verification: { segmentsPerCheck: 1, comparison: 'tolerance', tolerance: 0.001 },
  });
  assert.deepEqual(skewed.dataset.partition, { Dirichlet: { alpha: 50_000_000n } });
  assert.deepEqual(skewed.verification.comparison, { Tolerance: 1_000_000n });
  assert.deepEqual(spec.verification.profile, { device: 'Cpu', isa: 'Avx2', threads: 1, gpu: null }, 'the default profile when left out');
  const profile = (p) => buildTaskSpec({ ...demo, verification: { ...demo.verification, profile: p } }).verification.profile;
  const h100 = new Uint8Array(96);
  h100.set(new TextEncoder().encode('NVIDIA H100 80GB HBM3'));
  assert.deepEqual(profile({ device: 'cuda', gpu: 'NVIDIA H100 80GB HBM3', threads: 4 }), { device: 'Cuda', isa: 'Avx2', threads: 4, gpu: h100 });
  assert.throws(() => profile({ device: 'cuda', threads: 4 }), /profile\.gpu must name the GPU class of a CUDA profile/);
  assert.throws(() => profile({ device: 'cuda', gpu: ' H100' }), /profile\.gpu must name the GPU class/);
  assert.throws(() => profile({ gpu: 'NVIDIA H100 80GB HBM3' }), /gpu is for a CUDA profile only/);
  assert.deepEqual(profile({ isa: 'avx512' }), { device: 'Cpu', isa: 'Avx512', threads: 1, gpu: null });
  assert.throws(() => profile({ isa: 'sse4' }), /profile\.isa must be "default" or "avx2" or "avx512"/);
  assert.throws(() => profile({ threads: 0 }), /threads must be 1 to 64/);
  assert.throws(() => profile({ threads: 65 }), /threads must be 1 to 64/);
  assert.throws(() => profile({ thread: 2 }), /unknown key verification\.profile\.thread in/);
  assert.throws(() => buildTaskSpec({ ...demo, schedul: {} }), /unknown key schedul/);
  assert.throws(() => buildTaskSpec({ ...demo, hyperparameters: { ...demo.hyperparameters, learningRate: '0.0000000001' } }),
    /more than 9 decimals/);
});

test('Bob bonds as a validator and Dave as a miner with an endpoint', async () => {
  const [bob, dave] = await Promise.all([
    bond(api, keys.Bob, { role: 'validator', amount: '2000' }, inBlock),
    bond(api, keys.Dave, { role: 'miner', amount: '150', endpoint: 'http://127.0.0.1:8701' }, inBlock),
  ]);
  assert.deepEqual(bob.bonded, { role: 'Validator', amount: 2000n * UNIT });
  assert.deepEqual(dave.bonded, { role: 'Miner', amount: 150n * UNIT });
  assert.equal(dave.endpoint, 'http://127.0.0.1:8701');

  const ledger = (await api.query.polStaking.ledger(keys.Dave.address)).unwrap();
  assert.equal(ledger.role.type, 'Miner');
  assert.equal(ledger.active.toBigInt(), 150n * UNIT);
  const endpoint = (await api.query.polStaking.endpoints(keys.Dave.address)).unwrap();
  assert.equal(Buffer.from(endpoint.toU8a(true)).toString(), 'http://127.0.0.1:8701');

  // A second bond is the pallet's error, decoded.
  await assert.rejects(bond(api, keys.Bob, { role: 'validator', amount: '1000' }, inBlock),
    (e) => e instanceof DispatchError && /^polStaking\.AlreadyBonded: /.test(e.message));
});

test('Ferdie creates a task: its budget is held, and Dave joins it', async () => {
  const ferdie = keys.Ferdie.address;
  const reservedBefore = (await api.query.system.account(ferdie)).data.reserved.toBigInt();
  const spec = buildTaskSpec({ ...demo, aggregation: { rule: 'trimmed-mean', trim: 0.25 } });
  const created = await createTask(api, keys.Ferdie, spec, '500', inBlock);
  taskId = created.task;
  assert.equal(created.creator, ferdie);
  assert.equal(created.budget, 500n * UNIT);

  const at = await api.at(created.blockHash);
  const reserved = (await at.query.system.account(ferdie)).data.reserved.toBigInt();
  // The budget and the task's storage deposit (until the task is pruned) are held.
  const deposit = api.consts.taskRegistry.taskDeposit.toBigInt()
    + api.consts.taskRegistry.roundDeposit.toBigInt() * BigInt(demo.schedule.rounds);
  assert.equal(reserved - reservedBefore, 500n * UNIT + deposit, 'the budget and deposit are held from Ferdie');

  await joinTask(api, keys.Dave, taskId, inBlock);
  // Joining twice is the registry's error.
  await assert.rejects(joinTask(api, keys.Dave, taskId, inBlock), /taskRegistry\.AlreadyJoined/);
});

test('PolApi reads the task, its round, the validators and the task ids back', async () => {
  assert.ok(taskId !== undefined, 'the task was created');

  // The raw runtime API answers, as polkadot.js decodes them from the metadata.
  const raw = (await api.call.polApi.task(taskId)).unwrap();
  assert.equal(raw.creator.toString(), keys.Ferdie.address);
  assert.equal(raw.budget.toBigInt(), 500n * UNIT);
  assert.equal(raw.miners.toNumber(), 1);
  assert.equal(raw.status.type, 'Active');
  assert.equal(raw.spec.hyperparameters.learningRate.toBigInt(), 400_000n);
  assert.equal(raw.spec.validatorShare.toNumber(), 200_000_000);
  assert.equal(raw.spec.schedule.commitBlocks.toNumber(), demo.schedule.commitBlocks);
  assert.equal(raw.spec.aggregation.asTrimmedMean.trim.toNumber(), 250_000_000, 'the task fixes the rule');

  const task = await getTask(api, taskId);
  assert.equal(task.spec.model, 'mlp:64-32-10');
  assert.equal(task.spec.aggregation, 'trimmed-mean 25%');
  assert.equal(task.spec.profile, 'cpu/avx2/1', 'the default determinism profile, as pol-worker --profile names it');
  assert.equal(task.round, 0);
  assert.equal(task.model.hash, demo.initialModel.hash, 'the round trains from W₀');
  assert.equal(task.model.uri, demo.initialModel.uri);

  const rawRound = (await api.call.polApi.roundStatus(taskId)).unwrap();
  assert.equal(rawRound.phase.type, 'Commit');
  assert.equal(rawRound.phaseEnds.length, 7);
  const round = await getRoundStatus(api, taskId);
  assert.equal(round.round, 0);
  assert.equal(round.phase, 'Commit');
  assert.deepEqual(round.phaseEnds.map((p) => p.phase), PHASES);
  const s = demo.schedule;
  const lengths = [s.revealBlocks, s.verifyBlocks, s.scoreRevealBlocks, s.voteCommitBlocks, s.voteRevealBlocks,
    s.finalizeBlocks];
  for (const [i, len] of lengths.entries()) {
    assert.equal(round.phaseEnds[i + 1].block - round.phaseEnds[i].block, len, `${PHASES[i + 1]} lasts ${len} blocks`);
  }
  assert.equal(round.phaseEnds[0].block, task.phaseEnds);
  assert.equal(round.phaseEnds[0].block - round.startedAt + 1, s.commitBlocks, 'the commit phase started with the round');
  assert.equal(round.model, demo.initialModel.hash);
  assert.equal(round.challengeSeed, null);
  assert.equal(round.commits, 0);

  const validators = await getValidators(api);
  const byAccount = Object.fromEntries(validators.map((v) => [v.account, v]));
  assert.deepEqual(Object.keys(byAccount).sort(), [keys.Alice.address, keys.Bob.address].sort());
  assert.equal(byAccount[keys.Bob.address].stake, 2000n * UNIT);
  assert.ok(byAccount[keys.Alice.address].stake >= 1000n * UNIT);
  for (const v of validators) assert.equal(v.trust, 500_000_000n, 'no record yet: half trust');
  assert.equal(byAccount[keys.Alice.address].authority, true);
  assert.equal(byAccount[keys.Bob.address].authority, false, 'no session keys');
  const rawValidators = await api.call.polApi.validators();
  assert.ok(rawValidators.every((v) => v.trust.toNumber() === 500_000_000));

  assert.ok((await getTaskIds(api)).includes(taskId));
  assert.deepEqual(await getModelHistory(api, taskId), []);
  assert.equal(await getTask(api, 999_999n), null);
});

test('the CLI scripts create, fund, show and follow a task, and fail clearly', async () => {
  // create-task from the demo file, with flags.
  const created = await runScript('create-task', [
    '--ws', ws, '--suri', '//Charlie', '--file', join(root, 'tasks', 'digits-demo.json'),
    '--phase-blocks', '2', '--set', 'schedule.verifyBlocks=14', '--set', 'schedule.voteCommitBlocks=29',
    '--set', 'schedule.voteRevealBlocks=5',
    '--budget', '300', '--wait', 'inblock', '--json',
  ]);
  assert.equal(created.code, 0, created.stderr);
  const { task } = JSON.parse(created.stdout);
  // The detection summary goes to stderr, so that --json's stdout is the JSON alone.
  assert.match(created.stderr, /^detection: a miner forging 25% of its 400 segments \(100\) is caught with 86\.96% by 1 validator, 99\.78% by 3; each validator replays 8 of 400 segments \(2\.0% of the training\)$/m);
  assert.doesNotMatch(created.stderr, /warning:/, 'the demo meets the target');
  assert.ok((await getTaskIds(api)).includes(BigInt(task)));
  assert.equal((await getTask(api, task)).spec.schedule.commitBlocks, 2);
  assert.equal((await getTask(api, task)).spec.schedule.verifyBlocks, 14);
  assert.equal((await getTask(api, task)).spec.schedule.voteCommitBlocks, 29);
  assert.equal((await getTask(api, task)).spec.schedule.voteRevealBlocks, 5);

  const funded = await runScript('fund-task', ['--ws', ws, '--suri', '//Charlie', '--task', task, '--amount', '25.5', '--wait', 'inblock']);
  assert.equal(funded.code, 0, funded.stderr);
  assert.match(funded.stdout, new RegExp(`^task ${task} funded with 25\\.5 POL: budget 325\\.5 POL`));

  // status: Ferdie's task, its phase and the deadlines of every phase.
  const status = await runScript('status', ['--ws', ws, '--task', String(taskId)]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`task ${taskId}: Active, round 0, phase (${PHASES.join('|')})`));
  for (const p of PHASES) assert.match(status.stdout, new RegExp(`${p} +ends at #\\d+`));
  assert.match(status.stdout, new RegExp(`${keys.Bob.address}  stake 2,000 POL, trust 50%`));

  // status --follow sees Charlie's 2-block phases change, and stops cleanly on Ctrl-C.
  const followed = await runScript('status', ['--ws', ws, '--task', task, '--follow', '--best'], {
    onStdout: (out, child) => {
      if (new RegExp(`task ${task} round \\d+: phase \\w+ until #\\d+`).test(out)) child.kill('SIGINT');
    },
    timeoutMs: 45_000,
  });
  assert.equal(followed.code, 0, `follow exits 0 on Ctrl-C: ${followed.stderr}`);
  assert.match(followed.stdout, /following best blocks/);
  assert.match(followed.stdout, new RegExp(`#\\d+ task ${task} round \\d+: phase \\w+ until #\\d+`));

  // A spec the registry refuses: its error's name and docs, exit 1.
  const bad = await runScript('create-task', ['--ws', ws, '--suri', '//Charlie', '--set', 'schedule.commitBlocks=1', '--wait', 'inblock']);
  assertCleanError(bad, /taskRegistry\.InvalidSchedule: Every phase must last between/);
  // A verify phase too short for a miner's server to deliver the demo's 16 checkpoints and
  // manifest at the protocol's minimum rate (12 blocks needed at 3-second blocks).
  const short = await runScript('create-task', ['--ws', ws, '--suri', '//Charlie', '--set', 'schedule.verifyBlocks=11', '--wait', 'inblock']);
  assertCleanError(short, /taskRegistry\.VerifyPhaseTooShort: The verify phase is too short/);
  // A vote-commit phase too short for a voter to fetch every segment a dispute can name (29
  // needed: one per scorer, up to 64).
  const shortVote = await runScript('create-task', ['--ws', ws, '--suri', '//Charlie', '--set', 'schedule.voteCommitBlocks=28', '--wait', 'inblock']);
  assertCleanError(shortVote, /taskRegistry\.VoteCommitPhaseTooShort: The vote-commit phase is too short/);
  const badModel = await runScript('create-task', ['--ws', ws, '--suri', '//Charlie', '--set', 'model="mlp:64-32-9"', '--wait', 'inblock']);
  assertCleanError(badModel, /taskRegistry\.ModelDoesNotFitData/);

  // Mistakes caught before or at connecting.
  assertCleanError(await runScript('create-task', ['--ws', ws, '--suri', 'Charlie']), /--suri must be \/\/Name/);
  assertCleanError(await runScript('create-task', ['--ws', ws, '--suri', '//Charlie', '--set', 'hyperparameters.lr=0.1']),
    /unknown key hyperparameters\.lr/);
  assertCleanError(await runScript('create-task', ['--ws', ws, '--suri', '//Charlie', '--set', 'hyperparameters.checkpointInterval=30']),
    /localSteps must be a positive multiple of hyperparameters\.checkpointInterval/);
  assertCleanError(await runScript('bond', ['--ws', ws, '--suri', '//Eve', '--role', 'boss', '--amount', '5']), /--role must be miner or validator/);
  const down = `ws://127.0.0.1:${await freePort()}`;
  assertCleanError(await runScript('status', ['--ws', down]), /cannot reach a node at ws:\/\/127\.0\.0\.1:\d+/);
  assertCleanError(await runScript('status', ['--ws', ws, '--task', '424242']), /no task 424242/);
  const unknownFlag = await runScript('bond', ['--nope']);
  assert.equal(unknownFlag.code, 2);
  assert.match(unknownFlag.stderr, /^error: Unknown option '--nope'/);
});

test('keypair refuses a bare word and accepts dev URIs', async () => {
  await assert.rejects(keypair('Alice'), /--suri must be/);
  await assert.rejects(keypair(undefined), /no signing key/);
  assert.equal((await keypair('//Alice')).address, keys.Alice.address);
});
