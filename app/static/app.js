// Progressive enhancement only: every page works, and says the same, without this file.
(function () {
  "use strict";

  // After a failed submit, start at the list of what to fix (GOV.UK's error summary). A link in
  // it moves the focus to its field and shows the field's label too.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var field = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!field) return;
      event.preventDefault();
      var label = document.querySelector("label[for='" + field.id + "']");
      (label || field).scrollIntoView();
      field.focus({ preventScroll: true });
    });
  }

  // Times are written in UTC; show them in the reader's own time zone, saying which, in the
  // page's language (the browser's own variant of it when it has one: en-US, pt-BR).
  var page = document.documentElement.lang || undefined;
  var browser = navigator.language || "";
  var language = page && browser.split("-")[0].toLowerCase() === page.split("-")[0].toLowerCase() ? browser : page;
  var local = new Intl.DateTimeFormat(language, {
    day: "numeric", month: "short", year: "numeric",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });
  document.querySelectorAll("time[data-local]").forEach(function (element) {
    var moment = new Date(element.getAttribute("datetime"));
    if (isNaN(moment.getTime())) return;
    element.title = element.textContent;
    element.textContent = local.format(moment);
  });
})();
