// Coffee Radar: "Use my location" on the Radar page (progressive enhancement, no libraries).
(function () {
  "use strict";

  var button = document.getElementById("use-location");
  var status = document.getElementById("location-status");
  if (!button || !("geolocation" in navigator)) return;

  function say(message) {
    if (status) status.textContent = message;
  }

  var messages = {
    1: "Location permission was denied. Pick a city instead.",
    2: "Your location is unavailable right now. Pick a city instead.",
    3: "Finding your location took too long. Please try again."
  };

  button.hidden = false;

  button.addEventListener("click", function (event) {
    event.preventDefault(); // the button may sit inside the city form
    button.disabled = true;
    say("Locating you…");
    navigator.geolocation.getCurrentPosition(
      function (position) {
        var lat = position.coords.latitude.toFixed(5);
        var lon = position.coords.longitude.toFixed(5);
        say("Found you. Loading nearby coffee places…");
        window.location.href =
          "/radar?lat=" + encodeURIComponent(lat) + "&lon=" + encodeURIComponent(lon);
      },
      function (error) {
        button.disabled = false;
        say(messages[error && error.code] || "Could not get your location. Pick a city instead.");
      },
      { enableHighAccuracy: false, timeout: 10000, maximumAge: 300000 }
    );
  });
})();
