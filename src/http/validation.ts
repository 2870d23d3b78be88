import { type PipeTransform } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import {
  type ValidationError,
  type ValidatorOptions,
  getMetadataStorage,
  validateSync,
} from 'class-validator';
import { type FieldProblem, identifierProblem, unstorableJson } from './json-checks.js';
import { ValidationProblem } from './problem.js';
import { keepValidatorLookups } from './validator-lookups.js';
import { PART_MARK } from './validators.js';

// The one way input is validated: a class-validator DTO per body, query string and message, read
// by class-transformer (which applies defaults and parses query values) and checked by
// validateSync (no validator here is asynchronous, and a promise per request costs CPU). Problems
// name each invalid field once, with its path (`result.resultCode`), and the message starts with it.

keepValidatorLookups();

const READ_BY_HAND: ValidatorOptions = {
  stopAtFirstError: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
};

// An instance class-transformer built holds every field of the input: whitelist leaves the DTO's
// own (a body's unknown fields stay in the stored payload). One a DTO's fromPlain built holds only
// its own already, and skips the work.
const TRANSFORMED: ValidatorOptions = { ...READ_BY_HAND, whitelist: true };

/**
 * A DTO class. One on the hot path (a status report) reads its input itself, with `fromPlain`:
 * class-transformer's plainToInstance costs as much as the validation (docs/decisions/validation.md).
 */
export interface Dto<T> {
  new (): T;
  fromPlain?(input: Record<string, unknown>): T;
}

/** What a DTO's fromPlain gives for a nested object: an instance when it is an object. */
export function nested<T>(
  dto: Dto<T> & { fromPlain(input: Record<string, unknown>): T },
  given: unknown,
): unknown {
  return isJsonObject(given) ? dto.fromPlain(given) : given;
}

/** The input read as `dto` and validated: the instance, or every field's problem. */
export function validateInput<T extends object>(
  dto: Dto<T>,
  input: Record<string, unknown>,
): { value: T } | { problems: FieldProblem[] } {
  const instance = dto.fromPlain !== undefined ? dto.fromPlain(input) : plainToInstance(dto, input);
  const errors = validateSync(instance, dto.fromPlain !== undefined ? READ_BY_HAND : TRANSFORMED);
  return errors.length === 0
    ? { value: instance }
    : { problems: flatten(inFieldOrder(dto, errors), '') };
}

const FIELD_ORDERS = new WeakMap<object, Map<string, number>>();

// class-validator lists a subclass's own fields before those it inherits; the problems follow the
// fields' order as the input documents them: a base class's first (as Swagger lists them).
function inFieldOrder(dto: Dto<unknown>, errors: ValidationError[]): ValidationError[] {
  let order = FIELD_ORDERS.get(dto);
  if (order === undefined) {
    const chain: unknown[] = [];
    for (let type: unknown = dto; type !== Function.prototype; type = Object.getPrototypeOf(type)) {
      chain.unshift(type);
    }
    const metadata = getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false);
    order = new Map();
    for (const type of chain) {
      for (const { target, propertyName } of metadata) {
        if (target === type && !order.has(propertyName)) {
          order.set(propertyName, order.size);
        }
      }
    }
    FIELD_ORDERS.set(dto, order);
  }
  const at = order;
  return errors.toSorted((a, b) => (at.get(a.property) ?? 0) - (at.get(b.property) ?? 0));
}

function flatten(errors: ValidationError[], prefix: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const error of errors) {
    const field = prefix === '' ? error.property : `${prefix}.${error.property}`;
    for (const message of Object.values(error.constraints ?? {})) {
      problems.push(problemOf(field, message));
    }
    if (error.children !== undefined && error.children.length > 0) {
      problems.push(...flatten(error.children, field));
    }
  }
  return problems;
}

// A validator's message, with the path of the part it is about when it names one (problemAt).
function problemOf(field: string, message: string): FieldProblem {
  if (message.startsWith(PART_MARK)) {
    const end = message.indexOf(PART_MARK, 1);
    const part = `${field}.${message.slice(1, end)}`;
    return { field: part, message: `${part} ${message.slice(end + 1)}` };
  }
  return { field, message: `${field} ${message}` };
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `@Body(new BodyPipe(Dto))`. A body must be a JSON object that PostgreSQL can store whole, since
 * the payload is kept as received: a NUL or lone surrogate anywhere, or absurd nesting, is refused
 * before anything is stored. Fields the DTO does not name are accepted (and kept in the payload).
 */
export class BodyPipe<T extends object> implements PipeTransform<unknown, T> {
  constructor(private readonly dto: Dto<T>) {}

  transform(body: unknown): T {
    if (!isJsonObject(body)) {
      throw ValidationProblem.of('body', 'must be a JSON object');
    }
    const unstorable = unstorableJson(body, '');
    if (unstorable !== undefined) {
      throw ValidationProblem.of(unstorable.field, unstorable.message);
    }
    const result = validateInput(this.dto, body);
    if ('problems' in result) {
      throw new ValidationProblem(result.problems);
    }
    return result.value;
  }
}

/**
 * `@Query(new QueryPipe(Dto))`. A parameter given twice is refused: which one would count is not
 * obvious. Parameters the DTO does not name are ignored.
 */
export class QueryPipe<T extends object> implements PipeTransform<unknown, T> {
  constructor(private readonly dto: Dto<T>) {}

  transform(query: unknown): T {
    const given = isJsonObject(query) ? query : {};
    for (const name in given) {
      if (Array.isArray(given[name])) {
        throw ValidationProblem.of(name, 'must be given at most once');
      }
    }
    const result = validateInput(this.dto, given);
    if ('problems' in result) {
      throw new ValidationProblem(result.problems);
    }
    return result.value;
  }
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
