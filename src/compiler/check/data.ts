/**
 * The data set against the network and the training protocol: the sample shape a data set gives,
 * the network's declared input and class count against it, and the batch against the training set.
 */
import type { DeclEval } from '../evaluate.js';
import { showShape, sameShape, type ExpandedNetwork } from '../network.js';
import { numOf, type Value } from '../values.js';
import type { DataInfo } from '../check.js';
import type { CheckContext } from './context.js';

/** What a data set value gives the checks: sample shape, classes and split sizes (undefined when unknown). */
export function dataInfo(v: Value | undefined): DataInfo | undefined {
  if (v?.k !== 'call') return undefined;
  const n = (k: string) => numOf(v.args[k], 0);
  switch (v.name) {
    case 'mnist':
      return { kind: 'mnist', shape: [1, n('crop') || 28, n('crop') || 28], classes: 10, train: n('train'), test: n('test') };
    case 'idx':
      return { kind: 'idx', shape: [1, n('crop') || 28, n('crop') || 28], classes: 10, train: n('train') || 60000, test: n('test') || 10000 };
    case 'cifar10':
      return { kind: 'cifar10', shape: [3, 32, 32], classes: 10, train: n('train') || 50000, test: n('test') || 10000 };
    default:
      return undefined;
  }
}

/** The network's declared input against the data set's samples, and its outputs against the classes. */
export function checkNetworkAgainstData(ctx: CheckContext, net: ExpandedNetwork, data: DataInfo | undefined, model: Value): void {
  if (!data) return;
  if (net.declaredInput && !sameShape(net.declaredInput.shape, data.shape)) {
    ctx.diags.add('input-mismatch', model.file, model.span, {
      data: data.kind,
      dataShape: showShape(data.shape),
      network: net.name,
      netShape: showShape(net.declaredInput.shape),
    });
    return;
  }
  const last = net.layers[net.layers.length - 1];
  if (net.complete && last) {
    const out = last.outputShape;
    if (out.length !== 1 || out[0] !== data.classes) {
      ctx.diags.add('classes-mismatch', model.file, model.span, {
        network: net.name,
        outputs: out.length === 1 ? String(out[0]) : showShape(out),
        data: data.kind,
        classes: data.classes,
      });
    }
  }
}

/** train.lr_scale: one factor per weighted layer of the network. */
export function checkLrScale(ctx: CheckContext, values: Record<string, Value>, net: ExpandedNetwork | undefined): void {
  const train = values['train'];
  const scale = train?.k === 'object' ? train.fields['lr_scale'] : undefined;
  if (scale?.k !== 'list' || !net?.complete) return;
  const weighted = net.layers.filter((l) => l.weighted).map((l) => l.name);
  if (scale.items.length === weighted.length) return;
  ctx.diags.add('lr-scale-count', scale.file, scale.span, {
    given: scale.items.length,
    network: net.name,
    count: weighted.length,
    layers: weighted.join(', '),
  });
}

/** A batch larger than the training set. */
export function checkTrain(ctx: CheckContext, values: Record<string, Value>, data: DataInfo | undefined, de: DeclEval): void {
  const train = values['train'];
  if (train?.k !== 'object' || !data) return;
  const batch = numOf(train.fields['batch'], 0);
  if (batch > data.train) {
    const at = ctx.fieldSpan(de, 'train');
    ctx.diags.add('batch-too-large', at.file, at.span, { batch, count: data.train });
  }
}
