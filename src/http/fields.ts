import { type SchemaObject } from '@nestjs/swagger';
import { type FieldProblem, IDENTIFIER_MAX_LENGTH, identifierProblem } from './json-checks.js';

// The one way a request is validated: a definition per body or query string, one field each,
// whose parse function checks what was given and turns it into the value the service uses (or
// says why it cannot). The same definition documents the field in the OpenAPI document. Parsing
// is plain code run once per field: no copying of the body and no reflection per request.

/** What a field's parser gives: its value, or why the given value is not one. */
export type Parsed<T> = { value: T } | { problem: string } | { problems: FieldProblem[] };

/** One field: how it is parsed and checked, its value when absent, and its documentation. */
export interface Field<T> {
  parse(given: unknown): Parsed<T>;
  /** Absent (or null) fields get this value without parsing, unless required. */
  absent: T;
  required: boolean;
  doc: SchemaObject;
}

export type Fields = Record<string, Field<unknown>>;

/** The values of an input parsed by its definition. */
export type ParsedFields<D extends Fields> = {
  [K in keyof D]: D[K] extends Field<infer T> ? T : never;
};

/** A field that must be given: absent, it is parsed as undefined, so its parser says why. */
export function required<T>(parse: (given: unknown) => Parsed<T>, doc: SchemaObject): Field<T> {
  return { parse, absent: undefined as T, required: true, doc };
}

/** An optional field: undefined when absent or null. */
export function optional<T>(
  parse: (given: unknown) => Parsed<T>,
  doc: SchemaObject,
): Field<T | undefined> {
  return { parse, absent: undefined, required: false, doc };
}

/** A field with a value when absent or null. */
export function withDefault<T>(
  absent: T,
  parse: (given: unknown) => Parsed<T>,
  doc: SchemaObject,
): Field<T> {
  return { parse, absent, required: false, doc };
}

/**
 * Parses an input by its definition, each field once, in the definition's order. Fields it does
 * not define are left alone. Problems name the field's path (`result.resultCode`), and the message
 * starts with it.
 */
export function parseFields<D extends Fields>(
  definition: D,
  input: Record<string, unknown>,
): { value: ParsedFields<D> } | { problems: FieldProblem[] } {
  const result = collect(definition, input);
  return 'problems' in result
    ? {
        problems: result.problems.map(({ field, message }) => ({
          field,
          message: `${field} ${message}`,
        })),
      }
    : result;
}

// The fields' values, or their problems with paths relative to the input and bare messages.
function collect<D extends Fields>(
  definition: D,
  input: Record<string, unknown>,
): { value: ParsedFields<D> } | { problems: FieldProblem[] } {
  let problems: FieldProblem[] | undefined;
  const parsed: Record<string, unknown> = {};
  for (const name in definition) {
    const field = definition[name];
    const given = input[name];
    if ((given === undefined || given === null) && !field.required) {
      parsed[name] = field.absent;
      continue;
    }
    const result = field.parse(given);
    if ('value' in result) {
      parsed[name] = result.value;
    } else if ('problem' in result) {
      (problems ??= []).push({ field: name, message: result.problem });
    } else {
      for (const inner of result.problems) {
        (problems ??= []).push({ field: `${name}.${inner.field}`, message: inner.message });
      }
    }
  }
  return problems === undefined ? { value: parsed as ParsedFields<D> } : { problems };
}

/** The OpenAPI schema of an object with these fields. */
export function objectSchema(definition: Fields, doc: SchemaObject = {}): SchemaObject {
  const names = Object.keys(definition);
  const requiredNames = names.filter((name) => definition[name].required);
  return {
    type: 'object',
    ...doc,
    properties: Object.fromEntries(names.map((name) => [name, definition[name].doc])),
    ...(requiredNames.length > 0 ? { required: requiredNames } : {}),
  };
}

// Parsers shared by the routes. Each takes anything, so that a value of another type gets the
// same message as a wrong one.

