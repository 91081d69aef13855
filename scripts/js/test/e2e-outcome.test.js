// The end-to-end test's outcome, read through polkadot.js: scripts/e2e.sh runs a 4-node testnet
// with two honest miners, a lazy one, a copier and the adaptive attackers of docs/SECURITY.md
// (swap-final, withhold, frame, manifest-only, foreign-host, stall-voters beside a colluding
// validator), and then this file with
//   POL_E2E_WS=ws://… POL_E2E_TASK=<id> POL_E2E_WATCH=<file of `pol-worker task watch --json`>
// It checks that the chain tells the same story as the watch. Without POL_E2E_TASK (a plain
// `npm test`) it is skipped. The roles default to e2e.sh's accounts; POL_E2E_HONEST,
// POL_E2E_LAZY, POL_E2E_COPIER, POL_E2E_SWAP_FINAL, POL_E2E_WITHHOLD, POL_E2E_FRAME,
// POL_E2E_MANIFEST_ONLY, POL_E2E_FOREIGN_HOST, POL_E2E_STALL_VOTERS (comma-separated SURIs)
// and POL_E2E_ROUNDS override them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressOf, compareWatch, connect, devAccountNames, formatOutcome, getTaskOutcome, readWatch,
} from '../lib/polchain.js';

const env = process.env;
const skip = env.POL_E2E_TASK ? false : 'needs the testnet of scripts/e2e.sh (POL_E2E_TASK unset)';
const list = (v, d) => (v ?? d).split(',').map((s) => s.trim()).filter(Boolean);
const ROLES = {
  honest: list(env.POL_E2E_HONEST, '//Eve,//Ferdie'),
  lazy: list(env.POL_E2E_LAZY, '//Alice//stash'),
  copier: list(env.POL_E2E_COPIER, '//Bob//stash'),
  swapFinal: list(env.POL_E2E_SWAP_FINAL, '//Charlie//stash'),
  withhold: list(env.POL_E2E_WITHHOLD, '//Dave//stash'),
  frame: list(env.POL_E2E_FRAME, '//Eve//stash'),
  manifestOnly: list(env.POL_E2E_MANIFEST_ONLY, '//Ferdie//stash'),
  foreignHost: list(env.POL_E2E_FOREIGN_HOST, '//Gina'),
  stallVoters: list(env.POL_E2E_STALL_VOTERS, '//Henry'),
};
const VALIDATORS = ['//Alice', '//Bob', '//Charlie', '//Dave'];
const ROUNDS = Number(env.POL_E2E_ROUNDS ?? 4);

let api;
let outcome;
let watch;
let names;
const addr = {};

before(async () => {
  if (skip) return;
  api = await connect(env.POL_E2E_WS ?? 'ws://127.0.0.1:9944');
  names = await devAccountNames();
  for (const suri of [...Object.values(ROLES).flat(), ...VALIDATORS]) addr[suri] = await addressOf(suri);
  outcome = await getTaskOutcome(api, BigInt(env.POL_E2E_TASK));
  watch = env.POL_E2E_WATCH ? readWatch(env.POL_E2E_WATCH) : null;
  process.stdout.write(`${formatOutcome(outcome, names).join('\n')}\n`);
});

after(async () => { if (api) await api.disconnect(); });

/** JSON for failure messages: disputes and rewards hold BigInts, which JSON.stringify refuses. */
const json = (x) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? String(v) : v));
const minerOf = (suri) => outcome.miners[addr[suri]] ?? { rewarded: 0n, revealed: 0, rewardedRounds: [], revealedRounds: [] };

test(`every round 0…${ROUNDS - 1} has an accepted global model`, { skip }, () => {
  const rounds = new Set(outcome.modelHistory.map((m) => m.round));
  for (let r = 0; r < ROUNDS; r++) assert.ok(rounds.has(r), `no model accepted in round ${r} (history: ${JSON.stringify(outcome.modelHistory)})`);
  for (let r = 0; r < ROUNDS; r++) {
    const closed = outcome.rounds[r]?.closed;
    assert.ok(closed, `round ${r} did not close in the scanned blocks`);
    assert.equal(closed.model, outcome.modelHistory.find((m) => m.round === r).hash, `round ${r} closed with the accepted model`);
  }
});

test('the watch saw the same models as the chain', { skip: skip || (!env.POL_E2E_WATCH && 'no POL_E2E_WATCH') }, () => {
  for (let r = 0; r < ROUNDS; r++) assert.ok(watch[r], `the watch has no line for round ${r}`);
  assert.deepEqual(compareWatch(watch, outcome.modelHistory), []);
});

