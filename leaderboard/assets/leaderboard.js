/* factorbench leaderboard: sortable and filterable tables, and the compare page. No dependencies. */
(function () {
  "use strict";

  // ------------------------------------------------------------------ sorting
  function sortKey(cell, type) {
    var raw = cell ? cell.getAttribute("data-value") : null;
    if (raw === null) { raw = cell ? cell.textContent.trim() : ""; }
    if (type === "num") {
      var x = parseFloat(raw);
      return isNaN(x) ? null : x;
    }
    return raw === "" ? null : raw.toLowerCase();
  }

  function sortTable(table, column, direction) {
    var header = table.tHead.rows[0].cells[column];
    var type = header.getAttribute("data-type") || "text";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      return { row: row, key: sortKey(row.cells[column], type), i: i };
    });
    var sign = direction === "asc" ? 1 : -1;
    rows.sort(function (a, b) {
      if (a.key === null && b.key === null) { return a.i - b.i; }
      if (a.key === null) { return 1; }  // gaps last, whichever the direction
      if (b.key === null) { return -1; }
      var c = type === "num" ? a.key - b.key : a.key.localeCompare(b.key);
      return c !== 0 ? sign * c : a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", direction === "asc" ? "ascending" : "descending");
  }

  function initSortable(table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
      if (!th.hasAttribute("data-type")) { return; }
      th.classList.add("sortable");
      th.tabIndex = 0;
      var activate = function () {
        var current = th.getAttribute("aria-sort");
        var direction = current === "ascending" ? "desc" : current === "descending" ? "asc"
          : (th.getAttribute("data-first") || "asc");
        sortTable(table, column, direction);
      };
      th.addEventListener("click", activate);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); activate(); }
      });
    });
  }

  // ------------------------------------------------------------------ filtering
  function initFilter(controls) {
    var table = document.getElementById(controls.getAttribute("data-controls-for"));
    if (!table) { return; }
    var text = controls.querySelector(".filter");
    var hideShort = controls.querySelector(".hide-shortened");
    var count = controls.querySelector(".count");
    var apply = function () {
      var words = (text.value || "").toLowerCase().split(/\s+/).filter(Boolean);
      var rows = table.tBodies[0].rows, shown = 0;
      Array.prototype.forEach.call(rows, function (row) {
        var haystack = row.textContent.toLowerCase();
        var ok = words.every(function (w) { return haystack.indexOf(w) >= 0; });
        if (hideShort.checked && row.getAttribute("data-shortened") === "1") { ok = false; }
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = shown === rows.length ? rows.length + " rows" : shown + " of " + rows.length + " rows";
    };
    text.addEventListener("input", apply);
    hideShort.addEventListener("change", apply);
    apply();
  }

  // ------------------------------------------------------------------ compare page
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  function fmt(x, digits) {
    if (x === null || x === undefined) { return "\u2014"; }
    return Number(x).toFixed(digits === undefined ? 3 : digits);
  }

  function badges(run) {
    var span = el("span", {});
    if (run.kind === "submission") { span.appendChild(el("span", { "class": "badge submission", text: "submission" })); }
    if (run.kind === "baseline") { span.appendChild(el("span", { "class": "badge baseline", text: "baseline" })); }
    if (run.trusted_code) { span.appendChild(el("span", { "class": "badge trusted", text: "trusted code" })); }
    if (run.shortened) { span.appendChild(el("span", { "class": "badge shortened", text: "shortened" })); }
    return span;
  }

  function matrixTable(view, caption, compact) {
    var table = el("table", { "class": "heatmap" + (compact ? " compact" : ""), "aria-label": caption });
    var head = el("tr", {}, [el("th", {})]);
    view.cols.forEach(function (c) { head.appendChild(el("th", { scope: "col", text: c })); });
    table.appendChild(el("thead", {}, [head]));
    var body = el("tbody");
    view.rows.forEach(function (row) {
      var tr = el("tr", {}, [el("th", { scope: "row", text: row.label })]);
      row.cells.forEach(function (cell, j) {
        tr.appendChild(el("td", { style: "background:" + cell.bg + ";color:" + cell.fg,
          title: row.label + " / " + view.cols[j] + ": " + (cell.v === null ? "n/a" : cell.v), text: cell.text }));
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    var box = el("div", {}, [table]);
    box.appendChild(el("div", { "class": "legend" }, [el("span", { text: view.legend.min }),
      el("span", { "class": "ramp", style: "background:" + view.legend.gradient }), el("span", { text: view.legend.max })]));
    return box;
  }

  function initCompare(data) {
    // No prototype: a hash naming "__proto__" or "constructor" must find no run, not Object's own properties.
    var bySlug = Object.create(null);
    data.runs.forEach(function (r) { bySlug[r.slug] = r; });
    var list = document.getElementById("picker-list");
    var result = document.getElementById("compare-result");
    var filter = document.getElementById("picker-filter");

    // The address holds the selection: "#a,b,c"; "#none" when cleared; no hash means the default selection.
    // Each slug is decoded on its own, and a malformed escape ("#%") names no run instead of throwing; a slug
    // named twice counts once.
    function decoded(part) {
      try { return decodeURIComponent(part); } catch (e) { return null; }
    }
    function selected() {
      var hash = (window.location.hash || "").replace(/^#/, "");
      if (!hash) { return data["default"].slice(); }
      var seen = Object.create(null);
      return hash.split(",").map(decoded).filter(function (s) {
        if (s === null || !bySlug[s] || seen[s]) { return false; }
        seen[s] = true;
        return true;
      });
    }

    function select(slugs) {
      var hash = "#" + (slugs.length ? slugs.map(encodeURIComponent).join(",") : "none");
      if (window.history && window.history.replaceState) {
        window.history.replaceState(null, "", hash);
      } else {
        window.location.hash = hash;
      }
      render();
    }

    // The picker: runs grouped by leaderboard row (main protocol's rows first), then any run in no row.
    var grouped = Object.create(null), groups = [];
    data.rows.forEach(function (row) {
      var fresh = row.runs.filter(function (s) { return !grouped[s]; });
      if (!fresh.length) { return; }
      groups.push({ title: row.label, hp: row.hp, runs: fresh });
      fresh.forEach(function (s) { grouped[s] = true; });
    });
    data.runs.forEach(function (r) {
      if (!grouped[r.slug]) { groups.push({ title: r.model, hp: r.hp, runs: [r.slug] }); }
    });
    groups.forEach(function (g) {
      var box = el("div", { "class": "group" }, [
        el("div", { "class": "group-title" }, [el("strong", { text: g.title }), el("span", { "class": "muted", text: " " + g.hp })])
      ]);
      g.runs.forEach(function (slug) {
        var run = bySlug[slug];
        var input = el("input", { type: "checkbox", value: slug });
        input.addEventListener("change", function () {
          var now = selected().filter(function (s) { return s !== slug; });
          if (input.checked) { now.push(slug); }
          select(now);
        });
        box.appendChild(el("label", { "class": "pick", "data-search": (g.title + " " + g.hp + " seed " + run.seed + " " + run.name).toLowerCase() },
          [input, document.createTextNode(" seed " + (run.seed === null ? "?" : run.seed) + " "), badges(run)]));
      });
      list.appendChild(box);
    });
    filter.addEventListener("input", function () {
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      Array.prototype.forEach.call(list.querySelectorAll("label.pick"), function (label) {
        var text = label.getAttribute("data-search");
        label.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
      });
    });
    document.getElementById("picker-clear").addEventListener("click", function () { select([]); });

    function render() {
      var picked = selected();
      Array.prototype.forEach.call(list.querySelectorAll("input[type=checkbox]"), function (input) {
        input.checked = picked.indexOf(input.value) >= 0;
      });
      result.textContent = "";
      if (picked.length === 0) {
        result.appendChild(el("p", { "class": "muted", text: "Pick at least one run on the left (two or more to compare)." }));
        return;
      }
      var runs = picked.map(function (s) { return bySlug[s]; });
      var table = el("table", { "class": "plain compare-table" });
      var head = el("tr", {}, [el("th", { text: "" })]);
      runs.forEach(function (r) {
        head.appendChild(el("th", {}, [
          el("a", { href: r.href, text: r.model + (r.hp ? " (" + r.hp + ")" : "") }),
          el("div", { "class": "muted small", text: "seed " + r.seed + " \u00b7 " + r.name }), badges(r)
        ]));
      });
      table.appendChild(el("thead", {}, [head]));
      var body = el("tbody");
      var protocols = [];  // the leaderboard's order (the protocol covering most runs first), then any other
      data.protocols.concat(runs.reduce(function (all, r) { return all.concat(Object.keys(r.scores)); }, []))
        .forEach(function (p) {
          var key = p === null ? "" : p;
          if (protocols.indexOf(key) < 0 && runs.some(function (r) { return r.scores[key]; })) { protocols.push(key); }
        });
      protocols.forEach(function (protocol) {
        body.appendChild(el("tr", { "class": "section" }, [el("th", { colspan: String(runs.length + 1), text: "Protocol " + (protocol || "training") })]));
        data.columns.forEach(function (c) {
          var values = runs.map(function (r) { var s = r.scores[protocol] || {}; return s[c.id] === undefined ? null : s[c.id]; });
          if (values.every(function (v) { return v === null; })) { return; }
          var finite = values.filter(function (v) { return v !== null; });
          var best = c.higher_is_better ? Math.max.apply(null, finite) : Math.min.apply(null, finite);
          var tr = el("tr", {}, [el("th", { title: c.title, text: c.label + (c.higher_is_better ? " \u2191" : " \u2193") })]);
          values.forEach(function (v) {
            tr.appendChild(el("td", { "class": "num" + (finite.length > 1 && v === best ? " best" : ""), text: fmt(v) }));
          });
          body.appendChild(tr);
        });
      });
      table.appendChild(body);
      result.appendChild(el("div", { "class": "scroll" }, [table]));

      [["mi", "Mutual information, factor x latent (nats)"], ["dci", "DCI importance, factor x latent"]].forEach(function (kind) {
        if (!runs.some(function (r) { return r.matrices[kind[0]]; })) { return; }
        result.appendChild(el("h3", { text: kind[1] }));
        var row = el("div", { "class": "figures side" });
        runs.forEach(function (r) {
          var view = r.matrices[kind[0]];
          row.appendChild(el("figure", { "class": "matrix" }, [
            el("figcaption", { text: r.model + (r.hp ? " (" + r.hp + ")" : "") + ", seed " + r.seed }),
            view ? matrixTable(view, kind[1] + " of " + r.name, true) : el("p", { "class": "muted", text: "not recorded" })
          ]));
        });
        result.appendChild(row);
      });

      var factors = [];
      runs.forEach(function (r) { r.gaps.forEach(function (g) { if (factors.indexOf(g.factor) < 0) { factors.push(g.factor); } }); });
      if (factors.length) {
        result.appendChild(el("h3", { text: "Factor separation: MIG gap per factor (most informative latent)" }));
        var gt = el("table", { "class": "plain compare-table" });
        var gh = el("tr", {}, [el("th", { text: "Factor" })]);
        runs.forEach(function (r) { gh.appendChild(el("th", { text: r.model + ", seed " + r.seed })); });
        gt.appendChild(el("thead", {}, [gh]));
        var gb = el("tbody");
        factors.forEach(function (f) {
          var tr = el("tr", {}, [el("th", { text: f })]);
          var vals = runs.map(function (r) {
            var g = r.gaps.filter(function (x) { return x.factor === f; })[0];
            return g ? { v: g.normalized !== null ? g.normalized : g.gap, latent: g.latent } : null;
          });
          var finite = vals.filter(Boolean).map(function (x) { return x.v; });
          var best = Math.max.apply(null, finite);
          vals.forEach(function (x) {
            tr.appendChild(el("td", { "class": "num" + (x && finite.length > 1 && x.v === best ? " best" : ""),
              text: x ? fmt(x.v) + " (" + x.latent + ")" : "\u2014" }));
          });
          gb.appendChild(tr);
        });
        gt.appendChild(gb);
        result.appendChild(el("div", { "class": "scroll" }, [gt]));
      }
    }

    window.addEventListener("hashchange", render);
    render();
  }

  Array.prototype.forEach.call(document.querySelectorAll("table[data-sortable]"), initSortable);
  Array.prototype.forEach.call(document.querySelectorAll("[data-controls-for]"), initFilter);
  if (window.FACTORBENCH_COMPARE && document.getElementById("compare-result")) {
    initCompare(window.FACTORBENCH_COMPARE);
  }
}());
