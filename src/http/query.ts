import { type PipeTransform, applyDecorators } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';
import { type FieldProblem, identifierProblem } from './json-checks.js';
import { ValidationProblem } from './problem.js';

/** What a parameter's parser gives: its value, or why the given text is not one. */
export type Parsed<T> = { value: T } | { problem: string };

/** One query parameter: how it is parsed and checked, its value when absent, and its documentation. */
export interface QueryParameter<T> {
  parse(given: unknown): Parsed<T>;
  absent: T;
  doc: { description?: string; example?: string; minimum?: number; maximum?: number };
}

export type QueryDefinition = Record<string, QueryParameter<unknown>>;

/** The values of a query string parsed by its definition. */
export type ParsedQuery<D extends QueryDefinition> = {
  [K in keyof D]: D[K] extends QueryParameter<infer T> ? T : never;
};

/** An optional parameter: undefined when absent. */
export function optional<T>(
  parse: (given: unknown) => Parsed<T>,
  doc: QueryParameter<T>['doc'],
): QueryParameter<T | undefined> {
  return { parse, absent: undefined, doc };
}

/** A parameter with a value when absent. */
export function withDefault<T>(
  absent: T,
  parse: (given: unknown) => Parsed<T>,
  doc: QueryParameter<T>['doc'],
): QueryParameter<T> {
  return { parse, absent, doc };
}

/**
 * Parses a query string by its definition, each parameter once, in the definition's order; throws
 * one ValidationProblem naming every invalid parameter. Parameters it does not define are ignored.
 * A repeated parameter never gets here: RequestValidationPipe refuses it for every route first.
 */
export function parseQuery<D extends QueryDefinition>(
  definition: D,
  query: Record<string, unknown>,
): ParsedQuery<D> {
  const problems: FieldProblem[] = [];
  const parsed: Record<string, unknown> = {};
  for (const [field, parameter] of Object.entries(definition)) {
    const given = query[field];
    if (given === undefined || given === null) {
      parsed[field] = parameter.absent;
      continue;
    }
    const result = parameter.parse(given);
    if ('problem' in result) {
      problems.push({ field, message: `${field} ${result.problem}` });
    } else {
      parsed[field] = result.value;
    }
  }
  if (problems.length > 0) {
    throw new ValidationProblem(problems);
  }
  return parsed as ParsedQuery<D>;
}

/** `@Query(new QueryPipe(definition))`: the route's query, parsed by its definition. */
export class QueryPipe<D extends QueryDefinition> implements PipeTransform<
  Record<string, unknown>,
  ParsedQuery<D>
> {
  constructor(private readonly definition: D) {}

  transform(query: Record<string, unknown>): ParsedQuery<D> {
    return parseQuery(this.definition, query ?? {});
  }
}

/** The definition's parameters in the OpenAPI document. */
export function ApiQueryParameters(definition: QueryDefinition): MethodDecorator {
  return applyDecorators(
    ...Object.entries(definition).map(([name, parameter]) =>
      ApiQuery({ name, required: false, type: String, ...parameter.doc }),
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
