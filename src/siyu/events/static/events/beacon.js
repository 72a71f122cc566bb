/* siyu beacon: the store mall's views, shares and clicks as behaviour events (ADR 0011).
   No build step, no dependency. Included on /m/<store>/ pages by the mall's base template:
   <script src=".../events/beacon.js" data-endpoint="/m/<store>/beacon/" defer></script>
   A view is sent when the page is shown; a click on an element with data-beacon="click" (or a
   product link) and a share (data-beacon="share", or navigator.share) are queued and sent in one
   batch when the page is hidden, with sendBeacon (or fetch keepalive). Each event has an id of
   its own, so a resend is stored once. Nothing is sent for a visitor the mall does not know. */
(function () {
  "use strict";
  var script = document.currentScript;
  var endpoint = script && script.getAttribute("data-endpoint");
  if (!endpoint) { return; }
  var queue = [];
  var seq = 0;
  var base = Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 10);

  function id() { seq += 1; return "web-" + base + "-" + seq; }

  function push(type, extra) {
    var event = { event_id: id(), type: type, at: new Date().toISOString(), page: location.pathname };
    for (var key in extra) { if (Object.prototype.hasOwnProperty.call(extra, key)) { event[key] = extra[key]; } }
    queue.push(event);
    if (queue.length >= 20) { flush(); }
  }

  function flush() {
    if (!queue.length) { return; }
    var body = JSON.stringify({ events: queue.splice(0, 50) });
    var sent = false;
    if (navigator.sendBeacon) {
      try { sent = navigator.sendBeacon(endpoint, new Blob([body], { type: "application/json" })); } catch (e) { sent = false; }
    }
    if (!sent && window.fetch) {
      fetch(endpoint, { method: "POST", body: body, keepalive: true, credentials: "same-origin",
        headers: { "Content-Type": "application/json" } }).catch(function () {});
    }
  }

  function productOf(el) {
    var link = el.closest ? el.closest("a[href*='/p/']") : null;
    if (!link) { return null; }
    var m = /\/p\/([^/?#]+)/.exec(link.getAttribute("href") || "");
    return m ? decodeURIComponent(m[1]) : null;
  }

  document.addEventListener("click", function (e) {
    var el = e.target;
    if (!el || !el.closest) { return; }
    var marked = el.closest("[data-beacon]");
    var kind = marked ? marked.getAttribute("data-beacon") : null;
    var product = (marked && marked.getAttribute("data-product")) || productOf(el);
    if (kind === "share") { push("share", product ? { product: product } : {}); return; }
    if (kind === "click" || product) { push("click", product ? { product: product } : {}); }
  }, true);

  var page = /\/p\/([^/?#]+)/.exec(location.pathname);
  push("view", page ? { product: decodeURIComponent(page[1]) } : {});
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") { flush(); } });
  window.addEventListener("pagehide", flush);
  window.siyuBeacon = { push: push, flush: flush };
  setTimeout(flush, 2000);
})();
