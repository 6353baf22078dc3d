// New profiling job: offer only the presets the chosen node allows (the server checks again).
(function () {
  "use strict";
  function setup() {
    var form = document.getElementById("profile-form");
    var data = document.getElementById("node-presets");
    if (!form || !data) { return; }
    var allowed = JSON.parse(data.textContent);
    var node = form.querySelector("select[name=node]");
    var preset = form.querySelector("select[name=preset]");
    if (!node || !preset) { return; }
    var sync = function () {
      var presets = allowed[node.value] || [];
      Array.prototype.forEach.call(preset.options, function (option) {
        var off = option.value !== "" && presets.indexOf(option.value) < 0;
        option.disabled = off;
        option.hidden = off;
      });
      if (preset.selectedOptions.length && preset.selectedOptions[0].disabled) {
        preset.value = presets.length ? presets[0] : "";
      }
    };
    node.addEventListener("change", sync);
    sync();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", setup); } else { setup(); }
})();
