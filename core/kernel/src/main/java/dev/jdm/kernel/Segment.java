package dev.jdm.kernel;

import dev.jdm.spi.IoOp;
import dev.jdm.spi.RequestData;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetType;

/** One live segment of a table: where it lies, the name it was written with, and its target. */
final class Segment {
  final long start;
  final long length;
  final String typeName;
  final TargetRegistry.Registration registration;
  final Target target;
  final SegmentContext context;
  final long maxIo;
  final boolean discard;
  final boolean writeZeroes;
  /** Whether FLUSH goes to {@code map} rather than to the target's devices. */
  final boolean flush;
  /** Whether the target's end_io runs for its requests. */
  final boolean endIo;
  /** Whether DISCARD and WRITE_ZEROES skip the split at {@link #maxIo}. */
  final boolean wholeRanges;
  /** The target's pooled per-request data, or null when it keeps none. */
  final FreeList<RequestData> requestData;

  Segment(long start, long length, String typeName, TargetRegistry.Registration registration,
      Target target, SegmentContext context, int poolSize) {
    this.start = start;
    this.length = length;
    this.typeName = typeName;
    this.registration = registration;
    this.target = target;
    this.context = context;
    this.maxIo = Math.max(0, target.maxIoSectors());
    this.discard = target.supports(IoOp.DISCARD);
    this.writeZeroes = target.supports(IoOp.WRITE_ZEROES);
    this.flush = target.supports(IoOp.FLUSH);
    this.endIo = registration.type().features().contains(TargetType.Feature.END_IO);
    this.wholeRanges = target.takesWholeRanges();
    RequestData first = target.newRequestData();
    if (first == null) {
      this.requestData = null;
    } else {
      this.requestData = new FreeList<>(poolSize, target::newRequestData);
      requestData.give(first);
    }
  }

  long end() {
    return start + length;
  }

  /** The segment as a table line: {@code start length type args}. */
  String line(StatusType type) {
    String s = target.status(type);
    return start + " " + length + " " + typeName + (s == null || s.isEmpty() ? "" : " " + s);
  }
}
