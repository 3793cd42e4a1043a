// Turns a failed zod validation into a 400 INVALID_ARGUMENT whose message a
// person can act on ("\"value\" is required"), instead of zod's dump. All
// issues go in `details.issues`, each as one short sentence.

import type { Hook, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from './app-env';
import { invalidArgument } from './errors';

type Issue = z.ZodError['issues'][number];
type Target = 'json' | 'query' | 'param' | 'header' | 'cookie' | 'form';

/** The defaultHook of every OpenAPIHono here: success passes, failure throws. */
export const validationHook: Hook<unknown, AppEnv, string, undefined> = (result, c) => {
  if (result.success) return undefined;
  const input = inputOf(result.target, c);
  const messages = result.error.issues.map((issue) => describeIssue(issue, result.target, input));
  throw invalidArgument(messages[0] ?? 'the request is invalid', { issues: messages });
};

function inputOf(target: Target, c: Context<AppEnv>): unknown {
  switch (target) {
    case 'json':
      return c.get('jsonBody');
    case 'query':
      return c.req.query();
    case 'param':
      return c.req.param();
    default:
      return undefined;
  }
}

function describeIssue(issue: Issue, target: Target, input: unknown): string {
  const path = issue.path.map(String).join('.');
  if (path === '') {
    return target === 'json' ? 'the request body must be a JSON object' : `the ${target} is invalid`;
  }
  const where =
    target === 'query' ? `query parameter "${path}"` : target === 'param' ? `path parameter "${path}"` : `"${path}"`;
  switch (issue.code) {
    case 'invalid_type':
      if (valueAt(input, issue.path) === undefined) return `${where} is required`;
      return issue.expected === 'int' ? `${where} must be an integer` : `${where} must be a ${issue.expected}`;
    case 'invalid_value':
      return `${where} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return `${where} must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `${where} must be at most ${String(issue.maximum)}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

/** What the client sent at `path`, to tell a missing field from a wrong type. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let node = input;
  for (const step of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[step];
  }
  return node;
}
