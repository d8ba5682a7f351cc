// Coffee Radar: small enhancements on top of pages that work without JavaScript.
// - The cart's forms (quantity steps, updates, removals) are sent in the background and
//   the cart is redrawn from the page the server answers with, keeping the focus.
// - "Add to cart" is sent in the background too: the cart badge counts the new items and
//   a message says so, without leaving the page.
// - On a product page, choosing a colour or a size switches the picture, the price, the
//   sizes on offer and the address in place, without a reload (the colours are links and
//   the sizes a plain form, for browsers without script).
// - A table that scrolls sideways and has no keyboard stop of its own gets one (pages mark
//   theirs; this covers any that do not).
// Whenever a background request does not go as planned, the form is sent the plain way.
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function reachScrollingTables() {
    document.querySelectorAll(".table-wrap:not([tabindex])").forEach(function (wrap) {
      if (wrap.scrollWidth <= wrap.clientWidth) return;
      var caption = wrap.querySelector("caption");
      var heading = wrap.previousElementSibling;
      wrap.tabIndex = 0;
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", (caption || heading || document.querySelector("h1")).textContent.trim());
    });
  }
  reachScrollingTables();
  window.addEventListener("resize", reachScrollingTables);

  function pickPairs() {
    var swatches = Array.prototype.slice.call(document.querySelectorAll(".swatches a.swatch"));
    if (!swatches.length) return;
    var form = document.querySelector("form.add-form");
    var picture = document.getElementById("product-picture");
    var price = document.getElementById("chosen-price");
    var colourName = document.getElementById("chosen-colour");
    var colourField = document.getElementById("chosen-colour-field");

    function shownSizes(extra) {
      return form ? form.querySelectorAll("fieldset.sizes:not([hidden]) input[name=size]" + (extra || "")) : [];
    }
    function showPrice() {
      var from = shownSizes(":checked")[0] || shownSizes()[0];
      if (from) price.textContent = from.getAttribute("data-price");
    }
    function remember(color, size) {
      var url = new URL(window.location.href);
      url.searchParams.set("color", color);
      if (size) url.searchParams.set("size", size);
      else url.searchParams.delete("size");
      window.history.replaceState(null, "", url);
    }
    function choose(swatch) {
      var color = swatch.getAttribute("data-color");
      swatches.forEach(function (other) {
        if (other === swatch) other.setAttribute("aria-current", "true");
        else other.removeAttribute("aria-current");
      });
      colourName.textContent = color;
      picture.src = swatch.getAttribute("data-picture");
      picture.alt = picture.getAttribute("data-product") + " in " + color;
      var size = null;
      if (form) {
        var before = shownSizes(":checked")[0];
        form.querySelectorAll("fieldset.sizes").forEach(function (group) {
          var shown = group.getAttribute("data-color") === color;
          group.hidden = !shown;
          group.disabled = !shown;
        });
        colourField.value = color;
        // The same size in the new colour when it has it in stock, else its first in stock.
        var open = Array.prototype.slice.call(shownSizes(":not([disabled])"));
        var pick = open.filter(function (input) { return before && input.value === before.value; })[0] || open[0];
        shownSizes().forEach(function (input) { input.checked = input === pick; });
        if (pick) size = pick.value;
      }
      showPrice();
      remember(color, size);
    }

    swatches.forEach(function (swatch) {
      swatch.addEventListener("click", function (event) {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        choose(swatch);
      });
    });
    if (form) {
      form.addEventListener("change", function (event) {
        if (event.target.name !== "size") return;
        showPrice();
        remember(colourField.value, event.target.value);
      });
    }
  }
  pickPairs();

  function say(text, near) {
    var status = document.getElementById("js-status");
    if (!status) {
      status = document.createElement("p");
      status.id = "js-status";
      status.className = "flash flash--ok";
      status.setAttribute("role", "status");
      near.insertAdjacentElement("afterend", status);
    }
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
    return status;
  }

  function updateBadge(from) {
    var fresh = from.querySelector(".cart-link .badge");
    var badge = document.querySelector(".cart-link .badge");
    if (!fresh || !badge) return;
    badge.textContent = fresh.textContent;
    badge.setAttribute("aria-label", fresh.getAttribute("aria-label") || "");
  }

  // Read from the attributes: a field named "action" or "method" hides the form's own.
  function target(form) {
    return new URL(form.getAttribute("action") || "", window.location.href);
  }

  // Sends `form` as the browser would and answers the page the server ends on, or null
  // when that is not the page `expected` (then the caller falls back to a plain submit).
  function send(form, submitter, expected) {
    var body = new URLSearchParams(new FormData(form, submitter));
    return fetch(target(form), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok || new URL(response.url).pathname !== expected) return null;
        return response.text().then(function (html) {
          return new DOMParser().parseFromString(html, "text/html");
        });
      })
      .catch(function () { return null; });
  }

  function plainSubmit(form, submitter) {
    form.dataset.plain = "yes";
    if (form.requestSubmit) form.requestSubmit(submitter || undefined);
    else form.submit();
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var method = (form.getAttribute("method") || "get").toLowerCase();
    if (form.dataset.plain === "yes" || method !== "post") return;
    var submitter = event.submitter || null;
    var inCart = form.hasAttribute("data-cart") && document.getElementById("cart");
    var addsToCart = target(form).pathname === "/cart/items";
    if (!inCart && !addsToCart) return;
    event.preventDefault();
    var focused = document.activeElement && document.activeElement.getAttribute("data-focus");
    if (submitter) submitter.disabled = true;

    if (inCart) {
      send(form, submitter, "/cart").then(function (page) {
        var fresh = page && page.getElementById("cart");
        if (!fresh) return plainSubmit(form, submitter);
        document.getElementById("cart").replaceWith(fresh);
        updateBadge(page);
        var again = focused && document.querySelector('[data-focus="' + focused + '"]');
        if (again && !again.disabled) again.focus();
        else document.getElementById("main").focus();
        var flash = page.querySelector(".flash");
        say(flash ? flash.textContent : "Your cart is updated.", document.querySelector("h1"));
      });
      return;
    }

    send(form, submitter, "/cart").then(function (page) {
      if (submitter) submitter.disabled = false;
      if (!page) return plainSubmit(form, submitter);
      updateBadge(page);
      var status = say("Added to your cart. ", form);
      var link = document.createElement("a");
      link.href = "/cart";
      link.textContent = "View your cart";
      window.setTimeout(function () { status.appendChild(link); }, 60);
    });
  });

  // A typed quantity is sent when the field is left, so the Update button is not needed.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.name !== "quantity" || input.type !== "number") return;
    var form = input.form;
    if (form && form.hasAttribute("data-cart") && form.requestSubmit) form.requestSubmit();
  });
})();
