import { QueryFailedError } from 'typeorm';
import {
  databaseConfigurationProblem,
  isDatabaseUnavailable,
  sqlState,
} from './database-errors.js';

const pgError = (code: string, message = 'error') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it.each([
    ['57P01', 'terminating connection due to administrator command'],
    ['08006', 'connection failure'],
    ['40001', 'could not serialize access'],
    ['53300', 'too many connections'],
    ['3D000', 'database "gone" does not exist'],
    ['28P01', 'password authentication failed'],
  ])('is true for SQLSTATE %s (%s): the request may succeed later', (code, message) => {
    expect(isDatabaseUnavailable(pgError(code, message))).toBe(true);
    expect(
      isDatabaseUnavailable(new QueryFailedError('SELECT 1', [], pgError(code, message))),
    ).toBe(true);
  });

  it.each([
    ['23505', 'duplicate key value'],
    ['22P02', 'invalid input syntax'],
    ['42P01', 'relation does not exist'],
  ])('is false for SQLSTATE %s (%s): trying again changes nothing', (code, message) => {
    expect(
      isDatabaseUnavailable(new QueryFailedError('SELECT 1', [], pgError(code, message))),
    ).toBe(false);
  });

  it('is true for sockets that fail and for the pool giving up', () => {
    expect(isDatabaseUnavailable(pgError('ECONNREFUSED', 'connect ECONNREFUSED'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    const noSocket = Object.assign(pgError('ENOENT', 'connect ENOENT /tmp/x/.s.PGSQL.5432'), {
      syscall: 'connect',
    });
    expect(isDatabaseUnavailable(noSocket)).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(pgError('ENOENT'), { syscall: 'open' }))).toBe(
      false,
    );
    expect(isDatabaseUnavailable(new Error('something else'))).toBe(false);
    expect(isDatabaseUnavailable('text')).toBe(false);
  });
});

describe('databaseConfigurationProblem', () => {
  it.each([
    ['28P01', /credentials \(SQLSTATE 28P01\)/],
    ['28000', /credentials \(SQLSTATE 28000\)/],
    ['3D000', /does not exist \(SQLSTATE 3D000\)/],
  ])('names SQLSTATE %s as a configuration error, also wrapped', (code, expected) => {
    expect(databaseConfigurationProblem(pgError(code))).toMatch(expected);
    const wrapped = new QueryFailedError('SELECT 1', [], pgError(code));
    expect(databaseConfigurationProblem(new Error('outer', { cause: wrapped }))).toMatch(expected);
  });

  it.each(['57P01', '08006', '40001', 'ECONNREFUSED'])(
    'is undefined for %s, an outage that passes',
    (code) => {
      expect(databaseConfigurationProblem(pgError(code))).toBeUndefined();
    },
  );

  it('reads no SQLSTATE from what has none', () => {
    expect(sqlState(new Error('plain'))).toBeUndefined();
    expect(sqlState(undefined)).toBeUndefined();
  });
});
