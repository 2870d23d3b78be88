import { ValidateBy, type ValidationOptions } from 'class-validator';
import { identifierProblem } from './json-checks.js';

/** deviceId, commandId: strings of 1 to 128 characters with no control characters. */
export function IsIdentifier(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isIdentifier',
      validator: {
        validate: (value: unknown) => identifierProblem(value) === undefined,
        defaultMessage: (args) => identifierProblem(args?.value) ?? 'is invalid',
      },
    },
    options,
  );
}

/** An ISO 8601 date and time that says its offset (Z or ±hh:mm), so it names one instant. */
export const ISO_INSTANT =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

export function parseInstant(value: string): Date | undefined {
  if (!ISO_INSTANT.test(value)) {
    return undefined;
  }
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export function IsInstant(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isInstant',
      validator: {
        validate: (value: unknown) =>
          typeof value === 'string' && parseInstant(value) !== undefined,
        defaultMessage: () =>
          'must be an ISO 8601 date and time with Z or an offset, e.g. 2026-11-26T05:00:00Z',
      },
    },
    options,
  );
}
