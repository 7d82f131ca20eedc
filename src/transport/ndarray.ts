/**
 * N-dimensional arrays on the wire: `{dtype, shape, data}` with `data` the raw little-endian bytes
 * (a msgpack `bin`), so Python reads one with `numpy.frombuffer(data, dtype).reshape(shape)` and no
 * msgpack extension types are involved.
 */
import { endianness } from 'node:os';

// Typed-array views reinterpret host-order bytes; every peer (x86, ARM, numpy '<') is little-endian.
if (endianness() !== 'LE') throw new Error('cpc-lab transport requires a little-endian host');

/** Element types that may travel; the names are numpy's, so Python needs no mapping. */
export const DTYPES = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'float64'] as const;
export type Dtype = (typeof DTYPES)[number];

interface TypedArrayByDtype {
  uint8: Uint8Array;
  int8: Int8Array;
  uint16: Uint16Array;
  int16: Int16Array;
  uint32: Uint32Array;
  int32: Int32Array;
  float32: Float32Array;
  float64: Float64Array;
}
export type TypedArrayOf<D extends Dtype> = TypedArrayByDtype[D];
export type TypedArray = TypedArrayByDtype[Dtype];

/** The dtype of a typed-array type (`Buffer` counts as `uint8`). */
export type DtypeOf<A extends TypedArray> = {
  [D in Dtype]: A extends TypedArrayByDtype[D] ? D : never;
}[Dtype];

const CONSTRUCTORS = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

export const ITEMSIZE: Readonly<Record<Dtype, number>> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  float64: 8,
};

/** An array as it travels. `data.byteLength === product(shape) * ITEMSIZE[dtype]`. */
export interface WireArray<D extends Dtype = Dtype> {
  dtype: D;
  shape: number[];
  data: Uint8Array;
}

export function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function dtypeOf<A extends TypedArray>(array: A): DtypeOf<A> {
  for (const dtype of DTYPES) {
    if (array instanceof CONSTRUCTORS[dtype]) return dtype as DtypeOf<A>;
  }
  throw new TypeError(`unsupported array type ${(array as object).constructor.name}`);
}

/**
 * Wraps a typed array for sending, without copying (the bytes are a view on the same memory, so do
 * not mutate the array until the message has been encoded). Throws if `shape` does not match.
 */
export function toWire<A extends TypedArray>(array: A, shape: readonly number[]): WireArray<DtypeOf<A>> {
  if (product(shape) !== array.length) {
    throw new RangeError(`shape [${shape.join(', ')}] holds ${product(shape)} elements, array has ${array.length}`);
  }
  return {
    dtype: dtypeOf(array),
    shape: [...shape],
    data: new Uint8Array(array.buffer, array.byteOffset, array.byteLength),
  };
}

/**
 * The typed array a wire array holds: a view on the received bytes when their offset is aligned to
 * the item size, else an aligned copy (msgpack places `bin` payloads at arbitrary offsets).
 */
export function fromWire<D extends Dtype>(wire: WireArray<D>): TypedArrayOf<D> {
  const itemsize = ITEMSIZE[wire.dtype];
  const { data } = wire;
  if (data.byteLength !== product(wire.shape) * itemsize) {
    throw new RangeError(`${wire.dtype} [${wire.shape.join(', ')}] needs ${product(wire.shape) * itemsize} bytes, got ${data.byteLength}`);
  }
  const Ctor = CONSTRUCTORS[wire.dtype];
  const length = data.byteLength / itemsize;
  if (data.byteOffset % itemsize === 0) return new Ctor(data.buffer as ArrayBuffer, data.byteOffset, length) as TypedArrayOf<D>;
  // `new Uint8Array(x)` copies; `Buffer#slice` would not.
  return new Ctor(new Uint8Array(data).buffer, 0, length) as TypedArrayOf<D>;
}
