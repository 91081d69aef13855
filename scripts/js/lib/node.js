// Starting polchain nodes from JavaScript, for the end-to-end tests.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiPromise, WsProvider } from '@polkadot/api';

const here = dirname(fileURLToPath(import.meta.url));

/** The polchain-node binary: $POL_NODE_BIN, else the release build under $CARGO_TARGET_DIR. */
export function nodeBinary() {
  if (process.env.POL_NODE_BIN) return process.env.POL_NODE_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? resolve(here, '../../../target');
  return join(target, 'release', 'polchain-node');
}

/** A TCP port that nobody listens on right now. */
export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/**
 * Starts `polchain-node` with `args` on fresh ports and connects @polkadot/api to it.
 * Returns { api, provider (for raw RPC calls), rpcPort, p2pPort, log, tail, stop }.
 */
export async function startNode(name, args, { timeoutMs = 240_000 } = {}) {
  const rpcPort = await freePort();
  const p2pPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `polchain-js-${name}-`));
  const log = join(dir, 'node.log');
  const out = createWriteStream(log);
  const child = spawn(nodeBinary(), [
    ...args,
    '--tmp', '--rpc-port', String(rpcPort),
    '--no-prometheus', '--no-telemetry', '--no-mdns',
    '--listen-addr', `/ip4/127.0.0.1/tcp/${p2pPort}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.pipe(out);
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });

  const tail = () => readFileSync(log, 'utf8').split('\n').slice(-40).join('\n');
  const deadline = Date.now() + timeoutMs;
  let api;
  let provider;
  while (!api) {
    if (exited) throw new Error(`${name} exited (${JSON.stringify(exited)}):\n${tail()}`);
    if (Date.now() > deadline) throw new Error(`${name}: no RPC on port ${rpcPort}:\n${tail()}`);
    provider = new WsProvider(`ws://127.0.0.1:${rpcPort}`, false);
    try {
      await provider.connect();
      await new Promise((ok, fail) => {
        const t = setTimeout(() => fail(new Error('connect timeout')), 2000);
        provider.on('connected', () => { clearTimeout(t); ok(); });
        provider.on('error', () => { clearTimeout(t); fail(new Error('ws error')); });
      });
      api = await ApiPromise.create({ provider, throwOnConnect: true, noInitWarn: true });
    } catch {
      await provider.disconnect().catch(() => {});
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  const stop = async () => {
    await api.disconnect().catch(() => {});
    if (!exited) {
      child.kill('SIGTERM');
      await new Promise((r) => { if (exited) r(); else child.on('exit', r); });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { api, provider, rpcPort, p2pPort, log, tail, stop };
}

/**
 * Signs and submits `tx`, resolving once its block is finalized with
 * { blockHash, events, dispatchError } (dispatchError is null on success).
 */
export function submitFinalized(api, tx, signer, { timeoutMs = 180_000 } = {}) {
  return new Promise((ok, fail) => {
    let unsub = null;
    const timer = setTimeout(() => {
      if (unsub) unsub();
      fail(new Error(`transaction not finalized in ${timeoutMs} ms`));
    }, timeoutMs);
    tx.signAndSend(signer, ({ status, events, dispatchError }) => {
      if (status.isInvalid || status.isDropped || status.isUsurped) {
        clearTimeout(timer);
        if (unsub) unsub();
        fail(new Error(`transaction ${status.type}`));
      } else if (status.isFinalized) {
        clearTimeout(timer);
        if (unsub) unsub();
        ok({ blockHash: status.asFinalized, events, dispatchError: dispatchError ?? null });
      }
    }).then((u) => { unsub = u; }, (e) => { clearTimeout(timer); fail(e); });
  });
}

/** `{ section, name }` of a dispatch error: a pallet's own error, or a token/arithmetic one. */
export function describeDispatchError(api, dispatchError) {
  if (dispatchError.isModule) {
    const meta = api.registry.findMetaError(dispatchError.asModule);
    return { section: meta.section, name: meta.name };
  }
  if (dispatchError.isToken) return { section: 'token', name: dispatchError.asToken.type };
  if (dispatchError.isArithmetic) return { section: 'arithmetic', name: dispatchError.asArithmetic.type };
  return { section: 'dispatch', name: dispatchError.type };
}

/** Polls `check` (async, truthy when done) once a second until it passes or `timeoutMs` ends. */
export async function waitFor(what, check, { timeoutMs = 300_000, intervalMs = 1000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Alice's fixed libp2p key and peer id, so other local nodes can name her as boot node. */
export const ALICE_NODE_KEY = '0000000000000000000000000000000000000000000000000000000000000001';
export const ALICE_PEER_ID = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp';

/**
 * Starts a `local_testnet` of the given dev authorities on loopback (the first, with Alice's
 * node key, is every other's boot node). Returns the started nodes, in order.
 */
export async function startLocalTestnet(names, extraArgs = {}) {
  const nodes = [];
  try {
    for (const [i, name] of names.entries()) {
      const args = ['--chain', 'local', `--${name}`, ...(extraArgs[name] ?? [])];
      // A validator of a live chain must be given its network key (it will not invent one).
      if (i === 0) args.push('--node-key', ALICE_NODE_KEY);
      else {
        args.push('--node-key', (i + 1).toString(16).padStart(64, '0'));
        args.push('--bootnodes', `/ip4/127.0.0.1/tcp/${nodes[0].p2pPort}/p2p/${ALICE_PEER_ID}`);
      }
      nodes.push(await startNode(name, args));
    }
  } catch (e) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw e;
  }
  return nodes;
}
