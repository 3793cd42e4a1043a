import type { Encoding } from './encoding';
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
    /**
     * The encoding the request asked for, once a route resolved it, so that
     * the error handler writes a key in an error's details the way the
     * client writes keys. Unset: UTF-8.
     */
    encoding: Encoding | undefined;
  };
}
