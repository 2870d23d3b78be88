// Checks shared by request validation: what PostgreSQL text and jsonb can hold, and identifiers.

export interface FieldProblem {
  field: string;
  message: string;
}

/** Deep enough for any real resultDetail; bounds the work and PostgreSQL's jsonb recursion. */
export const MAX_JSON_DEPTH = 64;

// C0 and C1 control characters, NUL and DEL included.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

// eslint-disable-next-line no-control-regex -- escaping control characters in messages
const C0_CONTROLS = /[\u0000-\u001f]/g;

export const IDENTIFIER_MAX_LENGTH = 128;

/** Why a string cannot be a deviceId or commandId, or undefined when it can. */
export function identifierProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') {
    return 'must be a string';
  }
  const length = [...value].length;
  if (length < 1 || length > IDENTIFIER_MAX_LENGTH) {
    return `must be 1 to ${IDENTIFIER_MAX_LENGTH} characters long`;
  }
  if (CONTROL_CHARACTERS.test(value)) {
    return 'must not contain control characters';
  }
  if (!value.isWellFormed()) {
    return 'must be well-formed Unicode (no lone surrogates)';
  }
  return undefined;
}

/**
 * The first part of a JSON value that PostgreSQL jsonb cannot store as received: a NUL character
 * or a lone surrogate in a string or key, a number out of range, or nesting deeper than
 * MAX_JSON_DEPTH.
 */
export function unstorableJson(value: unknown, path: string, depth = 0): FieldProblem | undefined {
  if (typeof value === 'string') {
    return stringProblem(value, path);
  }
  // JSON.parse reads 1e400 as Infinity, which would be stored as null: refuse it instead.
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return { field: path || 'body', message: 'is a number out of range' };
  }
  if (value === null || typeof value !== 'object') {
    return undefined;
  }
  if (depth >= MAX_JSON_DEPTH) {
    return { field: path, message: `is nested deeper than ${MAX_JSON_DEPTH} levels` };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = unstorableJson(value[i], `${path}[${i}]`, depth + 1);
      if (problem) {
        return problem;
      }
    }
    return undefined;
  }
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    // The path of a key is spelled out only when the key is refused.
    if (stringProblem(key, '') !== undefined) {
      return stringProblem(key, `${path === '' ? '' : `${path} `}key "${printable(key)}"`);
    }
    const problem = unstorableJson(item, path === '' ? key : `${path}.${key}`, depth + 1);
    if (problem) {
      return problem;
    }
  }
  return undefined;
}

function stringProblem(value: string, path: string): FieldProblem | undefined {
  if (value.includes('\u0000')) {
    return { field: path || 'body', message: 'must not contain NUL characters (\\u0000)' };
  }
  if (!value.isWellFormed()) {
    return { field: path || 'body', message: 'must be well-formed Unicode (no lone surrogates)' };
  }
  return undefined;
}

function printable(key: string): string {
  return key.replace(C0_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
