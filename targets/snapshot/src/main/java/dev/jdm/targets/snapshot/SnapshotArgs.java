package dev.jdm.targets.snapshot;

import dev.jdm.spi.Args;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.TargetException;
import java.util.List;

/**
 * The arguments of {@code snapshot} and {@code snapshot-merge}, read as the kernel's
 * {@code snapshot_ctr} reads them: {@code <origin> <COW device> <P|PO|N> <chunk_size>
 * [<#feature args> [discard_zeroes_cow] [discard_passdown_origin]]}. Every problem with the store's
 * two arguments is refused as the kernel words it, "Couldn't create exception store", with the
 * reason as the cause.
 *
 * @param chunkSize sectors; 0 takes the persistent header's (or 32 for a new one)
 */
record SnapshotArgs(String origin, String cow, boolean persistent, boolean overflow,
    long chunkSize, boolean discardZeroesCow, boolean discardPassdownOrigin) {

  static SnapshotArgs parse(List<String> args) throws TargetException {
    if (args.size() < 4) {
      throw new TargetException("requires 4 or more arguments");
    }
    Args a = new Args(args);
    String origin = a.shift("requires 4 or more arguments");
    String cow = a.shift("requires 4 or more arguments");
    String type = a.shift("requires 4 or more arguments");
    String chunk = a.shift("requires 4 or more arguments");
    boolean zeroes = false;
    boolean passdown = false;
    if (a.remaining() > 0) {
      for (String f : a.group(0, 2, "Invalid number of feature arguments")) {
        if (f.equalsIgnoreCase("discard_zeroes_cow")) {
          zeroes = true;
        } else if (f.equalsIgnoreCase("discard_passdown_origin")) {
          passdown = true;
        } else {
          throw new TargetException("Unrecognised feature requested");
        }
      }
      a.end("Invalid argument count");
    }
    if (passdown && !zeroes) {
      throw new TargetException("discard_passdown_origin feature depends on discard_zeroes_cow");
    }
    boolean persistent;
    boolean overflow = false;
    String t = type.toUpperCase(java.util.Locale.ROOT);
    if (t.equals("P") || t.equals("PO")) {
      persistent = true;
      overflow = t.equals("PO");
    } else if (t.equals("N")) {
      persistent = false;
    } else {
      throw storeProblem(t.startsWith("P") ? "Unsupported persistent store option: "
          + type.substring(1) : "Exception store type is not P or N");
    }
    long size;
    try {
      size = Args.decimal(chunk, 0, Integer.MAX_VALUE, "Invalid chunk size");
    } catch (TargetException e) {
      throw storeProblem(e.getMessage());
    }
    return new SnapshotArgs(origin, cow, persistent, overflow, size, zeroes, passdown);
  }

  /** The kernel's refusal of the store's arguments, with the reason kept as the cause. */
  static TargetException storeProblem(String reason) {
    return new TargetException("Couldn't create exception store", new TargetException(reason));
  }

  /** The ops a target of these arguments takes: DISCARD with {@code discard_zeroes_cow}. */
  boolean supports(IoOp op) {
    return op == IoOp.READ || op == IoOp.WRITE || (op == IoOp.DISCARD && discardZeroesCow);
  }

  /** The TABLE status: the devices as given, the chunk size as the store settled it. */
  String table(Snapshot s) {
    StringBuilder b = new StringBuilder(s.origin.path()).append(' ').append(s.cow.path())
        .append(' ').append(persistent ? (overflow ? "PO" : "P") : "N")
        .append(' ').append(s.chunkSize);
    int features = (discardZeroesCow ? 1 : 0) + (discardPassdownOrigin ? 1 : 0);
    if (features > 0) {
      b.append(' ').append(features);
      if (discardZeroesCow) {
        b.append(" discard_zeroes_cow");
      }
      if (discardPassdownOrigin) {
        b.append(" discard_passdown_origin");
      }
    }
    return b.toString();
  }
}
