// The loopback TCP benchmark: every backend of capabilities().backends,
// stream.pipeline(fs.createReadStream(), socket), and a C sendfile(2) loop,
// each sender in a process of its own, into the C sink (recv(MSG_TRUNC)).
'use strict';

const path = require('node:path');
const { GB, MiB, compileC, median, run, lastJson, tail, startChild, stopChild, ratio } = require('./util');

const C_LOOP = 'C sendfile(2) loop';
const PIPELINE = 'stream.pipeline';
const WARM_UP = 16 * MiB;

/**
 * Runs `rounds` rounds; each round sends the file once with every method, the
 * order rotating by one method per round so that none always goes first.
 * Returns one row per method with its runs and medians.
 */
async function tcpBench({ file, size, rounds, backends, log }) {
  const sinkBinary = await compileC('sink');
  const loopBinary = await compileC('sendfile_loop');
  const sink = await startChild(sinkBinary, ['0'], {
    parse: (line) => {
      const m = /^port (\d+)$/.exec(line);
      if (!m) throw new Error(line);
      return Number(m[1]);
    },
  });
  const port = sink.message;

  const methods = [...backends.map((b) => ({ name: b, kind: 'zerocopy' })), { name: PIPELINE, kind: 'baseline' }, { name: C_LOOP, kind: 'limit' }];
  const warmUp = Math.min(size, WARM_UP);
  // A sender stuck for a minute beyond what 50 MB/s would need is a failure.
  const timeoutMs = 60000 + (size / 50e6) * 1000;
  const results = new Map(methods.map((m) => [m.name, { ...m, runs: [], problems: [] }]));
  try {
    for (let round = 0; round < rounds; round++) {
      const order = methods.map((_, i) => methods[(i + round) % methods.length]);
      for (const method of order) {
        const args =
          method.name === C_LOOP
            ? [loopBinary, [String(port), file, String(size), String(warmUp)]]
            : [process.execPath, [path.join(__dirname, '..', 'tcp-sender.js'), method.name === PIPELINE ? 'pipeline' : method.name, String(port), file, String(size), String(warmUp)]];
        const result = await run(args[0], args[1], { timeoutMs });
        const out = lastJson(result.stdout);
        const entry = results.get(method.name);
        let problem;
        if (result.code !== 0 || !out) problem = result.timedOut ? `timed out after ${Math.round(timeoutMs / 1000)} s` : `exit ${result.code ?? result.signal}: ${tail(result.stderr)}`;
        else if (out.bytes !== size) problem = `the sink counted ${out.bytes} of ${size} bytes`;
        if (problem) {
          entry.problems.push(problem);
          log(`  round ${round + 1} ${method.name}: FAILED ${problem}`);
          continue;
        }
        const cpu = out.user + out.system;
        const run1 = { gbps: size / GB / out.seconds, cpuPerGB: cpu / (size / GB), seconds: out.seconds, user: out.user, system: out.system };
        entry.runs.push(run1);
        log(`  round ${round + 1} ${method.name.padEnd(20)} ${run1.gbps.toFixed(2).padStart(6)} GB/s  ${run1.cpuPerGB.toFixed(3)} CPU s/GB`);
      }
    }
  } finally {
    await stopChild(sink.child);
  }

  const rows = [...results.values()].map((r) => ({
    method: r.name,
    kind: r.kind,
    gbps: median(r.runs.map((x) => x.gbps)),
    cpuPerGB: median(r.runs.map((x) => x.cpuPerGB)),
    userPerGB: median(r.runs.map((x) => x.user / (size / GB))),
    systemPerGB: median(r.runs.map((x) => x.system / (size / GB))),
    runs: r.runs,
    problems: r.problems,
    ok: r.problems.length === 0 && r.runs.length > 0,
  }));
  const pipeline = rows.find((r) => r.method === PIPELINE);
  const loop = rows.find((r) => r.method === C_LOOP);
  for (const row of rows) {
    row.gbpsVsPipeline = ratio(row.gbps, pipeline.gbps);
    row.gbpsVsC = ratio(row.gbps, loop.gbps);
    row.cpuVsPipeline = ratio(row.cpuPerGB, pipeline.cpuPerGB);
    row.cpuVsC = ratio(row.cpuPerGB, loop.cpuPerGB);
  }
  return { size, rounds, warmUp, rows };
}

module.exports = { tcpBench, C_LOOP, PIPELINE };
