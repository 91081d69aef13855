#!/usr/bin/env node
// Adds to a task's budget (only its creator may).
import { COMMON, SIGNING, COMMON_HELP, SIGNING_HELP, parseCli, runCli } from '../lib/cli.js';
import { UserError, connect, formatPol, fundTask, keypair, parsePol, toJson } from '../lib/polchain.js';

const USAGE = `usage: node scripts/js/bin/fund-task.js --suri SURI --task ID --amount POL

Adds AMOUNT POL of the signer's free balance to the budget of task ID (taskRegistry.fundTask);
only the task's creator may, while it runs. Prints the new budget (TaskRegistry.TaskFunded).

  --task ID           the task
  --amount POL        how much to add
  --json              print the result as JSON
${SIGNING_HELP}
${COMMON_HELP}`;

const opts = parseCli({
  ...COMMON,
  ...SIGNING,
  task: { type: 'string' },
  amount: { type: 'string' },
  json: { type: 'boolean', default: false },
}, USAGE);

runCli(async () => {
  if (opts.task === undefined) throw new UserError('--task is required');
  if (opts.amount === undefined) throw new UserError('--amount is required');
  if (!/^\d+$/.test(opts.task)) throw new UserError(`--task must be a task id (a whole number), got ${opts.task}`);
  parsePol(opts.amount, '--amount');
  const signer = await keypair(opts.suri);
  const api = await connect(opts.ws);
  try {
    const funded = await fundTask(api, signer, opts.task, opts.amount, { waitFor: opts.wait });
    if (opts.json) process.stdout.write(`${toJson(funded)}\n`);
    else process.stdout.write(`task ${funded.task} funded with ${formatPol(funded.amount)}: budget ${formatPol(funded.budget)}\n`);
  } finally {
    await api.disconnect();
  }
});
