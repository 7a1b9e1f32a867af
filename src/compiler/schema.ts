/**
 * The parameter table: every declaration kind, nested block and constructor (layer, update
 * model, optimizer, data set, …) with each parameter's type, unit, default, range and meaning.
 * This is the single source for the checker, hover/completion in the language server, and
 * docs/language.md (generated from it; a test fails when the doc drifts).
 */
import { Dim, type Dimension } from './units.js';

export type ParamType =
  | { t: 'number'; dim: Dimension; int?: boolean; min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean }
  | { t: 'bool' }
  | { t: 'string' }
  | { t: 'enum'; options: string[] }
  | { t: 'list'; of: ParamType }
  /** `64 x 64` (or a single integer n meaning n × n when `square` is set). */
  | { t: 'shape'; rank: number; square?: boolean; min?: number; max?: number }
  | { t: 'ref'; kind: 'device' | 'crossbar' | 'network' }
  | { t: 'object'; schema: ObjectSchema }
  /** A call to one constructor of a family (`nonlinear(...)`, `sgd(...)`); a bare name = no arguments. */
  | { t: 'variant'; family: Family }
  /** A network instantiation: `LeNet5(classes = 10)` or `LeNet5`. */
  | { t: 'model' };

/** A default: a value in SI, a constructor call, or a rule computed from other fields. */
export type DefaultSpec =
  | { kind: 'value'; value: number | string | boolean | string[] | number[] }
  | { kind: 'call'; name: string; args?: Record<string, number | string | boolean> }
  | { kind: 'computed'; describe: string }
  | { kind: 'none'; describe: string }
  | { kind: 'required' };

export interface ParamSpec {
  name: string;
  /** Absent unless written (no default value is filled in). */
  optional?: boolean;
  type: ParamType;
  default: DefaultSpec;
  doc: string;
  /** The unit examples and docs are written in (SI values are stored regardless). */
  unit?: string;
}

export interface ObjectSchema {
  name: string;
  doc: string;
  params: ParamSpec[];
}

export type Family = 'update' | 'iv' | 'adcRange' | 'parasitics' | 'optimizer' | 'schedule' | 'init' | 'data' | 'layer';

export interface Constructor {
  name: string;
  family: Family;
  doc: string;
  params: ParamSpec[];
}

const num = (dimension: Dimension, opts: Omit<Extract<ParamType, { t: 'number' }>, 't' | 'dim'> = {}): ParamType => ({ t: 'number', dim: dimension, ...opts });
const int = (min?: number, max?: number): ParamType => ({
  t: 'number',
  dim: Dim.none,
  int: true,
  ...(min !== undefined ? { min } : {}),
  ...(max !== undefined ? { max } : {}),
});
const bits = (min: number, max: number): ParamType => ({ t: 'number', dim: Dim.bits, int: true, min, max });
const frac = (max = 1, maxExclusive = false): ParamType => ({ t: 'number', dim: Dim.none, min: 0, max, maxExclusive });
const v = (value: number | string | boolean | string[] | number[]): DefaultSpec => ({ kind: 'value', value });
const required: DefaultSpec = { kind: 'required' };

// ---- device ----------------------------------------------------------------------------------
export const deviceSchema: ObjectSchema = {
  name: 'device',
  doc: 'A resistive memory cell: conductance range, levels, variation, faults, drift and its training-time update model.',
  params: [
    { name: 'levels', type: int(2, 65536), default: v(256), doc: 'Number of distinct programmable conductance states.' },
    {
      name: 'r_on',
      type: num(Dim.resistance, { min: 0, minExclusive: true }),
      default: v(100e3),
      unit: 'kOhm',
      doc: 'Low-resistance (fully on) state R_on; G_on = 1/R_on.',
    },
    { name: 'on_off', type: num(Dim.none), default: v(10), doc: 'On/off ratio R_off/R_on; must exceed 1. G_off = G_on/on_off.' },
    {
      name: 'r_off',
      type: num(Dim.resistance, { min: 0, minExclusive: true }),
      default: { kind: 'computed', describe: 'r_on × on_off' },
      unit: 'MOhm',
      doc: 'High-resistance (off) state R_off. Give either r_off or on_off.',
    },
    {
      name: 'v_read',
      type: num(Dim.voltage, { min: 0, minExclusive: true }),
      default: v(0.25),
      unit: 'V',
      doc: 'Read voltage applied for a full-scale input digit.',
    },
    { name: 'd2d_sigma', type: frac(1, true), default: v(0), unit: '%', doc: 'Device-to-device variation: G ← G·(1 + σ·ξ), sampled once at programming.' },
    { name: 'd2d_dist', type: { t: 'enum', options: ['normal', 'lognormal'] }, default: v('normal'), doc: 'Distribution of device-to-device variation.' },
    { name: 'read_noise', type: frac(10), default: v(0), unit: '%', doc: 'Cycle-to-cycle read noise per MVM: I ← I + σ·|I|·ξ.' },
    { name: 'drift_nu', type: num(Dim.none, { min: 0, max: 1 }), default: v(0), doc: 'Conductance drift exponent ν: G(t) = G₀·(t/t₀)^(−ν).' },
    { name: 'drift_t0', type: num(Dim.time, { min: 0, minExclusive: true }), default: v(1), unit: 's', doc: 'Drift reference time t₀.' },
    { name: 'p_sa0', type: frac(), default: v(0), unit: '%', doc: 'Fraction of cells stuck at G_off (stuck-at-0).' },
    { name: 'p_sa1', type: frac(), default: v(0), unit: '%', doc: 'Fraction of cells stuck at G_on (stuck-at-1).' },
    {
      name: 'update',
      type: { t: 'variant', family: 'update' },
      default: { kind: 'call', name: 'ideal' },
      doc: 'Training-time weight-update model (how a programming pulse changes the conductance).',
    },
    {
      name: 'iv',
      type: { t: 'variant', family: 'iv' },
      default: { kind: 'call', name: 'linear' },
      doc: 'Read I-V curve I = G·h(V), G the programmed small-signal conductance: linear, sinh, cubic or a table.',
    },
  ],
};

