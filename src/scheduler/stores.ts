// The stores of the cluster. A store here is a placement label, not a
// process (DESIGN.md, "Cloudflare mapping"): an id that keeps a region's
// replicas apart, with an optional Durable Object location hint for the
// peers placed on it. They come from the deployment's config, parsed here.

import { schedulerConfig } from './config';

/** The Durable Object location hints (Cloudflare's list); a typo in config fails at start-up. */
export const locationHints = [
  'wnam',
  'enam',
  'sam',
  'weur',
  'eeur',
  'apac',
  'apac-ne',
  'apac-se',
  'oc',
  'afr',
  'me',
] as const;
export type LocationHint = (typeof locationHints)[number];

export interface StoreSpec {
  id: number;
  /** Where the peers of this store should be created; undefined lets the platform choose. */
  locationHint: LocationHint | undefined;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

function isLocationHint(text: string): text is LocationHint {
  return (locationHints as readonly string[]).includes(text);
}

/**
 * Parses `STORES`: comma-separated store ids, each optionally `id:hint`
 * (`"1:weur,2:enam,3"`). Undefined or blank means the default stores.
 */
export function parseStores(text: string | undefined): ParseResult<StoreSpec[]> {
  if (text === undefined || text.trim() === '') {
    return { ok: true, value: schedulerConfig.storeIdsDefault.map((id) => ({ id, locationHint: undefined })) };
  }
  const items = text.split(',').map((s) => s.trim());
  if (items.length > schedulerConfig.storesCountMax) {
    return { ok: false, message: `STORES lists ${items.length} stores; at most ${schedulerConfig.storesCountMax}` };
  }
  const stores: StoreSpec[] = [];
  for (const item of items) {
    const [idText = '', hint, ...rest] = item.split(':');
    const id = Number(idText);
    if (!/^[0-9]+$/.test(idText) || !Number.isSafeInteger(id) || id < 1 || rest.length > 0) {
      const message = `STORES: "${item}" is not a store id (a positive integer, optionally id:locationHint)`;
      return { ok: false, message };
    }
    if (hint !== undefined && !isLocationHint(hint)) {
      return { ok: false, message: `STORES: "${hint}" is not a location hint (one of ${locationHints.join(', ')})` };
    }
    if (stores.some((s) => s.id === id)) return { ok: false, message: `STORES: store ${id} is listed twice` };
    stores.push({ id, locationHint: hint });
  }
  return { ok: true, value: stores };
}

/**
 * Parses `REPLICAS`: replicas per region, at least 1 and at most one per
 * store. Undefined or blank means the default.
 */
export function parseReplicas(text: string | undefined, storeCount: number): ParseResult<number> {
  const trimmed = text?.trim() ?? '';
  const replicas = trimmed === '' ? schedulerConfig.replicasDefault : Number(trimmed);
  if (!Number.isSafeInteger(replicas) || replicas < 1) {
    return { ok: false, message: `REPLICAS: "${trimmed}" is not a positive integer` };
  }
  if (replicas > storeCount) {
    const message = `REPLICAS is ${replicas} but there are ${storeCount} stores; a region's replicas need distinct stores`;
    return { ok: false, message };
  }
  return { ok: true, value: replicas };
}
