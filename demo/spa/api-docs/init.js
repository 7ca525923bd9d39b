// docs/openapi.yaml rendered by swagger-ui-dist (npm), served by nginx from
// this directory: no CDN, no validator call (validatorUrl null), and no
// "Try it out" (a reference, not a client that would send requests with
// the reader's cookies).
window.ui = SwaggerUIBundle({
  url: 'openapi.yaml',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  supportedSubmitMethods: [],
  presets: [SwaggerUIBundle.presets.apis],
});