// ---- crossbar --------------------------------------------------------------------------------
export const adcSchema: ObjectSchema = {
  name: 'adc',
  doc: 'Column analog-to-digital converter.',
  params: [
    { name: 'bits', type: bits(1, 24), default: v(8), doc: 'ADC resolution.' },
    {
      name: 'range',
      type: { t: 'variant', family: 'adcRange' },
      default: { kind: 'call', name: 'calibrate', args: { percentile: 0.999 } },
      doc: 'Full-scale range: calibrated from observed currents, the worst case, or fixed.',
    },
    { name: 'offset', type: num(Dim.none, { min: -8, max: 8 }), default: v(0), doc: 'Offset error in LSB.' },
    { name: 'gain_error', type: num(Dim.none, { min: -0.5, max: 0.5 }), default: v(0), unit: '%', doc: 'Relative gain error of the transfer curve.' },
    { name: 'inl', type: num(Dim.none, { min: 0, max: 8 }), default: v(0), doc: 'Peak integral nonlinearity in LSB (a parabolic INL curve).' },
    {
      name: 'rounding',
      type: { t: 'enum', options: ['nearest', 'truncate'] },
      default: v('nearest'),
      doc: "Code of a conversion: the nearest code (ties to even), or truncated toward zero: ⌊I/LSB⌋ for a column current (NeuroSim's CurrentToDigits, `(int)(I/(I_max/(2^bits − 1)))`); with `mapping = offset` at fidelity exact the column and its reference are each converted and the codes subtracted, as in NeuroSim.",
    },
  ],
};

export const wiresSchema: ObjectSchema = {
  name: 'wires',
  doc: 'Interconnect resistances for the parasitic (IR-drop) models.',
  params: [
    { name: 'row', type: num(Dim.resistance, { min: 0 }), default: v(0), unit: 'Ohm', doc: 'Word-line segment resistance between adjacent cells.' },
    { name: 'col', type: num(Dim.resistance, { min: 0 }), default: v(0), unit: 'Ohm', doc: 'Bit-line segment resistance between adjacent cells.' },
    { name: 'source', type: num(Dim.resistance, { min: 0 }), default: v(0), unit: 'Ohm', doc: 'Input driver (source) resistance R_source.' },
    { name: 'sense', type: num(Dim.resistance, { min: 0 }), default: v(0), unit: 'Ohm', doc: 'Column sense (sink) resistance R_sense.' },
  ],
};

export const backwardSchema: ObjectSchema = {
  name: 'backward',
  doc: 'Settings of the transposed MVM in the backward pass (errors driven into the columns).',
  params: [
    { name: 'input_bits', type: bits(1, 32), default: v(8), doc: 'Quantization of the backward error vector.' },
    { name: 'dac_bits', type: bits(1, 16), default: v(1), doc: 'DAC resolution for the backward pass.' },
    { name: 'adc', type: { t: 'object', schema: adcSchema }, default: { kind: 'none', describe: 'adc defaults' }, doc: 'ADC of the backward pass.' },
  ],
};

