#!/usr/bin/env node
// Shows tasks, their rounds and model history, the validators and the leaderboard, all through
// the runtime API PolApi; with --follow, prints each round transition as it happens.
import { COMMON, COMMON_HELP, parseCli, runCli } from '../lib/cli.js';
import {
  UserError, connect, followEvents, formatStatus, getStatus, toJson,
} from '../lib/polchain.js';

const USAGE = `usage: node scripts/js/bin/status.js [--task ID] [--follow] [options]

Prints, through api.call.polApi.*: the task (or every task), its current round with each phase's
last block, its global-model history, the validators with stake and trust, and the leaderboard.
With --follow it then prints the round events of every new finalized block (RoundStarted,
PhaseStarted, ModelAccepted, RoundClosed, MinerScored, DisputeResolved, *Rewarded, …) until
Ctrl-C.

  --task ID           one task (default: all, briefly)
  --limit N           leaderboard entries (default 10)
  --follow            then follow events until Ctrl-C
  --best              with --follow: best blocks instead of finalized ones (sooner, may reorg)
  --json              print the status as JSON (and events as JSON lines with --follow)
${COMMON_HELP}`;

const opts = parseCli({
  ...COMMON,
  task: { type: 'string' },
  limit: { type: 'string', default: '10' },
  follow: { type: 'boolean', default: false },
  best: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
}, USAGE);

runCli(async () => {
  if (opts.task !== undefined && !/^\d+$/.test(opts.task)) throw new UserError(`--task must be a task id (a whole number), got ${opts.task}`);
  if (!/^\d+$/.test(opts.limit)) throw new UserError(`--limit must be a whole number, got ${opts.limit}`);
  const api = await connect(opts.ws);
  const task = opts.task === undefined ? undefined : BigInt(opts.task);
  const status = await getStatus(api, { task, limit: Number(opts.limit) });
  if (opts.json) process.stdout.write(`${toJson(status)}\n`);
  else process.stdout.write(`${formatStatus(status, { brief: task === undefined && status.tasks.length > 1 }).join('\n')}\n`);
  if (!opts.follow) {
    await api.disconnect();
    return 0;
  }

  process.stdout.write(opts.json ? '' : `\nfollowing ${opts.best ? 'best' : 'finalized'} blocks${task === undefined ? '' : ` for task ${task}`} (Ctrl-C to stop)\n`);
  const unsub = await followEvents(api, (block, line) => {
    process.stdout.write(opts.json ? `${JSON.stringify({ block, event: line })}\n` : `#${block} ${line}\n`);
  }, { task, best: opts.best });
  return new Promise((resolve, reject) => {
    let stopping = false;
    const stop = () => {
      stopping = true;
      unsub();
      api.disconnect().finally(() => resolve(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    api.on('disconnected', () => {
      if (!stopping) reject(new UserError(`lost the connection to ${opts.ws}`));
    });
  });
});
