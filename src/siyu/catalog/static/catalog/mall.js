/* The store mall's two small helpers (no framework):
   - "Use my location": ask the browser once for her position and post it (lat, lng) with the form
     the button sits in; she is told when it is not available.
   - "Share": the phone's share sheet where there is one, else copy the link. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var locate = event.target.closest("[data-locate]");
    if (locate) {
      event.preventDefault();
      var form = locate.form;
      var status = form.querySelector("[data-locate-status]");
      var say = function (text) { if (status) { status.textContent = text; } };
      if (!navigator.geolocation) { say(locate.dataset.unsupported); return; }
      say(locate.dataset.asking);
      locate.disabled = true;
      navigator.geolocation.getCurrentPosition(function (position) {
        form.elements.lat.value = position.coords.latitude.toFixed(5);
        form.elements.lng.value = position.coords.longitude.toFixed(5);
        form.submit();
      }, function () {
        locate.disabled = false;
        say(locate.dataset.denied);
      }, { timeout: 10000, maximumAge: 600000 });
      return;
    }
    var share = event.target.closest("[data-share]");
    if (share) {
      var field = document.querySelector("[data-share-url]");
      var url = field ? field.value : location.href;
      if (navigator.share) {
        navigator.share({ title: share.dataset.title, url: url }).catch(function () {});
      } else if (navigator.clipboard) {
        navigator.clipboard.writeText(url).then(function () { share.textContent = share.dataset.copied; });
      } else if (field) {
        field.select();
      }
    }
  });
})();
