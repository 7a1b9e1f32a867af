/** Shared fixtures of the surrogate tests: PUMA/GENIEx wires and a small 8 × 8 data configuration. */
import type { SurrogateDataConfig } from '../../src/runtime/parasitics/surrogate-data.js';

/** R_wire 2.5 Ω per cell, R_source 500 Ω, R_sense 100 Ω (PUMA / GENIEx). */
export const PUMA_WIRES = { row: 2.5, col: 2.5, source: 500, sense: 100 };

/** 8 × 8 tiles of 2-bit cells, on/off 6, 0.25 V read, 1-bit DACs, four vectors per tile. */
export const SMALL_SURROGATE_CONFIG: SurrogateDataConfig = {
  rows: 8,
  cols: 8,
  wires: PUMA_WIRES,
  gOn: 1e-5,
  gOff: 1e-5 / 6,
  vRead: 0.25,
  weightBits: 8,
  cellBits: 2,
  inputBits: 8,
  dacBits: 1,
  seed: 7,
  vectorsPerTile: 4,
};