function isJsonObject(given: unknown): given is Record<string, unknown> {
  return typeof given === 'object' && given !== null && !Array.isArray(given);
}

/** A JSON object with these fields, nested in a body; problems inside it name their path. */
export function object<D extends Fields>(
  definition: D,
): (given: unknown) => Parsed<ParsedFields<D>> {
  return (given) => {
    if (given === undefined || given === null) {
      return { problem: 'is required' };
    }
    return isJsonObject(given) ? collect(definition, given) : { problem: 'must be an object' };
  };
}

/** The OpenAPI description of an identifier field. */
export const IDENTIFIER_DOC = (example: string): SchemaObject => ({
  type: 'string',
  minLength: 1,
  maxLength: IDENTIFIER_MAX_LENGTH,
  example,
});

/** deviceId, commandId: strings of 1 to 128 characters with no control characters. */
export function identifier(given: unknown): Parsed<string> {
  const problem = identifierProblem(given);
  return problem === undefined ? { value: given as string } : { problem };
}

/** One of a list of strings, exactly as written. */
export function oneOf<T extends string>(
  values: readonly T[],
  message = `must be one of ${values.join(', ')}`,
): (given: unknown) => Parsed<T> {
  return (given) =>
    typeof given === 'string' && (values as readonly string[]).includes(given)
      ? { value: given as T }
      : { problem: message };
}

/** A string of at most `max` characters; not empty unless `allowEmpty`. */
export function text(max: number, allowEmpty: boolean): (given: unknown) => Parsed<string> {
  return (given) => {
    if (typeof given !== 'string') {
      return { problem: 'must be a string' };
    }
    if (!allowEmpty && given.length === 0) {
      return { problem: 'must not be empty' };
    }
    // Characters are code points: an emoji is one, as for identifiers.
    return given.length > max && [...given].length > max
      ? { problem: `must be at most ${max} characters long` }
      : { value: given };
  };
}

/** A whole JSON number from `min` to `max`. */
export function wholeNumber(min: number, max: number): (given: unknown) => Parsed<number> {
  return (given) => {
    if (typeof given !== 'number' || !Number.isInteger(given)) {
      return { problem: 'must be a whole number' };
    }
    return given < min || given > max
      ? { problem: `must be from ${min} to ${max}` }
      : { value: given };
  };
}

/** A JSON object, kept as given. */
export function jsonObject(given: unknown): Parsed<Record<string, unknown>> {
  return isJsonObject(given) ? { value: given } : { problem: 'must be a JSON object' };
}

/** Any JSON value, kept as given. */
export function anyJson(given: unknown): Parsed<unknown> {
  return { value: given };
}

/** A string matching a pattern. */
export function matching(pattern: RegExp, message: string): (given: unknown) => Parsed<string> {
  return (given) =>
    typeof given === 'string' && pattern.test(given) ? { value: given } : { problem: message };
}

/** An ISO 8601 date and time that says its offset (Z or ±hh:mm), so it names one instant. */
export const ISO_INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(:(\d{2})(\.\d{1,9})?)?(Z|[+-](\d{2}):?(\d{2}))$/i;

export function parseInstant(value: string): Date | undefined {
  const match = ISO_INSTANT.exec(value);
  if (match === null) {
    return undefined;
  }
  // Date() rolls impossible fields over (30 February is 2 March, 24:00 the next day): refuse them.
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(match[i]));
  const second = Number(match[7] ?? 0);
  const [offsetHours, offsetMinutes] = [Number(match[10] ?? 0), Number(match[11] ?? 0)];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    offsetHours > 23 ||
    offsetMinutes > 59
  ) {
    return undefined;
  }
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export const INSTANT_MESSAGE =
  'must be an ISO 8601 date and time with Z or an offset, e.g. 2026-11-26T05:00:00Z';

/** An ISO 8601 time with Z or an offset. */
export function instant(given: unknown): Parsed<Date> {
  const value = typeof given === 'string' ? parseInstant(given) : undefined;
  return value === undefined ? { problem: INSTANT_MESSAGE } : { value };
}
