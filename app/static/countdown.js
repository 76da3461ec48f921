// The wait before another code may be sent, counted down live on a code page. Without this file
// the page writes the time out ("after 14:33 UTC") and the server answers an early click the
// same way; with it, the page's buttons (Resend code, Call me instead, Send by WhatsApp instead)
// stay disabled until the wait is over. The sentences come from the page, in its language
// (data-countdown-waiting, -over, -now); this file only writes the wait into them.
(function () {
  "use strict";

  var box = document.querySelector("[data-countdown]");
  var seconds = box ? parseInt(box.getAttribute("data-countdown"), 10) : 0;
  if (!(seconds > 0)) return;
  var text = box.querySelector("[data-countdown-text]");
  var done = box.querySelector("[data-countdown-done]");
  var buttons = box.querySelectorAll("button");
  var deadline = Date.now() + seconds * 1000;
  var language = document.documentElement.lang || "en";

  function units(unit) {
    try {
      return new Intl.NumberFormat(language, { style: "unit", unit: unit, unitDisplay: "long" });
    } catch (error) {  // a browser without unit formatting: the number alone
      return new Intl.NumberFormat(language);
    }
  }

  var inSeconds = units("second"), inMinutes = units("minute");

  // The server's words for a wait (app/waits.py, Babel's CLDR units): seconds up to 90, then
  // whole minutes.
  function inWords(left) {
    return left <= 90 ? inSeconds.format(left) : inMinutes.format(Math.ceil(left / 60));
  }

  function setDisabled(disabled) {
    buttons.forEach(function (button) { button.disabled = disabled; });
  }

  function tick() {
    var left = Math.ceil((deadline - Date.now()) / 1000);
    if (left <= 0) {
      setDisabled(false);
      text.textContent = box.getAttribute("data-countdown-over");
      done.textContent = box.getAttribute("data-countdown-now");
      return;
    }
    text.textContent = box.getAttribute("data-countdown-waiting").replace("%(wait)s", inWords(left));
    setTimeout(tick, Math.min(1000, deadline - Date.now()));
  }

  setDisabled(true);
  tick();
})();