export const crossbarSchema: ObjectSchema = {
  name: 'crossbar',
  doc: 'A crossbar tile: its size, device, weight mapping, bit slicing, input streaming, DAC/ADC and wires.',
  params: [
    {
      name: 'size',
      type: { t: 'shape', rank: 2, square: true, min: 1, max: 4096 },
      default: v([64, 64]),
      doc: 'Tile rows × columns (`64 x 64`, or `64` for square).',
    },
    { name: 'device', type: { t: 'ref', kind: 'device' }, default: required, doc: 'The device in every cell.' },
    {
      name: 'mapping',
      type: { t: 'enum', options: ['differential', 'offset'] },
      default: v('differential'),
      doc: 'Signed weights as a ± pair of arrays, or one array with a reference column.',
    },
    {
      name: 'subtract',
      type: { t: 'enum', options: ['digital', 'analog'] },
      default: v('digital'),
      doc: 'Differential mapping at fidelity exact: digital converts each plane with its own unsigned ADC and subtracts the codes; analog subtracts the currents I⁺ − I⁻ before one signed ADC, codes ±(2^(bits−1) − 1): half the conversions, one more bit for the same step.',
    },
    { name: 'weight_bits', type: bits(1, 32), default: v(8), doc: 'Fixed-point precision of stored weights.' },
    {
      name: 'cell_bits',
      type: bits(1, 16),
      default: v(2),
      doc: 'Bits per cell; weights are split into ⌈weight_bits/cell_bits⌉ slices of cell_bits from the LSB up, the top slice narrower when cell_bits does not divide weight_bits.',
    },
    { name: 'input_bits', type: bits(1, 32), default: v(8), doc: 'Fixed-point precision of inputs.' },
    { name: 'dac_bits', type: bits(1, 16), default: v(1), doc: 'DAC resolution; inputs stream in input_bits/dac_bits cycles.' },
    { name: 'adc', type: { t: 'object', schema: adcSchema }, default: { kind: 'none', describe: 'adc defaults' }, doc: 'Column ADC.' },
    { name: 'wires', type: { t: 'object', schema: wiresSchema }, default: { kind: 'none', describe: 'all zero' }, doc: 'Wire, driver and sense resistances.' },
    {
      name: 'parasitics',
      type: { t: 'variant', family: 'parasitics' },
      default: { kind: 'call', name: 'none' },
      doc: 'IR-drop model: none, fcm (exact circuit), aam (approximate).',
    },
    {
      name: 'backward',
      type: { t: 'object', schema: backwardSchema },
      default: { kind: 'none', describe: 'backward defaults' },
      doc: 'DAC/ADC settings of the transposed (backward) MVM.',
    },
  ],
};

// ---- experiment ------------------------------------------------------------------------------
export const trainSchema: ObjectSchema = {
  name: 'train',
  doc: 'The training protocol.',
  params: [
    { name: 'epochs', type: int(0, 100000), default: v(1), doc: 'Passes over the training set.' },
    { name: 'batch', type: int(1, 1 << 20), default: v(64), doc: 'Minibatch size.' },
    {
      name: 'optimizer',
      type: { t: 'variant', family: 'optimizer' },
      default: { kind: 'call', name: 'sgd', args: { lr: 0.01 } },
      doc: 'Optimizer and its hyper-parameters.',
    },
    { name: 'schedule', type: { t: 'variant', family: 'schedule' }, default: { kind: 'call', name: 'constant' }, doc: 'Learning-rate schedule.' },
    {
      name: 'sampling',
      type: { t: 'enum', options: ['shuffle', 'replacement'] },
      default: v('shuffle'),
      doc: "The samples of an epoch: every training sample once, in a fresh order (shuffle), or as many draws with replacement, each uniform over the training set (replacement; NeuroSim's MLP: `rand() % numMnistTrainImages`, Train.cpp).",
    },
    {
      name: 'init',
      type: { t: 'variant', family: 'init' },
      default: { kind: 'call', name: 'he_normal' },
      doc: "Initial weights of dense and conv layers (biases start at 0): He-normal, or uniform (NeuroSim's MLP: `uniform(limit = 1, levels = 7)`).",
    },
    {
      name: 'nonideal',
      type: { t: 'list', of: { t: 'enum', options: ['forward', 'backward', 'update'] } },
      default: v(['forward', 'backward', 'update']),
      doc: 'Training stages that pass through the crossbar model (TxSim semantics); the others run ideally.',
    },
    {
      name: 'loss',
      type: { t: 'enum', options: ['cross_entropy', 'squared_error'] },
      default: v('cross_entropy'),
      doc: "Loss on the last layer's outputs z: softmax cross-entropy, or NeuroSim's squared error Σ_j (y_j − σ(z_j))² on sigmoid outputs (one-hot y); the batch mean either way.",
    },
    {
      name: 'lr_scale',
      optional: true,
      type: { t: 'list', of: num(Dim.none, { min: 0, minExclusive: true }) },
      default: { kind: 'none', describe: '1 for every layer' },
      doc: "Per-layer learning-rate factors, one per weighted layer (dense, conv) in network order, applied to the layer's weight and bias; NeuroSim's MLP: lr = 0.4 with [1, 0.5].",
    },
    {
      name: 'weight_range',
      optional: true,
      type: num(Dim.none, { min: 0, minExclusive: true }),
      default: { kind: 'computed', describe: "headroom × the layer's largest initial |W|" },
      doc: "Device updates: weights in ±weight_range span a device pair's full conductance range (ΔG = ΔW·(G_max − G_min)/weight_range), the same for every crossbar layer; NeuroSim's MLP uses 1.",
    },
    {
      name: 'program_offset',
      type: num(Dim.none, { min: -1, max: 1 }),
      default: v(0),
      unit: '%',
      doc: "Device updates: a conductance offset of the initial write, as a fraction of G_min: each written device starts at G_mid ± W₀·s + program_offset·G_min, clamped to [G_min, G_max] (the reference column of `mapping = offset` is not written). NeuroSim's MLP writes G = (w − w_min)/(w_max − w_min)·(G_max − G_min) without the G_min its read-back assumes (Array.cpp WriteCell / ConductanceToWeight): −100 %.",
    },
    {
      name: 'headroom',
      type: num(Dim.none, { min: 1 }),
      default: v(1),
      doc: 'Device updates without weight_range: the representable weight range of each crossbar layer as a multiple of its largest initial |W|.',
    },
  ],
};

