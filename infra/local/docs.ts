// Local-runtime-only pages: the OpenAPI document (GET /api/openapi.json) and a Swagger UI page on it (GET /api/docs).
// The cloud API does not serve them: they are not in the route table, so no Lambda and no API Gateway route exist.
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export const OPENAPI_PATH = '/api/openapi.json';
export const DOCS_PATH = '/api/docs';

let document: Promise<string> | undefined;

/** Built on first use (it loads shared/schemas.ts, which reads the configuration) and kept: the routes do not change. */
function openApiJson(): Promise<string> {
  document ??= import('../openapi.ts').then(({ buildOpenApiDocument }) =>
    JSON.stringify(buildOpenApiDocument()),
  );
  document.catch(() => {
    document = undefined;
  });
  return document;
}

// Swagger UI comes from a CDN, so the page needs a browser online; the JSON above works offline.
const docsHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Flash-sale checkout API</title>
<link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
<noscript>The document itself: <a href="${OPENAPI_PATH}">${OPENAPI_PATH}</a></noscript>
<div id="ui"><p>Loading Swagger UI from unpkg.com; offline, read <a href="${OPENAPI_PATH}">${OPENAPI_PATH}</a>.</p></div>
<script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js" crossorigin></script>
<script>SwaggerUIBundle({ url: '${OPENAPI_PATH}', dom_id: '#ui' });</script>
</body>
</html>
`;

/** The local pages by path, each answering GET. */
export const localPages: Readonly<Record<string, () => Promise<APIGatewayProxyStructuredResultV2>>> = {
  [OPENAPI_PATH]: async () => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: await openApiJson(),
  }),
  [DOCS_PATH]: async () => ({
    statusCode: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
    body: docsHtml,
  }),
};
