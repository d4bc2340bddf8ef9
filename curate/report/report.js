// Draws every chart spec of the embedded JSON as inline SVG (no libraries, no network).
// A spec: {id, orient: "h"|"v", stacked, categories, series: [{name, values}], axis?: {lo, hi},
// thresholds?: [{at, label}], format?: "int"|"share"|"seconds"|"float"}.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var COLORS = ["#3b6fb6", "#e08a2c", "#4d9a5b", "#c4473a", "#7b5ea7", "#8c6d4f", "#d16fae", "#6f7a86"];

  function el(name, attrs, text) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function fmt(v, kind) {
    if (v === null || v === undefined) return "-";
    if (kind === "share") return (100 * v).toFixed(1) + "%";
    if (kind === "seconds") return v.toFixed(1) + " s";
    if (kind === "float" && Math.abs(v) < 1000) return +v.toPrecision(3) + "";
    return Math.round(v).toLocaleString("en-US");
  }

  // The largest value a category reaches: the sum of its series when stacked, else their max.
  function extent(spec) {
    var top = 0;
    spec.categories.forEach(function (_, i) {
      var vals = spec.series.map(function (s) { return s.values[i] || 0; });
      var v = spec.stacked ? vals.reduce(function (a, b) { return a + b; }, 0) : Math.max.apply(null, vals);
      top = Math.max(top, v);
    });
    return top || 1;
  }

  function legendWidth(spec) {
    return spec.series.reduce(function (w, s) { return w + 24 + 7 * s.name.length; }, 8);
  }

  function legend(svg, spec, y) {
    var x = 8;
    spec.series.forEach(function (s, k) {
      svg.appendChild(el("rect", {x: x, y: y, width: 10, height: 10, fill: COLORS[k % COLORS.length], "class": "legend-key"}));
      svg.appendChild(el("text", {x: x + 14, y: y + 9, "class": "legend"}, s.name));
      x += 24 + 7 * s.name.length;
    });
  }

  function bar(svg, spec, i, k, x, y, w, h) {
    var s = spec.series[k];
    var r = el("rect", {x: x, y: y, width: Math.max(w, 0), height: Math.max(h, 0),
                        fill: COLORS[k % COLORS.length], "class": "bar"});
    r.appendChild(el("title", {}, spec.categories[i] + " · " + s.name + ": " + fmt(s.values[i], spec.format)));
    svg.appendChild(r);
  }

  function horizontal(spec) {
    var n = spec.categories.length, groups = spec.stacked ? 1 : spec.series.length;
    var rowH = Math.max(14, 8 * groups + 6), left = 260, width = 780, plot = width - left - 110;
    var height = 24 + n * rowH + 8;
    var svg = el("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height, "class": "chart-svg"});
    legend(svg, spec, 4);
    var scale = plot / extent(spec);
    spec.categories.forEach(function (cat, i) {
      var y0 = 24 + i * rowH, x = left, total = 0;
      svg.appendChild(el("text", {x: left - 6, y: y0 + rowH / 2 + 4, "text-anchor": "end", "class": "label"},
                         cat.length > 42 ? cat.slice(0, 41) + "…" : cat));
      spec.series.forEach(function (s, k) {
        var v = s.values[i] || 0, w = v > 0 ? Math.max(1, v * scale) : 0;
        if (spec.stacked) { bar(svg, spec, i, k, x, y0 + 2, w, rowH - 4); x += w; total += v; }
        else {
          var bh = (rowH - 4) / groups;
          bar(svg, spec, i, k, left, y0 + 2 + k * bh, w, bh - 1);
          total = Math.max(total, v);
        }
      });
      var end = spec.stacked ? x : left + total * scale;
      var shown = spec.stacked ? total : spec.series.map(function (s) { return fmt(s.values[i], spec.format); }).join(" / ");
      svg.appendChild(el("text", {x: end + 4, y: y0 + rowH / 2 + 4, "class": "value"},
                         spec.stacked ? fmt(shown, spec.format) : shown));
    });
    return svg;
  }

  function vertical(spec) {
    var n = spec.categories.length, groups = spec.stacked ? 1 : spec.series.length;
    var left = 52, top = 24, plotH = 150;
    var width = Math.max(spec.axis ? 340 : left + 20 + n * (10 + 8 * groups), legendWidth(spec) + 16);
    var height = top + plotH + 42, plotW = width - left - 12, slot = plotW / n;
    var svg = el("svg", {width: width, height: height, viewBox: "0 0 " + width + " " + height, "class": "chart-svg"});
    legend(svg, spec, 4);
    var max = extent(spec), scale = plotH / max, base = top + plotH;
    svg.appendChild(el("line", {x1: left, y1: base, x2: left + plotW, y2: base, "class": "axis"}));
    svg.appendChild(el("text", {x: left - 4, y: top + 8, "text-anchor": "end", "class": "tick"}, fmt(max)));
    svg.appendChild(el("text", {x: left - 4, y: base, "text-anchor": "end", "class": "tick"}, "0"));
    spec.categories.forEach(function (cat, i) {
      var x0 = left + i * slot, y = base;
      spec.series.forEach(function (s, k) {
        var v = s.values[i] || 0, h = v > 0 ? Math.max(1, v * scale) : 0;
        if (spec.stacked) { y -= h; bar(svg, spec, i, k, x0 + 1, y, slot - 2, h); }
        else { var bw = (slot - 2) / groups; bar(svg, spec, i, k, x0 + 1 + k * bw, base - h, bw - 1, h); }
      });
      if (!spec.axis) {
        svg.appendChild(el("text", {x: x0 + slot / 2, y: base + 14, "text-anchor": "middle", "class": "tick"}, cat));
      }
    });
    if (spec.axis) {
      var a = spec.axis, px = function (v) { return left + (v - a.lo) / (a.hi - a.lo) * plotW; };
      [a.lo, (a.lo + a.hi) / 2, a.hi].forEach(function (v, j) {
        svg.appendChild(el("text", {x: px(v), y: base + 14, "text-anchor": ["start", "middle", "end"][j], "class": "tick"},
                           fmt(v, "float")));
      });
      (spec.thresholds || []).forEach(function (t) {
        if (t.at < a.lo || t.at > a.hi) return;
        var x = px(t.at);
        svg.appendChild(el("line", {x1: x, y1: top - 4, x2: x, y2: base + 4, "class": "threshold"}));
        var anchor = x < left + 24 ? "start" : x > left + plotW - 24 ? "end" : "middle";
        svg.appendChild(el("text", {x: x, y: base + 30, "text-anchor": anchor, "class": "threshold-label"}, t.label));
      });
    }
    return svg;
  }

  function draw(spec) {
    var fig = document.querySelector('figure[data-chart="' + spec.id + '"]');
    if (!fig) throw new Error("no figure for chart " + spec.id);
    fig.insertBefore(spec.orient === "h" ? horizontal(spec) : vertical(spec), fig.querySelector("figcaption"));
  }

  var errors = [];
  JSON.parse(document.getElementById("report-data").textContent).charts.forEach(function (spec) {
    try { draw(spec); } catch (e) { errors.push(spec.id + ": " + e.message); }
  });
  document.body.setAttribute("data-charts-drawn", document.querySelectorAll("figure svg.chart-svg").length);
  if (errors.length) {
    var pre = document.createElement("pre");
    pre.id = "render-errors";
    pre.textContent = errors.join("\n");
    document.body.insertBefore(pre, document.body.firstChild);
  }
})();
