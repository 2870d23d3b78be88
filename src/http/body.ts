import { type PipeTransform, applyDecorators } from '@nestjs/common';
import { ApiBody, type ExamplesObject } from '@nestjs/swagger';
import { type Fields, type ParsedFields, objectSchema, parseFields } from './fields.js';
import { unstorableJson } from './json-checks.js';
import { ValidationProblem } from './problem.js';

/**
 * `@Body(new BodyPipe(definition))`: the request body parsed by its definition (http/fields.ts).
 * A body must be a JSON object that PostgreSQL can store whole, since the payload is kept as
 * received: a NUL or lone surrogate anywhere, or absurd nesting, is refused before anything is
 * stored. Fields the definition does not name are accepted (and kept in the payload).
 */
export class BodyPipe<D extends Fields> implements PipeTransform<unknown, ParsedFields<D>> {
  constructor(private readonly definition: D) {}

  transform(body: unknown): ParsedFields<D> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw ValidationProblem.of('body', 'must be a JSON object');
    }
    const unstorable = unstorableJson(body, '');
    if (unstorable !== undefined) {
      throw ValidationProblem.of(unstorable.field, unstorable.message);
    }
    const result = parseFields(this.definition, body as Record<string, unknown>);
    if ('problems' in result) {
      throw new ValidationProblem(result.problems);
    }
    return result.value;
  }
}

/** The definition as the request body of the OpenAPI document. */
export function ApiBodyFields(
  definition: Fields,
  options: { title?: string; description?: string; examples?: ExamplesObject } = {},
): MethodDecorator {
  const { title, ...rest } = options;
  return applyDecorators(
    ApiBody({
      ...rest,
      schema: objectSchema(definition, {
        ...(title !== undefined ? { title } : {}),
        additionalProperties: true,
      }),
    }),
  );
}
