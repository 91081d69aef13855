// How likely validators catch a forging miner (`detection` in lib/polchain.js), and whether the
// demo task meets the target. No node: these run anywhere (`node --test test/detection.test.js`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DETECTION_TARGET, UserError, buildTaskSpec, detection, formatDetection, missChance,
} from '../lib/polchain.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const demo = JSON.parse(readFileSync(join(root, 'tasks', 'digits-demo.json'), 'utf8'));

/** The demo's segment settings, as `detection` takes them. */
const demoSegments = () => ({ ...demo.hyperparameters, segmentsPerCheck: demo.verification.segmentsPerCheck });

/** Every `size`-element subset of `items`. */
function* subsets(items, size, start = 0, chosen = []) {
  if (chosen.length === size) {
    yield chosen;
    return;
  }
  for (let i = start; i <= items.length - (size - chosen.length); i++) {
    yield* subsets(items, size, i + 1, [...chosen, items[i]]);
  }
}

test('detection gives the numbers of pol-worker\'s attack::predicted', () => {
  const big = detection({ localSteps: 10000, checkpointInterval: 50, segmentsPerCheck: 8 });
  assert.equal(big.segments, 200);
  assert.equal(big.checked, 8);
  assert.equal(big.forged, 50);
  assert.equal(big.replayFraction, 0.04);
  assert.equal(big.caughtBy1.toFixed(4), '0.8728');
  assert.equal(big.caughtByK.toFixed(6), '0.997941');

  const ten = detection({ localSteps: 200, checkpointInterval: 20, segmentsPerCheck: 3 });
  assert.deepEqual([ten.segments, ten.checked, ten.forged], [10, 3, 3], 'a = ⌈0.25·10⌉ = 3');
  assert.equal(ten.caughtByK.toFixed(6), '0.927662');
  assert.equal(ten.caughtBy1, 1 - (6 / 9) * (5 / 8), 'C(6, 2) / C(9, 2) missed');

  const four = detection({ localSteps: 40, checkpointInterval: 10, segmentsPerCheck: 2 });
  assert.deepEqual([four.segments, four.checked, four.forged], [4, 2, 1]);
  assert.equal(four.caughtByK.toFixed(6), '0.703704');
  assert.equal(four.replayFraction, 0.5);

  // Other fractions and validator counts; decimal strings as in a task file.
  const one = detection({ localSteps: '10000', checkpointInterval: '50', segmentsPerCheck: '8' }, { fraction: 0.1, validators: 1 });
  assert.equal(one.forged, 20);
  assert.equal(one.caughtByK, one.caughtBy1, 'one validator');
  assert.equal(one.meetsTarget, true, 'the target is judged at its own f and k');
  assert.equal(detection({ localSteps: 300, checkpointInterval: 10, segmentsPerCheck: 2 }, { fraction: 0.1 }).forged, 3,
    '⌈0.1·30⌉ is 3, though 0.1·30 is 3.0000000000000004 in floating point');
  assert.equal(detection({ localSteps: 40, checkpointInterval: 10, segmentsPerCheck: 1 }).caughtByK, 0,
    'Q = 1 replays the last segment only: a forgery elsewhere is never caught');
  assert.equal(detection({ localSteps: 40, checkpointInterval: 10, segmentsPerCheck: 4 }).caughtBy1, 1,
    'Q = n replays everything');
  assert.equal(detection({ localSteps: 10, checkpointInterval: 10, segmentsPerCheck: 1 }).caughtBy1, 0, 'n = 1: nothing to forge but the last');
});

test('the formula is the exact share of challenge sets that miss the forgery (every n ≤ 12, Q, a)', () => {
  let cases = 0;
  for (let n = 1; n <= 12; n++) {
    const others = Array.from({ length: n - 1 }, (_, i) => i + 1); // segments 1..n−1
    for (let q = 1; q <= n; q++) {
      const m = Math.min(q - 1, n - 1);
      for (let a = 0; a <= n - 1; a++) {
        // Any a of the segments 1..n−1: the draw is uniform, so which ones does not matter;
        // take them spread out (every other one first) rather than 1..a.
        const forged = new Set([...others.filter((s) => s % 2 === 1), ...others.filter((s) => s % 2 === 0)].slice(0, a));
        let total = 0;
        let missed = 0;
        for (const challenged of subsets(others, m)) {
          total += 1;
          if (!challenged.some((s) => forged.has(s))) missed += 1;
        }
        const exact = missed / total;
        assert.ok(Math.abs(missChance(n, q, a) - exact) < 1e-12, `n=${n} Q=${q} a=${a}: ${missChance(n, q, a)} ≠ ${missed}/${total}`);
        if (n >= 2) {
          // detection() forges ⌈f·n⌉ = a at f = a/n, and raises the miss to the k-th power.
          const d = detection({ localSteps: n * 7, checkpointInterval: 7, segmentsPerCheck: q }, { fraction: a / n, validators: 3 });
          assert.equal(d.forged, a);
          assert.ok(Math.abs(d.caughtBy1 - (1 - exact)) < 1e-12, `n=${n} Q=${q} a=${a}: P₁`);
          assert.ok(Math.abs(d.caughtByK - (1 - exact ** 3)) < 1e-12, `n=${n} Q=${q} a=${a}: P₃`);
        }
        cases += 1;
      }
    }
  }
  assert.equal(cases, 650, 'every (n, Q, a) with a ≤ n − 1');
});

