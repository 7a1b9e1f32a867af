/**
 * The crossbar part of the plan contract: a crossbar, its device, its converters, its wires and
 * parasitic model, and the device's update model, as typed records with every field present.
 * `lower` (src/compiler/lower.ts) fills each field once from the parameter table
 * (src/compiler/schema.ts, the only place a default is stated); the runtime, the CLI and later the
 * cost model read these records and restate nothing. The same shapes are in
 * schemas/plan.schema.json (`$defs.crossbar`), strictly: no field may be missing or extra.
 *
 * Units are SI (Ohm, S, V, A, s); fractions are 0..1; bit widths are counts of bits.
 */

/** Full-scale choice of an ADC: calibrated from observed currents, the worst case, or a fixed current (A). */
export type AdcRange = { kind: 'calibrate'; percentile: number } | { kind: 'max' } | { kind: 'fixed'; current: number };

export interface AdcSpec {
  bits: number;
  range: AdcRange;
  /** Offset error in LSB. */
  offset: number;
  /** Relative gain error of the transfer curve. */
  gainError: number;
  /** Peak integral nonlinearity in LSB (a parabolic INL curve). */
  inl: number;
  /** Code of a conversion: the nearest (ties to even), or truncated toward zero (⌊I/LSB⌋ for a current). */
  rounding: 'nearest' | 'truncate';
}

/** The transposed (backward) MVM's converters: errors driven into the columns. */
export interface BackwardConverters {
  inputBits: number;
  dacBits: number;
  adc: AdcSpec;
}

/** Interconnect resistances (Ohm) of the parasitic models. */
export interface WiresSpec {
  /** Word-line segment between adjacent cells. */
  row: number;
  /** Bit-line segment between adjacent cells. */
  col: number;
  /** Input driver resistance. */
  source: number;
  /** Column sense (sink) resistance. */
  sense: number;
}

export type ParasiticsBackward = 'transposed' | 'reuse';

/** IR-drop model of a tile. */
export type ParasiticsSpec =
  | { kind: 'none' }
  /** Full circuit model, recomputed every `refresh` batches (interpolated FCM in between). */
  | { kind: 'fcm'; refresh: number; backward: ParasiticsBackward }
  /** Approximate model: each cell with its line-loaded path (`loaded`) or its lumped path alone (`lumped`). */
  | { kind: 'aam'; backward: ParasiticsBackward; form: 'loaded' | 'lumped' }
  /**
   * A learned surrogate (GENIEx MLP, `xbarc surrogate`): `file` is its JSON header (absolute,
   * resolved against the spec that names it); f is predicted per tile every `refresh` batches.
   * The backward pass reuses the forward effective matrix transposed.
   */
  | { kind: 'surrogate'; file: string; refresh: number };

/** aihwkit pulsed-device parameters, in weight units (aihwkit's names). */
export interface AihwkitStepParams {
  dw_min: number;
  up_down: number;
  dw_min_dtod: number;
  dw_min_std: number;
  w_min: number;
  w_max: number;
}

/**
 * What a part of TxSim's update model acts on (MODELS.md §3): `gradient`, the conductance gradient
 * before the learning rate, ΔG/LR (TxSim writes G ← G + LR·ΔG_nonideal: the write noise of the
 * applied step is then LR·γ·sqrt(range·|ΔG/LR|)), or `step`, the LR-scaled step ΔG itself
 * (σ = γ·sqrt(range·|ΔG|), xbarc's write noise before the correction).
 */
export type TxsimScope = 'gradient' | 'step';

/**
 * A device's training-time update model (MODELS.md §3), with the language's argument names. The
 * kinds and arguments are the parameter table's `update` constructors; `pow_step` is reachable
 * from the library only.
 */
export type UpdateModelSpec =
  | { kind: 'ideal' }
  /** txsim: the ASYM exponent over the whole range is v·pulses (Chen et al.'s A = 1/v pulses on a device of `pulses` pulses; 1: v over the range). */
  | { kind: 'txsim'; v: number; gamma: number; noise: TxsimScope; nonlinearity: TxsimScope; pulses: number }
  | { kind: 'nonlinear'; ltp: number; ltd: number; c2c: number; d2d: number }
  | ({ kind: 'constant_step' } & AihwkitStepParams)
  | ({ kind: 'soft_bounds' } & AihwkitStepParams)
  | {
      kind: 'exp_step';
      dw_min: number;
      A_up: number;
      A_down: number;
      gamma_up: number;
      gamma_down: number;
      a: number;
      b: number;
      dw_min_std: number;
      w_min: number;
      w_max: number;
      up_down?: number;
      dw_min_dtod?: number;
    }
  | ({ kind: 'pow_step'; pow_gamma: number; pow_up_down: number } & AihwkitStepParams);

/**
 * A device's read I-V curve, I = G·h(V) with G the programmed (small-signal) conductance
 * (docs/parasitics.md, "Nonlinear devices"), with the language's argument names. `fold_at` is the
 * voltage (fraction of v_read on every driven line) where the runtime linearises the tile into an
 * effective matrix.
 */
export type IvModelSpec =
  | { kind: 'linear' }
  | { kind: 'sinh'; v0: number; fold_at: number }
  | { kind: 'cubic'; k: number; fold_at: number }
  | { kind: 'table'; v: number[]; i: number[]; fold_at: number };

export interface DeviceSpec {
  /** The device declaration's name. */
  name: string;
  /** Distinct programmable conductance states. */
  levels: number;
  rOn: number;
  rOff: number;
  /** G_on = 1/R_on (S). */
  gOn: number;
  /** G_off = G_on/(R_off/R_on) (S). */
  gOff: number;
  /** Read voltage for a full-scale input digit (V). */
  vRead: number;
  d2dSigma: number;
  d2dDist: 'normal' | 'lognormal';
  readNoise: number;
  driftNu: number;
  /** Drift reference time t₀ (s). */
  driftT0: number;
  pSa0: number;
  pSa1: number;
  update: UpdateModelSpec;
  /** Read I-V curve of a cell. */
  iv: IvModelSpec;
}

export type WeightMapping = 'differential' | 'offset';

/**
 * Where fidelity exact combines the ± planes of differential mapping: `digital` converts each
 * plane's column current with its own unsigned ADC and subtracts the codes; `analog` subtracts
 * the currents, I⁺ − I⁻, before one signed ADC (half the conversions; docs/crossbar.md).
 */
export type PlaneSubtraction = 'digital' | 'analog';

export interface CrossbarSpec {
  /** The crossbar declaration's name. */
  name: string;
  /** Tile rows (inputs) and columns (outputs). */
  rows: number;
  cols: number;
  mapping: WeightMapping;
  subtract: PlaneSubtraction;
  weightBits: number;
  cellBits: number;
  inputBits: number;
  dacBits: number;
  adc: AdcSpec;
  backward: BackwardConverters;
  wires: WiresSpec;
  parasitics: ParasiticsSpec;
  device: DeviceSpec;
}
