// Range bar: start/end only count for a custom range; a live range reloads itself.
(function () {
  "use strict";
  function setup() {
    var bar = document.querySelector("[data-rangebar]");
    if (bar) {
      var select = bar.querySelector("[data-range-select]");
      var custom = bar.querySelectorAll("[data-custom] input");
      var sync = function () {
        var on = select.value === "custom";
        custom.forEach(function (input) { input.disabled = !on; });
        bar.querySelectorAll("[data-custom]").forEach(function (label) { label.hidden = !on; });
      };
      select.addEventListener("change", function () {
        sync();
        if (select.value !== "custom") { bar.submit(); }
      });
      sync();
    }
    var live = document.querySelector("[data-refresh]");
    if (live) {
      var seconds = parseInt(live.getAttribute("data-refresh"), 10);
      if (seconds > 0) {
        // Reload only while the tab is shown; a hidden tab reloads when it comes back.
        var due = Date.now() + seconds * 1000;
        // Not while a form marked data-hold-refresh is open (a settings form being
        // edited, or shown again with its errors): a reload would lose the input.
        var holding = function () { return document.querySelector("details[open] [data-hold-refresh]") !== null; };
        var tick = function () {
          if (document.visibilityState === "visible" && Date.now() >= due && !holding()) { window.location.reload(); }
        };
        setInterval(tick, 5000);
        document.addEventListener("visibilitychange", tick);
      }
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", setup); } else { setup(); }
})();
