// The administrators' live view: reload every data-seconds seconds, unless paused (the
// button, remembered for this tab) or while an invigilator is typing into a form.
(function () {
  "use strict";
  var box = document.getElementById("refresh");
  if (!box) { return; }
  var seconds = parseInt(box.getAttribute("data-seconds"), 10) || 30;
  var state = document.getElementById("refresh-state");
  var toggle = document.getElementById("refresh-toggle");
  var serverPaused = box.getAttribute("data-paused") === "1";
  var key = "smartcat-live-paused";
  var paused = serverPaused || window.sessionStorage.getItem(key) === "1";
  var labels = {
    running: state.getAttribute("data-running") || state.textContent,
    paused: state.getAttribute("data-paused-text") || state.textContent
  };
  function typing() {
    var fields = document.querySelectorAll("#live input:not([type=hidden])");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value || fields[i] === document.activeElement) { return true; }
    }
    return false;
  }
  function render() {
    state.textContent = paused ? labels.paused : labels.running;
    toggle.textContent = paused ? toggle.getAttribute("data-resume")
                                : toggle.getAttribute("data-pause");
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
  }
  if (toggle.hasAttribute("data-pause")) {
    toggle.setAttribute("role", "button");
    toggle.addEventListener("click", function (event) {
      event.preventDefault();
      paused = !paused;
      window.sessionStorage.setItem(key, paused ? "1" : "0");
      render();
    });
    render();
  }
  window.setInterval(function () {
    if (!paused && !typing()) { window.location.reload(); }
  }, seconds * 1000);
}());
