// What the CLI scripts in bin/ share: options, --help, and turning errors into one clear line
// and a non-zero exit (never a stack trace for a user's mistake).
import { parseArgs } from 'node:util';
import { UserError } from './polchain.js';

/** Options every script takes. */
export const COMMON = {
  ws: { type: 'string', default: process.env.POL_WS ?? 'ws://127.0.0.1:9944' },
  help: { type: 'boolean', short: 'h', default: false },
};

/** Options of scripts that sign. */
export const SIGNING = {
  suri: { type: 'string', default: process.env.POL_SURI },
  wait: { type: 'string', default: 'finalized' },
};

export const COMMON_HELP = `  --ws URL            the node's WebSocket (default $POL_WS or ws://127.0.0.1:9944)
  -h, --help          this help`;

export const SIGNING_HELP = `  --suri SURI         the signing key: //Alice, a mnemonic, or a 0x seed (default $POL_SURI)
  --wait WHEN         inblock | finalized: when the call counts as done (default finalized)`;

/**
 * Parses `process.argv` with `options`; prints `usage` and exits 0 on --help, and exits 2 with
 * a one-line error on an unknown or malformed option.
 */
export function parseCli(options, usage) {
  let parsed;
  try {
    parsed = parseArgs({ options, allowPositionals: false, strict: true });
  } catch (e) {
    process.stderr.write(`error: ${e.message}\n\n${usage}\n`);
    process.exit(2);
  }
  if (parsed.values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const { wait } = parsed.values;
  if (wait !== undefined && wait !== 'inblock' && wait !== 'finalized') {
    process.stderr.write(`error: --wait must be inblock or finalized, got ${wait}\n`);
    process.exit(2);
  }
  return parsed.values;
}

/**
 * Runs `main` and exits: 0 when it resolves (or with the number it resolves to), 1 with
 * `error: <message>` on any error. Set POL_DEBUG=1 to see the stack of an unexpected error.
 */
export function runCli(main) {
  const fail = (e) => {
    const expected = e instanceof UserError;
    const msg = expected || !process.env.POL_DEBUG ? (e?.message ?? String(e)) : e.stack;
    process.stderr.write(`error: ${msg}\n`);
    process.exit(1);
  };
  process.on('unhandledRejection', fail);
  process.on('uncaughtException', fail);
  main().then((code) => process.exit(typeof code === 'number' ? code : 0), fail);
}
