import { type INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';

/**
 * The OpenAPI 3 document of every route, generated from the controllers' decorators. The service
 * serves it at /docs-json, and `npm run openapi` commits it as docs/openapi.json.
 */
export function openApiDocument(app: INestApplication): OpenAPIObject {
  return SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('command-tracker')
      .setDescription(
        "Sends commands through Huawei's IoT platform and tracks each command's status from the platform's pushes.",
      )
      .setVersion('0.1.0')
      .addBearerAuth()
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Callback-Token' }, 'callbackToken')
      .build(),
  );
}

/** The committed form of the document: stable key order as generated, two-space indent, final newline. */
export function openApiText(document: OpenAPIObject): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
