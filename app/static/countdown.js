// The wait before another code may be sent, counted down live on a code page. Without this file
// the page writes the time out ("after 14:33 UTC") and the server answers an early click the
// same way; with it, the page's buttons (Resend code, Call me instead, Send by WhatsApp instead)
// stay disabled until the wait is over.
(function () {
  "use strict";

  var box = document.querySelector("[data-countdown]");
  var seconds = box ? parseInt(box.getAttribute("data-countdown"), 10) : 0;
  if (!(seconds > 0)) return;
  var text = box.querySelector("[data-countdown-text]");
  var done = box.querySelector("[data-countdown-done]");
  var buttons = box.querySelectorAll("button");
  var deadline = Date.now() + seconds * 1000;

  // The server's words for a wait (app/waits.py): seconds up to 90, then whole minutes.
  function inWords(left) {
    var count = left <= 90 ? left : Math.ceil(left / 60);
    var unit = left <= 90 ? "second" : "minute";
    return count + " " + unit + (count === 1 ? "" : "s");
  }

  function setDisabled(disabled) {
    buttons.forEach(function (button) { button.disabled = disabled; });
  }

  function tick() {
    var left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) {
      setDisabled(false);
      text.textContent = "Didn't get it? You can ask for a new code now.";
      done.textContent = "You can ask for a new code now.";
      return;
    }
    text.textContent = "Didn't get it? You can ask for a new code in " + inWords(left) + ".";
    setTimeout(tick, Math.min(1000, deadline - Date.now()));
  }

  setDisabled(true);
  tick();
})();
