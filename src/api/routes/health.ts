// GET /v1/health: liveness of the worker itself, without auth and without
// touching a store, so a load balancer can call it freely.

import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env';
import { errorResponses } from '../schemas';
import { validationHook } from '../validation';

const health = createRoute({
  method: 'get',
  path: '/v1/health',
  tags: ['cluster'],
  summary: 'Liveness check (no auth)',
  security: [],
  responses: {
    200: {
      description: 'The worker is up.',
      content: { 'application/json': { schema: z.object({ ok: z.literal(true) }) } },
    },
    ...errorResponses(500),
  },
});

export function healthRoutes() {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(health, (c) =>
    c.json({ ok: true as const }, 200),
  );
}
