// The API reference page (templates/api/docs.html): starts the Swagger UI that django-ninja's
// wheel ships, with the settings of the page's JSON data block. No inline script (CSP).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("swagger-settings").textContent);
  config.presets = [SwaggerUIBundle.presets.apis];
  window.ui = SwaggerUIBundle(config);
})();
