// polchain from @polkadot/api: connecting, signing and waiting, task specs from a friendly
// config, bonding, and reading tasks, rounds, validators and the leaderboard through the
// runtime API `PolApi` (`api.call.polApi.*`). The CLI scripts in bin/ are thin wrappers.
import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, mnemonicValidate } from '@polkadot/util-crypto';
import { readFileSync } from 'node:fs';
import { stringToU8a, u8aToString, u8aToHex, isHex } from '@polkadot/util';

/** 1 POL in the chain's smallest units (12 decimals). */
export const UNIT = 10n ** 12n;
/** `FixedU64` has 9 decimals: 1.0 is 10^9. */
export const FIXED_U64_ONE = 10n ** 9n;
/** `Perbill`: 100% is 10^9 parts. */
export const PERBILL_ONE = 10n ** 9n;
/** The order of a round's phases. */
export const PHASES = ['Commit', 'Reveal', 'Verify', 'ScoreReveal', 'VoteCommit', 'VoteReveal', 'Finalize'];

/** A mistake of the user's (bad input, node down, a failed call): reported without a stack. */
export class UserError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UserError';
  }
}

/** A dispatch error of an extrinsic, as `section.Name: docs` (`section`, `name`, `docs` too). */
export class DispatchError extends UserError {
  constructor({ section, name, docs }) {
    super(`${section}.${name}${docs ? `: ${docs}` : ''}`);
    this.name = 'DispatchError';
    this.section = section;
    this.errorName = name;
    this.docs = docs;
  }
}

// ---------------------------------------------------------------------------------------------
// Connecting and keys

/**
 * Connects to the node at `url` (ws:// or wss://), failing with a clear `UserError` if it cannot
 * be reached within `timeoutMs` (no endless reconnect loop). Returns an `ApiPromise`.
 */
export async function connect(url, { timeoutMs = 15_000 } = {}) {
  if (!/^wss?:\/\/[^\s]+$/.test(url ?? '')) {
    throw new UserError(`--ws must be a ws:// or wss:// URL, got ${JSON.stringify(url)}`);
  }
  // autoConnectMs = 0: we connect once by hand, and report a failure instead of retrying.
  const provider = new WsProvider(url, 0);
  const unreachable = () => new UserError(`cannot reach a node at ${url}: is polchain-node running there?`);
  try {
    await provider.connect();
    await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(unreachable()), timeoutMs);
      provider.on('connected', () => { clearTimeout(timer); ok(); });
      provider.on('error', () => { clearTimeout(timer); fail(unreachable()); });
      provider.on('disconnected', () => { clearTimeout(timer); fail(unreachable()); });
    });
  } catch (e) {
    await provider.disconnect().catch(() => {});
    throw e instanceof UserError ? e : unreachable();
  }
  try {
    return await ApiPromise.create({ provider, throwOnConnect: true, noInitWarn: true });
  } catch (e) {
    await provider.disconnect().catch(() => {});
    throw new UserError(`connected to ${url} but could not set up the API: ${e.message}`);
  }
}

/** An sr25519 key pair from a secret URI (`//Alice`, a mnemonic, `0x` seed, with derivations). */
export async function keypair(suri) {
  await cryptoWaitReady();
  if (!suri) throw new UserError('no signing key: pass --suri (e.g. --suri //Alice)');
  // A bare word ("Alice") would silently become a raw seed of another account: refuse it.
  const phrase = suri.match(/^[^/]*/)[0].trim();
  if (phrase && !isHex(phrase, 256) && !mnemonicValidate(phrase)) {
    throw new UserError('--suri must be //Name (a dev account such as //Alice), a 12–24 word mnemonic '
      + '(optionally followed by //derivations), or a 0x seed of 32 bytes');
  }
  try {
    return new Keyring({ type: 'sr25519', ss58Format: 42 }).addFromUri(suri);
  } catch (e) {
    throw new UserError(`--suri is not a valid secret URI (${e.message})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Submitting extrinsics

/** `{ section, name, docs }` of a dispatch error: a pallet's own error, or a token/arithmetic one. */
export function decodeDispatchError(api, dispatchError) {
  if (dispatchError.isModule) {
    const meta = api.registry.findMetaError(dispatchError.asModule);
    return { section: meta.section, name: meta.name, docs: meta.docs.join(' ').trim() };
  }
  if (dispatchError.isToken) return { section: 'token', name: dispatchError.asToken.type, docs: '' };
  if (dispatchError.isArithmetic) {
    return { section: 'arithmetic', name: dispatchError.asArithmetic.type, docs: '' };
  }
  return { section: 'dispatch', name: dispatchError.type, docs: '' };
}

/**
 * Signs `tx` with `signer`, submits it and waits until it is in a block (`waitFor: 'inblock'`)
 * or finalized (`'finalized'`, the default). Resolves with `{ blockHash, events }` (the events
 * of this extrinsic); rejects with a `DispatchError` ("section.Name: docs") if it failed, or a
 * `UserError` if the pool refused it (bad nonce, fees) or it was dropped.
 */
export function signAndWait(api, tx, signer, { waitFor = 'finalized', timeoutMs = 120_000 } = {}) {
  if (waitFor !== 'inblock' && waitFor !== 'finalized') {
    throw new UserError(`waitFor must be 'inblock' or 'finalized', got ${JSON.stringify(waitFor)}`);
  }
  const what = `${tx.method.section}.${tx.method.method}`;
  return new Promise((ok, fail) => {
    let unsub = null;
    let done = false;
    const finish = (f, v) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (unsub) unsub();
      f(v);
    };
    const timer = setTimeout(
      () => finish(fail, new UserError(`${what}: not ${waitFor === 'inblock' ? 'in a block' : 'finalized'} after ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    tx.signAndSend(signer, (result) => {
      const { status, events, dispatchError } = result;
      if (status.isInvalid || status.isDropped || status.isUsurped) {
        finish(fail, new UserError(`${what}: transaction ${status.type.toLowerCase()}`));
        return;
      }
      const landed = waitFor === 'inblock' ? (status.isInBlock || status.isFinalized) : status.isFinalized;
      if (!landed) return;
      const blockHash = status.isInBlock ? status.asInBlock : status.asFinalized;
      if (dispatchError) finish(fail, new DispatchError(decodeDispatchError(api, dispatchError)));
      else finish(ok, { blockHash, events });
    }).then(
      (u) => { if (done) u(); else unsub = u; },
      // The pool's refusal: "1010: Invalid Transaction: Inability to pay some fees", etc.
      (e) => finish(fail, new UserError(`${what}: ${e.message}`)),
    );
  });
}

/** The first event `pallet.Name` among `events` (from `signAndWait`), or throws. */
export function findEvent(api, events, pallet, name) {
  const type = api.events[pallet]?.[name];
  const found = type && events.find(({ event }) => type.is(event));
  if (!found) throw new UserError(`no ${pallet}.${name} event in the block`);
  return found.event;
}

// ---------------------------------------------------------------------------------------------
// Amounts and fixed-point numbers

/** `value` (a decimal string or number) times 10^`decimals`, exactly, as a BigInt. */
export function parseDecimal(value, decimals, what = 'value') {
  let text = typeof value === 'number' ? String(value) : value;
  if (typeof value === 'number' && /e/i.test(text)) text = value.toFixed(decimals + 1);
  if (typeof text !== 'string' || !/^\d+(\.\d+)?$/.test(text.trim().replaceAll('_', ''))) {
    throw new UserError(`${what} must be a non-negative decimal number, got ${JSON.stringify(value)}`);
  }
  const [whole, frac = ''] = text.trim().replaceAll('_', '').split('.');
  const trimmed = frac.replace(/0+$/, '');
  if (trimmed.length > decimals) {
    throw new UserError(`${what} has more than ${decimals} decimals: ${text}`);
  }
  return BigInt(whole) * 10n ** BigInt(decimals) + BigInt(trimmed.padEnd(decimals, '0') || '0');
}