export const evaluateSchema: ObjectSchema = {
  name: 'evaluate',
  doc: 'The evaluation protocol (on the test split, after training).',
  params: [
    { name: 'batch', type: int(1, 1 << 20), default: v(256), doc: 'Evaluation batch size.' },
    { name: 'time', type: num(Dim.time, { min: 0 }), default: v(0), unit: 's', doc: 'Time since programming at which to evaluate (conductance drift).' },
    {
      name: 'repeats',
      type: int(1, 1000),
      default: v(1),
      doc: 'Independent evaluations of the final test set (fresh read noise each): results.json and the run summary give their mean and spread (final.repeats: sd, min, max).',
    },
  ],
};

export const experimentSchema: ObjectSchema = {
  name: 'experiment',
  doc: 'What to run: data, model, layer→crossbar mapping, fidelity, training and evaluation protocols, sweeps.',
  params: [
    { name: 'data', type: { t: 'variant', family: 'data' }, default: { kind: 'call', name: 'mnist' }, doc: 'The data set.' },
    { name: 'model', type: { t: 'model' }, default: required, doc: 'The network, instantiated with arguments: `LeNet5(classes = 10)`.' },
    {
      name: 'fidelity',
      type: { t: 'enum', options: ['ideal', 'fast', 'exact'] },
      default: v('fast'),
      doc: 'ideal: float32 digital; fast: one folded GEMM per MVM (TxSim); exact: every tile × stream × slice through its own ADC (NeuroSim/PUMA).',
    },
    {
      name: 'train',
      optional: true,
      type: { t: 'object', schema: trainSchema },
      default: { kind: 'none', describe: 'no training (inference only)' },
      doc: 'Training protocol; omit for inference only.',
    },
    { name: 'evaluate', type: { t: 'object', schema: evaluateSchema }, default: { kind: 'none', describe: 'evaluate defaults' }, doc: 'Evaluation protocol.' },
    { name: 'seed', type: int(0, Number.MAX_SAFE_INTEGER), default: v(0), doc: 'Seed of every random stream (initialization, shuffling, variation, noise).' },
    {
      name: 'output',
      type: { t: 'string' },
      default: { kind: 'computed', describe: '"results/<experiment name>"' },
      doc: 'Directory for results (relative to the working directory).',
    },
  ],
};

export const declSchemas = { device: deviceSchema, crossbar: crossbarSchema, experiment: experimentSchema } as const;

// ---- constructors ----------------------------------------------------------------------------
const pos = (min = 0): ParamType => ({ t: 'number', dim: Dim.none, min });