test('the honest miners were paid', { skip }, () => {
  for (const suri of ROLES.honest) {
    const m = minerOf(suri);
    assert.ok(m.revealed > 0, `${suri} never revealed`);
    assert.ok(m.rewarded > 0n, `${suri} was never rewarded`);
  }
});

test('the lazy, manifest-only and foreign-host miners were never paid, and an upheld dispute slashed each', { skip }, () => {
  for (const suri of [...ROLES.lazy, ...ROLES.manifestOnly, ...ROLES.foreignHost]) {
    const a = addr[suri];
    assert.equal(minerOf(suri).rewarded, 0n, `${suri} was rewarded in rounds ${minerOf(suri).rewardedRounds}`);
    const upheld = outcome.disputes.filter((d) => d.miner === a && d.outcome === 'Upheld');
    assert.ok(upheld.length > 0, `no upheld dispute over ${suri} (disputes: ${json(outcome.disputes.map((d) => ({ ...d, miner: names[d.miner] ?? d.miner })))})`);
    assert.ok(upheld.some((d) => d.offenders.some((o) => o.who === a && o.slashed > 0n)), `the upheld dispute did not slash ${suri}`);
  }
});

test('the stall-voters miner was never paid, and the dispute the colluder voted to reject slashed it', { skip }, () => {
  for (const suri of ROLES.stallVoters) {
    const a = addr[suri];
    assert.ok(minerOf(suri).revealed > 0, `${suri} never revealed`);
    assert.equal(minerOf(suri).rewarded, 0n, `${suri} was rewarded in rounds ${minerOf(suri).rewardedRounds}`);
    const resolved = outcome.disputes.filter((d) => d.miner === a && d.outcome !== null);
    assert.ok(resolved.length > 0, `no dispute over ${suri} was resolved`);
    for (const d of resolved) {
      assert.equal(d.outcome, 'Upheld', `a dispute over ${suri} was not upheld: ${json(d)}`);
      assert.ok(d.offenders.some((o) => o.who === a && o.slashed > 0n), `the dispute did not slash ${suri}: ${json(d)}`);
    }
    // The colluder's rejecting stake was counted, and lost.
    assert.ok(resolved.some((d) => d.rejected > 0n && d.upheld > d.rejected), `no colluder's rejecting vote lost: ${json(resolved)}`);
  }
});

test('the copier never revealed and was never paid', { skip }, () => {
  for (const suri of ROLES.copier) {
    assert.deepEqual(minerOf(suri).revealedRounds, [], `${suri} revealed`);
    assert.equal(minerOf(suri).rewarded, 0n, `${suri} was rewarded`);
  }
});

test('the swap-final miner was never revealed nor paid (its final model is not leaf n)', { skip }, () => {
  for (const suri of ROLES.swapFinal) {
    assert.deepEqual(minerOf(suri).revealedRounds, [], `${suri} revealed`);
    assert.equal(minerOf(suri).rewarded, 0n, `${suri} was rewarded`);
  }
});

test('the withholder was never paid, and its not-served dispute slashed it', { skip }, () => {
  for (const suri of ROLES.withhold) {
    const a = addr[suri];
    assert.equal(minerOf(suri).rewarded, 0n, `${suri} was rewarded in rounds ${minerOf(suri).rewardedRounds}`);
    assert.ok(minerOf(suri).revealed > 0, `${suri} never revealed`);
    const upheld = outcome.disputes.filter((d) => d.miner === a && d.outcome === 'Upheld' && d.offenders.some((o) => o.who === a));
    assert.ok(upheld.length > 0, `no upheld dispute slashed ${suri}`);
  }
});

test('the framer slashed no validator', { skip }, () => {
  for (const suri of ROLES.frame) {
    const a = addr[suri];
    assert.ok(minerOf(suri).revealed > 0, `${suri} never revealed`);
    for (const d of outcome.disputes.filter((x) => x.miner === a)) {
      for (const o of d.offenders) assert.equal(o.who, a, `a dispute over ${suri} slashed ${names[o.who] ?? o.who}`);
    }
  }
});

test('no honest miner or validator was slashed', { skip }, () => {
  for (const suri of ROLES.honest) assert.equal(outcome.slashed[addr[suri]] ?? 0n, 0n, `${suri} was slashed`);
  for (const suri of VALIDATORS) assert.equal(outcome.slashed[addr[suri]] ?? 0n, 0n, `validator ${suri} was slashed`);
  for (const d of outcome.disputes) {
    if (d.offenders.some((o) => ROLES.honest.map((s) => addr[s]).includes(o.who))) {
      assert.fail(`an honest miner was slashed: ${json(d)}`);
    }
  }
});
