// Polling that asks only what changed, slows down while nothing does, and stops while the tab
// is hidden (docs/PAGES.md §Polling).
//
// A region that follows a check carries `data-poll` and `hx-trigger="poll"` (no `every 2s`):
// this script sends it the `poll` event. Each poll carries the ETag of what the region shows
// (`If-None-Match`: its `data-etag`, which the server renders with it, else the last answer's
// `ETag`); the server answers `304 Not Modified` when nothing changed, and htmx, which would
// swap the empty body in (it swaps 2xx and 3xx), is told to leave the region as it is. While it stays unchanged, and it carries
// `data-poll-backoff` (its check is queued or waiting, not being called), the delay doubles:
// 2 s, 4 s, 8 s, 16 s, then 30 s at most; a changed answer swaps the region in, and the new
// one starts again at 2 s. A region whose check is over comes back without `data-poll`: it
// stops. While `document.visibilityState` is "hidden" nothing is sent; when the tab is shown
// again, every region polls at once.
(function () {
  "use strict";

  var BASE_MS = 2000;
  var MAX_MS = 30000;
  var etags = new WeakMap(); // region -> the ETag of its last answer, without data-etag
  var state = new WeakMap(); // region -> {timer, delay, changed}
  var regions = new Set(); // regions with a timer or a request under way

  function stateOf(region) {
    var found = state.get(region);
    if (!found) {
      found = { timer: null, delay: BASE_MS, changed: false };
      state.set(region, found);
    }
    return found;
  }

  function hidden() {
    return document.visibilityState === "hidden";
  }

  function arm(region) {
    var current = stateOf(region);
    clearTimeout(current.timer);
    current.timer = null;
    if (!region.isConnected || !region.hasAttribute("data-poll")) {
      regions.delete(region);
      return;
    }
    regions.add(region);
    if (hidden()) {
      return; // shown again: visibilitychange polls it
    }
    current.timer = setTimeout(function () {
      current.timer = null;
      poll(region);
    }, current.delay);
  }

  function poll(region) {
    if (!region.isConnected || hidden()) {
      return;
    }
    htmx.trigger(region, "poll");
  }

  function armWithin(root) {
    if (!(root instanceof Element)) {
      return;
    }
    var found = Array.prototype.slice.call(root.querySelectorAll("[data-poll]"));
    if (root.hasAttribute("data-poll")) {
      found.push(root);
    }
    found.forEach(function (region) {
      if (stateOf(region).timer === null) {
        arm(region);
      }
    });
  }

  function isRegion(element) {
    return element instanceof Element && element.hasAttribute("data-poll");
  }

  document.addEventListener("htmx:load", function (event) {
    armWithin(event.detail.elt);
  });

  document.addEventListener("htmx:configRequest", function (event) {
    var region = event.detail.elt;
    if (!isRegion(region)) {
      return;
    }
    var etag = region.getAttribute("data-etag") || etags.get(region);
    if (etag) {
      event.detail.headers["If-None-Match"] = etag;
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var region = event.detail.elt;
    if (!isRegion(region)) {
      return;
    }
    var xhr = event.detail.xhr;
    var current = stateOf(region);
    if (xhr.status === 304) {
      // Nothing changed: htmx would swap the empty body in (its default responseHandling
      // swaps every 2xx and 3xx), and the region would be gone.
      event.detail.shouldSwap = false;
      current.changed = false;
      return;
    }
    current.changed = xhr.status >= 200 && xhr.status < 300;
    var etag = xhr.getResponseHeader("ETag");
    if (current.changed && etag) {
      etags.set(region, etag); // for a swap that keeps the region (not outerHTML)
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var region = event.detail.elt;
    if (!isRegion(region)) {
      return;
    }
    if (!region.isConnected) {
      regions.delete(region); // swapped out: its successor is armed on htmx:load
      return;
    }
    var current = stateOf(region);
    if (current.changed) {
      current.delay = BASE_MS;
    } else if (region.hasAttribute("data-poll-backoff")) {
      current.delay = Math.min(current.delay * 2, MAX_MS);
    }
    current.changed = false;
    arm(region);
  });

  document.addEventListener("visibilitychange", function () {
    if (hidden()) {
      regions.forEach(function (region) {
        var current = stateOf(region);
        clearTimeout(current.timer);
        current.timer = null;
      });
      return;
    }
    document.querySelectorAll("[data-poll]").forEach(function (region) {
      var current = stateOf(region);
      clearTimeout(current.timer);
      current.timer = null;
      regions.add(region);
      poll(region);
    });
  });
})();
