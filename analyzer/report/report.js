/* report.js - draws `tracemalloc report`'s page from the JSON in #report-data (analyzer/report.c
   writes it; the field names are its SQL's). Vanilla JS and SVG, no library: the page must work
   offline from one file and stay small (see report.c). Data never goes through innerHTML: every
   file and function name reaches the page as text (textContent, setAttribute).

   The flame graphs are icicles: the root ("all") at the top, each traceback's oldest frame
   under it and its allocation site (the most recent frame) last, each box as wide as the
   memory of the tracebacks that pass through it. */
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('report-data').textContent);
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var ROW = 18; /* px per flame graph row */

  /* ---- small helpers ------------------------------------------------------------------- */

  function svg(name, attributes, parent) {
    var element = document.createElementNS(SVG_NS, name);
    for (var key in attributes) element.setAttribute(key, attributes[key]);
    if (parent) parent.appendChild(element);
    return element;
  }

  function html(name, attributes, parent, text) {
    var element = document.createElement(name);
    for (var key in attributes) element.setAttribute(key, attributes[key]);
    if (text !== undefined && text !== null) element.textContent = String(text);
    if (parent) parent.appendChild(element);
    return element;
  }

  /* x.toFixed(digits) with Python's rounding: an exact tie goes to the even digit. */
  function fixed(x, digits) {
    var scale = Math.pow(10, digits), scaled = Math.abs(x) * scale, floor = Math.floor(scaled);
    var n = scaled - floor === 0.5 ? (floor % 2 === 0 ? floor : floor + 1) : Math.round(scaled);
    return (x < 0 && n !== 0 ? '-' : '') + (n / scale).toFixed(digits);
  }

  /* Python's tracemalloc._format_size(size, sign): "1.5 KiB", "+12 B", as `stats` prints. */
  function formatSize(size, sign) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    for (var i = 0; i < units.length; i++) {
      var digits = -1;
      if (Math.abs(size) < 100 && i > 0) digits = 1;
      else if (Math.abs(size) < 10 * 1024 || i === 4) digits = 0;
      if (digits >= 0) {
        var text = fixed(size, digits);
        return (sign && text.charAt(0) !== '-' ? '+' : '') + text + ' ' + units[i];
      }
      size /= 1024;
    }
  }

  /* 1234567 -> "1,234,567" (exact: sizes stay below 2^53). */
  function grouped(n) {
    var text = String(Math.abs(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return (n < 0 ? '-' : '') + text;
  }

  function bytes(n, sign) {
    var exact = (sign && n > 0 ? '+' : '') + grouped(n) + ' B';
    return Math.abs(n) < 1024 ? exact : exact + ' (' + formatSize(n, sign) + ')';
  }

  function percent(part, whole) {
    return whole ? fixed(100 * part / whole, 1) + '%' : '-';
  }

  /* A duration in ns, in the unit that suits it. */
  function duration(ns) {
    var units = [[1e9, 's'], [1e6, 'ms'], [1e3, '\u00b5s'], [1, 'ns']];
    for (var i = 0; i < units.length; i++)
      if (Math.abs(ns) >= units[i][0] || i === 3)
        return +(ns / units[i][0]).toPrecision(4) + ' ' + units[i][1];
  }

  function hash(text) { /* FNV-1a, for stable colours */
    var h = 2166136261;
    for (var i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 16777619);
    }
    return h >>> 0;
  }

  /* ---- the tooltip --------------------------------------------------------------------- */

  var tip = document.getElementById('tip');

  /* lines: [[label, value], ...] or strings; the first line is the title. */
  function showTip(event, title, lines) {
    tip.textContent = '';
    html('b', {}, tip, title);
    lines.forEach(function (line) {
      var row = html('div', {}, tip);
      if (typeof line === 'string') { row.textContent = line; row.className = 'dim'; return; }
      html('span', {class: 'dim'}, row, line[0] + ': ');
      html('span', {}, row, line[1]);
    });
    tip.hidden = false;
    var x = event.clientX + 14, y = event.clientY + 14;
    var box = tip.getBoundingClientRect();
    if (x + box.width > window.innerWidth - 4) x = Math.max(4, event.clientX - box.width - 14);
    if (y + box.height > window.innerHeight - 4) y = Math.max(4, event.clientY - box.height - 14);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }

  function hideTip() { tip.hidden = true; }

  /* ---- the data ------------------------------------------------------------------------ */

  var snapshot = data.snapshot, meta = snapshot.meta;
  var frames = new Map();
  data.frames.forEach(function (row) {
    var file = row[1], line = row[2], fn = row[3];
    /* line 0: no debug information, the file is module+0xoffset */
    var where = line ? file + ':' + line : file;
    var base = file.slice(file.lastIndexOf('/') + 1) + (line ? ':' + line : '');
    frames.set(row[0], {
      key: file + '\u0000' + line, /* Python's identity of a frame: (filename, lineno) */
      where: where, fn: fn,
      label: fn ? fn + ' ' + base : where,
      text: fn ? fn + ' ' + where : where
    });
  });
  var tracebacks = new Map(); /* id -> frames, oldest first */
  data.tracebacks.forEach(function (row) {
    tracebacks.set(row[0], row.slice(1).reverse().map(function (id) { return frames.get(id); }));
  });

  function newNode(frame, parent) {
    return {frame: frame, parent: parent, children: [], byKey: new Map(), depth: parent ? parent.depth + 1 : 0,
            size: 0, count: 0, temporaries: 0, self: 0, old: 0, oldCount: 0, oldSelf: 0,
            value: 0, x: 0};
  }

  /* Adds groups rows [traceback, count, size(, temporaries)] along each traceback's path. */
  function addGroups(root, rows, old) {
    rows.forEach(function (row) {
      var path = tracebacks.get(row[0]) || [], node = root;
      var count = row[1], size = row[2], temporaries = row[3] || 0;
      for (var i = -1; i < path.length; i++) {
        if (i >= 0) {
          var child = node.byKey.get(path[i].key);
          if (!child) {
            child = newNode(path[i], node);
            node.byKey.set(path[i].key, child);
            node.children.push(child);
          }
          node = child;
        }
        if (old) { node.old += size; node.oldCount += count; }
        else { node.size += size; node.count += count; node.temporaries += temporaries; }
      }
      if (old) node.oldSelf += size; else node.self += size;
    });
  }

  /* value: the box's width. A plain graph: its size. A differential one: the larger of the two
     sizes where tracebacks end, added up, so the children always fit in their parent. */
  /* Calls visit(node) on root and below, parents before children; a visit that returns
     false skips the node's callees. A loop, not recursion: tracebacks may be thousands of
     frames deep (the limit goes to 65535). */
  function walk(root, visit) {
    var stack = [root];
    while (stack.length) {
      var node = stack.pop();
      if (visit(node) !== false)
        for (var i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
    }
  }

  /* Sets each box's width (value) and start (x, in bytes from the root's left edge), the
     largest callee first. */
  function finish(root, diff) {
    var nodes = [];
    walk(root, function (node) { nodes.push(node); });
    for (var i = nodes.length - 1; i >= 0; i--) { /* callees before their callers */
      var node = nodes[i], sum = 0;
      node.children.forEach(function (child) { sum += child.value; });
      node.value = diff ? sum + Math.max(node.self, node.oldSelf) : node.size;
      node.children.sort(function (a, b) {
        return b.value - a.value || (a.frame.label < b.frame.label ? -1 : a.frame.label > b.frame.label ? 1 : 0);
      });
      node.byKey = null;
    }
    walk(root, function (node) {
      var x = node.x;
      node.children.forEach(function (child) { child.x = x; x += child.value; });
    });
  }

  function buildTree(rows, oldRows) {
    var root = newNode(null, null);
    addGroups(root, rows, false);
    if (oldRows) addGroups(root, oldRows, true);
    finish(root, !!oldRows);
    return root;
  }

  /* ---- the flame graph ----------------------------------------------------------------- */

  var PALETTE_GREY = 'rgb(206,210,214)';

  function memoryColour(node) {
    if (!node.frame) return PALETTE_GREY;
    var h = hash(node.frame.key), v1 = (h & 255) / 255, v2 = ((h >>> 8) & 255) / 255;
    var v3 = ((h >>> 16) & 255) / 255;
    return 'rgb(' + Math.round(60 + 90 * v2) + ',' + Math.round(175 + 55 * v1) + ',' +
           Math.round(70 + 70 * v3) + ')';
  }

  /* Red grew, blue shrank; the deeper the colour, the larger the change (square root, so
     small changes still show). */
  function diffColour(node, maxChange) {
    var change = node.size - node.old;
    if (!change || !maxChange) return {fill: 'rgb(226,228,231)', kind: 'same'};
    var t = Math.sqrt(Math.min(1, Math.abs(change) / maxChange));
    var c = Math.round(215 - 175 * t);
    return change > 0 ? {fill: 'rgb(255,' + c + ',' + c + ')', kind: 'grew'}
                      : {fill: 'rgb(' + c + ',' + c + ',255)', kind: 'shrank'};
  }

  function maxChangeBelow(root) {
    var max = 0;
    walk(root, function (node) {
      if (node.frame) max = Math.max(max, Math.abs(node.size - node.old));
    });
    return max;
  }

  /* options: {diff: true} for the differential graph; modes: [{id, label, rows, disabled}]. */
  function FlameGraph(container, options) {
    this.container = container;
    this.diff = !!options.diff;
    this.modes = options.modes || null;
    this.onMode = options.onMode || null;
    this.pattern = null;
    var controls = html('div', {class: 'controls'}, container);
    var self = this;
    if (this.modes) {
      var group = html('span', {class: 'modes', role: 'group', 'aria-label': 'which memory'}, controls);
      this.modeButtons = this.modes.map(function (mode) {
        var button = html('button', {type: 'button', 'data-mode': mode.id, 'aria-pressed': 'false'},
                          group, mode.label);
        if (mode.disabled) { button.disabled = true; button.title = mode.disabled; }
        button.addEventListener('click', function () { self.setMode(mode.id); });
        return button;
      });
    }
    this.search = html('input', {type: 'search', placeholder: 'search (regexp)', 'aria-label': 'search frames'},
                       controls);
    this.search.addEventListener('input', function () { self.setSearch(self.search.value); });
    this.reset = html('button', {type: 'button', class: 'reset'}, controls, 'reset zoom');
    this.reset.addEventListener('click', function () { self.zoom(self.root); });
    this.matched = html('span', {class: 'matched'}, controls);
    this.total = html('span', {class: 'total'}, controls);
    this.body = html('div', {}, container);
    this.svg = svg('svg', {class: 'flamegraph', role: 'img'}, this.body);
    this.svg.addEventListener('click', function (event) {
      var node = self.nodeAt(event);
      if (node) self.zoom(node);
    });
    this.svg.addEventListener('mousemove', function (event) {
      var node = self.nodeAt(event);
      if (node) self.tooltip(event, node); else hideTip();
    });
    this.svg.addEventListener('mouseleave', hideTip);
  }

  FlameGraph.prototype.nodeAt = function (event) {
    var g = event.target.closest ? event.target.closest('g.frame') : null;
    return g ? g.__node : null;
  };

  FlameGraph.prototype.setMode = function (id) {
    var mode = this.modes.filter(function (m) { return m.id === id; })[0];
    if (!mode || mode.disabled) return;
    this.mode = mode;
    this.modeButtons.forEach(function (b) {
      b.setAttribute('aria-pressed', b.getAttribute('data-mode') === id ? 'true' : 'false');
    });
    this.setTree(buildTree(mode.rows, null));
    if (this.onMode) this.onMode(mode);
  };

  FlameGraph.prototype.setTree = function (root) {
    this.root = root;
    this.focus = root;
    this.maxChange = this.diff ? maxChangeBelow(root) : 0;
    this.render();
  };

  FlameGraph.prototype.setSearch = function (text) {
    this.search.classList.remove('bad');
    if (!text) this.pattern = null;
    else {
      try { this.pattern = new RegExp(text, 'i'); }
      catch (e) { /* not a regexp: the literal text */
        this.search.classList.add('bad');
        this.pattern = new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
      }
    }
    this.render();
  };

  FlameGraph.prototype.zoom = function (node) {
    this.focus = node;
    hideTip();
    this.render();
  };

  FlameGraph.prototype.matches = function (node) {
    return !!(this.pattern && node.frame && this.pattern.test(node.frame.text));
  };

  /* The bytes under the frames that match, each counted once (a match under a match is not
     counted again), as flamegraph.pl's search does. */
  FlameGraph.prototype.matchedBytes = function () {
    var self = this, total = 0, frames = 0;
    walk(this.root, function (node) {
      if (!self.matches(node)) return true;
      total += self.diff ? node.size : node.value;
      frames++;
      return false;
    });
    return {bytes: total, frames: frames};
  };

  FlameGraph.prototype.render = function () {
    var svgElement = this.svg, root = this.root;
    while (svgElement.firstChild) svgElement.removeChild(svgElement.firstChild);
    var old = this.body.querySelector('.empty');
    if (old) old.remove();
    var total = this.diff ? root.size : root.value;
    this.total.textContent = this.diff
      ? 'before ' + formatSize(root.old, false) + ', after ' + formatSize(root.size, false) +
        ', change ' + formatSize(root.size - root.old, true)
      : 'total ' + bytes(total, false);
    if (!root.value) {
      svgElement.style.display = 'none';
      html('p', {class: 'empty'}, this.body, this.diff ? 'nothing was live in either snapshot'
           : this.mode && this.mode.empty ? this.mode.empty : 'nothing was live');
      this.matched.textContent = '';
      return;
    }
    svgElement.style.display = '';
    var width = this.body.clientWidth || 800, focus = this.focus;
    var scale = width / focus.value, depth = 0, self = this;
    function draw(node, x, w, kind) {
      var y = node.depth * ROW;
      depth = Math.max(depth, node.depth);
      var colour = self.diff ? diffColour(node, self.maxChange) : {fill: memoryColour(node), kind: ''};
      var cls = 'frame' + (kind ? ' ' + kind : '') + (colour.kind ? ' ' + colour.kind : '') +
                (self.matches(node) ? ' match' : '');
      var g = svg('g', {class: cls, transform: 'translate(' + x.toFixed(2) + ',' + y + ')'}, svgElement);
      if (node.frame) g.setAttribute('data-frame', node.frame.text);
      g.__node = node;
      svg('rect', {width: Math.max(w, 0.5).toFixed(2), height: ROW - 1, fill: colour.fill}, g);
      var label = node.frame ? node.frame.label : 'all';
      var chars = Math.floor((w - 6) / 6.7);
      if (chars >= 3) {
        var text = label.length > chars ? label.slice(0, chars - 1) + '\u2026' : label;
        svg('text', {x: 3, y: 12.5}, g).textContent = text;
      }
    }
    for (var a = focus.parent, chain = []; a; a = a.parent) chain.unshift(a);
    chain.forEach(function (node) { draw(node, 0, width, 'ancestor'); });
    walk(focus, function (node) {
      var w = node.value * scale;
      if (w < 0.4) return false; /* narrower than half a pixel: not drawn, nor its callees */
      draw(node, (node.x - focus.x) * scale, w, node === focus ? 'focus' : '');
      return true;
    });
    svgElement.setAttribute('height', (depth + 1) * ROW);
    svgElement.setAttribute('viewBox', '0 0 ' + width + ' ' + (depth + 1) * ROW);
    var found = this.pattern ? this.matchedBytes() : null;
    this.matched.textContent = !found ? '' : found.frames
      ? 'matched ' + formatSize(found.bytes, false) + ' (' + percent(found.bytes, total) + ') in ' +
        found.frames + ' frame' + (found.frames > 1 ? 's' : '')
      : 'no frame matches';
  };

  FlameGraph.prototype.tooltip = function (event, node) {
    var title = node.frame ? node.frame.fn || node.frame.where : 'all';
    var lines = [];
    if (node.frame && node.frame.fn) lines.push(['at', node.frame.where]);
    if (this.diff) {
      lines.push(['before', bytes(node.old, false) + ' in ' + grouped(node.oldCount) + ' blocks']);
      lines.push(['after', bytes(node.size, false) + ' in ' + grouped(node.count) + ' blocks']);
      lines.push(['change', bytes(node.size - node.old, true) + ', ' +
                  (node.count - node.oldCount >= 0 ? '+' : '') + grouped(node.count - node.oldCount) + ' blocks']);
    } else {
      var allocated = this.mode && this.mode.id === 'allocated';
      lines.push([allocated ? 'allocated' : 'size', bytes(node.size, false) + ', ' +
                  percent(node.size, this.root.value) + ' of all']);
      lines.push([allocated ? 'allocations' : 'blocks', grouped(node.count)]);
      if (allocated) lines.push(['temporary', grouped(node.temporaries) + ' (freed before the thread\'s next allocation)']);
      if (node.self && node.children.length) lines.push(['allocated right here', bytes(node.self, false)]);
    }
    lines.push(node === this.focus && node !== this.root ? 'click: zoom out' : 'click: zoom in');
    showTip(event, title, lines);
  };

  /* ---- the chart ----------------------------------------------------------------------- */

  /* About count round values from 0 to max (and one past it when cover is set). */
  function ticks(max, count, cover) {
    var raw = max / count, power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * power; })
      .filter(function (s) { return s >= raw; })[0];
    var out = [];
    for (var i = 0; i * step <= max * 1.0001; i++) out.push(i * step);
    if (cover && out[out.length - 1] < max) out.push(out.length * step);
    return out;
  }

  function byteUnit(max) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (i < 4 && max >= 1024 * 2) { max /= 1024; i++; }
    return {scale: Math.pow(1024, i), name: units[i]};
  }

  function timeUnit(maxNs) {
    if (maxNs >= 2e9) return {scale: 1e9, name: 's'};
    if (maxNs >= 2e6) return {scale: 1e6, name: 'ms'};
    if (maxNs >= 2e3) return {scale: 1e3, name: '\u00b5s'};
    return {scale: 1, name: 'ns'};
  }

  function drawChart(container) {
    while (container.firstChild) container.removeChild(container.firstChild);
    var samples = snapshot.timeline;
    if (!samples.length) {
      html('p', {class: 'empty'}, container, 'no timeline in this dump' +
           (meta.format_version < 2 ? ' (format version ' + meta.format_version + ': written before timelines existed)'
                                    : ' (the program ran with TRACEMALLOC_TIMELINE=0)'));
      return;
    }
    var width = container.clientWidth || 800, height = 280;
    var m = {left: 64, right: 24, top: 26, bottom: 34};
    var plotW = width - m.left - m.right, plotH = height - m.top - m.bottom;
    var hasPeak = meta.peak_time_ns !== null && meta.peak_time_ns !== undefined;
    var peakT = hasPeak ? meta.peak_time_ns : 0, peakY = hasPeak ? meta.traced_peak : 0;
    var hasRss = samples.some(function (s) { return s[2] > 0; });
    var maxT = samples[samples.length - 1][0], maxY = 0;
    samples.forEach(function (s) {
      if (!hasPeak && s[1] > peakY) { peakY = s[1]; peakT = s[0]; }
      maxY = Math.max(maxY, s[1], hasRss ? s[2] : 0);
    });
    maxT = Math.max(maxT, peakT, 1);
    maxY = Math.max(maxY, peakY, 1);
    var tu = timeUnit(maxT), bu = byteUnit(maxY);
    var xTicks = ticks(maxT / tu.scale, Math.max(2, Math.floor(plotW / 90)));
    var yTicks = ticks(maxY / bu.scale, 5, true);
    var xMax = xTicks[xTicks.length - 1] * tu.scale, yMax = yTicks[yTicks.length - 1] * bu.scale;
    if (xMax < maxT) xMax = maxT;
    if (yMax < maxY) yMax = maxY;
    function X(t) { return m.left + plotW * t / xMax; }
    function Y(v) { return m.top + plotH * (1 - v / yMax); }

    var chart = svg('svg', {class: 'chart', width: width, height: height, viewBox: '0 0 ' + width + ' ' + height,
                            role: 'img', 'aria-label': 'traced memory and RSS over time'}, container);
    var grid = svg('g', {class: 'grid'}, chart), axis = svg('g', {class: 'axis'}, chart);
    yTicks.forEach(function (v) {
      var y = Y(v * bu.scale);
      svg('line', {x1: m.left, x2: m.left + plotW, y1: y, y2: y}, grid);
      svg('text', {x: m.left - 6, y: y + 4, 'text-anchor': 'end'}, axis).textContent = +v.toPrecision(6) + ' ' + bu.name;
    });
    xTicks.forEach(function (v) {
      var x = X(v * tu.scale);
      svg('line', {x1: x, x2: x, y1: m.top + plotH, y2: m.top + plotH + 4}, axis);
      svg('text', {x: x, y: m.top + plotH + 17, 'text-anchor': 'middle'}, axis).textContent = +v.toPrecision(6) + ' ' + tu.name;
    });
    svg('line', {x1: m.left, x2: m.left + plotW, y1: m.top + plotH, y2: m.top + plotH}, axis);
    svg('line', {x1: m.left, x2: m.left, y1: m.top, y2: m.top + plotH}, axis);

    /* Steps, not slopes: a sample holds until the next one, since the tracker samples
       whenever the memory moves by more than 1% of the peak (FORMAT.md, TIME); a slope would
       draw memory that was never there. */
    function path(column) {
      var known = false; /* RSS 0: it could not be read, a gap in the line */
      return samples.map(function (s) {
        var x = X(s[0]).toFixed(1), y = Y(s[column]).toFixed(1), was = known;
        known = column === 1 || s[column] > 0;
        return !known ? '' : was ? 'H' + x + 'V' + y : 'M' + x + ',' + y;
      }).join('');
    }
    var line = path(1);
    svg('path', {class: 'area traced', d: line + 'L' + X(samples[samples.length - 1][0]).toFixed(1) + ',' +
                 Y(0) + 'L' + X(samples[0][0]).toFixed(1) + ',' + Y(0) + 'Z'}, chart);
    svg('path', {class: 'series traced', d: line}, chart);
    if (hasRss) svg('path', {class: 'series rss', d: path(2)}, chart);

    var mark = svg('g', {class: 'peak-mark'}, chart);
    var px = X(peakT), py = Y(peakY);
    svg('line', {x1: m.left, x2: px, y1: py, y2: py}, mark);
    svg('circle', {cx: px, cy: py, r: 5}, mark);
    var peakText = (hasPeak ? 'peak ' : 'highest sample ') + formatSize(peakY, false) + ' at ' + duration(peakT);
    var right = px > m.left + plotW * 0.7; /* beside the mark, clear of the legend */
    var label = svg('text', {x: right ? px - 9 : px + 9, y: py + 4, 'text-anchor': right ? 'end' : 'start'}, mark);
    label.textContent = peakText;

    var legend = svg('g', {class: 'legend', transform: 'translate(' + (m.left + 8) + ',' + 12 + ')'}, chart);
    var entries = [['traced', 'traced memory']].concat(hasRss ? [['rss', 'RSS (resident set size)']] : []);
    var lx = 0;
    entries.forEach(function (e) {
      svg('line', {class: 'series ' + e[0], x1: lx, x2: lx + 22, y1: 0, y2: 0}, legend);
      svg('text', {x: lx + 27, y: 4}, legend).textContent = e[1];
      lx += 40 + e[1].length * 6.5;
    });

    var cursor = svg('g', {class: 'cursor', visibility: 'hidden'}, chart);
    var cursorLine = svg('line', {y1: m.top, y2: m.top + plotH}, cursor);
    var dotTraced = svg('circle', {r: 3.5, fill: 'var(--traced)'}, cursor);
    var dotRss = svg('circle', {r: 3.5, fill: 'var(--rss)'}, cursor);
    var overlay = svg('rect', {x: m.left, y: m.top, width: Math.max(plotW, 1), height: Math.max(plotH, 1),
                               fill: 'transparent'}, chart);
    overlay.addEventListener('mousemove', function (event) {
      var box = chart.getBoundingClientRect();
      var t = (event.clientX - box.left - m.left) / plotW * xMax;
      var lo = 0, hi = samples.length - 1;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (samples[mid][0] < t) lo = mid + 1; else hi = mid; }
      if (lo > 0 && t - samples[lo - 1][0] < samples[lo][0] - t) lo--;
      var s = samples[lo], x = X(s[0]);
      cursor.setAttribute('visibility', 'visible');
      cursorLine.setAttribute('x1', x); cursorLine.setAttribute('x2', x);
      dotTraced.setAttribute('cx', x); dotTraced.setAttribute('cy', Y(s[1]));
      dotRss.setAttribute('cx', x); dotRss.setAttribute('cy', Y(s[2]));
      dotRss.setAttribute('visibility', hasRss && s[2] > 0 ? 'inherit' : 'hidden');
      var lines = [['traced', bytes(s[1], false)]];
      if (hasRss) lines.push(['RSS', s[2] > 0 ? bytes(s[2], false) : 'could not be read']);
      showTip(event, 'at ' + duration(s[0]), lines);
    });
    overlay.addEventListener('mouseleave', function () {
      cursor.setAttribute('visibility', 'hidden');
      hideTip();
    });
  }

  /* ---- the header, the table ----------------------------------------------------------- */

  function isoTime(ns) {
    var date = new Date(ns / 1e6);
    return isNaN(date.getTime()) ? ns + ' ns' : date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  function drawSummary() {
    var list = document.getElementById('summary');
    function item(name, value) {
      var div = html('div', {}, list);
      html('dt', {}, div, name);
      html('dd', {}, div, value);
    }
    item('source', meta.source);
    if (meta.label !== null) item('label', meta.label);
    item('taken', isoTime(meta.time_ns));
    item('pid', meta.pid);
    item('traced now', formatSize(meta.traced_current, false));
    item('peak', formatSize(meta.traced_peak, false) +
         (meta.peak_time_ns !== null && meta.peak_time_ns !== undefined ? ' at ' + duration(meta.peak_time_ns) : ''));
    item('blocks', grouped(meta.trace_count));
    item('traceback limit', meta.traceback_limit);
    if (meta.untraced_count) item('untraced', grouped(meta.untraced_count) + ' blocks, ' + formatSize(meta.untraced_size, false));
    if (data.old) item('compared with', data.old.meta.source + (data.old.meta.label !== null ? ' (' + data.old.meta.label + ')' : ''));
    document.title = 'tracemalloc report: ' + (meta.label !== null ? meta.label : meta.source);
    var footer = document.getElementById('footer');
    footer.textContent = 'Written by ' + data.tool + ' (format version ' + meta.format_version +
      ' dump). This page is one file and makes no network request.';
  }

  /* data.top[mode] rows: [n, size, count, size_diff, count_diff, filename, lineno, function,
     temporaries], ranked by the analyzer as `stats` (or `compare`, "now" with OLD) ranks them. */
  function drawTable(mode) {
    var compare = !!data.old && mode === 'now', allocated = mode === 'allocated';
    var table = document.getElementById('toptable'), n = data.top_n;
    var rows = data.top[mode] || [];
    document.getElementById('top-title').textContent = compare
      ? 'Top ' + n + ' changes by line (as `tracemalloc compare OLD NEW --top ' + n + '` ranks them)'
      : 'Top ' + n + ' lines ' + (mode === 'peak' ? 'at the peak ' : allocated ? 'by bytes allocated ' : '') +
        '(as `tracemalloc stats' + (mode === 'peak' ? ' --at-peak' : allocated ? ' --allocated' : '') +
        ' --top ' + n + '` ranks them)';
    table.textContent = '';
    var head = html('tr', {}, html('thead', {}, table));
    var columns = ['#', 'size'].concat(compare ? ['change'] : [], ['count'], compare ? ['change'] : [],
                                       allocated ? ['temporary'] : [], ['average', 'line', 'function']);
    columns.forEach(function (name, i) {
      html('th', {class: i < columns.length - 2 ? 'num' : ''}, head, name);
    });
    var body = html('tbody', {}, table);
    if (!rows.length) {
      html('td', {colspan: columns.length, class: 'empty-row'}, html('tr', {}, body), 'no traces');
      return;
    }
    function change(value) {
      return 'num ' + (value > 0 ? 'grew' : value < 0 ? 'shrank' : '');
    }
    rows.forEach(function (row) {
      var tr = html('tr', {}, body), size = row[1], count = row[2];
      html('td', {class: 'num'}, tr, row[0]);
      html('td', {class: 'num', title: grouped(size) + ' B'}, tr, formatSize(size, false));
      if (compare) html('td', {class: change(row[3]), title: grouped(row[3]) + ' B'}, tr, formatSize(row[3], true));
      html('td', {class: 'num'}, tr, grouped(count));
      if (compare) html('td', {class: change(row[4])}, tr, (row[4] >= 0 ? '+' : '') + grouped(row[4]));
      if (allocated) html('td', {class: 'num'}, tr, grouped(row[8] || 0));
      html('td', {class: 'num'}, tr, count ? formatSize(size / count, false) : '');
      html('td', {class: 'site'}, tr, row[5] + ':' + row[6]);
      html('td', {}, tr, row[7] === null ? '' : row[7]);
    });
  }

  /* ---- the page ------------------------------------------------------------------------ */

  var noPeak = meta.format_version < 2 ? 'no peak contents in a format version ' + meta.format_version + ' dump'
                                       : 'no PEAK section: the program ran with TRACEMALLOC_TIMELINE=0';
  var hasPeak = meta.peak_time_ns !== null && meta.peak_time_ns !== undefined;
  var hasAlloc = snapshot.alloc_groups.length > 0;
  var modes = [
    {id: 'now', label: 'now', rows: snapshot.groups, title: 'Memory live when the snapshot was taken',
     empty: 'nothing was live when the snapshot was taken'},
    {id: 'peak', label: 'at peak', rows: snapshot.peak_groups, disabled: hasPeak ? null : noPeak,
     title: 'Memory live at the peak' + (hasPeak ? ' (' + formatSize(meta.peak_size, false) + ' at ' +
            duration(meta.peak_time_ns) + ')' : ''),
     empty: 'nothing was live at the peak'},
    {id: 'allocated', label: 'allocated', rows: snapshot.alloc_groups,
     disabled: hasAlloc ? null : noPeak.replace('peak contents', 'allocation totals').replace('PEAK', 'ALOC'),
     title: 'Everything allocated since tracing started, freed or not', empty: 'nothing was allocated'}
  ];

  var flame = new FlameGraph(document.getElementById('flamegraph'), {
    modes: modes,
    onMode: function (mode) {
      document.getElementById('flame-title').textContent = mode.title;
      drawTable(mode.id);
    }
  });
  var diff = null;
  if (data.old) {
    document.getElementById('diff').hidden = false;
    diff = new FlameGraph(document.getElementById('diffgraph'), {diff: true});
  }

  drawSummary();
  var chartBox = document.getElementById('chart');
  drawChart(chartBox);
  flame.setMode('now');
  if (diff) diff.setTree(buildTree(snapshot.groups, data.old.groups));

  var lastWidth = document.body.clientWidth, pending = 0;
  window.addEventListener('resize', function () {
    clearTimeout(pending);
    pending = setTimeout(function () {
      if (document.body.clientWidth === lastWidth) return;
      lastWidth = document.body.clientWidth;
      drawChart(chartBox);
      flame.render();
      if (diff) diff.render();
    }, 100);
  });
  document.body.setAttribute('data-ready', 'true');
})();