/** An amount of POL (`"1000"`, `"0.5"`, `12.25`) in units; a BigInt is taken as units already. */
export function parsePol(value, what = 'amount') {
  if (typeof value === 'bigint') return value;
  return parseDecimal(value, 12, what);
}

/** Units as POL for people: `1,234.5 POL`. */
export function formatPol(units) {
  const v = BigInt(units.toString());
  const whole = (v / UNIT).toLocaleString('en-US');
  const frac = (v % UNIT).toString().padStart(12, '0').replace(/0+$/, '');
  return `${whole}${frac ? `.${frac}` : ''} POL`;
}

/** A decimal (`0.1`, `"0.05"`) as `FixedU64` parts (10^9 = 1.0). */
export function toFixedU64(value, what = 'value') {
  return parseDecimal(value, 9, what);
}

/** A fraction in [0, 1] (`0.2`) as `Perbill` parts. */
export function fractionToPerbill(value, what = 'fraction') {
  const parts = parseDecimal(value, 9, what);
  if (parts > PERBILL_ONE) throw new UserError(`${what} must be at most 1, got ${value}`);
  return parts;
}

/** A percentage in [0, 100] (`20`, `12.5`) as `Perbill` parts. */
export function percentToPerbill(value, what = 'percentage') {
  const parts = parseDecimal(value, 7, what);
  if (parts > PERBILL_ONE) throw new UserError(`${what} must be at most 100, got ${value}`);
  return parts;
}

/** `Perbill` parts as a percentage for people: `50%`, `12.5%`. */
export function formatPerbill(parts) {
  const v = BigInt(parts.toString());
  const whole = v / 10_000_000n;
  const frac = (v % 10_000_000n).toString().padStart(7, '0').replace(/0+$/, '');
  return `${whole}${frac ? `.${frac}` : ''}%`;
}

// ---------------------------------------------------------------------------------------------
// Task specs

/**
 * The friendly task config (JSON, see `tasks/digits-demo.json`):
 *
 *   model                 "mlp:64-32-10" or "cnn:8x8x1-c8-c16-10"
 *   initialModel          { hash: "0x…32 bytes", uri: "http://…/v1/artifacts/0x…" } (W₀)
 *   dataset               { source: "digits" | "synthetic", synthetic?: { seed, samples,
 *                           features, classes }, numShards, partition: "iid" | "dirichlet",
 *                           alpha? (Dirichlet α, default 1), validation (fraction, e.g. 0.2) }
 *   hyperparameters       { learningRate, momentum?, batchSize, localSteps, checkpointInterval }
 *   verification          { segmentsPerCheck, comparison: "exact" | "tolerance",
 *                           tolerance? (relative L2 distance, a fraction),
 *                           profile? { device: "cpu" | "cuda", isa: "default" | "avx2" |
 *                           "avx512", threads (1 to 64) }: what runs are trained and
 *                           replayed under; cpu, avx2, 1 thread when left out }
 *   aggregation?          { rule: "fedavg" | "median" | "trimmed-mean" | "norm-clip",
 *                           trim? (share cut at each end, below 0.5), maxNorm? (positive) };
 *                           FedAvg by score when left out
 *   schedule              { commitBlocks, revealBlocks, verifyBlocks, scoreRevealBlocks,
 *                           voteCommitBlocks, voteRevealBlocks, finalizeBlocks, rounds }
 *   rewardPerRound        POL per round, e.g. "10"
 *   validatorSharePercent the validators' part of each round's reward, in percent
 *   maxMiners             the most miners that may join
 *   budget                POL held from the creator (create-task only; not part of the spec)
 *   description           free text for people (ignored)
 *
 * Decimals are exact (strings or numbers); unknown keys are refused, so a typo is not lost.
 */
const CONFIG_KEYS = {
  '': ['model', 'initialModel', 'dataset', 'hyperparameters', 'verification', 'aggregation', 'schedule',
    'rewardPerRound', 'validatorSharePercent', 'maxMiners', 'budget', 'description'],
  initialModel: ['hash', 'uri'],
  dataset: ['source', 'synthetic', 'numShards', 'partition', 'alpha', 'validation'],
  'dataset.synthetic': ['seed', 'samples', 'features', 'classes'],
  hyperparameters: ['learningRate', 'momentum', 'batchSize', 'localSteps', 'checkpointInterval'],
  verification: ['segmentsPerCheck', 'comparison', 'tolerance', 'profile'],
  'verification.profile': ['device', 'isa', 'threads', 'gpu'],
  aggregation: ['rule', 'trim', 'maxNorm'],
  schedule: ['commitBlocks', 'revealBlocks', 'verifyBlocks', 'scoreRevealBlocks', 'voteCommitBlocks', 'voteRevealBlocks',
    'finalizeBlocks', 'rounds'],
};

function checkKeys(obj, path) {
  const where = path || 'the task config';
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new UserError(`${where} must be an object`);
  }
  for (const key of Object.keys(obj)) {
    if (!CONFIG_KEYS[path].includes(key)) {
      throw new UserError(`unknown key ${path ? `${path}.` : ''}${key} in the task config (known: ${CONFIG_KEYS[path].join(', ')})`);
    }
  }
}

function need(obj, key, path) {
  if (obj[key] === undefined || obj[key] === null) {
    throw new UserError(`the task config needs ${path ? `${path}.` : ''}${key}`);
  }
  return obj[key];
}

