#!/usr/bin/env node
// Creates a polchain task from a JSON task file and/or flags; prints the new task's id.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMON, SIGNING, COMMON_HELP, SIGNING_HELP, parseCli, runCli } from '../lib/cli.js';
import {
  UserError, buildTaskSpec, connect, createTask, detection, formatDetection, formatPol, keypair, toJson,
} from '../lib/polchain.js';

const DEMO = join(dirname(fileURLToPath(import.meta.url)), '..', 'tasks', 'digits-demo.json');

const USAGE = `usage: node scripts/js/bin/create-task.js --suri SURI [--file task.json] [options]

Creates a task (taskRegistry.createTask) and holds its budget from the signer; prints the task
id from the TaskRegistry.TaskCreated event. The spec comes from --file (default: the digits demo,
scripts/js/tasks/digits-demo.json; buildTaskSpec in lib/polchain.js lists every key), then the flags.
Before submitting it prints to stderr how likely a miner forging 25% of its segments is caught
by 1 and by 3 validators and what share of the training each replays, with a warning when the
spec misses the target (99% by 3 validators, replay at most 5%).

  --file PATH              JSON task config
  --budget POL             budget held from the signer (overrides "budget")
  --reward POL             reward per round (overrides "rewardPerRound")
  --validator-share PCT    validators' share of each round's reward, in percent
  --max-miners N           the most miners that may join
  --rounds N               rounds the task runs
  --phase-blocks N         blocks of every phase (commit, reveal, verify, score-reveal, vote-commit,
                           vote-reveal, finalize)
  --model SPEC             model, e.g. mlp:64-32-10 (needs --initial-model-hash and -uri)
  --initial-model-hash H   model hash of W₀
  --initial-model-uri URI  where W₀ is served
  --set KEY=VALUE          any key of the config by its path, e.g. --set schedule.commitBlocks=20
                           or --set dataset.partition=dirichlet --set dataset.alpha=0.5 (repeatable)
  --json                   print the result as JSON
${SIGNING_HELP}
${COMMON_HELP}`;

const opts = parseCli({
  ...COMMON,
  ...SIGNING,
  file: { type: 'string' },
  budget: { type: 'string' },
  reward: { type: 'string' },
  'validator-share': { type: 'string' },
  'max-miners': { type: 'string' },
  rounds: { type: 'string' },
  'phase-blocks': { type: 'string' },
  model: { type: 'string' },
  'initial-model-hash': { type: 'string' },
  'initial-model-uri': { type: 'string' },
  set: { type: 'string', multiple: true, default: [] },
  json: { type: 'boolean', default: false },
}, USAGE);

/** The config: the file's, then the flags. */
function loadConfig() {
  const file = opts.file ?? DEMO;
  let config;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`cannot read the task file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  const int = (v, what) => {
    if (!/^\d+$/.test(v)) throw new UserError(`${what} must be a whole number, got ${v}`);
    return Number(v);
  };
  if (opts.model !== undefined) {
    if (opts['initial-model-hash'] === undefined || opts['initial-model-uri'] === undefined) {
      throw new UserError('--model needs --initial-model-hash and --initial-model-uri (W₀ of that model)');
    }
    config.model = opts.model;
  }
  if (opts['initial-model-hash'] !== undefined || opts['initial-model-uri'] !== undefined) {
    config.initialModel = { ...config.initialModel };
    if (opts['initial-model-hash'] !== undefined) config.initialModel.hash = opts['initial-model-hash'];
    if (opts['initial-model-uri'] !== undefined) config.initialModel.uri = opts['initial-model-uri'];
  }
  if (opts.budget !== undefined) config.budget = opts.budget;
  if (opts.reward !== undefined) config.rewardPerRound = opts.reward;
  if (opts['validator-share'] !== undefined) config.validatorSharePercent = opts['validator-share'];
  if (opts['max-miners'] !== undefined) config.maxMiners = int(opts['max-miners'], '--max-miners');
  config.schedule = { ...config.schedule };
  if (opts.rounds !== undefined) config.schedule.rounds = int(opts.rounds, '--rounds');
  if (opts['phase-blocks'] !== undefined) {
    const n = int(opts['phase-blocks'], '--phase-blocks');
    for (const k of ['commitBlocks', 'revealBlocks', 'verifyBlocks', 'scoreRevealBlocks', 'voteCommitBlocks',
      'voteRevealBlocks', 'finalizeBlocks']) {
      config.schedule[k] = n;
    }
  }
  for (const assignment of opts.set) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new UserError(`--set wants KEY=VALUE, got ${assignment}`);
    const path = assignment.slice(0, eq).split('.');
    const raw = assignment.slice(eq + 1);
    let value;
    try { value = JSON.parse(raw); } catch { value = raw; }
    let obj = config;
    for (const key of path.slice(0, -1)) {
      if (obj[key] === undefined) obj[key] = {};
      if (typeof obj[key] !== 'object' || obj[key] === null) throw new UserError(`--set ${assignment}: ${key} is not an object`);
      obj = obj[key];
    }
    obj[path[path.length - 1]] = value;
  }
  if (config.budget === undefined) throw new UserError('no budget: give --budget POL or "budget" in the task file');
  return config;
}

runCli(async () => {
  const config = loadConfig();
  const spec = buildTaskSpec(config);
  // Refuses a run that is not a whole number of segments, or Q > n, before connecting.
  const caught = detection({ ...spec.hyperparameters, segmentsPerCheck: spec.verification.segmentsPerCheck });
  const signer = await keypair(opts.suri);
  const api = await connect(opts.ws);
  try {
    // On stderr, so that --json's stdout stays one JSON object.
    process.stderr.write(`${formatDetection(caught).join('\n')}\n`);
    const created = await createTask(api, signer, spec, config.budget, { waitFor: opts.wait });
    if (opts.json) process.stdout.write(`${toJson(created)}\n`);
    else {
      process.stdout.write(`task ${created.task} created by ${created.creator} with a budget of ${formatPol(created.budget)} (block ${created.blockHash})\n`);
    }
  } finally {
    await api.disconnect();
  }
});
