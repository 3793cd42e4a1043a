// The worker's HTTP app: auth, the resource sub-apps, errors, and the OpenAPI
// document generated from the same zod schemas that validate requests.

import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './app-env';
import { requireToken, type TokenRole } from './auth';
import type { Env } from './env';
import { onError, onNotFound } from './error-handler';
import { adminRoutes, clusterRoutes } from './routes/admin';
import { healthRoutes } from './routes/health';
import { kvRoutes } from './routes/kv';
import { rawRoutes } from './routes/raw';
import { txnRoutes } from './routes/txn';
import { bearerScheme } from './schemas';
import type { Services } from './services';
import { validationHook } from './validation';

const protectedPrefixes: readonly (readonly [string, TokenRole])[] = [
  ['/v1/admin/*', 'admin'],
  ['/v1/raw/*', 'api'],
  ['/v1/kv/*', 'api'],
  ['/v1/txn/*', 'api'],
  ['/v1/cluster', 'api'],
];

/**
 * Builds a request's services. `background` keeps work the request leaves
 * running (a transaction's secondary commits) alive past the response.
 */
export type ServicesFactory = (env: Env, background: (work: Promise<void>) => void) => Services;

export function buildApp(services: ServicesFactory) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  // Each protected prefix gets auth and then the services, before its
  // routes: every request under it is refused without a good token (even one
  // for a route that does not exist), an unknown path outside them is a plain
  // 404, and the stores are built only for authenticated requests, so the
  // public routes (GET /v1/health, GET /openapi.json, GET /) never touch them.
  // A new resource adds its prefix here; test/unit/api/auth.test.ts checks
  // that every registered route but the public ones refuses a missing token.
  //
  // Services are built per request on purpose: a promise that one request
  // awaits must not be settled by another request's I/O (workerd cancels
  // the waiting request as hung), so nothing that batches or waits (the TSO
  // client) may be shared between requests. What is shared lives below them
  // as plain data (the region route cache, see services-factory.ts).
  const provideServices = createMiddleware<AppEnv>(async (c, next) => {
    c.set('services', services(c.env, backgroundOf(c)));
    await next();
  });
  for (const [prefix, role] of protectedPrefixes) app.use(prefix, requireToken(role), provideServices);

  app.route('/', healthRoutes());
  app.route('/', rawRoutes());
  app.route('/', kvRoutes());
  app.route('/', txnRoutes());
  app.route('/', clusterRoutes());
  app.route('/', adminRoutes());

  app.openAPIRegistry.registerComponent('securitySchemes', bearerScheme, {
    type: 'http',
    scheme: 'bearer',
    description: 'API_TOKEN for data routes, ADMIN_TOKEN for /v1/admin/*.',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'regionkv',
      version: '1',
      description: 'A distributed transactional key-value store on Cloudflare Workers and Durable Objects.',
    },
  });

  app.notFound(onNotFound);
  app.onError(onError);
  return app;
}

/** waitUntil of the request's execution context; absent in `app.request()` tests. */
function backgroundOf(c: Context<AppEnv>): (work: Promise<void>) => void {
  let ctx: { waitUntil(promise: Promise<unknown>): void } | undefined;
  try {
    ctx = c.executionCtx;
  } catch {
    ctx = undefined;
  }
  return (work) => {
    const settled = work.catch((err: unknown) => console.warn('background work failed', err));
    ctx?.waitUntil(settled);
  };
}
