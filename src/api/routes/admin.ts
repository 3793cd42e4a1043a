// Cluster operations (API.md, "Cluster and operations"): GET /v1/cluster with
// the API token, and the /v1/admin/* member changes and leader transfer with
// the admin token. Region keys are written in the request's encoding.

import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env';
import type { AdminApi } from '../admin-service';
import { type Encoding, decodeKey, encodeBytes, resolveEncoding } from '../encoding';
import { ApiError, ErrorCode } from '../errors';
import { jsonBody } from '../json-body';
import { bearerSecurity, EncodingQuery, errorResponses, json } from '../schemas';
import { validationHook } from '../validation';
import type { RegionMeta } from '../../store/region';

const Id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

const PeerSchema = z.object({ id: z.number().int(), storeId: z.number().int() }).openapi('Peer');

const RegionSchema = z
  .object({
    id: z.number().int(),
    startKey: z.string().openapi({ description: 'Inclusive; empty is the start of the key space.' }),
    endKey: z.string().openapi({ description: 'Exclusive; empty is the end of the key space.' }),
    epoch: z.object({ version: z.number().int(), confVer: z.number().int() }),
    peers: z.array(PeerSchema),
  })
  .openapi('Region');

const ClusterRegionSchema = RegionSchema.extend({
  leader: z.number().int().nullable().openapi({ description: 'The leader peer id, if known.' }),
  approximateBytes: z.number().int(),
  approximateKeys: z.number().int(),
}).openapi('ClusterRegion');

const StoreSchema = z
  .object({
    id: z.number().int(),
    regionCount: z.number().int(),
    leaderCount: z.number().int(),
    approximateBytes: z.number().int(),
    locationHint: z.string().optional(),
  })
  .openapi('Store');

const ClusterSchema = z.object({ stores: z.array(StoreSchema), regions: z.array(ClusterRegionSchema) }).openapi('Cluster');

const getCluster = createRoute({
  method: 'get',
  path: '/v1/cluster',
  tags: ['cluster'],
  summary: 'Stores and regions as the routing table knows them',
  security: bearerSecurity,
  request: { query: EncodingQuery },
  responses: {
    200: { description: 'The cluster view.', content: json(ClusterSchema) },
    ...errorResponses(400, 401, 500, 503),
  },
});

const TransferBody = z.object({ regionId: Id, toStoreId: Id }).openapi('TransferLeaderRequest');
const AddPeerBody = z.object({ regionId: Id, storeId: Id }).openapi('AddPeerRequest');
const RemovePeerBody = z.object({ regionId: Id, peerId: Id }).openapi('RemovePeerRequest');
const SplitBody = z
  .object({ key: z.string().openapi({ description: 'The first key of the new right half, in the request encoding.' }) })
  .openapi('SplitRequest');

function adminRoute<T extends z.ZodType, A extends z.ZodType>(path: string, summary: string, body: T, answer: A) {
  return createRoute({
    method: 'post',
    path,
    tags: ['admin'],
    summary,
    security: bearerSecurity,
    middleware: [jsonBody] as const,
    request: { query: EncodingQuery, body: { required: true, content: json(body) } },
    responses: {
      200: { description: 'Done.', content: json(answer) },
      ...errorResponses(400, 401, 404, 500, 503),
    },
  });
}

const transferLeader = adminRoute(
  '/v1/admin/transfer-leader',
  'Move a region leader to its peer on a store',
  TransferBody,
  z.object({ leader: z.number().int() }),
);
const addPeer = adminRoute('/v1/admin/add-peer', 'Add a peer of a region on a store', AddPeerBody, RegionSchema);
const removePeer = adminRoute('/v1/admin/remove-peer', 'Remove a peer from a region', RemovePeerBody, RegionSchema);
const split = adminRoute(
  '/v1/admin/split',
  'Split the region holding a key at that key',
  SplitBody,
  z.object({ left: RegionSchema, right: RegionSchema }).openapi('SplitResult'),
);

export function regionJson(region: RegionMeta, encoding: Encoding) {
  return {
    id: region.id,
    startKey: encodeBytes(region.startKey, encoding, 'startKey'),
    endKey: encodeBytes(region.endKey, encoding, 'endKey'),
    epoch: { version: region.epoch.version, confVer: region.epoch.confVer },
    peers: region.peers.map((p) => ({ id: p.id, storeId: p.storeId })),
  };
}

function adminOf(services: AppEnv['Variables']['services']): AdminApi {
  // Node tests build the app with a raw store only; the worker always has it.
  if (services.admin === undefined) throw new ApiError(500, ErrorCode.Internal, 'the admin service is not configured');
  return services.admin;
}

export function clusterRoutes() {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(getCluster, async (c) => {
    const encoding = resolveEncoding(undefined, c.req.valid('query').encoding);
    const view = await adminOf(c.var.services).cluster();
    return c.json(
      {
        stores: view.stores,
        regions: view.regions.map((r) => ({
          ...regionJson(r.region, encoding),
          leader: r.leader,
          approximateBytes: r.approximateBytes,
          approximateKeys: r.approximateKeys,
        })),
      },
      200,
    );
  });
}

export function adminRoutes() {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
    .openapi(transferLeader, async (c) => {
      const body = c.req.valid('json');
      const leader = await adminOf(c.var.services).transferLeader(body.regionId, body.toStoreId);
      return c.json({ leader }, 200);
    })
    .openapi(addPeer, async (c) => {
      const body = c.req.valid('json');
      const encoding = resolveEncoding(undefined, c.req.valid('query').encoding);
      const region = await adminOf(c.var.services).addPeer(body.regionId, body.storeId);
      return c.json(regionJson(region, encoding), 200);
    })
    .openapi(removePeer, async (c) => {
      const body = c.req.valid('json');
      const encoding = resolveEncoding(undefined, c.req.valid('query').encoding);
      const region = await adminOf(c.var.services).removePeer(body.regionId, body.peerId);
      return c.json(regionJson(region, encoding), 200);
    })
    .openapi(split, async (c) => {
      const body = c.req.valid('json');
      const encoding = resolveEncoding(undefined, c.req.valid('query').encoding);
      const key = decodeKey(body.key, encoding);
      const halves = await adminOf(c.var.services).split(key);
      return c.json({ left: regionJson(halves.left, encoding), right: regionJson(halves.right, encoding) }, 200);
    });
}
