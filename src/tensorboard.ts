/**
 * TensorBoard event files (`events.out.tfevents.*` in the run folder), so `tensorboard --logdir runs`
 * shows every run. The format: a TFRecord file (each record: uint64 length, masked CRC32C of the
 * length, the bytes, masked CRC32C of the bytes) of `tensorflow.Event` protos. The protos are the
 * few fields of TensorFlow's event.proto / summary.proto / tensor.proto that cpc-lab writes,
 * encoded with protobufjs; the CRC is @aws-crypto/crc32c.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32c } from '@aws-crypto/crc32c';
import protobuf from 'protobufjs';
import { fileError, writeFileAtomic } from './run.js';

/** Field numbers as in tensorflow/core/util/event.proto, framework/summary.proto and tensor.proto. */
const PROTO = `
syntax = "proto3";
package tensorflow;
message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what { string file_version = 3; Summary summary = 5; }
}
message Summary {
  message Image { int32 height = 1; int32 width = 2; int32 colorspace = 3; bytes encoded_image_string = 4; }
  message Value {
    string tag = 1;
    SummaryMetadata metadata = 9;
    oneof value { float simple_value = 2; Image image = 4; TensorProto tensor = 8; }
  }
  repeated Value value = 1;
}
message SummaryMetadata {
  message PluginData { string plugin_name = 1; bytes content = 2; }
  PluginData plugin_data = 1;
  int32 data_class = 4;
}
message TensorShapeProto { message Dim { int64 size = 1; } repeated Dim dim = 2; }
message TensorProto { int32 dtype = 1; TensorShapeProto tensor_shape = 2; repeated bytes string_val = 8; }
`;

const EventType = protobuf.parse(PROTO).root.lookupType('tensorflow.Event');

/** tensorflow.DataType DT_STRING; SummaryMetadata DATA_CLASS_TENSOR. */
const DT_STRING = 7;
const DATA_CLASS_TENSOR = 2;
/** What a reader checks the first record for. */
const FILE_VERSION = 'brain.Event:2';
const EVENT_FILE_PREFIX = 'events.out.tfevents.';

/** The TFRecord CRC: CRC32C rotated right by 15 bits plus a constant (so CRCs of CRCs differ). */
function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, its masked CRC, the data, its masked CRC. */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

/**
 * The records of a TFRecord file, in order, up to the first torn or corrupt one (a process killed
 * mid-write leaves a partial last record): each with its byte range and payload.
 */
export function readTfRecords(bytes: Buffer): { start: number; end: number; data: Buffer }[] {
  const records = [];
  let at = 0;
  while (at + 12 <= bytes.length) {
    const length = bytes.readBigUInt64LE(at);
    if (bytes.readUInt32LE(at + 8) !== maskedCrc32c(bytes.subarray(at, at + 8))) break;
    const end = at + 12 + Number(length) + 4;
    if (end > bytes.length) break;
    const data = bytes.subarray(at + 12, end - 4);
    if (bytes.readUInt32LE(end - 4) !== maskedCrc32c(data)) break;
    records.push({ start: at, end, data });
    at = end;
  }
  return records;
}

/** The step and the tags of one event (what truncating a file needs). */
function eventStepAndTags(data: Uint8Array): { step: number; tags: string[] } {
  const e = EventType.toObject(EventType.decode(data), { longs: Number }) as { step?: number; summary?: { value?: { tag: string }[] } };
  return { step: e.step ?? 0, tags: (e.summary?.value ?? []).map((v) => v.tag) };
}

/** The run folder's event file, if it has one (the first by name: cpc-lab writes one per run). */
export function findEventFile(runDir: string): string | undefined {
  if (!fs.existsSync(runDir)) return undefined;
  const name = fs.readdirSync(runDir).filter((f) => f.startsWith(EVENT_FILE_PREFIX)).sort()[0];
  return name ? path.join(runDir, name) : undefined;
}

export type Scalars = Record<string, number>;

/** Appends events to one run's event file; a resumed run continues the file it already has. */
export class EventWriter {
  private readonly fd: number;

  /**
   * Opens the event file of `runDir`. `resumeAt`: the frames of the checkpoint a resumed run starts
   * from; the events after it are dropped (those updates are trained again), as in metrics.jsonl.
   */
  constructor(runDir: string, resumeAt?: number) {
    let file = findEventFile(runDir);
    if (file && resumeAt !== undefined) truncateEvents(file, resumeAt);
    const fresh = !file || fs.statSync(file).size === 0;
    file ??= path.join(runDir, `${EVENT_FILE_PREFIX}${Math.floor(Date.now() / 1000)}.${os.hostname()}`);
    try {
      this.fd = fs.openSync(file, 'a');
    } catch (err) {
      throw fileError(err, `cannot write TensorBoard events to ${file}`);
    }
    if (fresh) this.write({ wallTime: Date.now() / 1000, step: 0, fileVersion: FILE_VERSION });
  }

  /** Scalars at one step (frames), one event. Non-finite values are written as they are. */
  scalars(step: number, values: Scalars): void {
    const value = Object.entries(values).map(([tag, simpleValue]) => ({ tag, simpleValue }));
    if (value.length) this.summary(step, value);
  }

  /** Markdown text (TensorBoard's text plugin: a string tensor). */
  text(step: number, tag: string, markdown: string): void {
    this.summary(step, [
      {
        tag,
        metadata: { pluginData: { pluginName: 'text' }, dataClass: DATA_CLASS_TENSOR },
        tensor: { dtype: DT_STRING, tensorShape: {}, stringVal: [Buffer.from(markdown, 'utf8')] },
      },
    ]);
  }

  /** An RGB image, PNG-encoded. */
  image(step: number, tag: string, png: { width: number; height: number; bytes: Uint8Array }): void {
    this.summary(step, [{ tag, image: { height: png.height, width: png.width, colorspace: 3 /* RGB */, encodedImageString: png.bytes } }]);
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private summary(step: number, value: object[]): void {
    this.write({ wallTime: Date.now() / 1000, step, summary: { value } });
  }

  private write(event: object): void {
    fs.writeSync(this.fd, tfRecord(EventType.encode(EventType.fromObject(event)).finish()));
  }
}

/**
 * Keeps the events up to step `frames` (and the first, the file version) and drops a torn last
 * record. The config text written at `frames` by the run being resumed goes too: the resumed run
 * writes its own.
 */
function truncateEvents(file: string, frames: number): void {
  const bytes = fs.readFileSync(file);
  const kept = readTfRecords(bytes).filter((r, i) => {
    if (i === 0) return true;
    const e = eventStepAndTags(r.data);
    return e.step < frames || (e.step === frames && !e.tags.includes(CONFIG_TAG));
  });
  writeFileAtomic(file, Buffer.concat(kept.map((r) => bytes.subarray(r.start, r.end))));
}

/** The tag of the run's settings (text). */
export const CONFIG_TAG = 'config';
