// The results as one SVG chart: a Vega-Lite spec, compiled to Vega and
// rendered headless with view.toSVG() (no canvas needed for SVG).
'use strict';

const { formatBytes, num, byLoad } = require('./util');

const COLORS = { zerocopy: '#1f77b4', baseline: '#ff7f0e', limit: '#2ca02c', ceiling: '#9467bd', peer: '#7f7f7f' };
const KIND_LABELS = { zerocopy: 'zerocopy', baseline: 'Node streams', limit: 'kernel limit (C)', ceiling: 'Node from memory', peer: 'other servers' };

function panel(title, rows) {
  const values = rows.map((r) => ({
    name: r.name,
    value: Number.isFinite(r.value) ? r.value : 0,
    label: Number.isFinite(r.value) ? `${num(r.value)}${r.suffix ?? ''}` : r.note ?? 'n/a',
    kind: KIND_LABELS[r.kind] ?? r.kind,
  }));
  return {
    title: { text: title, anchor: 'start', fontSize: 13 },
    data: { values },
    width: 520,
    height: { step: 18 },
    encoding: {
      y: { field: 'name', type: 'nominal', sort: null, title: null, axis: { labelLimit: 200 } },
      x: { field: 'value', type: 'quantitative', title: null },
    },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          color: {
            field: 'kind',
            type: 'nominal',
            scale: { domain: Object.values(KIND_LABELS), range: Object.keys(KIND_LABELS).map((k) => COLORS[k]) },
            legend: { title: null, orient: 'top' },
          },
        },
      },
      { mark: { type: 'text', align: 'left', dx: 3, fontSize: 10 }, encoding: { text: { field: 'label' } } },
    ],
  };
}

function chartSpec(results) {
  const { machine, date } = results;
  const panels = [];
  if (results.tcp) {
    const rows = results.tcp.rows.map((r) => ({ ...r, name: r.kind === 'zerocopy' ? `sendFile ${r.method}` : r.method }));
    const note = (r) => (r.ok ? undefined : 'failed');
    panels.push(panel(`TCP over loopback, ${formatBytes(results.tcp.size)} file: GB/s (more is better)`, rows.map((r) => ({ ...r, value: r.gbps, note: note(r) }))));
    panels.push(panel('TCP over loopback: sender CPU seconds per GB (less is better)', rows.map((r) => ({ ...r, value: r.cpuPerGB, note: note(r) }))));
  }
  // One panel per file and load of each HTTP scenario: req/s for small files, GB/s for large ones.
  const loadPanels = (scenario, title, load) => {
    for (const rows of byLoad(scenario.rows)) {
      const large = rows[0].size >= scenario.large;
      const note = (r) => (r.skipped ? 'skipped' : r.failed ? 'failed' : undefined);
      // Beside each bar, its ratio to Node answering from memory (the ceiling), where there is one.
      const suffix = (r) => (Number.isFinite(r.rpsVsMemory) && r.kind !== 'ceiling' ? `  (${r.rpsVsMemory.toFixed(2)}x memory)` : undefined);
      panels.push(
        panel(
          `${title}, ${formatBytes(rows[0].size)} file${load(rows[0], large)}: ${large ? 'GB/s' : 'requests/s'} (more is better)`,
          rows.map((r) => ({ name: r.server, kind: r.kind, value: large ? r.gbps : r.rps, note: note(r), suffix: suffix(r) })),
        ),
      );
    }
  };
  if (results.http) loadPanels(results.http, 'HTTP', (r, large) => (large ? '' : `, ${r.connections} connections`));
  if (results.https?.rows) loadPanels(results.https, 'HTTPS', (r) => `, ${r.connections} connections`);
  if (results.h2?.rows) loadPanels(results.h2, 'HTTP/2 over TLS', (r) => `, ${r.connections} connections x ${r.streams} streams`);
  if (results.syscalls?.rows) {
    const { file, requests } = results.syscalls;
    panels.push(
      panel(
        `System calls per ${formatBytes(file.size)} response, strace -c over ${requests} requests (less is better)`,
        results.syscalls.rows.map((r) => ({ name: r.server, kind: r.kind, value: r.perResponse, note: r.skipped ? 'skipped' : r.failed ? 'failed' : undefined })),
      ),
    );
  }
  if (results.parked?.rows) {
    const p = results.parked;
    const rows = p.rows.filter((r) => r.parked !== p.baseline);
    const note = (r) => (r.skipped ? 'skipped' : r.failed ? 'failed' : undefined);
    panels.push(
      panel(
        `${formatBytes(p.measured.size)} responses with N clients parked: GB/s vs none parked, same server (more is better)`,
        rows.map((r) => ({ name: `${r.server}, ${r.parked} parked`, kind: r.kind, value: r.vsNone, note: note(r), suffix: 'x' })),
      ),
    );
    panels.push(
      panel(
        'Server memory per parked transfer: KiB of RSS (less is better)',
        rows.map((r) => ({ name: `${r.server}, ${r.parked} parked`, kind: r.kind, value: r.rssPerParked / 1024, note: note(r) })),
      ),
    );
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'zerocopy benchmark',
      subtitle: [
        `${machine.cores} x ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.os} ${machine.arch}, Node ${machine.node}`,
        `${date.slice(0, 10)}; ${results.options.rounds === 1 ? 'one round' : `medians of ${results.options.rounds} rounds`}; everything over loopback, every process on this one machine`,
      ],
      anchor: 'start',
      fontSize: 16,
    },
    vconcat: panels,
    spacing: 22,
    config: { view: { stroke: null }, font: 'sans-serif', axis: { labelFontSize: 11 }, axisY: { minExtent: 140 } },
    background: 'white',
    padding: 12,
  };
}

async function renderChart(results) {
  const vl = await import('vega-lite');
  const vega = await import('vega');
  const spec = chartSpec(results);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

module.exports = { renderChart, chartSpec };
