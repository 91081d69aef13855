#!/usr/bin/env node
// What a task's rounds did: its global-model history (api.call.polApi.modelHistory) and, from
// the events of the blocks since the task was created, who revealed, who was paid, the disputes
// and their slashes, and the failed calls of each signer. With --watch, also compares the model
// history with the JSON lines of `pol-worker task watch --json`.
import { COMMON, COMMON_HELP, parseCli, runCli } from '../lib/cli.js';
import {
  UserError, compareWatch, connect, devAccountNames, formatOutcome, getTaskOutcome, readWatch, toJson,
  u32, u64,
} from '../lib/polchain.js';

const USAGE = `usage: node scripts/js/bin/outcome.js --task ID [--watch FILE] [--json] [options]

Prints task ID's model history and, per round, the miners that revealed, the consensus scores,
the disputes (claims, outcome, offenders slashed), the miner and validator rewards, and per account
the totals, slashes and failed calls (TaskRegistry, PolScoring, PolRewards, PolStaking errors).
Blocks are scanned from the task's creation (found by binary search, which needs the state of
old blocks: a node with --state-pruning archive, or a recent task) to the finalized head.

  --task ID           the task (required)
  --from N, --to N    scan blocks N… / …N instead (default: the task's creation … finalized head)
  --watch FILE        the JSON lines of \`pol-worker task watch --json\`: each round's model
                      there must be the one in the chain's model history (exit 1 otherwise)
  --json              print the outcome as JSON
${COMMON_HELP}`;

const opts = parseCli({
  ...COMMON,
  task: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  watch: { type: 'string' },
  json: { type: 'boolean', default: false },
}, USAGE);

runCli(async () => {
  if (opts.task === undefined) throw new UserError('--task is required');
  const task = u64(opts.task, '--task');
  const block = (v, what) => (v === undefined ? undefined : u32(v, what));
  const from = block(opts.from, '--from');
  const to = block(opts.to, '--to');
  const watch = opts.watch === undefined ? null : readWatch(opts.watch);
  const api = await connect(opts.ws);
  const outcome = await getTaskOutcome(api, task, { from, to });
  await api.disconnect();

  const mismatches = watch ? compareWatch(watch, outcome.modelHistory) : [];
  if (opts.json) {
    process.stdout.write(`${toJson({ ...outcome, ...(watch ? { watch, mismatches } : {}) })}\n`);
  } else {
    const lines = formatOutcome(outcome, await devAccountNames());
    if (watch) {
      lines.push(mismatches.length
        ? `the watch and the chain disagree:\n  ${mismatches.join('\n  ')}`
        : `the watch's ${Object.keys(watch).length} rounds match the chain's model history`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return mismatches.length ? 1 : 0;
});