test('detection refuses a run that is not a whole number of segments, or Q > n', () => {
  const refused = (spec, pattern) => assert.throws(() => detection(spec), (e) => e instanceof UserError && pattern.test(e.message));
  refused({ localSteps: 100, checkpointInterval: 30, segmentsPerCheck: 2 }, /localSteps must be a positive multiple of hyperparameters\.checkpointInterval/);
  refused({ localSteps: 100, checkpointInterval: 0, segmentsPerCheck: 1 }, /positive multiple/);
  refused({ localSteps: 0, checkpointInterval: 10, segmentsPerCheck: 1 }, /positive multiple/);
  refused({ localSteps: 100, checkpointInterval: 10, segmentsPerCheck: 11 }, /segmentsPerCheck must be 1 to the number of segments \(100 \/ 10 = 10\), got 11/);
  refused({ localSteps: 100, checkpointInterval: 10, segmentsPerCheck: 0 }, /segmentsPerCheck must be 1 to/);
  refused({ localSteps: 100, checkpointInterval: 10 }, /segmentsPerCheck must be a whole number/);
  refused({ localSteps: -5, checkpointInterval: 10, segmentsPerCheck: 1 }, /localSteps must be a whole number/);
  const spec = { localSteps: 100, checkpointInterval: 10, segmentsPerCheck: 2 };
  assert.throws(() => detection(spec, { fraction: 1.5 }), /forged fraction must be a number from 0 to 1/);
  assert.throws(() => detection(spec, { validators: 0 }), /number of validators must be a whole number of at least 1/);
});

test('digits-demo.json meets the target: 99% by 3 validators at f = 25%, replaying at most 5%', () => {
  const d = detection(demoSegments());
  assert.deepEqual([d.segments, d.checked], [400, 8]);
  assert.ok(d.caughtByK >= DETECTION_TARGET.caught, `P₃ = ${d.caughtByK}`);
  assert.ok(d.replayFraction <= DETECTION_TARGET.replay, `Q/n = ${d.replayFraction}`);
  assert.equal(d.meetsTarget, true);
  // The same numbers from the spec create-task submits.
  const spec = buildTaskSpec(demo);
  assert.equal(spec.hyperparameters.learningRate, 400_000n, 'FixedU64 0.0004');
  assert.deepEqual(detection({ ...spec.hyperparameters, segmentsPerCheck: spec.verification.segmentsPerCheck }), d);
});

test('the summary warns below the target, and not for the demo', () => {
  const ten = formatDetection(detection({ localSteps: 200, checkpointInterval: 20, segmentsPerCheck: 3 }));
  assert.deepEqual(ten, [
    'detection: a miner forging 25% of its 10 segments (3) is caught with 58.33% by 1 validator, 92.77% by 3; '
      + 'each validator replays 3 of 10 segments (30.0% of the training)',
    'warning: below the target (99% by 3 validators at f = 25%, replay ≤ 5%)',
  ]);
  assert.deepEqual(formatDetection(detection(demoSegments())), [
    'detection: a miner forging 25% of its 400 segments (100) is caught with 86.96% by 1 validator, 99.78% by 3; '
      + 'each validator replays 8 of 400 segments (2.0% of the training)',
  ]);
  // Detection alone is not enough: 64 of 200 replayed catches nearly everything, at 32% of the cost.
  const costly = formatDetection(detection({ localSteps: 10000, checkpointInterval: 50, segmentsPerCheck: 64 }));
  assert.match(costly[0], /32\.0% of the training/);
  assert.match(costly[1], /^warning: below the target/);
  // And cheap is not enough either: 1 of 200 replayed never sees a forgery before the last.
  const cheap = formatDetection(detection({ localSteps: 10000, checkpointInterval: 50, segmentsPerCheck: 1 }));
  assert.match(cheap[0], /caught with 0\.00% by 1 validator, 0\.00% by 3/);
  assert.equal(cheap.length, 2);
  // No chance is shown as a certain 100% unless it is one (P₁ = 1 − 1.8·10⁻⁵, P₃ = 1 − 6·10⁻¹⁵).
  const nearly = formatDetection(detection({ localSteps: 10000, checkpointInterval: 50, segmentsPerCheck: 35 }));
  assert.match(nearly[0], /caught with >99\.99% by 1 validator, >99\.99% by 3/);
  assert.match(formatDetection(detection({ localSteps: 10000, checkpointInterval: 50, segmentsPerCheck: 8 }, { validators: 1 }))[0],
    /by 1 validator; each/, 'no second figure for one validator');
});

/** Runs bin/create-task.js with `args` (no node needed for what fails before connecting). */
function createTask(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'create-task.js'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, POL_WS: '', POL_SURI: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('create-task refuses segment settings detection cannot judge, before connecting', async () => {
  const ws = 'ws://127.0.0.1:1';
  for (const [set, pattern] of [
    ['hyperparameters.checkpointInterval=30', /^error: hyperparameters\.localSteps must be a positive multiple/],
    ['verification.segmentsPerCheck=401', /^error: verification\.segmentsPerCheck must be 1 to the number of segments \(10000 \/ 25 = 400\), got 401/],
  ]) {
    const r = await createTask(['--ws', ws, '--suri', '//Charlie', '--set', set]);
    assert.equal(r.code, 1, JSON.stringify(r));
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.stdout, '');
  }
  // Help says what goes to stderr.
  const help = await createTask(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /prints to stderr how likely a miner forging 25% of its segments is caught/);
});
