package dev.jdm.kernel;

import dev.jdm.spi.IoOp;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;

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

  Segment(long start, long length, String typeName, TargetRegistry.Registration registration,
      Target target, SegmentContext context) {
    this.start = start;
    this.length = length;
    this.typeName = typeName;
    this.registration = registration;
    this.target = target;
    this.context = context;
    this.maxIo = Math.max(0, target.maxIoSectors());
    this.discard = target.supports(IoOp.DISCARD);
    this.writeZeroes = target.supports(IoOp.WRITE_ZEROES);
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
