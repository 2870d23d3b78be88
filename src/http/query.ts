import { type PipeTransform, applyDecorators } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';
import { type Fields, type ParsedFields, parseFields } from './fields.js';
import { identifierProblem } from './json-checks.js';
import { ValidationProblem } from './problem.js';

/**
 * `@Query(new QueryPipe(definition))`: the route's query string parsed by its definition
 * (http/fields.ts). A parameter given twice is refused: which one would count is not obvious.
 * Parameters it does not define are ignored.
 */
export class QueryPipe<D extends Fields> implements PipeTransform<
  Record<string, unknown>,
  ParsedFields<D>
> {
  constructor(private readonly definition: D) {}

  transform(query: Record<string, unknown> | undefined): ParsedFields<D> {
    const given = query ?? {};
    for (const name in given) {
      if (Array.isArray(given[name])) {
        throw ValidationProblem.of(name, 'must be given at most once');
      }
    }
    const result = parseFields(this.definition, given);
    if ('problems' in result) {
      throw new ValidationProblem(result.problems);
    }
    return result.value;
  }
}

/** The definition's parameters in the OpenAPI document. */
export function ApiQueryParameters(definition: Fields): MethodDecorator {
  return applyDecorators(
    ...Object.entries(definition).map(([name, field]) =>
      ApiQuery({
        name,
        required: false,
        type: String,
        description: field.doc.description,
        example: field.doc.example as unknown,
      }),
    ),
  );
}

/** `@Param('commandId', new IdentifierPipe('commandId'))`: an id in the path, checked like any. */
export class IdentifierPipe implements PipeTransform<string, string> {
  constructor(private readonly field: string) {}

  transform(id: string): string {
    const problem = identifierProblem(id);
    if (problem !== undefined) {
      throw ValidationProblem.of(this.field, problem);
    }
    return id;
  }
}
