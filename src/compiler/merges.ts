/**
 * Provably exact merges: which conversions of a crossbar-mapped layer the runtime may fold into
 * one integer GEMM, decided once at compile time from plan-level facts (fidelity, the crossbar's
 * settings and device, the layer's matrix K × N, the direction, the evaluation time for drift)
 * and recorded in the plan (`LayerMapping.merges`). The runtime follows the plan; it never
 * decides a merge itself.
 *
 * At fidelity exact every row tile × input stream × (plane, slice) partial sum is converted by
 * its own ADC (with `subtract = analog` one signed ADC per slice converts the planes' difference
 * I⁺ − I⁻, codes ±(2^(bits−1) − 1), bounded by the same largest partial sum). With no device non-ideality (variation, faults, drift, read noise, parasitics), an
 * ideal ADC transfer (no offset, gain error or INL) and the largest partial sum
 * rows·(2^dac − 1)·(2^w − 1) within the ADC's codes at a one-level step (w = min(cell_bits,
 * weight_bits), the widest slice: a narrow top slice sums to less; `max` and `calibrate` ranges
 * then always give step 1; `fixed` when its full scale is at most 2^bits − 1 levels),
 * every code equals its partial sum, so the shift-add of all codes is the integer product: the
 * merge is exact. Anything else is listed as not applied, with the reason.
 *
 * At fidelity fast (TxSim) slices, streams and tiles are folded by definition (one GEMM, one
 * layer-level ADC): listed as applied with that reason, which is a modelling choice, not an
 * exactness claim.
 */

import {
  analogSubtraction,
  columnMaxCode,
  convertedPlanes,
  driftFactor,
  inputEncoding,
  inputSigned,
  largestPartialSum,
  losslessBits,
  lsbFromFullScale,
  unitCurrent,
  weightSlices,
  widestSliceLevel,
} from '../model/crossbar-math.js';
import type { AdcSpec, CrossbarSpec } from '../model/crossbar.js';
import type { LayerMerge, MergeDirection, PlanExperiment, PlanLayer } from '../model/plan.js';
import { trimNumber } from './units.js';

export interface MergeFacts {
  fidelity: 'fast' | 'exact';
  /** The layer's crossbar, resolved (settings and device). */
  xb: CrossbarSpec;
  /** The layer's weight matrix: K rows (fan-in), N columns (outputs). */
  K: number;
  N: number;
  direction: MergeDirection;
  /** Whether the forward inputs can be negative (more streams for two's complement / sign-magnitude). Backward inputs are always signed. */
  signedInput?: boolean;
  /** Evaluation time in seconds since programming (drift). */
  evalTime?: number;
}

const pct = (x: number): string => `${trimNumber(Number((x * 100).toPrecision(4)))} %`;

/** The merge decision of one layer and direction. Pure: the same facts give the same answer. */
export function decideMerge(f: MergeFacts): LayerMerge {
  const { xb, direction } = f;
  const fwd = direction === 'forward';
  const rows = fwd ? Math.min(xb.rows, f.K) : Math.min(xb.cols, f.N);
  const tiles = fwd ? Math.ceil(f.K / xb.rows) : Math.ceil(f.N / xb.cols);
  const S = weightSlices(xb);
  const inBits = fwd ? xb.inputBits : xb.backward.inputBits;
  const dacBits = fwd ? xb.dacBits : xb.backward.dacBits;
  let streams: number | null = null;
  try {
    streams = inputEncoding(inBits, dacBits, fwd ? (f.signedInput ?? true) : true).streams;
  } catch {
    streams = null;
  }
  const tileWord = fwd ? 'row tile' : 'column tile';
  // subtract = analog: the ± planes' currents are subtracted before the ADC, one conversion per slice.
  const P = convertedPlanes(xb);
  const planes = P === 2 ? '2 planes' : '1 plane difference (I⁺ − I⁻ in analog)';
  const parts = `${tiles} ${tileWord}${tiles === 1 ? '' : 's'} × ${S} slice${S === 1 ? '' : 's'} × ${planes}${streams !== null ? ` × ${streams} stream${streams === 1 ? '' : 's'} = ${tiles * S * P * streams}` : ''}`;

  if (f.fidelity === 'fast') {
    return {
      direction,
      applied: true,
      what: `slices, streams and tiles folded into one GEMM (per output: ${parts} partial sums, one layer-level ADC conversion)`,
      reason: 'fidelity fast folds slices and tiles by definition: one GEMM, layer-level ADC',
    };
  }
  const what = `slices, streams and tiles merged into one integer GEMM (per output: ${parts} ADC conversions)`;
  const adc: AdcSpec = fwd ? xb.adc : xb.backward.adc;
  const adcName = fwd ? 'adc' : 'backward.adc';
  const d = xb.device;
  const why: string[] = [];
  if (d.d2dSigma > 0) why.push(`d2d_sigma = ${pct(d.d2dSigma)} makes each slice's conductances differ`);
  if (d.pSa0 > 0 || d.pSa1 > 0) why.push(`stuck-at faults (p_sa0 = ${pct(d.pSa0)}, p_sa1 = ${pct(d.pSa1)}) pin cells at G_off / G_on`);
  const t = f.evalTime ?? 0;
  const drift = driftFactor(d, t);
  if (drift !== 1)
    why.push(`drift_nu = ${trimNumber(d.driftNu)} at evaluate.time = ${trimNumber(t)} s scales conductances by ${trimNumber(Number(drift.toPrecision(4)))}`);
  if (d.readNoise > 0) why.push(`read_noise = ${pct(d.readNoise)} perturbs every read`);
  if (xb.parasitics.kind !== 'none') why.push(`parasitics = ${xb.parasitics.kind}: IR drop changes each tile's currents`);
  const transfer: string[] = [];
  if (adc.offset !== 0) transfer.push(`offset ${trimNumber(adc.offset)} LSB`);
  if (adc.gainError !== 0) transfer.push(`gain_error ${pct(adc.gainError)}`);
  if (adc.inl !== 0) transfer.push(`inl ${trimNumber(adc.inl)} LSB`);
  if (transfer.length) why.push(`${adcName} transfer is not ideal (${transfer.join(', ')})`);
  // Analog subtraction: signed codes ±(2^(bits−1) − 1) for differences in [−worst, worst].
  const signed = analogSubtraction(xb);
  const maxCode = columnMaxCode(xb, adc);
  // The widest slice bounds the partial sums (a narrow top slice holds fewer levels).
  const sliceBits = Math.min(xb.cellBits, xb.weightBits);
  const worst = largestPartialSum(rows, dacBits, sliceBits);
  const lineWord = fwd ? 'row' : 'column';
  const sums = signed ? `plane differences up to ±${worst}` : `partial sums up to ${worst}`;
  if (worst > maxCode) {
    why.push(
      `${adcName}.bits = ${adc.bits} < ${losslessBits(rows, dacBits, sliceBits, signed)} needed for ${rows}-${lineWord} tiles${signed ? ' (signed ADC)' : ''}: ${sums} would be quantized`,
    );
  } else if (adc.range.kind === 'fixed') {
    const step = lsbFromFullScale(adc.range.current / unitCurrent(xb, dacBits), maxCode);
    if (step !== 1)
      why.push(
        `${adcName}.range = fixed(${trimNumber(adc.range.current)} A) gives a step of ${trimNumber(Number(step.toPrecision(4)))} levels: codes would not equal partial sums`,
      );
  }
  if (why.length) return { direction, applied: false, what, reason: why.join('; ') };
  return {
    direction,
    applied: true,
    what,
    reason: `lossless ${adc.bits}-bit ${signed ? 'signed ADC on I⁺ − I⁻: ±' : 'ADC: '}${maxCode} codes ≥ ${worst} = ${rows} ${lineWord}s × ${2 ** dacBits - 1} × ${widestSliceLevel(xb)} (largest partial sum) at a one-level step; ideal ADC transfer, no device variation, faults or drift`,
  };
}

