import { type FastifyInstance } from 'fastify';

/** Builds a Content-Security-Policy from directive → sources. */
function policy(directives: Record<string, string[]>): string {
  return Object.entries(directives)
    .map(([name, sources]) => [name, ...sources].join(' '))
    .join('; ');
}

// Everything a page of this service loads comes from the service itself: the machines it runs
// on may be offline, and nothing else may run in its origin.
const SAME_ORIGIN = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
  'frame-ancestors': ["'none'"],
};

/** The operations page (/dashboard): no inline script or style at all. */
export const PAGE_CONTENT_SECURITY_POLICY = policy(SAME_ORIGIN);

/**
 * Swagger UI (/docs): its HTML holds inline `<style>` blocks and its React views set style
 * attributes, so styles may be inline; its scripts are files of its own and stay 'self' only.
 */
export const DOCS_CONTENT_SECURITY_POLICY = policy({
  ...SAME_ORIGIN,
  'style-src': ["'self'", "'unsafe-inline'"],
});

const DOCS_PATH = /^\/docs(?:[/?]|$)/;

/**
 * Every answer carries `X-Content-Type-Options: nosniff`, so that no browser reads a JSON or
 * problem+json body (which may echo what a client sent) as HTML or script; /docs also carries
 * its Content-Security-Policy. In onSend, which every answer passes, also those Fastify's router
 * or error handler make; a hijacked stream (/changes) sets its own headers.
 */
export function addSecurityHeaders(fastify: FastifyInstance): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-content-type-options', 'nosniff');
    if (DOCS_PATH.test(request.url) && !reply.hasHeader('content-security-policy')) {
      void reply.header('content-security-policy', DOCS_CONTENT_SECURITY_POLICY);
    }
    done(null, payload);
  });
}
