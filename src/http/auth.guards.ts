import {
  type CanActivate,
  type ExecutionContext,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import { type FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

/** 401; `challenge` becomes the WWW-Authenticate header. */
export class UnauthorizedProblem extends HttpException {
  constructor(
    detail: string,
    readonly challenge?: string,
  ) {
    super(detail, HttpStatus.UNAUTHORIZED);
  }
}

/** Compares digests, so neither the content nor the length of a secret leaks through timing. */
export function secretMatches(given: string | undefined, expected: string): boolean {
  const a = createHash('sha256')
    .update(given ?? '')
    .digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && given !== undefined;
}

function single(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** CALLBACK_TOKEN, when set, as query `token` or header `X-Callback-Token`. */
@Injectable()
export class CallbackTokenGuard implements CanActivate {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  canActivate(context: ExecutionContext): boolean {
    const expected = this.config.callbackToken;
    if (expected === undefined) {
      return true;
    }
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const query = request.query as Record<string, unknown>;
    const header = single(request.headers['x-callback-token']);
    const token = single(query.token);
    // Evaluate both so the time taken does not depend on which one was sent.
    const byHeader = secretMatches(header, expected);
    const byQuery = secretMatches(token, expected);
    if (byHeader || byQuery) {
      return true;
    }
    throw new UnauthorizedProblem(
      'A valid callback token is required (query token or header X-Callback-Token)',
    );
  }
}

export const ACCEPTS_ACCESS_TOKEN_QUERY = 'acceptsAccessTokenQuery';

/** Lets a route take the API key as `?access_token=` (EventSource cannot send headers). */
export const AcceptsAccessTokenQuery = () => SetMetadata(ACCEPTS_ACCESS_TOKEN_QUERY, true);

/** API_KEYS, when set, as `Authorization: Bearer <key>`. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const keys = this.config.apiKeys;
    if (keys.length === 0) {
      return true;
    }
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const authorization = single(request.headers.authorization);
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    const acceptsQuery = this.reflector.getAllAndOverride<boolean>(ACCEPTS_ACCESS_TOKEN_QUERY, [
      context.getHandler(),
      context.getClass(),
    ]);
    const fromQuery = acceptsQuery
      ? single((request.query as Record<string, unknown>).access_token)
      : undefined;
    const given = bearer ?? fromQuery;
    // Compare against every key, whatever matches first.
    const matched = keys.map((key) => secretMatches(given, key)).includes(true);
    if (matched) {
      return true;
    }
    throw new UnauthorizedProblem(
      'A valid API key is required (Authorization: Bearer <key>)',
      'Bearer',
    );
  }
}
