import type { Env } from './env';
import type { Services } from './services';

/** Hono's typing of this worker: the bindings plus what middleware puts on the context. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    /** The stores behind the routes (see app.ts for when they are built). */
    services: Services;
    /**
     * The request body parsed as JSON by json-body.ts, kept so a validation
     * failure can tell a missing field from an ill-typed one.
     */
    jsonBody: unknown;
  };
}
