// /api/docs: Swagger UI (static/vendor/swagger-ui) renders the OpenAPI document named by
// the container's data-url. No request leaves this site: the spec validator's badge is off.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var contenitore = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: contenitore.dataset.url,
    domNode: contenitore,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
  });
});
