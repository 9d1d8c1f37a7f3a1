// The stage follows the channel until someone picks a stage by hand; the intensity
// select says what the channel's default is. Re-run after htmx swaps in a fresh form.
(function () {
  function init(root) {
    root.querySelectorAll("form.log-form").forEach(function (form) {
      var defaults = JSON.parse(form.dataset.channelDefaults || "{}");
      var channel = form.querySelector("[name=channel]");
      var stage = form.querySelector("[name=stage]");
      var hint = form.querySelector("[data-stage-hint]");
      var touched = false;
      stage.addEventListener("change", function () { touched = true; });
      function follow() {
        var d = defaults[channel.value];
        if (!d) return;
        if (!touched) stage.value = d.stage;
        if (hint) hint.textContent = "Default for this channel: " + d.stage + ", intensity " + d.intensity;
      }
      channel.addEventListener("change", follow);
      follow();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (event) { init(event.target.parentNode || document); });
})();
