import type { onnx as OnnxTypes } from 'onnx-proto';
import onnxPkg from 'onnx-proto';

const { onnx } = onnxPkg;

/** Tensor element types this builder writes. */
export type BuilderDType = 'float32' | 'float64' | 'int64';
/** A dimension is a fixed size or a symbolic name (dynamic axis). */
export type Dim = number | string;
export type AttrValue = number | number[] | string | GraphBuilder;

const T = onnx.TensorProto.DataType;
const ELEM = { float32: T.FLOAT, float64: T.DOUBLE, int64: T.INT64 } as const;
const ATTR = onnx.AttributeProto.AttributeType;

function valueInfo(name: string, dtype: BuilderDType, shape: readonly Dim[]): OnnxTypes.IValueInfoProto {
  const dim = shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType: ELEM[dtype], shape: { dim } } } };
}

/** Integers that are whole numbers become INT/INTS attributes; anything else FLOAT/FLOATS. */
function attribute(name: string, value: AttrValue, forceFloat: boolean): OnnxTypes.IAttributeProto {
  if (value instanceof GraphBuilder) return { name, type: ATTR.GRAPH, g: value.toGraph() };
  if (typeof value === 'string') return { name, type: ATTR.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) {
    return forceFloat ? { name, type: ATTR.FLOATS, floats: value } : { name, type: ATTR.INTS, ints: value };
  }
  return forceFloat ? { name, type: ATTR.FLOAT, f: value } : { name, type: ATTR.INT, i: value };
}

/**
 * Minimal ONNX writer: nodes are appended in call order and intermediate names are numbered, so the same
 * build code always yields the same bytes (the .onnx files are committed).
 */
export class GraphBuilder {
  readonly #nodes: OnnxTypes.INodeProto[] = [];
  readonly #inits: OnnxTypes.ITensorProto[] = [];
  readonly #inputs: OnnxTypes.IValueInfoProto[] = [];
  readonly #outputs: OnnxTypes.IValueInfoProto[] = [];
  #counter = 0;

  /** `prefix` keeps a subgraph's intermediate names apart from its parent's (ONNX forbids shadowing). */
  constructor(
    readonly name: string,
    readonly prefix = '',
  ) {}

  input(name: string, dtype: BuilderDType, shape: readonly Dim[]): string {
    this.#inputs.push(valueInfo(name, dtype, shape));
    return name;
  }

  output(source: string, name: string, dtype: BuilderDType, shape: readonly Dim[]): void {
    this.op('Identity', [source], {}, name);
    this.#outputs.push(valueInfo(name, dtype, shape));
  }

  /** Constant tensor stored as an initializer; `dims` defaults to a 1-D tensor ([] gives a scalar). */
  constant(dtype: BuilderDType, values: ArrayLike<number>, dims: number[] = [values.length]): string {
    const name = `${this.prefix}c${this.#counter++}`;
    const data = Array.from(values);
    const base = { name, dims, dataType: ELEM[dtype] };
    const key = { float32: 'floatData', float64: 'doubleData', int64: 'int64Data' } as const;
    this.#inits.push({ ...base, [key[dtype]]: data });
    return name;
  }

  /** Appends a node with `count` outputs (named automatically) and returns their names. */
  opMulti(type: string, inputs: string[], attrs: Record<string, AttrValue>, count: number): string[] {
    const outputs = Array.from({ length: count }, () => `${this.prefix}t${this.#counter++}`);
    const attribute_ = Object.entries(attrs).map(([k, v]) => attribute(k, v, false));
    this.#nodes.push({ opType: type, input: inputs, output: outputs, attribute: attribute_ });
    return outputs;
  }

  /** Appends a node and returns its (first) output name; `floatAttrs` lists attributes written as floats. */
  op(
    type: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    outName?: string,
    floatAttrs: string[] = [],
  ): string {
    const output = outName ?? `${this.prefix}t${this.#counter++}`;
    const attribute_ = Object.entries(attrs).map(([k, v]) => attribute(k, v, floatAttrs.includes(k)));
    this.#nodes.push({ opType: type, input: inputs, output: [output], attribute: attribute_ });
    return output;
  }

  toGraph(): OnnxTypes.IGraphProto {
    return {
      name: this.name,
      node: this.#nodes,
      initializer: this.#inits,
      input: this.#inputs,
      output: this.#outputs,
    };
  }

  toBytes(opset: number): Uint8Array {
    const graph = this.toGraph();
    const model = {
      irVersion: 8,
      producerName: 'vcfarm-builder',
      opsetImport: [{ domain: '', version: opset }],
      graph,
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }
}
