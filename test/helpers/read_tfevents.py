"""An independent reader of TensorBoard event files, for the tests: the TFRecord framing and its
masked CRC32C written here from the format's description, the protos parsed by Google's protobuf
runtime (Debian's python3-protobuf) from descriptors of the few fields of TensorFlow's
event.proto / summary.proto / tensor.proto that TensorBoard reads.

    python3 read_tfevents.py FILE   ->  one JSON object per event, then exit status 0
                                        (status 1 and a message on a bad length or CRC)
"""
import json
import math
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def message(name, fields, nested=()):
    m = descriptor_pb2.DescriptorProto(name=name)
    for number, fname, ftype, label, type_name in fields:
        f = m.field.add(name=fname, number=number, type=ftype, label=label)
        if type_name:
            f.type_name = type_name
    for n in nested:
        m.nested_type.add().CopyFrom(n)
    return m


OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED


def event_class():
    fd = descriptor_pb2.FileDescriptorProto(name="tfevents_test.proto", package="tensorflow", syntax="proto2")  # proto2: HasField on every field; the wire format is the same
    fd.message_type.add().CopyFrom(message("Event", [
        (1, "wall_time", F.TYPE_DOUBLE, OPT, None),
        (2, "step", F.TYPE_INT64, OPT, None),
        (3, "file_version", F.TYPE_STRING, OPT, None),
        (5, "summary", F.TYPE_MESSAGE, OPT, ".tensorflow.Summary"),
    ]))
    image = message("Image", [
        (1, "height", F.TYPE_INT32, OPT, None),
        (2, "width", F.TYPE_INT32, OPT, None),
        (3, "colorspace", F.TYPE_INT32, OPT, None),
        (4, "encoded_image_string", F.TYPE_BYTES, OPT, None),
    ])
    value = message("Value", [
        (1, "tag", F.TYPE_STRING, OPT, None),
        (2, "simple_value", F.TYPE_FLOAT, OPT, None),
        (4, "image", F.TYPE_MESSAGE, OPT, ".tensorflow.Summary.Image"),
        (8, "tensor", F.TYPE_MESSAGE, OPT, ".tensorflow.TensorProto"),
        (9, "metadata", F.TYPE_MESSAGE, OPT, ".tensorflow.SummaryMetadata"),
    ])
    fd.message_type.add().CopyFrom(message("Summary", [(1, "value", F.TYPE_MESSAGE, REP, ".tensorflow.Summary.Value")], [image, value]))
    plugin = message("PluginData", [(1, "plugin_name", F.TYPE_STRING, OPT, None), (2, "content", F.TYPE_BYTES, OPT, None)])
    fd.message_type.add().CopyFrom(message("SummaryMetadata", [
        (1, "plugin_data", F.TYPE_MESSAGE, OPT, ".tensorflow.SummaryMetadata.PluginData"),
        (4, "data_class", F.TYPE_INT32, OPT, None),
    ], [plugin]))
    fd.message_type.add().CopyFrom(message("TensorProto", [
        (1, "dtype", F.TYPE_INT32, OPT, None),
        (8, "string_val", F.TYPE_BYTES, REP, None),
    ]))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    desc = pool.FindMessageTypeByName("tensorflow.Event")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def records(data):
    at = 0
    while at < len(data):
        if at + 12 > len(data):
            raise ValueError(f"torn record header at byte {at}")
        header = data[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (crc,) = struct.unpack("<I", data[at + 8:at + 12])
        if crc != masked(header):
            raise ValueError(f"bad length CRC at byte {at}")
        payload = data[at + 12:at + 12 + length]
        if len(payload) != length or at + 16 + length > len(data):
            raise ValueError(f"torn record at byte {at}")
        (crc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        if crc != masked(payload):
            raise ValueError(f"bad data CRC at byte {at}")
        yield payload
        at += 16 + length


def finite(x):
    return x if math.isfinite(x) else None


def main(path):
    Event = event_class()
    with open(path, "rb") as f:
        data = f.read()
    try:
        for payload in records(data):
            e = Event()
            e.ParseFromString(payload)
            out = {"wall_time": e.wall_time, "step": e.step}
            if e.HasField("file_version"):
                out["file_version"] = e.file_version
            values = []
            for v in e.summary.value:
                item = {"tag": v.tag}
                if v.HasField("simple_value"):
                    item["simple_value"] = finite(v.simple_value)
                if v.HasField("image"):
                    png = v.image.encoded_image_string
                    (w, h) = struct.unpack(">II", png[16:24])
                    item["image"] = {"width": v.image.width, "height": v.image.height, "png_width": w, "png_height": h, "png": png[:8] == b"\x89PNG\r\n\x1a\n"}
                if v.HasField("tensor"):
                    item["plugin"] = v.metadata.plugin_data.plugin_name
                    item["text"] = v.tensor.string_val[0].decode("utf-8")
                values.append(item)
            out["values"] = values
            print(json.dumps(out, allow_nan=False))
    except ValueError as err:
        print(f"{path}: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1])