export const constructors: Constructor[] = [
  // update models (MODELS.md §3)
  { name: 'ideal', family: 'update', doc: 'Updates land exactly as computed (no device effects).', params: [] },
  {
    name: 'nonlinear',
    family: 'update',
    doc: 'NeuroSim pulse model: exponential LTP/LTD curves labelled by nonlinearity α, with cycle-to-cycle noise.',
    params: [
      {
        name: 'ltp',
        type: num(Dim.none, { min: -9, max: 9 }),
        default: v(0),
        doc: 'Potentiation nonlinearity label α_LTP (0 = linear; negative flips the curve).',
      },
      { name: 'ltd', type: num(Dim.none, { min: -9, max: 9 }), default: v(0), doc: 'Depression nonlinearity label α_LTD.' },
      { name: 'c2c', type: frac(), default: v(0), unit: '%', doc: 'Cycle-to-cycle σ as a fraction of (G_max − G_min), per update.' },
      { name: 'd2d', type: pos(), default: v(0), doc: 'Device-to-device σ of the nonlinearity label.' },
    ],
  },
  {
    name: 'txsim',
    family: 'update',
    doc: 'TxSim: asymmetric nonlinear update (CrossSim ASYM form, factor v) plus write noise γ on the conductance gradient.',
    params: [
      { name: 'v', type: pos(), default: v(0.01), doc: 'Asymmetric nonlinearity factor (CrossSim ASYM exponent over the whole range).' },
      {
        name: 'gamma',
        type: pos(),
        default: v(0),
        doc: 'Write-noise factor: ΔG_nonideal ~ N(ΔG, γ·sqrt((G_max − G_min)·|ΔG|)) on the gradient ΔG before the learning rate (noise = gradient).',
      },
      {
        name: 'noise',
        type: { t: 'enum', options: ['gradient', 'step'] },
        default: v('gradient'),
        doc: 'What γ scales: the pre-learning-rate gradient ΔG (TxSim: the applied step gets σ = LR·γ·sqrt(range·|ΔG|)) or the LR-scaled step itself (xbarc before 2026-12; ≈ 1/sqrt(LR) times stronger).',
      },
      {
        name: 'nonlinearity',
        type: { t: 'enum', options: ['gradient', 'step'] },
        default: v('step'),
        doc: 'What the ASYM nonlinearity acts on: the LR-scaled step (v over the range, CrossSim) or the pre-learning-rate gradient, then scaled by LR (applied step LR·Δ′(G, ΔG/LR)).',
      },
      {
        name: 'pulses',
        type: num(Dim.none, { min: 1 }),
        default: v(1),
        doc: 'Pulses over the range that v is counted per: the ASYM exponent over the whole range is v·pulses (Chen et al./NeuroSim: G(P) = G_min + B(1 − e^(−P/A)), A = 1/v pulses). 1: v over the range (CrossSim); 96: the 97-level Ag:a-Si device, which gives TxSim’s v trend (docs/reproductions.md (a)).',
      },
    ],
  },
  {
    name: 'constant_step',
    family: 'update',
    doc: 'aihwkit ConstantStepDevice: fixed step per pulse, clipped to [w_min, w_max].',
    params: [
      { name: 'dw_min', type: pos(), default: v(0.001), doc: 'Mean step per pulse.' },
      { name: 'up_down', type: num(Dim.none), default: v(0), doc: 'Up/down step asymmetry.' },
      { name: 'dw_min_dtod', type: pos(), default: v(0.3), doc: 'Device-to-device spread of dw_min.' },
      { name: 'dw_min_std', type: pos(), default: v(0.3), doc: 'Cycle-to-cycle spread of each step.' },
      { name: 'w_min', type: num(Dim.none), default: v(-0.6), doc: 'Lower bound.' },
      { name: 'w_max', type: num(Dim.none), default: v(0.6), doc: 'Upper bound.' },
    ],
  },
  {
    name: 'soft_bounds',
    family: 'update',
    doc: 'aihwkit SoftBoundsDevice: step shrinks linearly toward the bounds.',
    params: [
      { name: 'dw_min', type: pos(), default: v(0.001), doc: 'Step per pulse at w = 0.' },
      { name: 'up_down', type: num(Dim.none), default: v(0), doc: 'Up/down asymmetry.' },
      { name: 'dw_min_dtod', type: pos(), default: v(0.3), doc: 'Device-to-device spread of dw_min.' },
      { name: 'dw_min_std', type: pos(), default: v(0.3), doc: 'Cycle-to-cycle spread.' },
      { name: 'w_min', type: num(Dim.none), default: v(-0.6), doc: 'Lower bound.' },
      { name: 'w_max', type: num(Dim.none), default: v(0.6), doc: 'Upper bound.' },
    ],
  },
  {
    name: 'exp_step',
    family: 'update',
    doc: 'aihwkit ExpStepDevice: exponential step dependence on the weight.',
    params: [
      { name: 'dw_min', type: pos(), default: v(0.001), doc: 'Step scale.' },
      { name: 'A_up', type: num(Dim.none), default: v(0.00081), doc: 'Up-step exponential amplitude.' },
      { name: 'A_down', type: num(Dim.none), default: v(0.36833), doc: 'Down-step exponential amplitude.' },
      { name: 'gamma_up', type: num(Dim.none), default: v(12.44625), doc: 'Up-step exponent.' },
      { name: 'gamma_down', type: num(Dim.none), default: v(12.78785), doc: 'Down-step exponent.' },
      { name: 'a', type: num(Dim.none), default: v(0.244), doc: 'Weight-dependence offset a.' },
      { name: 'b', type: num(Dim.none), default: v(0.2425), doc: 'Weight-dependence offset b.' },
      { name: 'dw_min_std', type: pos(), default: v(0.3), doc: 'Cycle-to-cycle spread.' },
      { name: 'w_min', type: num(Dim.none), default: v(-0.6), doc: 'Lower bound.' },
      { name: 'w_max', type: num(Dim.none), default: v(0.6), doc: 'Upper bound.' },
    ],
  },
  // read I-V curves (docs/parasitics.md, "Nonlinear devices")
  { name: 'linear', family: 'iv', doc: 'Ohmic cell: I = G·V.', params: [] },
  {
    name: 'sinh',
    family: 'iv',
    doc: 'I = G·V0·sinh(V/V0) (GENIEx / Stanford-PKU I0·exp(−d/d0)·sinh(V/V0) with I0·exp(−d/d0) = G·V0).',
    params: [
      {
        name: 'v0',
        type: num(Dim.voltage, { min: 0, minExclusive: true }),
        default: v(0.25),
        unit: 'V',
        doc: 'Nonlinearity voltage V0 (larger is more linear).',
      },
      {
        name: 'fold_at',
        type: { t: 'number', dim: Dim.none, min: 0, max: 1, minExclusive: true },
        default: v(1),
        unit: '%',
        doc: 'Operating point of the folded effective matrix: every driven line at this fraction of v_read (the matrix is exact there).',
      },
    ],
  },
  {
    name: 'cubic',
    family: 'iv',
    doc: "I = G·(V + k·V³); CrossSim's CubicDevice is k = −0.25 (monotone for |V| < 1/sqrt(3|k|) when k < 0).",
    params: [
      { name: 'k', type: num(Dim.none, { min: -100, max: 100 }), default: v(-0.25), doc: 'Cubic coefficient k in V⁻².' },
      {
        name: 'fold_at',
        type: { t: 'number', dim: Dim.none, min: 0, max: 1, minExclusive: true },
        default: v(1),
        unit: '%',
        doc: 'Operating point of the folded effective matrix: every driven line at this fraction of v_read (the matrix is exact there).',
      },
    ],
  },
  {
    name: 'table',
    family: 'iv',
    doc: 'Measured curve: points (V, I/G), piecewise linear through (0, 0), odd in V, the last slope beyond.',
    params: [
      {
        name: 'v',
        type: { t: 'list', of: num(Dim.voltage, { min: 0, minExclusive: true }) },
        default: required,
        unit: 'V',
        doc: 'Voltages, strictly increasing.',
      },
      {
        name: 'i',
        type: { t: 'list', of: num(Dim.voltage, { min: 0, minExclusive: true }) },
        default: required,
        unit: 'V',
        doc: 'I/G at each voltage (V), non-decreasing.',
      },
      {
        name: 'fold_at',
        type: { t: 'number', dim: Dim.none, min: 0, max: 1, minExclusive: true },
        default: v(1),
        unit: '%',
        doc: 'Operating point of the folded effective matrix: every driven line at this fraction of v_read (the matrix is exact there).',
      },
    ],
  },
  // ADC range
  {
    name: 'calibrate',
    family: 'adcRange',
    doc: 'Full scale at a percentile of currents observed in a calibration pass.',
    params: [
      {
        name: 'percentile',
        type: { t: 'number', dim: Dim.none, min: 0, max: 1, minExclusive: true },
        default: v(0.999),
        unit: '%',
        doc: 'Percentile of observed column currents mapped to full scale.',
      },
    ],
  },
  { name: 'max', family: 'adcRange', doc: 'Full scale at the worst-case column current (never saturates).', params: [] },
  {
    name: 'fixed',
    family: 'adcRange',
    doc: 'A fixed full-scale current.',
    params: [{ name: 'current', type: num(Dim.current, { min: 0, minExclusive: true }), default: required, unit: 'uA', doc: 'Full-scale current.' }],
  },
  // parasitics
  { name: 'none', family: 'parasitics', doc: 'Ideal wires.', params: [] },
  {
    name: 'fcm',
    family: 'parasitics',
    doc: 'Full circuit model: the exact linear resistive network reduced to an effective conductance matrix (RxNN/TxSim).',
    params: [
      {
        name: 'refresh',
        type: num(Dim.batches, { int: true, min: 1 }),
        default: v(1),
        unit: 'batches',
        doc: 'Recompute the circuit every L batches; interpolate with the kept distortion in between (interpolated FCM).',
      },
      {
        name: 'backward',
        type: { t: 'enum', options: ['transposed', 'reuse'] },
        default: v('transposed'),
        doc: 'Backward: solve the transposed-drive circuit, or reuse the forward matrix transposed.',
      },
    ],
  },
  {
    name: 'aam',
    family: 'parasitics',
    doc: 'Approximate model, O(M·N): each cell in series with its path, loaded by the line currents of all cells (or lumped: the cell alone).',
    params: [
      {
        name: 'form',
        type: { t: 'enum', options: ['loaded', 'lumped'] },
        default: v('loaded'),
        doc: 'loaded: first-order IR drop of every line from the ideal currents of all its cells (within a few % of FCM where the lumped form is off by 100 % or more); lumped: the cell alone in series with its shortest path (a lower bound).',
      },
      {
        name: 'backward',
        type: { t: 'enum', options: ['transposed', 'reuse'] },
        default: v('transposed'),
        doc: 'Backward: transposed-drive paths, or the forward matrix transposed.',
      },
    ],
  },
  {
    name: 'surrogate',
    family: 'parasitics',
    doc: 'A learned surrogate of the tile circuit (GENIEx MLP), trained and saved by `xbarc surrogate`; applied per tile, the backward pass reuses the forward matrix.',
    params: [
      { name: 'file', type: { t: 'string' }, default: required, doc: 'The surrogate header written by `xbarc surrogate --out` (relative to this spec).' },
      {
        name: 'refresh',
        type: num(Dim.batches, { int: true, min: 1 }),
        default: v(1),
        unit: 'batches',
        doc: 'Re-predict every tile every L batches; interpolate with the kept distortion in between.',
      },
    ],
  },
  // optimizers
  {
    name: 'sgd',
    family: 'optimizer',
    doc: 'Stochastic gradient descent, optionally with momentum.',
    params: [
      { name: 'lr', type: num(Dim.none, { min: 0, minExclusive: true }), default: v(0.01), doc: 'Learning rate.' },
      { name: 'momentum', type: frac(1, true), default: v(0), doc: 'Momentum coefficient.' },
      { name: 'nesterov', type: { t: 'bool' }, default: v(false), doc: 'Nesterov momentum.' },
      { name: 'weight_decay', type: pos(), default: v(0), doc: 'L2 penalty on weights (not biases or batch-norm).' },
    ],
  },
  {
    name: 'momentum',
    family: 'optimizer',
    doc: 'SGD with momentum 0.9 by default.',
    params: [
      { name: 'lr', type: num(Dim.none, { min: 0, minExclusive: true }), default: v(0.01), doc: 'Learning rate.' },
      { name: 'momentum', type: frac(1, true), default: v(0.9), doc: 'Momentum coefficient.' },
      { name: 'nesterov', type: { t: 'bool' }, default: v(false), doc: 'Nesterov momentum.' },
      { name: 'weight_decay', type: pos(), default: v(0), doc: 'L2 penalty on weights.' },
    ],
  },
  {
    name: 'adam',
    family: 'optimizer',
    doc: 'Adam with bias correction.',
    params: [
      { name: 'lr', type: num(Dim.none, { min: 0, minExclusive: true }), default: v(0.001), doc: 'Learning rate.' },
      { name: 'beta1', type: frac(1, true), default: v(0.9), doc: 'First-moment decay.' },
      { name: 'beta2', type: frac(1, true), default: v(0.999), doc: 'Second-moment decay.' },
      { name: 'epsilon', type: num(Dim.none, { min: 0, minExclusive: true }), default: v(1e-8), doc: 'Denominator guard.' },
      { name: 'weight_decay', type: pos(), default: v(0), doc: 'L2 penalty on weights.' },
    ],
  },
  // schedules
  { name: 'constant', family: 'schedule', doc: 'Constant learning rate.', params: [] },
  {
    name: 'step',
    family: 'schedule',
    doc: 'Multiply the learning rate by gamma every `every` epochs.',
    params: [
      { name: 'every', type: int(1), default: v(10), doc: 'Epochs between decays.' },
      { name: 'gamma', type: frac(), default: v(0.1), doc: 'Decay factor.' },
    ],
  },
  { name: 'cosine', family: 'schedule', doc: 'Cosine annealing to zero over the run.', params: [] },
  // weight initializations
  { name: 'he_normal', family: 'init', doc: 'He-normal: W ~ N(0, 2/fan_in), fan_in the inputs of one output.', params: [] },
  {
    name: 'uniform',
    family: 'init',
    doc: "Uniform in [−limit, limit], or on `levels` evenly spaced values −limit … limit, each equally likely (NeuroSim's WeightInitialize: 7 levels in [−1, 1]).",
    params: [
      { name: 'limit', type: num(Dim.none, { min: 0, minExclusive: true }), default: v(1), doc: 'Largest |W|.' },
      {
        name: 'levels',
        optional: true,
        type: int(2, 65536),
        default: { kind: 'none', describe: 'a continuum' },
        doc: 'Number of evenly spaced values, both ends included (absent: the continuous uniform distribution).',
      },
    ],
  },
  // data sets
  {
    name: 'mnist',
    family: 'data',
    doc: 'The embedded MNIST digits (10,000 real images shipped with xbarc), split train/test by seed.',
    params: [
      { name: 'train', type: int(1, 10000), default: v(8000), doc: 'Training samples.' },
      { name: 'test', type: int(1, 10000), default: v(2000), doc: 'Test samples (train + test ≤ 10,000).' },
      { name: 'crop', type: int(0, 28), default: v(0), doc: "Center-crop images to crop × crop pixels (0 = keep 28 × 28); NeuroSim's MLP uses 20." },
      {
        name: 'binarize',
        type: frac(),
        default: v(0),
        doc: "Black-and-white pixels before normalizing: u ≥ binarize → 1, else 0, on the 0..1 pixel u (0 = keep grey levels); NeuroSim's MLP uses 0.5, with mean = 0 and std = 1.",
      },
      { name: 'mean', type: num(Dim.none), default: v(0.1307), doc: 'Normalization mean (after scaling pixels to 0..1).' },
      { name: 'std', type: num(Dim.none, { min: 0, minExclusive: true }), default: v(0.3081), doc: 'Normalization standard deviation.' },
    ],
  },
  {
    name: 'idx',
    family: 'data',
    doc: 'MNIST-format IDX files (MNIST, Fashion-MNIST), gzipped or not; paths relative to the spec.',
    params: [
      { name: 'train_images', type: { t: 'string' }, default: required, doc: 'Training images file.' },
      { name: 'train_labels', type: { t: 'string' }, default: required, doc: 'Training labels file.' },
      { name: 'test_images', type: { t: 'string' }, default: required, doc: 'Test images file.' },
      { name: 'test_labels', type: { t: 'string' }, default: required, doc: 'Test labels file.' },
      { name: 'train', type: int(0), default: v(0), doc: 'Use the first N training samples (0 = all).' },
      { name: 'test', type: int(0), default: v(0), doc: 'Use the first N test samples (0 = all).' },
      { name: 'crop', type: int(0, 28), default: v(0), doc: 'Center-crop images to crop × crop pixels (0 = keep 28 × 28).' },
      {
        name: 'binarize',
        type: frac(),
        default: v(0),
        doc: "Black-and-white pixels before normalizing: u ≥ binarize → 1, else 0, on the 0..1 pixel u (0 = keep grey levels); NeuroSim's MLP uses 0.5, with mean = 0 and std = 1.",
      },
      { name: 'mean', type: num(Dim.none), default: v(0.1307), doc: 'Normalization mean.' },
      { name: 'std', type: num(Dim.none, { min: 0, minExclusive: true }), default: v(0.3081), doc: 'Normalization standard deviation.' },
    ],
  },
  {
    name: 'cifar10',
    family: 'data',
    doc: 'CIFAR-10 binary version (data_batch_1..5.bin, test_batch.bin) in a directory relative to the spec.',
    params: [
      { name: 'dir', type: { t: 'string' }, default: required, doc: 'Directory holding the .bin files.' },
      { name: 'train', type: int(0), default: v(0), doc: 'Use the first N training samples (0 = all 50,000).' },
      { name: 'test', type: int(0), default: v(0), doc: 'Use the first N test samples (0 = all 10,000).' },
      { name: 'mean', type: num(Dim.none), default: v(0.4734), doc: 'Normalization mean.' },
      { name: 'std', type: num(Dim.none, { min: 0, minExclusive: true }), default: v(0.2516), doc: 'Normalization standard deviation.' },
    ],
  },
  // layers
  {
    name: 'conv2d',
    family: 'layer',
    doc: '2-D convolution (weights [out, in, kh, kw]; crossbar matrix K = in·kh·kw rows × out columns).',
    params: [
      { name: 'out', type: int(1, 65536), default: required, doc: 'Output channels.' },
      { name: 'kernel', type: { t: 'shape', rank: 2, square: true, min: 1, max: 64 }, default: v([3, 3]), doc: 'Kernel size (`3` or `3 x 5`).' },
      { name: 'stride', type: { t: 'shape', rank: 2, square: true, min: 1, max: 64 }, default: v([1, 1]), doc: 'Stride.' },
      { name: 'padding', type: { t: 'shape', rank: 2, square: true, min: 0, max: 64 }, default: v([0, 0]), doc: 'Zero padding on each side (rows x cols).' },
      { name: 'bias', type: { t: 'bool' }, default: v(true), doc: 'Add a learned bias (digital).' },
    ],
  },
  {
    name: 'dense',
    family: 'layer',
    doc: 'Fully connected layer (weights [in, out]).',
    params: [
      { name: 'units', type: int(1, 1 << 20), default: required, doc: 'Output features.' },
      { name: 'bias', type: { t: 'bool' }, default: v(true), doc: 'Add a learned bias (digital).' },
    ],
  },
  { name: 'relu', family: 'layer', doc: 'Rectified linear unit (digital).', params: [] },
  {
    name: 'sigmoid',
    family: 'layer',
    doc: 'Logistic sigmoid 1 / (1 + exp(−x)) (digital); its outputs are non-negative, so a crossbar after it streams unsigned inputs, as after `relu`.',
    params: [],
  },
  { name: 'tanh', family: 'layer', doc: 'Hyperbolic tangent (digital); its outputs are signed, so a crossbar after it streams signed inputs.', params: [] },
  {
    name: 'maxpool',
    family: 'layer',
    doc: 'Max pooling (digital).',
    params: [
      { name: 'kernel', type: { t: 'shape', rank: 2, square: true, min: 1, max: 64 }, default: v([2, 2]), doc: 'Window size.' },
      { name: 'stride', type: { t: 'shape', rank: 2, square: true, min: 1, max: 64 }, default: { kind: 'computed', describe: 'kernel' }, doc: 'Stride.' },
      { name: 'padding', type: { t: 'shape', rank: 2, square: true, min: 0, max: 64 }, default: v([0, 0]), doc: 'Padding.' },
    ],
  },
  {
    name: 'avgpool',
    family: 'layer',
    doc: 'Average pooling (digital); `global = true` averages over the whole feature map.',
    params: [
      { name: 'kernel', type: { t: 'shape', rank: 2, square: true, min: 1, max: 64 }, default: v([2, 2]), doc: 'Window size.' },
      { name: 'stride', type: { t: 'shape', rank: 2, square: true, min: 1, max: 64 }, default: { kind: 'computed', describe: 'kernel' }, doc: 'Stride.' },
      { name: 'padding', type: { t: 'shape', rank: 2, square: true, min: 0, max: 64 }, default: v([0, 0]), doc: 'Padding.' },
      { name: 'global', type: { t: 'bool' }, default: v(false), doc: 'Global average pooling.' },
    ],
  },
  {
    name: 'batchnorm',
    family: 'layer',
    doc: 'Batch normalization over channels (digital): batch statistics in training, running statistics in evaluation.',
    params: [
      { name: 'epsilon', type: num(Dim.none, { min: 0, minExclusive: true }), default: v(1e-5), doc: 'Variance guard.' },
      { name: 'momentum', type: frac(), default: v(0.1), doc: 'Running-statistics update rate.' },
    ],
  },
  { name: 'flatten', family: 'layer', doc: 'Flatten [C, H, W] to a vector.', params: [] },
  {
    name: 'add',
    family: 'layer',
    doc: "Residual add: inside a block, adds the block's input (through its `shortcut`, if any) to the current value.",
    params: [],
  },
];

const constructorIndex = new Map<string, Constructor>();
for (const c of constructors) constructorIndex.set(`${c.family}:${c.name}`, c);

export function findConstructor(family: Family, name: string): Constructor | undefined {
  return constructorIndex.get(`${family}:${name}`);
}

export function familyConstructors(family: Family): Constructor[] {
  return constructors.filter((c) => c.family === family);
}

export const familyNames: Record<Family, string> = {
  update: 'update model',
  iv: 'I-V model',
  adcRange: 'ADC range',
  parasitics: 'parasitic model',
  optimizer: 'optimizer',
  schedule: 'schedule',
  init: 'weight initialization',
  data: 'data set',
  layer: 'layer',
};

export function findParam(schema: ObjectSchema | Constructor, name: string): ParamSpec | undefined {
  return schema.params.find((p) => p.name === name);
}
