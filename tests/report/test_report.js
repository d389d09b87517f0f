'use strict';
/* test_report.js NODE_MODULES: `tracemalloc report` as a user meets it (run by run.sh).

   First the command: its pages from dumps and from a database are the same bytes, its errors
   are one clear line, the data cannot break out of its <script> element. Then each page in
   headless Debian chromium (playwright-core drives /usr/bin/chromium; no browser download):
   any console error, page error or request for anything but the file itself fails the test;
   the chart and the flame graphs must be drawn, with sane sizes, and answer clicks, search,
   the mode switch and hovering. The differential page's screenshot goes to build/report.png
   (the README shows it). Prints "ok NAME" / "FAIL NAME: why", then "N passed, N failed". */
const fs = require('fs');
const os = require('os');
const path = require('path');
const {spawnSync} = require('child_process');
const {pathToFileURL} = require('url');

const root = path.resolve(__dirname, '..', '..');
const tool = path.join(root, 'build', 'tracemalloc');
const work = path.join(root, 'build', 'report', 'test');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) passed++; else failed++;
  console.log((ok ? 'ok   ' : 'FAIL ') + name + (ok || detail === undefined ? '' : ': ' + detail));
}

function run(args) {
  return spawnSync(tool, args, {cwd: work, encoding: 'utf8'});
}

function read(name) {
  return fs.readFileSync(path.join(work, name), 'utf8');
}

/* ---- the command ------------------------------------------------------------------------ */

