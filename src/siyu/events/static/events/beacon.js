/* siyu beacon: the store mall's views, shares and clicks as behaviour events (ADR 0011).
   No build step, no dependency. Included on /m/<store>/ pages by the mall's base template:
   <script src=".../events/beacon.js" data-endpoint="/m/<store>/beacon/" defer></script>
   A view is sent when the page is shown; a click on an element with data-beacon="click" (or a
   product link) and a share (data-beacon="share", or the mall's share button, data-share) are
   queued and sent in one batch when the page is hidden (or after 2 s, or at 20 events), with
   sendBeacon (or fetch keepalive). A share or click on a product's page names that product. The
   body goes as text/plain: a CORS-safelisted type that sendBeacon sends everywhere (the endpoint
   reads JSON whatever the type). Each event has an id of its own, so a resend is stored once.
   The endpoint keeps nothing of a visitor the mall does not know. */
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
      try { sent = navigator.sendBeacon(endpoint, new Blob([body], { type: "text/plain;charset=UTF-8" })); } catch (e) { sent = false; }
    }
    if (!sent && window.fetch) {
      fetch(endpoint, { method: "POST", body: body, keepalive: true, credentials: "same-origin",
        headers: { "Content-Type": "text/plain;charset=UTF-8" } }).catch(function () {});
    }
  }

  var PRODUCT = /\/m\/[^/]+\/p\/([^/?#]+)/;  // a mall product page's path: /m/<store>/p/<product>/

  // The product a link leads to: read from the resolved address (the cards' links are relative).
  function productOf(el) {
    var link = el.closest ? el.closest("a[href]") : null;
    if (!link || link.origin !== location.origin) { return null; }
    var m = PRODUCT.exec(link.pathname || "");
    return m ? decodeURIComponent(m[1]) : null;
  }

  var here = PRODUCT.exec(location.pathname);
  var pageProduct = here ? decodeURIComponent(here[1]) : null;

  document.addEventListener("click", function (e) {
    var el = e.target;
    if (!el || !el.closest) { return; }
    var marked = el.closest("[data-beacon], [data-share]");
    var kind = marked ? (marked.getAttribute("data-beacon") || "share") : null;
    var product = (marked && marked.getAttribute("data-product")) || productOf(el);
    if (kind === "share") { product = product || pageProduct; push("share", product ? { product: product } : {}); return; }
    if (kind === "click" || product) { product = product || pageProduct; push("click", product ? { product: product } : {}); }
  }, true);

  push("view", pageProduct ? { product: pageProduct } : {});
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") { flush(); } });
  window.addEventListener("pagehide", flush);
  window.siyuBeacon = { push: push, flush: flush };
  setTimeout(flush, 2000);
})();
