// Passkeys and security keys. A form marked data-passkey ("create" or "get") holds a hidden field
// for the browser's answer: pressing its button asks the server for options (a POST to the form's
// data-passkey-options address, with the form's CSRF token), hands them to
// navigator.credentials.create() or .get(), puts the answer in the field as JSON and submits the
// form, so the server answers with a normal page. data-passkey-conditional also offers the site's
// passkeys in the username field's autofill, where the browser can (conditional mediation).
// Without this file, or without WebAuthn in the browser, the passkey forms stay hidden
// ([data-passkey-only]) and what says so stays shown ([data-passkey-missing]). What the script
// says comes from the form's data-passkey-waiting, -cancelled, -exists, -bad-address and -failed,
// written by the page in its language.
(function () {
  "use strict";

  var forms = document.querySelectorAll("form[data-passkey]");
  if (!forms.length || !window.PublicKeyCredential || !navigator.credentials) return;
  document.querySelectorAll("[data-passkey-only]").forEach(function (el) { el.hidden = false; });
  document.querySelectorAll("[data-passkey-missing]").forEach(function (el) { el.hidden = true; });

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer), binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (item) { return Object.assign({}, item, { id: toBytes(item.id) }); });
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: withIds(json.excludeCredentials)
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, { challenge: toBytes(json.challenge), allowCredentials: withIds(json.allowCredentials) });
  }

  function answerOf(credential) {
    var r = credential.response;
    var answer = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      answer.response.attestationObject = toText(r.attestationObject);
      answer.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      answer.response.authenticatorData = toText(r.authenticatorData);
      answer.response.signature = toText(r.signature);
      answer.response.userHandle = r.userHandle ? toText(r.userHandle) : null;
    }
    return JSON.stringify(answer);
  }

  function options(form) {
    var body = new URLSearchParams();
    body.set("csrf_token", form.querySelector("input[name=csrf_token]").value);
    return fetch(form.getAttribute("data-passkey-options"), {
      method: "POST", body: body, credentials: "same-origin", headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (response.redirected) {  // to confirm it's you again, or to log in again: go there
        window.location.assign(response.url);
        throw new Error("redirected");
      }
      if (!response.ok) throw new Error("options: " + response.status);
      return response.json();
    });
  }

  // One ceremony: options, then the browser; `conditional` is an AbortController for autofill.
  function ceremony(form, conditional) {
    return options(form).then(function (json) {
      if (form.getAttribute("data-passkey") === "create") {
        return navigator.credentials.create({ publicKey: creationOptions(json) });
      }
      var request = { publicKey: requestOptions(json) };
      if (conditional) {
        request.mediation = "conditional";
        request.signal = conditional.signal;
      }
      return navigator.credentials.get(request);
    });
  }

  function sentence(form, error) {
    var name = error && error.name;
    var which = "failed";
    if (name === "NotAllowedError" || name === "AbortError") which = "cancelled";
    else if (name === "InvalidStateError") which = "exists";
    else if (name === "SecurityError") which = "bad-address";
    return form.getAttribute("data-passkey-" + which);
  }

  forms.forEach(function (form) {
    var answer = form.querySelector("[data-passkey-answer]");
    var status = form.querySelector("[data-passkey-status]");
    var button = form.querySelector("button[type=submit]");
    var waiting = null; // the autofill request, while it waits: {controller, done}

    function send(credential) {
      if (!credential) return;
      answer.value = answerOf(credential);
      form.submit();
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      status.textContent = form.getAttribute("data-passkey-waiting");
      var before = Promise.resolve();
      if (waiting) {
        waiting.controller.abort();
        before = waiting.done;
        waiting = null;
      }
      before.then(function () { return ceremony(form, null); }).then(send, function (error) {
        button.disabled = false;
        status.textContent = sentence(form, error);
      });
    });

    var offersAutofill = form.hasAttribute("data-passkey-conditional") &&
      typeof PublicKeyCredential.isConditionalMediationAvailable === "function";
    if (offersAutofill) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available || waiting) return;
        var controller = new AbortController();
        var done = ceremony(form, controller).then(function (credential) {
          if (!controller.signal.aborted) send(credential);
        }, function () { /* dismissed, or given way to the button */ });
        waiting = { controller: controller, done: done };
      });
    }
  });
})();
