// Opens a page `nyx report` wrote in headless Chromium, as a browser shows it, and prints what
// it found as JSON: for each chart's canvas its size, the pixels drawn and how many of the
// chart's data elements (bars, points) show their dataset's colour there; the totals table's
// text; every request the page made; script errors. With a PNG path it also writes a
// screenshot of the page from its heading to the end of the charts.
// Usage: node report_browser.js CHROMIUM REPORT.html [SHOT.png]
// Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: fd 3 in,
// fd 4 out, messages ending in NUL), so no port is opened; names resolve to nothing, so a page
// that tried to fetch anything would fail and show it.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [chromium, page, shot] = process.argv.slice(2);
if (!chromium || !page) {
  console.error('usage: node report_browser.js CHROMIUM REPORT.html [SHOT.png]');
  process.exit(2);
}
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'nyx-chromium-'));
const args = ['--headless', '--disable-gpu', '--no-first-run', '--no-default-browser-check',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-extensions', '--disable-dev-shm-usage', '--mute-audio', '--hide-scrollbars', '--font-render-hinting=none',
  '--host-resolver-rules=MAP * ~NOTFOUND', '--remote-debugging-pipe', `--user-data-dir=${profile}`];
if (process.getuid && process.getuid() === 0) args.push('--no-sandbox'); // root has no sandbox
args.push('about:blank');
const browser = spawn(chromium, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
let stderr = '';
browser.stderr.on('data', d => { stderr = (stderr + d).slice(-4000); });

const timer = setTimeout(() => finish(new Error('Chromium did not finish within 40 s')), 40000);
let done = false;
// Ends once Chromium has exited (its profile is removed only then), killing it if it lingers.
function finish(err, result) {
  if (done) return;
  done = true;
  clearTimeout(timer);
  const end = () => {
    fs.rmSync(profile, { recursive: true, force: true });
    if (err) {
      console.error(`report_browser: ${err.message}\n${stderr}`);
      process.exit(1);
    }
    console.log(JSON.stringify(result));
    process.exit(0);
  };
  if (browser.exitCode !== null || browser.signalCode !== null) return end();
  browser.once('exit', end);
  if (err) browser.kill('SIGKILL');
  else setTimeout(() => browser.kill('SIGKILL'), 5000).unref();
}
browser.on('error', e => finish(e));
browser.on('exit', code => finish(new Error(`Chromium exited (${code})`)));

// The protocol: each command has an id; its answer carries the id; events carry a method.
const out = browser.stdio[3], input = browser.stdio[4];
let next = 1, buffered = '';
const waiting = new Map(), listeners = [];
input.on('data', chunk => {
  buffered += chunk.toString('utf8');
  let end;
  while ((end = buffered.indexOf('\0')) >= 0) {
    const msg = JSON.parse(buffered.slice(0, end));
    buffered = buffered.slice(end + 1);
    if (msg.id && waiting.has(msg.id)) {
      const { resolve, reject, method } = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) reject(new Error(`${method}: ${msg.error.message}`)); else resolve(msg.result);
    } else if (msg.method) {
      listeners.forEach(l => l(msg));
    }
  }
});
function send(method, params = {}, sessionId) {
  const id = next++;
  out.write(JSON.stringify({ id, method, params, sessionId }) + '\0');
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject, method }));
}
function once(method) {
  return new Promise(resolve => {
    const l = msg => {
      if (msg.method === method) { listeners.splice(listeners.indexOf(l), 1); resolve(msg.params); }
    };
    listeners.push(l);
  });
}

// Runs in the page: every canvas's pixels, and the chart Chart.js drew there.
function inspect() {
  const hex = c => {
    const m = /^#([0-9a-f]{6})$/i.exec(c || '');
    return m ? [0, 2, 4].map(i => parseInt(m[1].slice(i, i + 2), 16)) : null;
  };
  const canvases = [...document.querySelectorAll('canvas')].map(canvas => {
    const w = canvas.width, h = canvas.height;
    const px = canvas.getContext('2d').getImageData(0, 0, w, h).data;
    let painted = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) painted++;
    const chart = Chart.getChart(canvas);
    let elements = 0, matched = 0;
    if (chart) {
      const ratio = chart.currentDevicePixelRatio || 1;
      chart.data.datasets.forEach((set, i) => {
        const want = hex(set.backgroundColor);
        if (!want) return; // a dataset drawn as a line only (the floor)
        chart.getDatasetMeta(i).data.forEach(el => {
          const p = el.getProps(['x', 'y', 'base'], true);
          if (typeof p.x !== 'number' || typeof p.y !== 'number') return;
          // a bar's middle, or a point's centre
          const y = typeof p.base === 'number' && Math.abs(p.base - p.y) >= 4 ? (p.y + p.base) / 2 : p.y;
          if (typeof p.base === 'number' && Math.abs(p.base - p.y) < 4) return; // too thin to see
          elements++;
          const at = (Math.round(y * ratio) * w + Math.round(p.x * ratio)) * 4;
          if (want.every((v, k) => Math.abs(px[at + k] - v) <= 8) && px[at + 3] > 200) matched++;
        });
      });
    }
    return { id: canvas.id, width: w, height: h, painted, chart: !!chart, type: chart && chart.config.type,
             elements, matched };
  });
  const table = document.getElementById('totals');
  const cells = row => [...row.cells].map(c => c.textContent);
  const grid = document.querySelector('.grid').getBoundingClientRect();
  return {
    drawn: document.body.getAttribute('data-drawn') === '1',
    canvases,
    totals: table && table.rows.length > 1 ? { head: cells(table.rows[0]), row: cells(table.rows[1]) } : null,
    bottom: Math.ceil(grid.bottom + window.scrollY),
    width: Math.ceil(document.documentElement.scrollWidth),
  };
}

(async () => {
  await send('Browser.getVersion');
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  const requests = [], errors = [];
  listeners.push(msg => {
    if (msg.sessionId !== sessionId) return;
    if (msg.method === 'Network.requestWillBeSent') requests.push(msg.params.request.url);
    if (msg.method === 'Runtime.exceptionThrown') errors.push(msg.params.exceptionDetails.exception
      ? msg.params.exceptionDetails.exception.description : msg.params.exceptionDetails.text);
    if (msg.method === 'Log.entryAdded' && msg.params.entry.level === 'error') errors.push(msg.params.entry.text);
  });
  for (const domain of ['Page', 'Network', 'Runtime', 'Log']) await send(`${domain}.enable`, {}, sessionId);
  await send('Emulation.setDeviceMetricsOverride', { width: 1200, height: 1000, deviceScaleFactor: 1, mobile: false },
    sessionId);
  const loaded = once('Page.loadEventFired');
  const nav = await send('Page.navigate', { url: 'file://' + path.resolve(page) }, sessionId);
  if (nav.errorText) throw new Error(`cannot open ${page}: ${nav.errorText}`);
  await loaded;
  const r = await send('Runtime.evaluate', { expression: `(${inspect})()`, returnByValue: true }, sessionId);
  if (r.exceptionDetails) throw new Error(`inspecting the page: ${JSON.stringify(r.exceptionDetails)}`);
  const found = r.result.value;
  if (shot) {
    const clip = { x: 0, y: 0, width: Math.min(found.width, 1200), height: found.bottom + 16, scale: 1 };
    const png = await send('Page.captureScreenshot', { format: 'png', clip, captureBeyondViewport: true }, sessionId);
    fs.writeFileSync(shot, Buffer.from(png.data, 'base64'));
  }
  send('Browser.close').catch(() => {});
  finish(null, { ...found, requests, errors });
})().catch(e => finish(e));
