// Runs the script of a page `nyx report` wrote against a small stand-in for the DOM and for
// Chart.js, and prints what it drew as JSON: each chart (canvas id, type, labels, datasets)
// and each table (its header and rows as text). Used by report.sh; needs only node.
'use strict';
const fs = require('fs');
const html = fs.readFileSync(process.argv[2], 'utf8');
const data = html.match(/<script type="application\/json" id="nyx-data">([\s\S]*?)<\/script>/)[1];
const scripts = [...html.matchAll(/<script>\n([\s\S]*?)\n?<\/script>/g)].map(m => m[1]);
const page = scripts[scripts.length - 1]; // the last: the page's own, after Chart.js

function element(id) {
  const el = {
    id, innerHTML: '', textContent: id === 'nyx-data' ? data : '', className: '', children: [],
    classList: { contains: c => el.className.split(' ').includes(c) },
    tBodies: [], rows: [],
    appendChild(c) { el.children.push(c); return c; },
    removeChild(c) { el.tBodies = el.tBodies.filter(b => b !== c); },
    createTHead() { el.tHead = rowsOf(); return el.tHead; },
    createTBody() { const b = rowsOf(); el.tBodies.push(b); return b; },
    setAttribute(k, v) { el[k] = v; },
  };
  return el;
}
function rowsOf() {
  const section = { rows: [] };
  section.insertRow = () => {
    const row = { cells: [] };
    row.insertCell = () => { const c = { textContent: '' }; row.cells.push(c); return c; };
    row.appendChild = c => { row.cells.push(c); return c; };
    section.rows.push(row);
    return row;
  };
  return section;
}
const elements = {};
global.document = {
  getElementById: id => (elements[id] = elements[id] || element(id)),
  createElement: () => ({ textContent: '', className: '' }),
  body: element('body'),
};
const charts = [];
global.Chart = function (canvas, config) { charts.push({ canvas: canvas.id, config }); };
global.Chart.defaults = {};
new Function(page)();
const tables = {};
for (const [id, el] of Object.entries(elements)) {
  if (!el.tHead) continue;
  tables[id] = {
    head: el.tHead.rows[0].cells.map(c => c.textContent),
    rows: el.tBodies[0].rows.map(r => r.cells.map(c => c.textContent)),
  };
}
console.log(JSON.stringify({
  drawn: document.body['data-drawn'] === '1',
  charts: charts.map(c => ({ canvas: c.canvas, type: c.config.type, labels: c.config.data.labels,
                             datasets: c.config.data.datasets.map(d => ({ label: d.label, data: d.data })) })),
  tables,
}));