/** The directions the runtime executes on the crossbar: forward always; backward when training with `backward` ∈ train.nonideal. */
export function mergeDirections(exp: Pick<PlanExperiment, 'train'>): MergeDirection[] {
  return exp.train?.nonideal.includes('backward') ? ['forward', 'backward'] : ['forward'];
}

/** A layer's merge decisions, from the plan's facts; undefined for layers that are not crossbar-mapped. */
export function layerMerges(exp: PlanExperiment, layer: PlanLayer): LayerMerge[] | undefined {
  const m = layer.mapping;
  if (m?.target !== 'crossbar' || exp.fidelity === 'ideal') return undefined;
  const pc = exp.crossbars[m.crossbar ?? ''];
  if (!pc) return undefined;
  const evalTime = exp.evaluate.time;
  const signedInput = inputSigned(exp.network, layer);
  return mergeDirections(exp).map((direction) =>
    decideMerge({ fidelity: exp.fidelity as 'fast' | 'exact', xb: pc, K: m.matrix.rows, N: m.matrix.cols, direction, signedInput, evalTime }),
  );
}

/**
 * DAC passes per forward MVM of a crossbar layer, from its input encoding: unsigned inputs (after a
 * ReLU) ⌈bits/dac⌉, signed on 1-bit DACs bits (two's complement), signed on wider DACs
 * 2·⌈(bits − 1)/dac⌉ (sign-magnitude: the positive and the negative parts are driven separately).
 */
export function layerInputStreams(exp: PlanExperiment, layer: PlanLayer): number | undefined {
  const m = layer.mapping;
  const pc = m?.target === 'crossbar' ? exp.crossbars[m.crossbar ?? ''] : undefined;
  if (!pc) return undefined;
  try {
    return inputEncoding(pc.inputBits, pc.dacBits, inputSigned(exp.network, layer)).streams;
  } catch {
    return undefined; // signed inputs on a 1-bit input width: the runtime reports it with the layer named
  }
}

/**
 * The experiment with every crossbar layer's `mapping.merges` computed from its facts, and its
 * `inputStreams` from its input encoding (a copy; the input is not changed).
 */
export function withMerges(exp: PlanExperiment): PlanExperiment {
  const layers = exp.network.layers.map((l) => {
    if (!l.mapping) return l;
    const { merges: _old, ...mapping } = l.mapping;
    const merges = layerMerges(exp, l);
    const inputStreams = layerInputStreams(exp, l);
    if (inputStreams !== undefined) mapping.inputStreams = inputStreams;
    return { ...l, mapping: merges ? { ...mapping, merges } : mapping };
  });
  return { ...exp, network: { ...exp.network, layers } };
}

/**
 * Merge decisions for a resolved crossbar and a K × N matrix (library users and tests that build
 * a layer without a plan): the same function the compiler uses.
 */
export function crossbarMerges(
  xb: CrossbarSpec,
  o: { fidelity: 'fast' | 'exact'; K: number; N: number; directions?: MergeDirection[]; signedInput?: boolean; evalTime?: number },
): LayerMerge[] {
  return (o.directions ?? ['forward', 'backward']).map((direction) =>
    decideMerge({
      fidelity: o.fidelity,
      xb,
      K: o.K,
      N: o.N,
      direction,
      ...(o.signedInput !== undefined ? { signedInput: o.signedInput } : {}),
      ...(o.evalTime !== undefined ? { evalTime: o.evalTime } : {}),
    }),
  );
}
