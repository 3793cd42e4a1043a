// The worker's HTTP app: auth, the resource sub-apps, errors, and the OpenAPI
// document generated from the same zod schemas that validate requests.

import { OpenAPIHono } from '@hono/zod-openapi';
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

export function buildApp(services: (env: Env) => Services) {
  const servicesFor = memoizeByEnv(services);
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  // Each protected prefix gets auth and then the services, before its
  // routes: every request under it is refused without a good token (even one
  // for a route that does not exist), an unknown path outside them is a plain
  // 404, and the stores are built only for authenticated requests, so the
  // public routes (GET /v1/health, GET /openapi.json, GET /) never touch them.
  // A new resource adds its prefix here; test/unit/api/auth.test.ts checks
  // that every registered route but the public ones refuses a missing token.
  const provideServices = createMiddleware<AppEnv>(async (c, next) => {
    c.set('services', servicesFor(c.env));
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

/**
 * Builds the services once per bindings object rather than per request, so
 * that what they cache (region routes, stubs) lives as long as the isolate
 * reuses its env.
 */
function memoizeByEnv(factory: (env: Env) => Services): (env: Env) => Services {
  const built = new WeakMap<Env, Services>();
  return (env) => {
    // `app.request()` without bindings passes undefined, which a WeakMap cannot key.
    if (typeof env !== 'object' || env === null) return factory(env);
    let services = built.get(env);
    if (services === undefined) {
      services = factory(env);
      built.set(env, services);
    }
    return services;
  };
}