function commandChecks(expected) {
  for (const [args, name] of [[['new.tmd', 'old.tmd', '-o', 'diff.html'], 'diff.html'],
                              [['new.tmd', '--output=new.html'], 'new.html'],
                              [['-o', 'v1.html', 'v1.tmd'], 'v1.html']]) {
    const r = run(['report', ...args]);
    check('report ' + args.join(' ') + ' succeeds silently', r.status === 0 && r.stdout === '' && r.stderr === '',
          'status ' + r.status + ', stderr ' + JSON.stringify(r.stderr));
    check(name + ' is tens of KB', fs.existsSync(path.join(work, name)) &&
          fs.statSync(path.join(work, name)).size < 100 * 1024);
  }
  const page = read('diff.html');
  check('the data cannot close its <script> element',
        page.split('</script>').length - 1 === 2 && !page.includes(expected.evil),
        'found ' + (page.split('</script>').length - 1) + ' </script>');
  check('the page names no other resource', !/\b(src|href)\s*=|url\(|@import/i.test(page));
  check('the page forbids every request', page.includes("content=\"default-src 'none';"));

  const stdout = run(['report', 'new.tmd', 'old.tmd', '-o', '-']);
  check('-o - writes the page to stdout', stdout.status === 0 && stdout.stdout === page);

  fs.rmSync(path.join(work, 'runs.db'), {force: true});
  const load = run(['load', 'runs.db', 'new.tmd', 'old.tmd']);
  const fromDb = run(['report', 'runs.db', '--snapshot', 'after', '--old', 'before', '-o', 'db.html']);
  check('a database gives the page its dumps give', load.status === 0 && fromDb.status === 0 &&
        read('db.html') === page, fromDb.stderr);

  fs.writeFileSync(path.join(work, 'broken.tmd'), fs.readFileSync(path.join(work, 'new.tmd')).subarray(0, 1000));
  const errors = [
    [['new.tmd'], /^tracemalloc: report: missing -o FILE\.html\nsee 'tracemalloc report --help'\n$/],
    [['-o', 'x.html'], /^tracemalloc: report: missing SRC\n/],
    [['missing.tmd', '-o', 'x.html'], /^tracemalloc: missing\.tmd: .+\n$/],
    [['broken.tmd', '-o', 'x.html'], /^tracemalloc: broken\.tmd: .+\n$/],
    [['new.tmd', '-o', 'x.html', '--snapshot', '1'], /--snapshot and --old need a database/],
    [['runs.db', 'old.tmd', '-o', 'x.html'], /runs\.db is a database/],
    [['runs.db', '--snapshot', 'nope', '-o', 'x.html'], /^tracemalloc: runs\.db: no snapshot 'nope'\n$/],
    [['new.tmd', '--top', '0', '-o', 'x.html'], /--top must be an integer >= 1/],
    [['new.tmd', '--bogus', '-o', 'x.html'], /unknown option --bogus/],
    [['new.tmd', '-o', 'no/such/dir/x.html'], /^tracemalloc: no\/such\/dir\/x\.html: cannot write: /],
  ];
  for (const [args, pattern] of errors) {
    const r = run(['report', ...args]);
    check('report ' + args.join(' ') + ' fails clearly', r.status === 1 && pattern.test(r.stderr) &&
          !fs.existsSync(path.join(work, 'x.html')), 'status ' + r.status + ', stderr ' + JSON.stringify(r.stderr));
  }
  check('no temporary file is left behind', !fs.readdirSync(work).some((f) => f.includes('.tmp.')));
  const help = run(['report', '--help']);
  check('report --help tells the usage', help.status === 0 && help.stdout.startsWith('usage: tracemalloc report'));
}

/* ---- the pages -------------------------------------------------------------------------- */

async function open(context, name, problems) {
  const page = await context.newPage();
  const url = pathToFileURL(path.join(work, name)).href;
  page.on('console', (m) => { if (m.type() === 'error') problems.push(name + ': console error: ' + m.text()); });
  page.on('pageerror', (e) => problems.push(name + ': page error: ' + e.message));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', {timeout: 10000});
  return page;
}

/* Every drawn frame of a flame graph: its class, label, fill and box on screen. */
function frames(page, graph) {
  return page.$$eval(graph + ' svg g.frame', (gs) => gs.map((g) => {
    const rect = g.querySelector('rect'), box = rect.getBoundingClientRect();
    return {cls: g.getAttribute('class'), name: g.getAttribute('data-frame') || '', fill: getComputedStyle(rect).fill,
            x: box.x, y: box.y, w: box.width, h: box.height};
  }));
}

function svgBox(page, graph) {
  return page.$eval(graph + ' svg', (s) => { const b = s.getBoundingClientRect(); return {x: b.x, w: b.width}; });
}

/* Each frame within the span of a frame one row up, and no two frames of a row overlapping. */
function nested(list) {
  const within = (f, p) => f.x >= p.x - 0.01 && f.x + f.w <= p.x + p.w + 0.01;
  const row = (f, p) => Math.abs(p.y - f.y) < 0.5;
  return list.every((f) => !f.name || list.some((p) => Math.abs(p.y + 18 - f.y) < 0.5 && within(f, p))) &&
    list.every((f) => list.every((g) => f === g || !row(f, g) || f.x + f.w <= g.x + 0.01 || g.x + g.w <= f.x + 0.01));
}

function frameNamed(list, prefix) {
  return list.find((f) => f.name.startsWith(prefix));
}

function rgb(fill) {
  return (fill.match(/\d+/g) || []).map(Number);
}

async function chartChecks(page, expected) {
  const chart = await page.evaluate(() => {
    const svg = document.querySelector('#chart svg.chart');
    if (!svg) return null;
    const box = svg.getBoundingClientRect();
    /* M x,y then H x V y per sample: a step per sample */
    const d = svg.querySelector('path.series.traced').getAttribute('d');
    const points = [d.match(/^M(-?[\d.]+),(-?[\d.]+)/).slice(1).map(Number)]
      .concat([...d.matchAll(/H(-?[\d.]+)V(-?[\d.]+)/g)].map((m) => [+m[1], +m[2]]));
    const top = points.reduce((a, p) => (p[1] < a[1] ? p : a));
    const circle = svg.querySelector('.peak-mark circle');
    return {w: box.width, h: box.height, points: points.length, rss: !!svg.querySelector('path.series.rss'),
            cx: +circle.getAttribute('cx'), cy: +circle.getAttribute('cy'), top,
            label: svg.querySelector('.peak-mark text').textContent};
  });
  check('the chart is drawn', chart && chart.w > 600 && chart.h >= 200, JSON.stringify(chart));
  if (!chart) return;
  check('the chart draws every sample of traced memory, and RSS', chart.points === expected.samples && chart.rss,
        chart.points + ' points');
  check('the peak is marked at the highest sample', Math.abs(chart.cx - chart.top[0]) < 2 &&
        Math.abs(chart.cy - chart.top[1]) < 2, JSON.stringify(chart));
  check('the peak is labelled with its size and time', chart.label === 'peak 10.3 MiB at 1.2 s', chart.label);
  const box = await page.$eval('#chart svg.chart', (s) => { const b = s.getBoundingClientRect(); return b; });
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const tip = await page.$eval('#tip', (t) => (t.hidden ? '' : t.textContent));
  check('hovering the chart shows the sample', /^at .*traced: [\d,]+ B/.test(tip) && tip.includes('RSS: '), tip);
  await page.mouse.move(0, 0);
}

async function flameChecks(page) {
  const graph = '#flamegraph';
  const all = await frames(page, graph), box = await svgBox(page, graph);
  check('the flame graph is drawn', all.length >= 10, all.length + ' frames');
  const rootFrame = all.find((f) => !f.name);
  check('its root spans the graph', rootFrame && Math.abs(rootFrame.w - box.w) < 1 && Math.abs(rootFrame.h - 17) < 0.5,
        JSON.stringify(rootFrame) + ' in ' + JSON.stringify(box));
  check('every frame lies inside the graph', all.every((f) => f.x >= box.x - 0.5 && f.x + f.w <= box.x + box.w + 0.5 &&
        f.w > 0 && f.h > 16));
  check('every frame lies under its caller', nested(all) &&
        frameNamed(all, 'parse_file ').x >= frameNamed(all, 'run app.c:15').x - 0.01);
  const cache = frameNamed(all, 'cache_put '), strings = frameNamed(all, 'str_dup ');
  check('widths follow bytes', cache && strings && Math.abs(cache.w / box.w - 4194304 / 4500800) < 0.01,
        JSON.stringify(cache));

  await page.hover(graph + ' g.frame[data-frame^="cache_put "]');
  let tip = await page.$eval('#tip', (t) => (t.hidden ? '' : t.textContent));
  check('the tooltip gives exact bytes and counts', tip.includes('size: 4,194,304 B (4096 KiB)') &&
        tip.includes('blocks: 64') && tip.includes('at: cache.c:20'), tip);

  await page.click(graph + ' g.frame[data-frame^="parse_file "]');
  let zoomed = await frames(page, graph);
  const parse = frameNamed(zoomed, 'parse_file ');
  check('clicking a frame zooms to it', parse && Math.abs(parse.w - box.w) < 1 && !frameNamed(zoomed, 'cache_put ') &&
        zoomed.filter((f) => f.cls.includes('ancestor')).length === 3, JSON.stringify(parse));
  await page.click(graph + ' button.reset');
  zoomed = await frames(page, graph);
  check('reset zoom shows everything again', zoomed.length === all.length);

  await page.fill(graph + ' input[type="search"]', 'cache_put');
  let matches = await frames(page, graph);
  let matched = await page.$eval(graph + ' .matched', (e) => e.textContent);
  const hit = matches.filter((f) => f.cls.includes('match'));
  check('search highlights the matching frames', hit.length === 1 && hit[0].name.startsWith('cache_put ') &&
        hit[0].fill !== cache.fill && matched === 'matched 4096 KiB (93.2%) in 1 frame', matched);
  await page.fill(graph + ' input[type="search"]', 'str_dup|load_config');
  matches = await frames(page, graph);
  check('search takes a regular expression', matches.filter((f) => f.cls.includes('match')).length === 2);
  await page.fill(graph + ' input[type="search"]', '');
  matches = await frames(page, graph);
  check('an empty search highlights nothing', !matches.some((f) => f.cls.includes('match')));

  const title = () => page.$eval('#flame-title', (e) => e.textContent);
  const pressed = () => page.$eval(graph + ' button[aria-pressed="true"]', (e) => e.getAttribute('data-mode'));
  await page.click(graph + ' button[data-mode="peak"]');
  const peak = await frames(page, graph);
  check('"at peak" shows what was live at the peak', await pressed() === 'peak' &&
        frameNamed(peak, 'read_chunk ') && !frameNamed(peak, 'cache_put ') &&
        (await title()) === 'Memory live at the peak (10.3 MiB at 1.2 s)', await title());
  await tableMatches(page, ['stats', 'new.tmd', '--at-peak', '--top', '20'], 'at the peak');
  await page.click(graph + ' button[data-mode="allocated"]');
  const allocated = await frames(page, graph);
  check('"allocated" shows every allocation since start', await pressed() === 'allocated' &&
        frameNamed(allocated, 'read_chunk ') && frameNamed(allocated, 'cache_put '));
  await tableMatches(page, ['stats', 'new.tmd', '--allocated', '--top', '20'], 'of allocations');
  await page.hover(graph + ' g.frame[data-frame^="str_dup "]');
  tip = await page.$eval('#tip', (t) => (t.hidden ? '' : t.textContent));
  check('the allocated tooltip counts temporaries', tip.includes('allocations: 20,000') &&
        tip.includes('temporary: 15,000'), tip);
  await page.click(graph + ' button[data-mode="now"]');
  const now = await frames(page, graph);
  check('"now" comes back', await pressed() === 'now' && now.length === all.length);
}

async function diffChecks(page) {
  const visible = await page.$eval('#diff', (e) => !e.hidden);
  const all = await frames(page, '#diffgraph'), box = visible ? await svgBox(page, '#diffgraph') : null;
  const grew = all.filter((f) => f.cls.includes('grew')), shrank = all.filter((f) => f.cls.includes('shrank'));
  check('the differential graph is drawn', visible && all.length >= 10, all.length + ' frames');
  check('growth is red', grew.length > 0 && grew.every((f) => { const c = rgb(f.fill); return c[0] === 255 && c[1] === c[2] && c[1] < 255; }) &&
        frameNamed(grew, 'cache_put '), JSON.stringify(grew.map((f) => f.name + ' ' + f.fill)));
  check('shrinkage is blue', shrank.length > 0 && shrank.every((f) => { const c = rgb(f.fill); return c[2] === 255 && c[0] === c[1] && c[0] < 255; }) &&
        frameNamed(shrank, 'str_dup '), JSON.stringify(shrank.map((f) => f.name + ' ' + f.fill)));
  check('every differential frame lies under its caller', nested(all));
  const net = frameNamed(all, 'recv_buffer ');
  check('what was freed stays visible', net && net.cls.includes('shrank') && net.w > 20, JSON.stringify(net));
  const rootFrame = all.find((f) => !f.name);
  check('the differential root spans the graph', rootFrame && box && Math.abs(rootFrame.w - box.w) < 1);
  await page.hover('#diffgraph g.frame[data-frame^="cache_put "]');
  const tip = await page.$eval('#tip', (t) => (t.hidden ? '' : t.textContent));
  check('the differential tooltip gives both sizes', tip.includes('before: 1,048,576 B (1024 KiB) in 16 blocks') &&
        tip.includes('after: 4,194,304 B (4096 KiB) in 64 blocks') && tip.includes('change: +3,145,728 B (+3072 KiB), +48 blocks'), tip);
  await page.click('#diffgraph g.frame[data-frame^="parse_file "]');
  const zoomed = await frames(page, '#diffgraph');
  check('the differential graph zooms too', Math.abs(frameNamed(zoomed, 'parse_file ').w - box.w) < 1);
  await page.click('#diffgraph button.reset');
  await page.mouse.move(0, 0);
}

/* The top table, read back as the lines `stats` (or `compare`) prints, must be what the
   command prints (args), in the same order. */
async function tableMatches(page, args, what) {
  const table = await page.evaluate(() => ({
    head: [...document.querySelectorAll('#toptable thead th')].map((th) => th.textContent),
    rows: [...document.querySelectorAll('#toptable tbody tr')].map((tr) => [...tr.cells].map((td) => td.textContent)),
  }));
  const at = (name, nth) => table.head.indexOf(name, nth ? table.head.indexOf(name) + 1 : 0);
  const plain = (text) => text.replace(/,/g, '');
  const lines = table.rows.map((r) => {
    const compare = at('change') >= 0;
    let line = r[at('line')] + ': size=' + r[at('size')] + (compare ? ' (' + r[at('change')] + ')' : '') +
      ', count=' + plain(r[at('count')]) + (compare ? ' (' + plain(r[at('change', 1)]) + ')' : '');
    if (r[at('average')]) line += ', average=' + r[at('average')];
    if (at('temporary') >= 0) line += ', temporaries=' + plain(r[at('temporary')]);
    return line;
  });
  const cli = run(args).stdout.trimEnd().split('\n');
  check('the top table ' + what + ' is what `tracemalloc ' + args.join(' ') + '` prints',
        lines.join('\n') === cli.join('\n'), '\n' + lines.join('\n') + '\nvs\n' + cli.join('\n'));
  return table;
}

async function tableChecks(page, expected, compare) {
  const table = await tableMatches(page, compare ? ['compare', 'old.tmd', 'new.tmd', '--top', '20']
                                                 : ['stats', 'new.tmd', '--top', '20'], 'now');
  const sites = table.rows.map((r) => r[table.head.indexOf('line')]);
  check('file names are shown as text', sites.includes(expected.evil + ':1') && sites.includes('caf\ufffd.c:3'),
        JSON.stringify(sites));
  const safe = await page.evaluate(() => window.__evil === undefined && document.scripts.length === 2);
  check('no file name runs as script', safe);
}

async function main() {
  fs.rmSync(work, {recursive: true, force: true});
  const made = spawnSync('python3', [path.join(__dirname, 'make_dumps.py'), work], {encoding: 'utf8'});
  if (made.status !== 0) {
    check('make_dumps.py', false, made.stderr);
    return;
  }
  const expected = JSON.parse(read('expected.json'));
  commandChecks(expected);

  const {chromium} = require(path.join(process.argv[2], 'playwright-core'));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tracemalloc-report-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS,
    viewport: {width: 1280, height: 900}, timeout: 30000,
  });
  context.setDefaultTimeout(5000);
  const problems = [], files = new Set(['diff.html', 'new.html', 'v1.html'].map((n) => pathToFileURL(path.join(work, n)).href));
  context.on('request', (r) => { if (!files.has(r.url())) problems.push('request: ' + r.url()); });
  try {
    let page = await open(context, 'diff.html', problems);
    await chartChecks(page, expected);
    await flameChecks(page);
    await diffChecks(page);
    await tableChecks(page, expected, true);
    await page.screenshot({path: path.join(root, 'build', 'report.png'), fullPage: true});
    check('the screenshot is saved', fs.statSync(path.join(root, 'build', 'report.png')).size > 10000);

    page = await open(context, 'new.html', problems);
    check('without OLD there is no differential graph', await page.$eval('#diff', (e) => e.hidden) &&
          (await frames(page, '#flamegraph')).length >= 10);
    await tableChecks(page, expected, false);

    page = await open(context, 'v1.html', problems);
    const v1 = await page.evaluate(() => ({
      chart: (document.querySelector('#chart .empty') || {}).textContent || '',
      svg: !!document.querySelector('#chart svg'),
      disabled: [...document.querySelectorAll('#flamegraph button[data-mode]')].filter((b) => b.disabled)
        .map((b) => b.getAttribute('data-mode')),
    }));
    check('a version-1 dump says it has no timeline', !v1.svg && v1.chart.startsWith('no timeline in this dump'), v1.chart);
    check('a version-1 dump has no peak or totals to switch to', v1.disabled.join() === 'peak,allocated', v1.disabled.join());
    check('a version-1 dump still has its flame graph', (await frames(page, '#flamegraph')).length >= 10);
  } finally {
    await context.close();
    fs.rmSync(profile, {recursive: true, force: true});
  }
  check('no console error, page error or network request', problems.length === 0, problems.join('; '));
}

main().catch((e) => check('the browser test ran', false, e.stack || String(e)))
  .finally(() => {
    console.log(passed + ' passed, ' + failed + ' failed');
    process.exitCode = failed ? 1 : 0;
  });