/** A whole number in [0, 2³²) from a number or a decimal string; a `UserError` otherwise. */
export function u32(value, what) {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (!Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
    throw new UserError(`${what} must be a whole number from 0 to 4294967295, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A whole number in [0, 2⁶⁴) as a BigInt, from a BigInt, number or decimal string. */
export function u64(value, what) {
  if (typeof value === 'bigint' && value >= 0n && value < 2n ** 64n) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'string' && /^\d+$/.test(value) && BigInt(value) < 2n ** 64n) return BigInt(value);
  throw new UserError(`${what} must be a whole number from 0 to 2^64 − 1, got ${JSON.stringify(value)}`);
}

/**
 * The chain's `TaskSpec` (a plain object polkadot.js encodes as `PalletTaskRegistryTaskSpec`)
 * from the friendly config above. Checks types and units only: what a valid task is (phase
 * lengths, segments, the model fitting the data…) is the registry's to say.
 */
export function buildTaskSpec(config) {
  checkKeys(config, '');
  const model = need(config, 'model', '');
  if (typeof model !== 'string' || !model) throw new UserError('model must be a string such as "mlp:64-32-10"');

  const init = need(config, 'initialModel', '');
  checkKeys(init, 'initialModel');
  const hash = need(init, 'hash', 'initialModel');
  if (!isHex(hash, 256)) throw new UserError(`initialModel.hash must be 0x and 64 hex digits, got ${JSON.stringify(hash)}`);
  const uri = need(init, 'uri', 'initialModel');
  if (typeof uri !== 'string') throw new UserError('initialModel.uri must be a string');

  const ds = need(config, 'dataset', '');
  checkKeys(ds, 'dataset');
  let source;
  const sourceName = need(ds, 'source', 'dataset');
  if (sourceName === 'digits') {
    if (ds.synthetic !== undefined) throw new UserError('dataset.synthetic is only for source "synthetic"');
    source = 'Digits';
  } else if (sourceName === 'synthetic') {
    const s = need(ds, 'synthetic', 'dataset');
    checkKeys(s, 'dataset.synthetic');
    source = {
      Synthetic: {
        seed: u64(need(s, 'seed', 'dataset.synthetic'), 'dataset.synthetic.seed'),
        samples: u32(need(s, 'samples', 'dataset.synthetic'), 'dataset.synthetic.samples'),
        features: u32(need(s, 'features', 'dataset.synthetic'), 'dataset.synthetic.features'),
        classes: u32(need(s, 'classes', 'dataset.synthetic'), 'dataset.synthetic.classes'),
      },
    };
  } else {
    throw new UserError(`dataset.source must be "digits" or "synthetic", got ${JSON.stringify(sourceName)}`);
  }
  let partition;
  const partName = need(ds, 'partition', 'dataset');
  if (partName === 'iid') {
    if (ds.alpha !== undefined) throw new UserError('dataset.alpha is only for partition "dirichlet"');
    partition = 'Iid';
  } else if (partName === 'dirichlet') {
    partition = { Dirichlet: { alpha: toFixedU64(ds.alpha ?? 1, 'dataset.alpha') } };
  } else {
    throw new UserError(`dataset.partition must be "iid" or "dirichlet", got ${JSON.stringify(partName)}`);
  }

  const hp = need(config, 'hyperparameters', '');
  checkKeys(hp, 'hyperparameters');
  const ver = need(config, 'verification', '');
  checkKeys(ver, 'verification');
  let comparison;
  const cmp = need(ver, 'comparison', 'verification');
  if (cmp === 'exact') {
    if (ver.tolerance !== undefined) throw new UserError('verification.tolerance is only for comparison "tolerance"');
    comparison = 'Exact';
  } else if (cmp === 'tolerance') {
    comparison = { Tolerance: fractionToPerbill(need(ver, 'tolerance', 'verification'), 'verification.tolerance') };
  } else {
    throw new UserError(`verification.comparison must be "exact" or "tolerance", got ${JSON.stringify(cmp)}`);
  }

  const profile = buildProfile(ver.profile ?? {});
  const aggregation = buildAggregation(config.aggregation ?? { rule: 'fedavg' });

  const sc = need(config, 'schedule', '');
  checkKeys(sc, 'schedule');
  const schedule = {};
  for (const key of CONFIG_KEYS.schedule) schedule[key] = u32(need(sc, key, 'schedule'), `schedule.${key}`);

  return {
    model,
    initialModelHash: hash,
    initialModelUri: uri,
    dataset: {
      source,
      numShards: u32(need(ds, 'numShards', 'dataset'), 'dataset.numShards'),
      partition,
      validation: fractionToPerbill(need(ds, 'validation', 'dataset'), 'dataset.validation'),
    },
    hyperparameters: {
      learningRate: toFixedU64(need(hp, 'learningRate', 'hyperparameters'), 'hyperparameters.learningRate'),
      momentum: toFixedU64(hp.momentum ?? 0, 'hyperparameters.momentum'),
      batchSize: u32(need(hp, 'batchSize', 'hyperparameters'), 'hyperparameters.batchSize'),
      localSteps: u32(need(hp, 'localSteps', 'hyperparameters'), 'hyperparameters.localSteps'),
      checkpointInterval: u32(need(hp, 'checkpointInterval', 'hyperparameters'), 'hyperparameters.checkpointInterval'),
    },
    verification: {
      segmentsPerCheck: u32(need(ver, 'segmentsPerCheck', 'verification'), 'verification.segmentsPerCheck'),
      comparison,
      profile,
    },
    aggregation,
    schedule,
    rewardPerRound: parsePol(need(config, 'rewardPerRound', ''), 'rewardPerRound'),
    validatorShare: percentToPerbill(need(config, 'validatorSharePercent', ''), 'validatorSharePercent'),
    maxMiners: u32(need(config, 'maxMiners', ''), 'maxMiners'),
  };
}

/** Most libtorch threads a determinism profile may name (`pol_primitives::specs::MAX_PROFILE_THREADS`). */
export const MAX_PROFILE_THREADS = 64;
/** Bytes of a GPU class (`pol_primitives::specs::GPU_CLASS_BYTES`). */
export const GPU_CLASS_BYTES = 96;
const PROFILE_DEVICES = { cpu: 'Cpu', cuda: 'Cuda' };
const PROFILE_ISAS = { default: 'Default', avx2: 'Avx2', avx512: 'Avx512' };

/** The chain's `DeterminismProfile` from `verification.profile`; each key has the default's value when left out. */
function buildProfile(p) {
  checkKeys(p, 'verification.profile');
  const pick = (table, key, fallback) => {
    const name = p[key] ?? fallback;
    if (!Object.hasOwn(table, name)) {
      throw new UserError(`verification.profile.${key} must be ${Object.keys(table).map((k) => `"${k}"`).join(' or ')}, got ${JSON.stringify(name)}`);
    }
    return table[name];
  };
  const threads = u32(p.threads ?? 1, 'verification.profile.threads');
  if (threads < 1 || threads > MAX_PROFILE_THREADS) {
    throw new UserError(`verification.profile.threads must be 1 to ${MAX_PROFILE_THREADS}, got ${threads}`);
  }
  const device = pick(PROFILE_DEVICES, 'device', 'cpu');
  // A CUDA run replays bit for bit only on the same GPU model: a CUDA profile names it, as
  // NVIDIA's driver does (`pol-worker doctor` prints it), zero-padded to GPU_CLASS_BYTES.
  let gpu = null;
  if (device === 'Cuda') {
    const name = p.gpu;
    if (typeof name !== 'string' || name.length < 1 || name.length > GPU_CLASS_BYTES || name.trim() !== name
      || !/^[\x20-\x7e]+$/.test(name)) {
      throw new UserError(`verification.profile.gpu must name the GPU class of a CUDA profile (1 to ${GPU_CLASS_BYTES} printable ASCII characters, e.g. "NVIDIA H100 80GB HBM3"), got ${JSON.stringify(name)}`);
    }
    gpu = new Uint8Array(GPU_CLASS_BYTES);
    gpu.set(new TextEncoder().encode(name));
  } else if (p.gpu !== undefined) {
    throw new UserError('verification.profile.gpu is for a CUDA profile only');
  }
  return { device, isa: pick(PROFILE_ISAS, 'isa', 'avx2'), threads, gpu };
}

/** A chain `DeterminismProfile` as the worker's `--profile` writes it, e.g. `cpu/avx2/1`. */
export function formatProfile(p) {
  const device = p.device.type.toLowerCase();
  const gpu = p.gpu?.isSome ? `:${new TextDecoder().decode(p.gpu.unwrap().toU8a()).replace(/\0+$/, '')}` : '';
  return `${device}${gpu}/${p.isa.type.toLowerCase()}/${p.threads.toNumber()}`;
}

/** The chain's `AggregationRule` from the config's `aggregation` section. */
function buildAggregation(agg) {
  checkKeys(agg, 'aggregation');
  const rule = need(agg, 'rule', 'aggregation');
  const only = (key, name) => {
    if (agg[key] !== undefined) throw new UserError(`aggregation.${key} is only for rule "${name}"`);
  };
  switch (rule) {
    case 'fedavg':
    case 'median':
      only('trim', 'trimmed-mean');
      only('maxNorm', 'norm-clip');
      return rule === 'fedavg' ? 'FedAvg' : 'Median';
    case 'trimmed-mean': {
      only('maxNorm', 'norm-clip');
      const trim = fractionToPerbill(need(agg, 'trim', 'aggregation'), 'aggregation.trim');
      if (trim >= 500_000_000n) throw new UserError('aggregation.trim must be below 0.5: it is the share cut at each end');
      return { TrimmedMean: { trim } };
    }
    case 'norm-clip': {
      only('trim', 'trimmed-mean');
      const maxNorm = toFixedU64(need(agg, 'maxNorm', 'aggregation'), 'aggregation.maxNorm');
      // pol_primitives::specs::MAX_NORM_CLIP
      if (maxNorm === 0n || maxNorm > 1_000_000n * 1_000_000_000n) {
        throw new UserError('aggregation.maxNorm must be above 0 and at most 1000000');
      }
      return { NormClip: { maxNorm } };
    }
    default:
      throw new UserError(`aggregation.rule must be "fedavg", "median", "trimmed-mean" or "norm-clip", got ${JSON.stringify(rule)}`);
  }
}

/** A chain `AggregationRule` for people: `fedavg`, `median`, `trimmed-mean 20%`, `norm-clip 5`. */
function formatAggregation(rule) {
  if (rule.isTrimmedMean) return `trimmed-mean ${formatPerbill(rule.asTrimmedMean.trim)}`;
  if (rule.isNormClip) return `norm-clip ${Number(rule.asNormClip.maxNorm.toBigInt()) / 1e9}`;
  return rule.isFedAvg ? 'fedavg' : 'median';
}

// ---------------------------------------------------------------------------------------------
// Detection: how likely a validator's replay catches a forging miner

/**
 * What a task's verification settings should achieve: a miner forging 25% of its segments is
 * caught with at least 99% by 3 validators, while each validator replays at most 5% (1/20) of
 * the miner's training.
 */
export const DETECTION_TARGET = Object.freeze({ fraction: 0.25, validators: 3, caught: 0.99, replay: 0.05 });

/**
 * The chance that one validator misses every forgery of a miner that forged `a` of its `n`
 * segments, never the last, when it replays `q` of them: segment n always, and q − 1 distinct
 * others drawn uniformly from 1..n−1 (the chain's `challenge_segments`). With N = n − 1 and
 * m = min(q − 1, N), that is C(N − a, m) / C(N, m) = ∏_{i<m} (N − a − i) / (N − i), and 0 as soon
 * as a factor's numerator is below 1. Computed as pol-worker's `attack::predicted` does (same
 * order of operations).
 */
export function missChance(n, q, a) {
  const others = Math.max(n - 1, 0);
  const draws = Math.min(Math.max(q - 1, 0), others);
  let miss = 1;
  for (let i = 0; i < draws; i++) {
    if (others < a + i + 1) return 0;
    miss = miss * (others - a - i) / (others - i);
  }
  return miss;
}

/**
 * How likely a miner forging a share of its run is caught, from a task's segment settings
 * (`localSteps`, `checkpointInterval` as in `hyperparameters`, `segmentsPerCheck` as in
 * `verification`; numbers, or decimal strings). A `UserError` unless n = localSteps /
 * checkpointInterval is a whole number of segments and 1 ≤ segmentsPerCheck ≤ n (the registry
 * refuses those specs too).
 *
 * The miner forges a = ⌈fraction·n⌉ segments, never the last (which every validator replays);
 * each validator draws its challenges independently, so k of them all miss it with miss^k:
 *
 *   { segments: n, checked: Q, forged: a, fraction, validators: k, replayFraction: Q/n,
 *     caughtBy1: 1 − miss, caughtByK: 1 − miss^k,
 *     meetsTarget: whether the settings meet `DETECTION_TARGET` (at its own fraction and
 *                  validator count, whatever `fraction` and `validators` are) }
 */
export function detection({ localSteps, checkpointInterval, segmentsPerCheck } = {},
  { fraction = DETECTION_TARGET.fraction, validators = DETECTION_TARGET.validators } = {}) {
  const steps = u32(localSteps, 'hyperparameters.localSteps');
  const interval = u32(checkpointInterval, 'hyperparameters.checkpointInterval');
  const q = u32(segmentsPerCheck, 'verification.segmentsPerCheck');
  if (interval === 0 || steps === 0 || steps % interval !== 0) {
    throw new UserError('hyperparameters.localSteps must be a positive multiple of hyperparameters.checkpointInterval '
      + `(a run is a whole number of segments), got ${steps} steps and an interval of ${interval}`);
  }
  const n = steps / interval;
  if (q < 1 || q > n) {
    throw new UserError(`verification.segmentsPerCheck must be 1 to the number of segments (${steps} / ${interval} = ${n}), got ${q}`);
  }
  if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) {
    throw new UserError(`the forged fraction must be a number from 0 to 1, got ${JSON.stringify(fraction)}`);
  }
  if (!Number.isInteger(validators) || validators < 1) {
    throw new UserError(`the number of validators must be a whole number of at least 1, got ${JSON.stringify(validators)}`);
  }
  // ⌈f·n⌉, forgiving the rounding of f·n (0.1·30 is 3.0000000000000004 in floating point).
  const forged = Math.max(0, Math.ceil(fraction * n - 1e-9));
  const miss = missChance(n, q, forged);
  const target = DETECTION_TARGET;
  const targetMiss = missChance(n, q, Math.max(0, Math.ceil(target.fraction * n - 1e-9)));
  return {
    segments: n,
    checked: q,
    forged,
    fraction,
    validators,
    replayFraction: q / n,
    caughtBy1: 1 - miss,
    caughtByK: 1 - miss ** validators,
    meetsTarget: 1 - targetMiss ** target.validators >= target.caught && q <= target.replay * n,
  };
}

/** A chance as a percentage with 2 decimals, never rounded to a certain 100% or 0%. */
function formatChance(p) {
  const text = (p * 100).toFixed(2);
  if (text === '100.00' && p < 1) return '>99.99%';
  if (text === '0.00' && p > 0) return '<0.01%';
  return `${text}%`;
}

/**
 * `detection`'s answer for people, as lines: the chances and the replay cost, then a warning
 * when the settings miss `DETECTION_TARGET`, e.g.
 *
 *   detection: a miner forging 25% of its 200 segments (50) is caught with 87.28% by 1 validator,
 *   99.79% by 3; each validator replays 8 of 200 segments (4.0% of the training)
 */
export function formatDetection(d) {
  const share = `${+(d.fraction * 100).toFixed(4)}%`; // 25%, 12.5%
  const byK = d.validators === 1 ? '' : `, ${formatChance(d.caughtByK)} by ${d.validators}`;
  const lines = [`detection: a miner forging ${share} of its ${d.segments} segments (${d.forged}) is caught with `
    + `${formatChance(d.caughtBy1)} by 1 validator${byK}; each validator replays ${d.checked} of ${d.segments} `
    + `segments (${(d.replayFraction * 100).toFixed(1)}% of the training)`];
  if (!d.meetsTarget) {
    const t = DETECTION_TARGET;
    const pct = (x) => `${+(x * 100).toFixed(4)}%`;
    lines.push(`warning: below the target (${pct(t.caught)} by ${t.validators} validators at f = ${pct(t.fraction)}, `
      + `replay ≤ ${pct(t.replay)})`);
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Actions (what the CLI scripts do)

/**
 * Creates a task from `spec` (from `buildTaskSpec`) holding `budget` (POL, or units as a BigInt)
 * from `signer`. Resolves with `{ task, creator, budget, blockHash }` from `TaskCreated`.
 */
export async function createTask(api, signer, spec, budget, opts = {}) {
  let tx;
  try {
    tx = api.tx.taskRegistry.createTask(spec, parsePol(budget, 'budget'));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`the task spec does not encode: ${e.message}`);
  }
  const { blockHash, events } = await signAndWait(api, tx, signer, opts);
  const ev = findEvent(api, events, 'taskRegistry', 'TaskCreated');
  return {
    task: ev.data.task.toBigInt(),
    creator: ev.data.creator.toString(),
    budget: ev.data.budget.toBigInt(),
    blockHash: blockHash.toHex(),
  };
}

/** Adds `amount` to `task`'s budget. Resolves with `{ task, amount, budget, blockHash }`. */
export async function fundTask(api, signer, task, amount, opts = {}) {
  const tx = api.tx.taskRegistry.fundTask(u64(task, 'task'), parsePol(amount));
  const { blockHash, events } = await signAndWait(api, tx, signer, opts);
  const ev = findEvent(api, events, 'taskRegistry', 'TaskFunded');
  return {
    task: ev.data.task.toBigInt(),
    amount: ev.data.amount.toBigInt(),
    budget: ev.data.budget.toBigInt(),
    blockHash: blockHash.toHex(),
  };
}

/** Joins `task` as a miner (the signer must be bonded as one). */
export async function joinTask(api, signer, task, opts = {}) {
  const { blockHash } = await signAndWait(api, api.tx.taskRegistry.joinTask(u64(task, 'task')), signer, opts);
  return { blockHash: blockHash.toHex() };
}

/** `"miner"`/`"validator"` (any case) as the chain's `Role`. */
export function parseRole(role) {
  const r = String(role ?? '').toLowerCase();
  if (r === 'miner') return 'Miner';
  if (r === 'validator') return 'Validator';
  throw new UserError(`--role must be miner or validator, got ${JSON.stringify(role)}`);
}

/**
 * `bond`'s arguments checked and in the chain's terms (`Role`, units), or a `UserError`: lets a
 * script refuse a mistake before it connects.
 */
export function checkBondArgs({ role, amount, endpoint } = {}) {
  if ((role === undefined) !== (amount === undefined)) {
    throw new UserError('bonding needs both --role and --amount');
  }
  if (role === undefined && endpoint === undefined) {
    throw new UserError('nothing to do: give --role and --amount, and/or --endpoint');
  }
  if (endpoint !== undefined && !/^https?:\/\/\S+$/.test(endpoint)) {
    throw new UserError(`--endpoint must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`);
  }
  return {
    role: role === undefined ? undefined : parseRole(role),
    amount: amount === undefined ? undefined : parsePol(amount, '--amount'),
    endpoint,
  };
}

/**
 * Bonds `amount` as `role` (`miner` | `validator`) and/or sets the artifact endpoint, both in
 * one `utility.batchAll` when both are given. Either part may be left out (`role` and `amount`
 * together, `endpoint` alone for a bonded account).
 * Resolves with `{ bonded?: { role, amount }, endpoint?, blockHash }`.
 */
export async function bond(api, signer, args = {}, opts = {}) {
  const { role, amount, endpoint } = checkBondArgs(args);
  const out = {};
  if (role !== undefined && endpoint !== undefined) {
    // One signature, one block, all or nothing: utility.batchAll.
    const tx = api.tx.utility.batchAll([
      api.tx.polStaking.bond(role, amount),
      api.tx.polStaking.setEndpoint(u8aToHex(stringToU8a(endpoint))),
    ]);
    const { blockHash, events } = await signAndWait(api, tx, signer, opts);
    const ev = findEvent(api, events, 'polStaking', 'Bonded');
    findEvent(api, events, 'polStaking', 'EndpointSet');
    return { bonded: { role: ev.data.role.type, amount: ev.data.amount.toBigInt() }, endpoint, blockHash: blockHash.toHex() };
  }
  if (role !== undefined) {
    const tx = api.tx.polStaking.bond(role, amount);
    const { blockHash, events } = await signAndWait(api, tx, signer, opts);
    const ev = findEvent(api, events, 'polStaking', 'Bonded');
    out.bonded = { role: ev.data.role.type, amount: ev.data.amount.toBigInt() };
    out.blockHash = blockHash.toHex();
  }
  if (endpoint !== undefined) {
    const { blockHash } = await signAndWait(api, api.tx.polStaking.setEndpoint(u8aToHex(stringToU8a(endpoint))), signer, opts);
    out.endpoint = endpoint;
    out.blockHash = blockHash.toHex();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading: everything through `api.call.polApi.*`

const text = (bytes) => u8aToString(bytes.toU8a(true));
// GlobalModel's field is `model_hash`, not `hash`: every polkadot.js codec has its own `.hash`
// (the blake2 of its encoding), which a field of that name would be confused with.
const fieldHash = (model) => model.modelHash.toHex();

/** A task as plain JS (BigInts for balances), or `null` if the chain does not know it. */
export async function getTask(api, task) {
  const t = await api.call.polApi.task(u64(task, 'task'));
  if (t.isNone) return null;
  const info = t.unwrap();
  const spec = info.spec;
  return {
    id: BigInt(task),
    creator: info.creator.toString(),
    budget: info.budget.toBigInt(),
    status: info.status.isEnded ? `Ended(${info.status.asEnded.type})` : info.status.type,
    round: info.round.toNumber(),
    phase: info.phase.type,
    phaseEnds: info.phaseEnds.toNumber(),
    model: { hash: fieldHash(info.model), uri: text(info.model.uri), acceptedAt: info.model.acceptedAt.toNumber() },
    miners: info.miners.toNumber(),
    spec: {
      model: text(spec.model),
      dataset: spec.dataset.source.isDigits ? 'digits' : `synthetic(${spec.dataset.source.asSynthetic.samples}×${spec.dataset.source.asSynthetic.features}, ${spec.dataset.source.asSynthetic.classes} classes)`,
      numShards: spec.dataset.numShards.toNumber(),
      partition: spec.dataset.partition.isIid ? 'iid' : `dirichlet(α=${Number(spec.dataset.partition.asDirichlet.alpha.toBigInt()) / 1e9})`,
      learningRate: Number(spec.hyperparameters.learningRate.toBigInt()) / 1e9,
      momentum: Number(spec.hyperparameters.momentum.toBigInt()) / 1e9,
      batchSize: spec.hyperparameters.batchSize.toNumber(),
      localSteps: spec.hyperparameters.localSteps.toNumber(),
      checkpointInterval: spec.hyperparameters.checkpointInterval.toNumber(),
      segmentsPerCheck: spec.verification.segmentsPerCheck.toNumber(),
      comparison: spec.verification.comparison.isExact ? 'exact' : `tolerance ${formatPerbill(spec.verification.comparison.asTolerance)}`,
      profile: formatProfile(spec.verification.profile),
      aggregation: formatAggregation(spec.aggregation),
      schedule: Object.fromEntries(CONFIG_KEYS.schedule.map((k) => [k, spec.schedule[k].toNumber()])),
      rewardPerRound: spec.rewardPerRound.toBigInt(),
      validatorShare: spec.validatorShare.toBigInt(),
      maxMiners: spec.maxMiners.toNumber(),
    },
  };
}

/** A task's current round with its phase deadlines, or `null` for an unknown task. */
export async function getRoundStatus(api, task) {
  const r = await api.call.polApi.roundStatus(u64(task, 'task'));
  if (r.isNone) return null;
  const s = r.unwrap();
  return {
    round: s.round.toNumber(),
    phase: s.phase.type,
    phaseEnds: s.phaseEnds.map(([phase, block]) => ({ phase: phase.type, block: block.toNumber() })),
    startedAt: s.startedAt.toNumber(),
    seed: s.seed.toHex(),
    challengeSeed: s.challengeSeed.isSome ? s.challengeSeed.unwrap().toHex() : null,
    commits: s.commits.toNumber(),
    reveals: s.reveals.toNumber(),
    model: s.model.toHex(),
    status: s.status.isEnded ? `Ended(${s.status.asEnded.type})` : s.status.type,
  };
}

/** The most items the runtime returns in one page of a list (`pol_primitives::MAX_PAGE`). */
const PAGE = 1000;

/** The global models accepted for `task`, oldest first (every page of them). */
export async function getModelHistory(api, task) {
  const id = u64(task, 'task');
  const info = await api.call.polApi.task(id);
  const last = info.isSome ? info.unwrap().round.toNumber() : 0;
  const models = [];
  for (let from = 0; from <= last; from += PAGE) {
    const page = await api.call.polApi.modelHistory(id, from, PAGE);
    for (const [round, m] of page) {
      models.push({ round: round.toNumber(), hash: fieldHash(m), uri: text(m.uri), acceptedAt: m.acceptedAt.toNumber() });
    }
  }
  return models;
}

/** The active validators with stake, trust (Perbill parts) and authority, best first. */
export async function getValidators(api) {
  return (await api.call.polApi.validators()).map((v) => ({
    account: v.account.toString(),
    stake: v.stake.toBigInt(),
    trust: v.trust.toBigInt(),
    authority: v.authority.isTrue,
  }));
}

/** The `limit` accounts that earned most, best first. */
export async function getLeaderboard(api, limit = 20) {
  return (await api.call.polApi.leaderboard(u32(limit, 'limit'))).map((e) => ({
    account: e.account.toString(),
    role: e.role.isSome ? e.role.unwrap().type : null,
    earned: e.earned.toBigInt(),
  }));
}

/** Every stored task id (running, or ended and not yet pruned), every page of them. */
export async function getTaskIds(api) {
  const next = (await api.query.taskRegistry.nextTaskId()).toBigInt();
  const ids = [];
  for (let from = 0n; from < next; from += BigInt(PAGE)) {
    for (const id of await api.call.polApi.taskIds(from, PAGE)) ids.push(id.toBigInt());
  }
  return ids;
}

/** The running tasks' ids. */
export async function getRunningTasks(api) {
  return (await api.call.polApi.runningTasks()).map((id) => id.toBigInt());
}

/** Everything `status.js` shows: one task (or all of them), validators and the leaderboard. */
export async function getStatus(api, { task, limit = 10 } = {}) {
  const best = (await api.rpc.chain.getHeader()).number.toNumber();
  const finalized = (await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead())).number.toNumber();
  const ids = task === undefined ? await getTaskIds(api) : [u64(task, 'task')];
  const tasks = [];
  for (const id of ids) {
    const info = await getTask(api, id);
    if (!info) throw new UserError(`no task ${id} on this chain (known: ${(await getTaskIds(api)).join(', ') || 'none'})`);
    tasks.push({
      ...info,
      roundStatus: await getRoundStatus(api, id),
      modelHistory: await getModelHistory(api, id),
    });
  }
  return {
    best, finalized, tasks, validators: await getValidators(api), leaderboard: await getLeaderboard(api, limit),
  };
}

const short = (s) => (s.length > 20 ? `${s.slice(0, 10)}…${s.slice(-8)}` : s);

/** `getStatus`'s answer as lines of text for people. */
export function formatStatus(st, { brief = false } = {}) {
  const lines = [`best block #${st.best}, finalized #${st.finalized}`];
  if (st.tasks.length === 0) lines.push('', 'no tasks');
  for (const t of st.tasks) {
    const r = t.roundStatus;
    lines.push('');
    lines.push(`task ${t.id}: ${t.status}, round ${t.round}, phase ${t.phase} (ends at #${t.phaseEnds}), ${t.miners}/${t.spec.maxMiners} miners`);
    lines.push(`  creator ${t.creator}, budget ${formatPol(t.budget)}, ${formatPol(t.spec.rewardPerRound)} per round (validators ${formatPerbill(t.spec.validatorShare)})`);
    if (brief) continue;
    const s = t.spec;
    lines.push(`  model ${s.model} on ${s.dataset} (${s.numShards} shards, ${s.partition}); lr ${s.learningRate}, momentum ${s.momentum}, batch ${s.batchSize}, ${s.localSteps} steps, checkpoint every ${s.checkpointInterval}; ${s.segmentsPerCheck} segments checked, ${s.comparison} under ${s.profile}; aggregated by ${s.aggregation}`);
    lines.push(`  schedule: commit ${s.schedule.commitBlocks}, reveal ${s.schedule.revealBlocks}, verify ${s.schedule.verifyBlocks}, score-reveal ${s.schedule.scoreRevealBlocks}, vote-commit ${s.schedule.voteCommitBlocks}, vote-reveal ${s.schedule.voteRevealBlocks}, finalize ${s.schedule.finalizeBlocks} blocks; ${s.schedule.rounds} rounds`);
    lines.push(`  global model ${t.model.hash} (${t.model.uri}, since #${t.model.acceptedAt})`);
    if (r) {
      lines.push(`  round ${r.round}: started at #${r.startedAt}, ${r.commits} commits, ${r.reveals} reveals, seed ${short(r.seed)}${r.challengeSeed ? `, challenge seed ${short(r.challengeSeed)}` : ''}`);
      for (const { phase, block } of r.phaseEnds) {
        const left = block - st.best;
        const when = left >= 0 ? `in ${left} block${left === 1 ? '' : 's'}` : `${-left} blocks ago`;
        lines.push(`    ${phase === r.phase ? '→' : ' '} ${phase.padEnd(11)} ends at #${block} (${when})`);
      }
    }
    if (t.modelHistory.length) {
      lines.push('  model history:');
      for (const m of t.modelHistory) lines.push(`    round ${m.round}: ${m.hash} at #${m.acceptedAt} (${m.uri})`);
    } else {
      lines.push('  model history: none accepted yet');
    }
  }
  lines.push('', 'validators (by stake × trust):');
  for (const v of st.validators) {
    lines.push(`  ${v.account}  stake ${formatPol(v.stake)}, trust ${formatPerbill(v.trust)}${v.authority ? ', authority' : ''}`);
  }
  lines.push('', 'leaderboard:');
  if (st.leaderboard.length === 0) lines.push('  nobody has earned yet');
  for (const [i, e] of st.leaderboard.entries()) {
    lines.push(`  ${i + 1}. ${e.account}  ${formatPol(e.earned)}${e.role ? ` (${e.role.toLowerCase()})` : ''}`);
  }
  return lines;
}

/** JSON.stringify that writes BigInts as decimal strings. */
export function toJson(value) {
  return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

// ---------------------------------------------------------------------------------------------
// Following rounds

/** The events `status --follow` prints. */
export const FOLLOWED = {
  taskRegistry: ['TaskCreated', 'TaskFunded', 'TaskCancelling', 'TaskEnded', 'MinerJoined', 'MinerLeft',
    'RoundStarted', 'PhaseStarted', 'ChallengeSeedRecorded', 'UpdateCommitted', 'UpdateRevealed',
    'ModelProposed', 'ModelAccepted', 'RoundClosed'],
  polScoring: ['ScoresRevealed', 'EntryRefused', 'DisputeOpened', 'DisputeResolved', 'MinerScored', 'MinerNotJudged',
    'TrustUpdated'],
  polRewards: ['MinerRewarded', 'ValidatorRewarded', 'RoundRewarded', 'PaymentFailed'],
};

/** One followed event as a line of text, or `null` if it is not one (or not `task`'s). */
export function formatEvent(event, { task } = {}) {
  const names = FOLLOWED[event.section];
  if (!names || !names.includes(event.method)) return null;
  const d = event.data;
  const get = (k) => (d[k] === undefined ? undefined : d[k]);
  if (task !== undefined && get('task') !== undefined && get('task').toBigInt() !== BigInt(task)) return null;
  const t = get('task') !== undefined ? `task ${get('task')}` : '';
  const r = get('round') !== undefined ? ` round ${get('round')}` : '';
  const head = `${t}${r}`;
  switch (event.method) {
    case 'TaskCreated': return `${head}: created by ${d.creator}, budget ${formatPol(d.budget.toBigInt())}`;
    case 'TaskFunded': return `${head}: funded ${formatPol(d.amount.toBigInt())}, budget ${formatPol(d.budget.toBigInt())}`;
    case 'TaskCancelling': return `${head}: cancelling after this round`;
    case 'TaskEnded': return `${head}: ended (${d.reason.type}), refunded ${formatPol(d.refunded.toBigInt())}`;
    case 'MinerJoined': return `${head}: miner ${d.miner} joined`;
    case 'MinerLeft': return `${head}: miner ${d.miner} left`;
    case 'RoundStarted': return `${head}: started from model ${d.model.toHex()}`;
    case 'PhaseStarted': return `${head}: phase ${d.phase.type} until #${d.endsAt}`;
    case 'ChallengeSeedRecorded': return `${head}: challenge seed ${d.seed.toHex()}`;
    case 'UpdateCommitted': return `${head}: miner ${d.miner} committed`;
    case 'UpdateRevealed': return `${head}: miner ${d.miner} revealed ${d.finalModelHash.toHex()}`;
    case 'ModelProposed': return `${head}: validator ${d.validator} proposed ${d.modelHash.toHex()} with ${formatPol(d.stake.toBigInt())}`;
    case 'ModelAccepted': return `${head}: model ${d.modelHash.toHex()} accepted (${formatPol(d.stake.toBigInt())} of ${formatPol(d.revealedStake.toBigInt())} revealed stake) ${text(d.uri)}`;
    case 'RoundClosed': return `${head}: closed, ${d.model.isSome ? `model ${d.model.unwrap().toHex()}` : 'no model accepted'}, paid ${formatPol(d.paid.toBigInt())}`;
    case 'ScoresRevealed': return `${head}: validator ${d.validator} revealed ${d.entries} scores`;
    case 'DisputeOpened': return `${head}: ${d.accuser} disputes miner ${d.miner}, segment ${d.segment} (${d.kind.type === 'NotServed' ? 'not served' : 'does not replay'}; claim ${d.claims} against it)`;
    case 'EntryRefused': return `${head}: validator ${d.validator}'s entry on miner ${d.miner} refused (${d.reason.type})`;
    case 'DisputeResolved': return `${head}: dispute over miner ${d.miner}: ${d.outcome.type} (upheld ${formatPol(d.upheld.toBigInt())}, rejected ${formatPol(d.rejected.toBigInt())} of ${formatPol(d.eligibleStake.toBigInt())} eligible)${d.offenders.map(([who, amount]) => `, ${who} lost ${formatPol(amount.toBigInt())}`).join('')}`;
    case 'MinerNotJudged': return `${head}: miner ${d.miner} not judged (${formatPol(d.judgedStake.toBigInt())} of ${formatPol(d.snapshotStake.toBigInt())} snapshot stake): unpaid, not in the model`;
    case 'MinerScored': return `${head}: miner ${d.miner} consensus ${formatPerbill(d.consensus)}, ${d.passed.isTrue ? 'passed' : 'failed'}`;
    case 'TrustUpdated': return `${head}: validator ${d.validator} round trust ${formatPerbill(d.roundTrust)}, trust ${formatPerbill(d.trust)}`;
    case 'MinerRewarded': return `${head}: miner ${d.miner} rewarded ${formatPol(d.amount.toBigInt())}`;
    case 'ValidatorRewarded': return `${head}: validator ${d.validator} rewarded ${formatPol(d.amount.toBigInt())}`;
    case 'RoundRewarded': return `${head}: paid ${formatPol(d.paid.toBigInt())} of ${formatPol(d.budget.toBigInt())}, ${formatPol(d.returned.toBigInt())} back to the budget`;
    case 'PaymentFailed': return `${head}: payment of ${formatPol(d.amount.toBigInt())} to ${d.who} failed`;
    default: return `${head}: ${event.section}.${event.method} ${JSON.stringify(event.data.toHuman())}`;
  }
}

/**
 * Calls `onLine(block, line)` for each followed event of each new block (finalized blocks, or
 * best blocks with `best: true`), in block order with no block skipped. Resolves with an
 * unsubscribe function.
 */
export async function followEvents(api, onLine, { task, best = false } = {}) {
  let last = null;
  let queue = Promise.resolve();
  const show = async (number) => {
    const hash = await api.rpc.chain.getBlockHash(number);
    const events = await (await api.at(hash)).query.system.events();
    for (const { event } of events) {
      const line = formatEvent(event, { task });
      if (line) onLine(number, line);
    }
  };
  const subscribe = best ? api.rpc.chain.subscribeNewHeads : api.rpc.chain.subscribeFinalizedHeads;
  return subscribe((header) => {
    const n = header.number.toNumber();
    queue = queue.then(async () => {
      const from = last === null ? n : last + 1;
      for (let b = from; b <= n; b++) await show(b);
      if (last === null || n > last) last = n;
    }).catch((e) => onLine(n, `(could not read block #${n}: ${e.message})`));
  });
}

// ---------------------------------------------------------------------------------------------
// A task's outcome: what its rounds paid, revealed, disputed and slashed, from block events

/** The dev accounts' names by address (`//Alice`, `//Alice//stash`, …), for people. */
export async function devAccountNames() {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  const names = {};
  for (const n of ['Alice', 'Bob', 'Charlie', 'Dave', 'Eve', 'Ferdie']) {
    for (const suri of [`//${n}`, `//${n}//stash`]) names[keyring.addFromUri(suri).address] = suri;
  }
  return names;
}

/** The address of a dev SURI (`//Eve`) or of an address itself. */
export async function addressOf(who) {
  if (typeof who === 'string' && who.startsWith('//')) return (await keypair(who)).address;
  return who;
}

/**
 * The first block at which `task` exists (its `TaskCreated` block), by binary search over
 * `taskRegistry.nextTaskId` at past blocks; `null` if the head does not know it either. Needs the
 * state of old blocks (a node with `--state-pruning archive`, or blocks within its pruning window);
 * where a block's state is gone, the search starts above it.
 */
export async function findTaskCreationBlock(api, task, head) {
  const id = u64(task, 'task');
  const exists = async (n) => {
    const at = await api.at(await api.rpc.chain.getBlockHash(n));
    return (await at.query.taskRegistry.nextTaskId()).toBigInt() > id;
  };
  if (!(await exists(head))) return null;
  let lo = 0;
  let hi = head; // exists(hi)
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    let ok;
    try {
      ok = await exists(mid);
    } catch {
      lo = mid + 1; // pruned state: the answer is above what we can read
      continue;
    }
    if (ok) hi = mid;
    else lo = mid + 1;
  }
  return hi;
}

const OUTCOME_PALLETS = ['taskRegistry', 'polScoring', 'polRewards', 'polStaking'];

/**
 * What `task`'s rounds did, from the events of blocks `from`…`to` (default: from the task's
 * creation to the finalized head), and its model history from `api.call.polApi.modelHistory`:
 *
 *   { task, from, to, modelHistory: [{ round, hash, uri, acceptedAt }],
 *     rounds: { [round]: { revealed: { [miner]: finalModelHash }, minerRewards: { [acc]: units },
 *       validatorRewards: { [acc]: units }, scores: { [miner]: { consensus, passed } },
 *       disputes: [{ miner, claims: [{ accuser, segment, kind }], outcome,
 *         offenders: [{ who, slashed }] }],
 *       accepted: hash | null, closed: { model, paid } | null } },
 *     miners: { [acc]: { rewarded, revealed, rewardedRounds: [r], revealedRounds: [r] } },
 *     validators: { [acc]: { rewarded } },
 *     disputes: [{ round, miner, claims, outcome, offenders }],
 *     slashed: { [acc]: units }   (polStaking.Slashed in those blocks, any cause),
 *     failures: { [signer]: { 'pallet.Error': count } }   (failed extrinsics of these pallets) }
 *
 * Amounts are BigInts (units). Events of other tasks are left out; `polStaking.Slashed` and
 * failures carry no task, so they are everyone's in the range.
 */
export async function getTaskOutcome(api, task, { from, to, onProgress } = {}) {
  const id = u64(task, 'task');
  const finalized = (await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead())).number.toNumber();
  const last = to ?? finalized;
  let first = from;
  if (first === undefined) {
    first = await findTaskCreationBlock(api, id, last);
    if (first === null) throw new UserError(`no task ${id} on this chain at block #${last}`);
  }
  const out = {
    task: id, from: first, to: last, modelHistory: await getModelHistory(api, id),
    rounds: {}, miners: {}, validators: {}, disputes: [], slashed: {}, failures: {},
  };
  const round = (r) => {
    out.rounds[r] ??= {
      revealed: {}, minerRewards: {}, validatorRewards: {}, scores: {}, disputes: [], accepted: null, closed: null,
    };
    return out.rounds[r];
  };
  const miner = (a) => { out.miners[a] ??= { rewarded: 0n, revealed: 0, rewardedRounds: [], revealedRounds: [] }; return out.miners[a]; };
  const add = (obj, k, v) => { obj[k] = (obj[k] ?? 0n) + v; };

  const readBlock = async (n) => {
    const hash = await api.rpc.chain.getBlockHash(n);
    const events = await (await api.at(hash)).query.system.events();
    return { n, hash, events };
  };
  const BATCH = 8;
  for (let b = first; b <= last; b += BATCH) {
    const blocks = await Promise.all(
      Array.from({ length: Math.min(BATCH, last - b + 1) }, (_, i) => readBlock(b + i)),
    );
    for (const { hash, events } of blocks) {
      let body = null;
      for (const { event, phase } of events) {
        const d = event.data;
        if (event.section === 'system' && event.method === 'ExtrinsicFailed' && phase.isApplyExtrinsic) {
          const err = d.dispatchError;
          if (!err.isModule) continue;
          const meta = api.registry.findMetaError(err.asModule);
          if (!OUTCOME_PALLETS.includes(meta.section)) continue;
          body ??= await api.rpc.chain.getBlock(hash);
          const xt = body.block.extrinsics[phase.asApplyExtrinsic.toNumber()];
          const signer = xt?.isSigned ? xt.signer.toString() : 'unsigned';
          out.failures[signer] ??= {};
          const key = `${meta.section}.${meta.name}`;
          out.failures[signer][key] = (out.failures[signer][key] ?? 0) + 1;
          continue;
        }
        if (event.section === 'polStaking' && event.method === 'Slashed') {
          add(out.slashed, d.who.toString(), d.amount.toBigInt());
          continue;
        }
        if (!OUTCOME_PALLETS.includes(event.section) || d.task === undefined) continue;
        if (d.task.toBigInt() !== id || d.round === undefined) continue;
        const r = d.round.toNumber();
        switch (`${event.section}.${event.method}`) {
          case 'taskRegistry.UpdateRevealed': {
            const m = d.miner.toString();
            round(r).revealed[m] = d.finalModelHash.toHex();
            miner(m).revealed += 1;
            miner(m).revealedRounds.push(r);
            break;
          }
          case 'taskRegistry.ModelAccepted': round(r).accepted = d.modelHash.toHex(); break;
          case 'taskRegistry.RoundClosed':
            round(r).closed = { model: d.model.isSome ? d.model.unwrap().toHex() : null, paid: d.paid.toBigInt() };
            break;
          case 'polScoring.MinerScored':
            round(r).scores[d.miner.toString()] = { consensus: d.consensus.toBigInt(), passed: d.passed.isTrue };
            break;
          case 'polScoring.MinerNotJudged':
            round(r).notJudged = [...(round(r).notJudged ?? []), d.miner.toString()];
            break;
          case 'polScoring.DisputeOpened': {
            // Every claim against a miner joins the one open dispute over it.
            const m = d.miner.toString();
            const claim = { accuser: d.accuser.toString(), segment: d.segment.toNumber(), kind: d.kind.type };
            const disputes = round(r).disputes;
            const open = disputes.find((x) => x.miner === m && x.outcome === null);
            if (open) open.claims.push(claim);
            else disputes.push({ miner: m, claims: [claim], outcome: null, offenders: [] });
            break;
          }
          case 'polScoring.DisputeResolved': {
            const m = d.miner.toString();
            const resolved = {
              outcome: d.outcome.type,
              upheld: d.upheld.toBigInt(),
              rejected: d.rejected.toBigInt(),
              offenders: d.offenders.map(([who, amount]) => ({ who: who.toString(), slashed: amount.toBigInt() })),
            };
            const open = round(r).disputes.find((x) => x.miner === m && x.outcome === null);
            if (open) Object.assign(open, resolved);
            else round(r).disputes.push({ miner: m, claims: [], ...resolved });
            break;
          }
          case 'polRewards.MinerRewarded': {
            const m = d.miner.toString();
            const amount = d.amount.toBigInt();
            add(round(r).minerRewards, m, amount);
            miner(m).rewarded += amount;
            if (!miner(m).rewardedRounds.includes(r)) miner(m).rewardedRounds.push(r);
            break;
          }
          case 'polRewards.ValidatorRewarded': {
            const v = d.validator.toString();
            add(round(r).validatorRewards, v, d.amount.toBigInt());
            out.validators[v] ??= { rewarded: 0n };
            out.validators[v].rewarded += d.amount.toBigInt();
            break;
          }
          default:
        }
      }
    }
    if (onProgress) onProgress(Math.min(b + BATCH - 1, last), first, last);
  }
  for (const [r, info] of Object.entries(out.rounds)) {
    for (const dsp of info.disputes) out.disputes.push({ round: Number(r), ...dsp });
  }
  return out;
}

/** `getTaskOutcome`'s answer as lines of text, with dev accounts by name. */
export function formatOutcome(o, names = {}) {
  const who = (a) => names[a] ?? a;
  const lines = [`task ${o.task}: blocks #${o.from}…#${o.to}`];
  lines.push('model history:');
  if (o.modelHistory.length === 0) lines.push('  none accepted');
  for (const m of o.modelHistory) lines.push(`  round ${m.round}: ${m.hash} at #${m.acceptedAt}`);
  for (const [r, info] of Object.entries(o.rounds)) {
    lines.push(`round ${r}:${info.closed ? ` closed, ${info.closed.model ? `model ${info.closed.model}` : 'no model'}, paid ${formatPol(info.closed.paid)}` : ' not closed in these blocks'}`);
    const revealed = Object.keys(info.revealed);
    lines.push(`  revealed: ${revealed.length ? revealed.map(who).join(', ') : 'nobody'}`);
    for (const [m, s] of Object.entries(info.scores)) {
      lines.push(`  scored ${who(m)}: consensus ${formatPerbill(s.consensus)}, ${s.passed ? 'passed' : 'failed'}`);
    }
    for (const dsp of info.disputes) {
      const claims = dsp.claims.map((c) => `${who(c.accuser)} on segment ${c.segment}${c.kind === 'NotServed' ? ' (not served)' : ''}`);
      const slashed = dsp.offenders.map((o) => `, ${who(o.who)} slashed ${formatPol(o.slashed)}`).join('');
      lines.push(`  dispute over ${who(dsp.miner)}${claims.length ? ` by ${claims.join(', ')}` : ''}: ${dsp.outcome ?? 'open'}${slashed}`);
    }
    for (const [m, a] of Object.entries(info.minerRewards)) lines.push(`  miner ${who(m)} rewarded ${formatPol(a)}`);
    for (const [v, a] of Object.entries(info.validatorRewards)) lines.push(`  validator ${who(v)} rewarded ${formatPol(a)}`);
  }
  lines.push('miners:');
  if (Object.keys(o.miners).length === 0) lines.push('  none revealed or was rewarded');
  for (const [m, s] of Object.entries(o.miners)) {
    lines.push(`  ${who(m)}: rewarded ${formatPol(s.rewarded)} (rounds ${s.rewardedRounds.join(', ') || 'none'}), revealed in rounds ${s.revealedRounds.join(', ') || 'none'}`);
  }
  lines.push('validators:');
  if (Object.keys(o.validators).length === 0) lines.push('  none rewarded');
  for (const [v, s] of Object.entries(o.validators)) lines.push(`  ${who(v)}: rewarded ${formatPol(s.rewarded)}`);
  for (const [a, amount] of Object.entries(o.slashed)) lines.push(`slashed: ${who(a)} ${formatPol(amount)}`);
  for (const [a, errs] of Object.entries(o.failures)) {
    lines.push(`failed calls of ${who(a)}: ${Object.entries(errs).map(([e, c]) => `${e} ×${c}`).join(', ')}`);
  }
  return lines;
}

/**
 * The JSON lines of `pol-worker task watch --json` (`{"round":R,"model":"0x…"|null,
 * "accuracy":0.93|null,…}`), as { [round]: record }.
 */
export function readWatch(file) {
  let content;
  try {
    content = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read the watch file ${file}: ${e.message}`);
  }
  const rounds = {};
  for (const [i, line] of content.split('\n').entries()) {
    if (!line.trim()) continue;
    let rec;
    try {
      rec = JSON.parse(line);
    } catch {
      throw new UserError(`${file}:${i + 1} is not JSON: ${line.slice(0, 80)}`);
    }
    if (!Number.isInteger(rec?.round)) throw new UserError(`${file}:${i + 1} has no round number`);
    rounds[rec.round] = { ...rec, model: rec.model ?? null };
  }
  return rounds;
}

/** Where a watch file's models (from `readWatch`) differ from the chain's model history. */
export function compareWatch(watch, modelHistory) {
  const chain = Object.fromEntries(modelHistory.map((m) => [m.round, m.hash]));
  const out = [];
  for (const [round, { model }] of Object.entries(watch)) {
    const onChain = chain[round] ?? null;
    if (onChain !== model) out.push(`round ${round}: the watch says ${model ?? 'no model'}, the chain ${onChain ?? 'no model'}`);
  }
  return out;
}
