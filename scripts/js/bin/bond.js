#!/usr/bin/env node
// Bonds stake as a miner or validator, and/or sets the account's artifact endpoint.
import { COMMON, SIGNING, COMMON_HELP, SIGNING_HELP, parseCli, runCli } from '../lib/cli.js';
import { bond, checkBondArgs, connect, formatPol, keypair, toJson } from '../lib/polchain.js';

const USAGE = `usage: node scripts/js/bin/bond.js --suri SURI --role miner|validator --amount POL [--endpoint URL]
       node scripts/js/bin/bond.js --suri SURI --endpoint URL

Bonds AMOUNT POL of the signer's free balance as ROLE (polStaking.bond; at least 100 POL for a
miner, 1,000 POL for a validator), then sets the endpoint where its worker serves artifacts
(polStaking.setEndpoint, http:// or https://). --endpoint alone updates a bonded account's.

  --role ROLE         miner | validator
  --amount POL        how much to bond
  --endpoint URL      the artifact endpoint, e.g. http://203.0.113.7:8700
  --json              print the result as JSON
${SIGNING_HELP}
${COMMON_HELP}`;

const opts = parseCli({
  ...COMMON,
  ...SIGNING,
  role: { type: 'string' },
  amount: { type: 'string' },
  endpoint: { type: 'string' },
  json: { type: 'boolean', default: false },
}, USAGE);

runCli(async () => {
  checkBondArgs({ role: opts.role, amount: opts.amount, endpoint: opts.endpoint });
  const signer = await keypair(opts.suri);
  const api = await connect(opts.ws);
  try {
    const out = await bond(api, signer, { role: opts.role, amount: opts.amount, endpoint: opts.endpoint }, { waitFor: opts.wait });
    if (opts.json) process.stdout.write(`${toJson({ account: signer.address, ...out })}\n`);
    else {
      if (out.bonded) process.stdout.write(`${signer.address} bonded ${formatPol(out.bonded.amount)} as ${out.bonded.role.toLowerCase()}\n`);
      if (out.endpoint) process.stdout.write(`${signer.address} serves artifacts at ${out.endpoint}\n`);
    }
  } finally {
    await api.disconnect();
  }
});
