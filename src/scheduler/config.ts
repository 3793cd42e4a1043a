// Every limit and default of the scheduler, in one place, units last
// (TigerBeetle style). The Durable Object shell reads overrides from its env;
// the pure modules take these as inputs.

export const schedulerConfig = {
  /**
   * Ids reserved by one durable write of the allocator's bound. A restart
   * skips what is left of the batch, so this trades id-space gaps for writes.
   */
  idBatchCount: 1000,
  /** The most ids one allocation may ask for; a larger request is a bug in the caller. */
  idAllocCountMax: 10_000,
  /** Replicas per region when the env does not say (API.md: "3 replicas each region"). */
  replicasDefault: 3,
  /** Store ids when the env does not say (API.md: "5 stores with ids 1–5"). */
  storeIdsDefault: [1, 2, 3, 4, 5],
  /** The most stores a cluster may declare; bounds every loop over stores. */
  storesCountMax: 256,
} as const;

/**
 * The first region's id. Fixed rather than allocated so that the cluster's
 * first region is region 1 however many ids were handed out before it was
 * bootstrapped; the allocator starts above it so no peer or region reuses it.
 */
export const bootstrapRegionId = 1;

/** The first id the allocator hands out. */
export const firstAllocatedId = bootstrapRegionId + 1;
