/* The segment builder: draws a segment definition (docs/segments-dsl.md) as a tree of AND / OR /
   NOT groups with a form per leaf, keeps the tree as JSON in the form's hidden "definition" field,
   and asks the server for a live count (debounced) whose problems come back with their paths and
   are shown at the node they belong to. No build step, no dependencies. */
(function () {
  "use strict";

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  var T = data("seg-texts") || {};
  var O = data("seg-options") || {};
  var def = data("seg-definition") || { version: 1, root: { type: "and", children: [] } };
  var initialProblems = data("seg-problems") || [];
  var form, hidden, mount, countBox, sizeEl, noteEl, summaryEl;
  var timer = null;
  var inflight = null;

  var COMPARISONS = [">=", ">", "<=", "<", "=", "!="];
  var FILTER_OPS = COMPARISONS.concat(["in"]);
  var LEAVES = ["attribute", "tags", "consent", "birthday", "event", "first_time", "last_time", "stopped", "rfm", "segment", "list", "bucket"];
  var ATTRIBUTES = ["store", "region", "city", "guide", "tier", "lifecycle", "source"];
  var NUMERIC_ATTRIBUTES = { store: true, region: true, guide: true };

  function t(key) { return T[key] || key; }

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") el.textContent = v;
      else if (k === "on") Object.keys(v).forEach(function (ev) { el.addEventListener(ev, v[ev]); });
      else if (k === "className") el.className = v;
      else el.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) { if (c) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return el;
  }

  function num(v) {
    var s = String(v).trim();
    if (s === "") return null;
    var n = Number(s);
    return isFinite(n) ? n : s;
  }

  function scalar(v) {
    var s = String(v).trim();
    if (s !== "" && isFinite(Number(s))) return Number(s);
    return s;
  }

  function defaults(kind) {
    var first = function (list) { return list && list.length ? list[0][0] : null; };
    switch (kind) {
      case "attribute": return { type: kind, field: "store", "in": [] };
      case "tags": return { type: kind, match: "any", tags: [] };
      case "consent": return { type: kind, channel: "sms", granted: true };
      case "birthday": return { type: kind, within_days: 30 };
      case "event": return { type: kind, event: "order", count: { op: ">=", value: 1 }, window: { last_days: 30 } };
      case "first_time": case "last_time": return { type: kind, event: "order", window: { last_days: 30 } };
      case "stopped": return { type: kind, event: "order", did: { last_days: 180 }, not_in_last_days: 60 };
      case "rfm": return { type: kind, score: "m", min: 4, max: 5 };
      case "segment": return { type: kind, segment: first(O.segment) };
      case "list": return { type: kind, customers: [] };
      case "bucket": return { type: kind, modulo: 10, buckets: [0], salt: 0 };
      default: return { type: "and", children: [] };
    }
  }

  /* --- controls ------------------------------------------------------------------------------ */
  function label(text, control, extra) {
    return h("label", { className: "seg-field" + (extra ? " " + extra : "") }, [h("span", { text: text }), control]);
  }

  function select(choices, value, onchange, attrs) {
    var el = h("select", attrs || {});
    choices.forEach(function (c) {
      var o = h("option", { value: String(c[0]), text: String(c[1]) });
      if (String(c[0]) === String(value)) o.selected = true;
      el.appendChild(o);
    });
    el.addEventListener("change", function () { onchange(el.value); });
    return el;
  }

  function multi(choices, values, onchange, attrs) {
    var wanted = {};
    (values || []).forEach(function (v) { wanted[String(v)] = true; });
    var a = attrs || {};
    a.multiple = true;
    a.size = Math.min(Math.max(choices.length, 2), 6);
    var el = h("select", a);
    choices.forEach(function (c) {
      var o = h("option", { value: String(c[0]), text: String(c[1]) });
      if (wanted[String(c[0])]) o.selected = true;
      el.appendChild(o);
    });
    el.addEventListener("change", function () {
      onchange(Array.prototype.filter.call(el.options, function (o) { return o.selected; }).map(function (o) { return o.value; }));
    });
    return el;
  }

  function input(type, value, oninput, attrs) {
    var a = attrs || {};
    a.type = type;
    var el = h("input", a);
    el.value = value === null || value === undefined ? "" : String(value);
    el.addEventListener("input", function () { oninput(el.value); });
    return el;
  }

  function ops(list) { return list.map(function (o) { return [o, o]; }); }

  /* --- the window of a behaviour leaf ------------------------------------------------------------- */
  function windowEditor(node, key, optional) {
    var box = h("div", { className: "seg-row" });
    var w = node[key];
    var mode = !w ? "none" : ("last_days" in w ? "last" : "between");
    var modes = [["last", t("last_days")], ["between", t("between")]];
    if (optional) modes.unshift(["none", t("all_time")]);
    box.appendChild(label(key === "did" ? t("did") : t("window"), select(modes, mode, function (v) {
      if (v === "none") delete node[key];
      else if (v === "last") node[key] = { last_days: 30 };
      else {
        var today = new Date();
        var ago = new Date(today.getTime() - 30 * 86400000);
        node[key] = { from: ago.toISOString().slice(0, 10), to: today.toISOString().slice(0, 10) };
      }
      redraw();
    }, { "data-key": key })));
    if (mode === "last") {
      box.appendChild(label(t("days"), input("number", w.last_days, function (v) { w.last_days = num(v); changed(); },
        { min: 1, max: 36500, inputmode: "numeric", "data-key": key + ".last_days" })));
    } else if (mode === "between") {
      box.appendChild(label(t("from"), input("date", w.from, function (v) { w.from = v; changed(); }, { "data-key": key + ".from" })));
      box.appendChild(label(t("to"), input("date", w.to, function (v) { w.to = v; changed(); }, { "data-key": key + ".to" })));
    }
    return box;
  }

  function whereEditor(node) {
    var box = h("div", { className: "seg-where" });
    var filters = node.where || [];
    box.appendChild(h("div", { className: "seg-sub", text: t("where") }));
    filters.forEach(function (f, i) {
      var k = "where." + i;
      var isColumn = "column" in f;
      var row = h("div", { className: "seg-row seg-filter", "data-key": k });
      row.appendChild(select([["property", t("property")], ["column", t("column")]], isColumn ? "column" : "property", function (v) {
        if (v === "column") { delete f.property; f.column = O.columns[0]; } else { delete f.column; f.property = ""; }
        redraw();
      }, { "aria-label": t("property") }));
      if (isColumn) {
        row.appendChild(select(ops(O.columns), f.column, function (v) { f.column = v; changed(); }, { "aria-label": t("column"), "data-key": k + ".column" }));
      } else {
        row.appendChild(input("text", f.property, function (v) { f.property = v.trim(); changed(); },
          { placeholder: "channel", "aria-label": t("property"), "data-key": k + ".property", size: 10 }));
      }
      row.appendChild(select(ops(FILTER_OPS), f.op || "=", function (v) {
        var old = f.op || "=";
        f.op = v;
        if (v === "in" && !Array.isArray(f.value)) f.value = f.value === "" || f.value === undefined ? [] : [f.value];
        if (v !== "in" && Array.isArray(f.value)) f.value = f.value.length ? f.value[0] : "";
        if ((old === "in") !== (v === "in")) redraw(); else changed();
      }, { "aria-label": t("op"), "data-key": k + ".op" }));
      var shown = Array.isArray(f.value) ? f.value.join(", ") : f.value;
      row.appendChild(input("text", shown, function (v) {
        f.value = f.op === "in" ? v.split(/[,，]/).map(function (s) { return s.trim(); }).filter(Boolean).map(scalar) : scalar(v);
        changed();
      }, { "aria-label": t("value"), "data-key": k + ".value", size: 10 }));
      row.appendChild(h("button", { type: "button", className: "link danger", text: t("remove"), on: { click: function () {
        filters.splice(i, 1);
        if (!filters.length) delete node.where;
        redraw();
      } } }));
      box.appendChild(row);
    });
    box.appendChild(h("button", { type: "button", className: "link", text: "+ " + t("add_filter"), on: { click: function () {
      node.where = filters;
      filters.push({ property: "", op: "=", value: "" });
      redraw();
    } } }));
    return box;
  }

  function eventTypeEditor(node) {
    var known = O.event.some(function (e) { return e[0] === node.event; });
    var box = h("div", { className: "seg-row" });
    box.appendChild(label(t("event_type"), select(O.event.concat([["__custom", t("custom")]]), known ? node.event : "__custom", function (v) {
      node.event = v === "__custom" ? "" : v;
      redraw();
    }, { "data-key": "event" })));
    if (!known) {
      box.appendChild(label(t("custom"), input("text", node.event, function (v) { node.event = v.trim(); changed(); },
        { placeholder: "coupon_used", "data-key": "event", size: 12 })));
    }
    return box;
  }

  /* --- a leaf's fields ------------------------------------------------------------------------------ */
  function leafFields(node) {
    var box = h("div", { className: "seg-fields" });
    var add = function (el) { box.appendChild(el); };
    switch (node.type) {
      case "attribute": {
        add(label(t("field"), select(ATTRIBUTES.map(function (a) { return [a, t(a)]; }), node.field, function (v) {
          node.field = v; node["in"] = []; redraw();
        }, { "data-key": "field" })));
        add(label(t("values"), multi(O[node.field] || [], node["in"], function (vals) {
          node["in"] = NUMERIC_ATTRIBUTES[node.field] ? vals.map(Number) : vals; changed();
        }, { "data-key": "in" }), "wide"));
        break;
      }
      case "tags": {
        add(label(t("match"), select([["any", t("any")], ["all", t("all")], ["none", t("none")]], node.match || "any", function (v) {
          node.match = v; changed();
        }, { "data-key": "match" })));
        add(label(t("tags"), multi(O.tags, node.tags, function (vals) { node.tags = vals.map(Number); changed(); }, { "data-key": "tags" }), "wide"));
        break;
      }
      case "consent": {
        add(label(t("channel"), select(O.channel, node.channel, function (v) { node.channel = v; changed(); }, { "data-key": "channel" })));
        add(label(t("value"), select([["1", t("granted")], ["0", t("refused")]], node.granted === false ? "0" : "1", function (v) {
          node.granted = v === "1"; changed();
        }, { "data-key": "granted" })));
        break;
      }
      case "birthday": {
        var byMonth = "month" in node;
        add(label(t("birthday"), select([["within", t("within_days")], ["month", t("month")]], byMonth ? "month" : "within", function (v) {
          if (v === "month") { delete node.within_days; node.month = new Date().getMonth() + 1; } else { delete node.month; node.within_days = 30; }
          redraw();
        })));
        if (byMonth) {
          var months = [];
          for (var m = 1; m <= 12; m++) months.push([m, m]);
          add(label(t("month"), select(months, node.month, function (v) { node.month = Number(v); changed(); }, { "data-key": "month" })));
        } else {
          add(label(t("days"), input("number", node.within_days, function (v) { node.within_days = num(v); changed(); },
            { min: 0, max: 366, inputmode: "numeric", "data-key": "within_days" })));
        }
        break;
      }
      case "event": {
        add(eventTypeEditor(node));
        var isSum = "sum" in node;
        var row = h("div", { className: "seg-row" });
        row.appendChild(label(t("measure"), select([["count", t("count")], ["sum", t("sum")]], isSum ? "sum" : "count", function (v) {
          if (v === "sum") { delete node.count; node.sum = { of: "amount_fen", op: ">=", value: 30000 }; }
          else { delete node.sum; node.count = { op: ">=", value: 1 }; }
          redraw();
        })));
        if (isSum) {
          var s = node.sum;
          var of = s.of === "amount_fen" || s.of === "quantity" ? s.of : "property";
          row.appendChild(label(t("sum"), select([["amount_fen", t("amount")], ["quantity", t("quantity")], ["property", t("property")]], of, function (v) {
            var wasAmount = s.of === "amount_fen";
            s.of = v === "property" ? "properties." : v;
            if (wasAmount !== (v === "amount_fen") && typeof s.value === "number") s.value = v === "amount_fen" ? s.value * 100 : s.value / 100;
            redraw();
          }, { "data-key": "sum.of" })));
          if (of === "property") {
            row.appendChild(label(t("property"), input("text", s.of.replace(/^properties\./, ""), function (v) {
              s.of = "properties." + v.trim(); changed();
            }, { "data-key": "sum.of", size: 10 })));
          }
          row.appendChild(label(t("op"), select(ops(COMPARISONS), s.op, function (v) { s.op = v; changed(); }, { "data-key": "sum.op" })));
          var shown = of === "amount_fen" && typeof s.value === "number" ? s.value / 100 : s.value;
          row.appendChild(label(of === "amount_fen" ? t("amount") : t("value"), input("number", shown, function (v) {
            var n = num(v);
            s.value = of === "amount_fen" && typeof n === "number" ? Math.round(n * 100) : n;
            changed();
          }, { step: "any", inputmode: "decimal", "data-key": "sum.value" })));
        } else {
          row.appendChild(label(t("op"), select(ops(COMPARISONS), node.count.op, function (v) { node.count.op = v; changed(); }, { "data-key": "count.op" })));
          row.appendChild(label(t("count"), input("number", node.count.value, function (v) { node.count.value = num(v); changed(); },
            { min: 0, inputmode: "numeric", "data-key": "count.value" })));
        }
        add(row);
        add(windowEditor(node, "window", true));
        add(whereEditor(node));
        break;
      }
      case "first_time": case "last_time": {
        add(eventTypeEditor(node));
        add(windowEditor(node, "window", false));
        add(whereEditor(node));
        break;
      }
      case "stopped": {
        add(eventTypeEditor(node));
        add(windowEditor(node, "did", false));
        add(label(t("not_in_last_days"), input("number", node.not_in_last_days, function (v) { node.not_in_last_days = num(v); changed(); },
          { min: 1, inputmode: "numeric", "data-key": "not_in_last_days" })));
        add(whereEditor(node));
        break;
      }
      case "rfm": {
        add(label(t("score"), select([["r", t("recency")], ["f", t("frequency")], ["m", t("monetary")]], node.score, function (v) {
          node.score = v; changed();
        }, { "data-key": "score" })));
        var scores = [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 5]];
        add(label(t("min"), select(scores, node.min === undefined ? 0 : node.min, function (v) { node.min = Number(v); changed(); }, { "data-key": "min" })));
        add(label(t("max"), select(scores, node.max === undefined ? 5 : node.max, function (v) { node.max = Number(v); changed(); }, { "data-key": "max" })));
        break;
      }
      case "segment": {
        var choices = O.segment.slice();
        if (node.segment === null || node.segment === undefined) choices.unshift(["", t("pick")]);
        add(label(t("other_segment"), select(choices, node.segment === null ? "" : node.segment, function (v) {
          node.segment = v === "" ? null : Number(v); changed();
        }, { "data-key": "segment" }), "wide"));
        break;
      }
      case "list": {
        var kind = "phones" in node ? "phones" : "customers";
        var values = node[kind] || [];
        var counter = h("small", { className: "muted", text: values.length + " " + t("list_count") });
        var area = h("textarea", { rows: 4, "data-key": kind, "aria-label": t("list_text"), placeholder: kind === "phones" ? "13800000001\n13800000002" : "1024\n2048" });
        area.value = values.join("\n");
        var parse = function (text) {
          var tokens = text.split(/[\s,，;；]+/).map(function (s) { return s.replace(/^"|"$/g, "").trim(); }).filter(Boolean);
          return kind === "phones" ? tokens : tokens.map(scalar);
        };
        area.addEventListener("input", function () {
          node[kind] = parse(area.value);
          counter.textContent = node[kind].length + " " + t("list_count");
          changed();
        });
        add(label(t("list_kind"), select([["customers", t("ids")], ["phones", t("phones")]], kind, function (v) {
          var old = node[kind] || [];
          delete node.customers; delete node.phones;
          node[v] = v === "phones" ? old.map(String) : old.map(scalar);
          redraw();
        })));
        add(label(t("list_text"), area, "wide"));
        add(counter);
        var file = h("input", { type: "file", accept: ".txt,.csv,text/plain,text/csv", "data-key": "file" });
        file.addEventListener("change", function () {
          var f = file.files && file.files[0];
          if (!f) return;
          var reader = new FileReader();
          reader.onload = function () {
            var firsts = String(reader.result).split(/\r?\n/).map(function (line) {
              return line.split(/[,;\t]/)[0].replace(/^\uFEFF/, "").replace(/^"|"$/g, "").trim();
            }).filter(function (s) { return /\d/.test(s); });  // a header row has no digits
            area.value = (area.value.trim() ? area.value.trim() + "\n" : "") + firsts.join("\n");
            area.dispatchEvent(new Event("input"));
          };
          reader.readAsText(f);
        });
        add(label(t("list_file"), file, "wide"));
        break;
      }
      case "bucket": {
        add(label(t("modulo"), input("number", node.modulo, function (v) { node.modulo = num(v); changed(); },
          { min: 1, max: 10000, inputmode: "numeric", "data-key": "modulo" })));
        add(label(t("buckets"), input("text", (node.buckets || []).join(", "), function (v) {
          node.buckets = v.split(/[\s,，]+/).filter(Boolean).map(scalar); changed();
        }, { "data-key": "buckets", size: 8 })));
        add(label(t("salt"), input("number", node.salt || 0, function (v) { node.salt = num(v); changed(); },
          { min: 0, inputmode: "numeric", "data-key": "salt" })));
        break;
      }
    }
    return box;
  }

  /* --- the tree -------------------------------------------------------------------------------------- */
  // setNode(newNode) replaces this node in its parent (or the root); remove() takes it out (null: cannot).
  function drawNode(node, path, setNode, remove) {
    var isGroup = node.type === "and" || node.type === "or";
    var box = h("div", { className: "seg-node " + (isGroup ? "seg-group" : node.type === "not" ? "seg-not" : "seg-leaf"), "data-path": path });
    var bar = h("div", { className: "seg-bar" });
    box.appendChild(bar);
    if (isGroup) {
      bar.appendChild(select([["and", t("and")], ["or", t("or")]], node.type, function (v) { node.type = v; changed(); redrawLabels(); },
        { "aria-label": t("and") + " / " + t("or"), className: "seg-kind" }));
    } else if (node.type === "not") {
      bar.appendChild(h("strong", { className: "seg-kind-label", text: t("not") }));
    } else {
      bar.appendChild(select(LEAVES.map(function (k) { return [k, t(k)]; }), node.type, function (v) {
        setNode(defaults(v)); redraw();
      }, { "aria-label": t("leaf_type"), className: "seg-kind" }));
    }
    var tools = h("span", { className: "seg-tools" });
    if (node.type === "not") {
      tools.appendChild(h("button", { type: "button", className: "link", text: t("unwrap_not"), on: { click: function () { setNode(node.child); redraw(); } } }));
    } else {
      tools.appendChild(h("button", { type: "button", className: "link", text: t("wrap_not"), on: { click: function () { setNode({ type: "not", child: node }); redraw(); } } }));
    }
    if (remove) tools.appendChild(h("button", { type: "button", className: "link danger", text: t("remove"), on: { click: function () { remove(); redraw(); } } }));
    bar.appendChild(tools);
    box.appendChild(h("div", { className: "seg-node-errors", role: "alert" }));

    if (isGroup) {
      var list = h("div", { className: "seg-children" });
      node.children = node.children || [];
      node.children.forEach(function (child, i) {
        list.appendChild(drawNode(child, path + ".children." + i,
          function (n) { node.children[i] = n; },
          function () { node.children.splice(i, 1); }));
      });
      if (!node.children.length) list.appendChild(h("p", { className: "muted", text: t("empty_group") }));
      box.appendChild(list);
      box.appendChild(h("div", { className: "seg-add" }, [
        h("button", { type: "button", className: "ghost", "data-add": "condition", text: "+ " + t("add_condition"), on: { click: function () { node.children.push(defaults("attribute")); redraw(); } } }),
        h("button", { type: "button", className: "ghost", "data-add": "group", text: "+ " + t("add_group"), on: { click: function () {
          node.children.push({ type: node.type === "and" ? "or" : "and", children: [defaults("attribute")] }); redraw();
        } } }),
      ]));
    } else if (node.type === "not") {
      box.appendChild(h("div", { className: "seg-children" }, [drawNode(node.child || defaults("attribute"), path + ".child",
        function (n) { node.child = n; }, null)]));
    } else {
      box.appendChild(leafFields(node));
    }
    return box;
  }

  function redrawLabels() { /* group kind selects carry their own state */ }

  function redraw() {
    mount.textContent = "";
    var root = def.root;
    var isGroup = root && (root.type === "and" || root.type === "or");
    mount.appendChild(drawNode(root, "root", function (n) { def.root = n; },
      isGroup ? null : function () { def.root = { type: "and", children: [] }; }));
    if (!isGroup) {  // a single condition at the root: adding one more makes it a group
      mount.appendChild(h("div", { className: "seg-add" }, [
        h("button", { type: "button", className: "ghost", "data-add": "condition", text: "+ " + t("add_condition"), on: { click: function () {
          def.root = { type: "and", children: [def.root, defaults("attribute")] }; redraw();
        } } }),
      ]));
    }
    changed();
  }

  /* --- the hidden field and the live count ------------------------------------------------------------- */
  function isEmpty() {
    var r = def.root;
    return !r || ((r.type === "and" || r.type === "or") && !(r.children || []).length);
  }

  function changed() {
    hidden.value = JSON.stringify(def);
    clearTimeout(timer);
    if (isEmpty()) { showCount(null); return; }
    timer = setTimeout(count, 450);
  }

  function showCount(result, note) {
    countBox.classList.remove("busy", "bad");
    sizeEl.textContent = result === null ? "—" : result;
    noteEl.textContent = note || "";
  }

  function clearProblems() {
    Array.prototype.forEach.call(mount.querySelectorAll(".seg-node-errors"), function (el) { el.textContent = ""; });
    Array.prototype.forEach.call(mount.querySelectorAll("[aria-invalid]"), function (el) { el.removeAttribute("aria-invalid"); });
    Array.prototype.forEach.call(mount.querySelectorAll(".seg-node.invalid"), function (el) { el.classList.remove("invalid"); });
    summaryEl.hidden = true;
    summaryEl.textContent = "";
  }

  function showProblems(problems) {
    clearProblems();
    var nodes = Array.prototype.slice.call(mount.querySelectorAll(".seg-node"));
    var loose = [];
    problems.forEach(function (p) {
      var best = null;
      nodes.forEach(function (n) {
        var np = n.getAttribute("data-path");
        if ((p.path === np || p.path.indexOf(np + ".") === 0) && (!best || np.length > best.getAttribute("data-path").length)) best = n;
      });
      if (!best) { loose.push(p); return; }
      best.classList.add("invalid");
      var rest = p.path.slice(best.getAttribute("data-path").length + 1);
      var own = Array.prototype.filter.call(best.querySelectorAll("[data-key]"), function (el) {
        return el.closest(".seg-node") === best && el.getAttribute("data-key") === rest;
      });
      own.forEach(function (el) { el.setAttribute("aria-invalid", "true"); });
      var box = Array.prototype.find.call(best.children, function (c) { return c.classList.contains("seg-node-errors"); });
      // the field is outlined when the page has one for the path; otherwise the path says where
      box.appendChild(h("p", { "data-path": p.path, text: (rest && !own.length ? rest + ": " : "") + p.message }));
    });
    if (loose.length) {
      summaryEl.hidden = false;
      loose.forEach(function (p) { summaryEl.appendChild(h("p", { text: (p.path ? p.path + ": " : "") + p.message })); });
    }
  }

  function csrf() {
    var el = form.querySelector("input[name=csrfmiddlewaretoken]");
    return el ? el.value : "";
  }

  function count() {
    if (inflight) inflight.abort();
    var controller = window.AbortController ? new AbortController() : null;
    inflight = controller;
    countBox.classList.add("busy");
    noteEl.textContent = t("counting");
    fetch(countBox.getAttribute("data-url"), {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ definition: def }),
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined,
    }).then(function (r) {
      return r.json().then(function (body) { return { status: r.status, body: body }; });
    }).then(function (res) {
      if (inflight !== controller) return;
      inflight = null;
      if (res.status === 200) {
        clearProblems();
        showCount(res.body.size.toLocaleString(), res.body.ms + " ms" + (res.body.facts_at ? " · " + t("facts_at") + " " + res.body.facts_at : ""));
        countBox.setAttribute("data-size", res.body.size);
      } else {
        showCount("—", t("fix_errors"));
        countBox.classList.add("bad");
        countBox.removeAttribute("data-size");
        showProblems(res.body.errors || []);
      }
    }).catch(function (err) {
      if (err && err.name === "AbortError") return;
      inflight = null;
      showCount("—", t("count_failed"));
      countBox.classList.add("bad");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    form = document.getElementById("segment-form");
    mount = document.getElementById("builder");
    if (!form || !mount) return;
    hidden = form.querySelector("input[name=definition]");
    countBox = document.getElementById("live-count");
    sizeEl = document.getElementById("live-count-size");
    noteEl = document.getElementById("live-count-note");
    summaryEl = document.getElementById("builder-errors");
    if (!def || typeof def !== "object" || !def.root) def = { version: 1, root: { type: "and", children: [] } };
    redraw();
    if (initialProblems.length) showProblems(initialProblems);
    form.addEventListener("submit", function () { hidden.value = JSON.stringify(def); });
  });
})();
