import { type ArgumentMetadata, Injectable, ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidationProblem } from './problem.js';
import { type FieldProblem, unstorableJson } from './json-checks.js';

/**
 * The one validation path: class-validator on every DTO, answered as 400 problem details with
 * errors[]. A query without a DTO class (the read routes') is parsed by its route's QueryPipe
 * (http/query.ts), after this pipe refused repeated parameters. Bodies must be JSON objects that
 * PostgreSQL can store whole, since the raw payload is kept: a NUL or lone surrogate anywhere, or
 * absurd nesting, is refused before anything is stored.
 */
@Injectable()
export class RequestValidationPipe extends ValidationPipe {
  constructor() {
    super({
      transform: true,
      whitelist: false,
      forbidUnknownValues: true,
      stopAtFirstError: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors: ValidationError[]) => new ValidationProblem(flatten(errors, '')),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw ValidationProblem.of('body', 'must be a JSON object');
      }
      const problem = unstorableJson(value, '');
      if (problem) {
        throw ValidationProblem.of(problem.field, problem.message);
      }
    }
    if (metadata.type === 'query' && value !== null && typeof value === 'object') {
      for (const [name, item] of Object.entries(value)) {
        if (Array.isArray(item)) {
          throw ValidationProblem.of(name, 'must be given at most once');
        }
      }
    }
    return super.transform(value, metadata);
  }
}

function flatten(errors: ValidationError[], prefix: string): FieldProblem[] {
  return errors.flatMap((error) => {
    const field = prefix === '' ? error.property : `${prefix}.${error.property}`;
    const own = Object.values(error.constraints ?? {}).map((message) => ({
      field,
      message: `${field} ${message}`,
    }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}
