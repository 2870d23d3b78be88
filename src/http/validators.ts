import { applyDecorators } from '@nestjs/common';
import { Expose, Transform, Type } from 'class-transformer';
import {
  IsIn,
  IsOptional,
  ValidateBy,
  ValidateNested,
  type ValidationArguments,
} from 'class-validator';
import { identifierProblem } from './json-checks.js';

// What class-validator lacks, as decorators: identifiers by this service's rules, lengths in code
// points, whole numbers with one message for type and range, instants with an offset, and values
// a transform parses (a query's page size, a cursor) whose decorator says why one did not parse.
// Every message is bare: the pipe (http/validation.ts) puts the field's path in front of it.

type Check = (value: unknown) => string | undefined;

// A message about a part of the value (an element of a list) starts with this mark and the part's
// path, so that the pipe names the part: `devices.2 repeats an earlier device id`.
export const PART_MARK = '\u0000';

/** A check's message about the part of the value at `path`. */
export function problemAt(path: string, message: string): string {
  return `${PART_MARK}${path}${PART_MARK}${message}`;
}

/** A property decorator that refuses a value with the message `check` gives, if any. */
export function Checked(name: string, check: Check): PropertyDecorator {
  return ValidateBy({
    name,
    validator: {
      validate: (value: unknown) => check(value) === undefined,
      defaultMessage: (args?: ValidationArguments) => check(args?.value) ?? 'is invalid',
    },
  });
}

/** deviceId, commandId: strings of 1 to 128 characters with no control characters. */
export function IsIdentifier(): PropertyDecorator {
  return Checked('isIdentifier', identifierProblem);
}

/** One of a list of strings, exactly as written. */
export function IsOneOf(
  values: readonly string[],
  message = `must be one of ${values.join(', ')}`,
): PropertyDecorator {
  return IsIn(values as string[], { message });
}

/** A string of at most `max` characters (code points: an emoji is one); not empty unless allowed. */
export function IsText(max: number, allowEmpty: boolean): PropertyDecorator {
  return Checked('isText', (value) => {
    if (typeof value !== 'string') {
      return 'must be a string';
    }
    if (!allowEmpty && value.length === 0) {
      return 'must not be empty';
    }
    return value.length > max && [...value].length > max
      ? `must be at most ${max} characters long`
      : undefined;
  });
}

/** A whole JSON number from `min` to `max`. */
export function IsWholeNumber(min: number, max: number): PropertyDecorator {
  return Checked('isWholeNumber', (value) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      return 'must be a whole number';
    }
    return value < min || value > max ? `must be from ${min} to ${max}` : undefined;
  });
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON object, kept as given. */
export function IsJsonObject(): PropertyDecorator {
  return Checked('isJsonObject', (value) =>
    isJsonObject(value) ? undefined : 'must be a JSON object',
  );
}

/**
 * A JSON object read as `type`, whose own fields are validated in turn (their paths start with
 * this field's name). Absent, it is refused with `absentMessage`.
 */
export function IsNestedObject(
  type: () => new () => object,
  absentMessage = 'is required',
): PropertyDecorator {
  return applyDecorators(
    Type(type),
    Checked('isNestedObject', (value) =>
      value === undefined || value === null
        ? absentMessage
        : isJsonObject(value)
          ? undefined
          : 'must be an object',
    ),
    ValidateNested(),
  );
}

/**
 * An optional field: absent or null, it takes `absent` (undefined unless given) and is not
 * validated. @Expose makes class-transformer visit the field when the input lacks it.
 */
export function Optional(absent?: unknown): PropertyDecorator {
  return applyDecorators(
    Expose(),
    Transform(({ value }: { value: unknown }) => value ?? absent),
    IsOptional(),
  );
}

/**
 * An optional value that a parse function turns into what the service uses (a query's string into
 * a number, a list, a Date, a cursor). Absent or null, it takes `absent`; otherwise the transform
 * keeps the parsed value, or marks the given one Unparsed, which the validator refuses with
 * `message` (or the message it gives for the given value).
 */
export function ParsedWith<T>(
  name: string,
  parse: (given: unknown) => T | undefined,
  message: string | ((given: unknown) => string),
  absent?: T,
): PropertyDecorator {
  const why = typeof message === 'string' ? () => message : message;
  return applyDecorators(
    Expose(),
    Transform(({ value }: { value: unknown }) => {
      if (value === undefined || value === null) {
        return absent;
      }
      const parsed = parse(value);
      return parsed === undefined ? new Unparsed(value) : parsed;
    }),
    IsOptional(),
    Checked(name, (value) => (value instanceof Unparsed ? why(value.given) : undefined)),
  );
}

/** A given value its field's parse function refused. */
export class Unparsed {
  constructor(readonly given: unknown) {}
}
