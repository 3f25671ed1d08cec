package dev.jdm.cli;

import dev.jdm.kernel.TraceRecorder;
import dev.jdm.spi.IoOp;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A trace file written by {@link TraceRecorder}, read back into columns: the requests a
 * {@link Filter} keeps, in file order.
 */
final class TraceLog {
  private static final IoOp[] OPS = IoOp.values();
  private static final int COLUMNS = 6;

  private int size;
  private long records;
  private long[] timeNs = new long[1024];
  private byte[] op = new byte[1024];
  private long[] sector = new long[1024];
  private int[] bytes = new int[1024];
  private double[] latencyUs = new double[1024];
  private int errors;

  private TraceLog() {}

  /** The requests to keep: start sector in {@code [fromSector, toSector)}, op in {@code ops}. */
  record Filter(long fromSector, long toSector, Set<IoOp> ops) {
    /** Reads and writes anywhere on the device. */
    static final Filter DEFAULT =
        new Filter(0, Long.MAX_VALUE, EnumSet.of(IoOp.READ, IoOp.WRITE));

    boolean keeps(IoOp o, long s) {
      return ops.contains(o) && s >= fromSector && s < toSector;
    }

    /** Parses {@code FROM:TO} (either side may be empty) into a filter with {@code ops}. */
    static Filter parse(String sectors, String opNames) {
      long from = 0;
      long to = Long.MAX_VALUE;
      if (sectors != null) {
        int colon = sectors.indexOf(':');
        if (colon < 0) {
          throw new IllegalArgumentException("--sectors '" + sectors + "': expected FROM:TO");
        }
        from = sectorNumber(sectors, sectors.substring(0, colon), 0);
        to = sectorNumber(sectors, sectors.substring(colon + 1), Long.MAX_VALUE);
        if (from >= to) {
          throw new IllegalArgumentException("--sectors '" + sectors + "': FROM must be below TO");
        }
      }
      return new Filter(from, to, opNames == null ? DEFAULT.ops : ops(opNames));
    }

    private static long sectorNumber(String whole, String s, long empty) {
      if (s.isEmpty()) {
        return empty;
      }
      try {
        long v = Long.parseLong(s);
        if (v >= 0) {
          return v;
        }
      } catch (NumberFormatException e) {
        // worded below
      }
      throw new IllegalArgumentException("--sectors '" + whole + "': '" + s
          + "' is not a sector number");
    }

    private static Set<IoOp> ops(String names) {
      EnumSet<IoOp> set = EnumSet.noneOf(IoOp.class);
      for (String n : names.split(",")) {
        set.add(op(n.trim()).orElseThrow(() -> new IllegalArgumentException("--ops: unknown op '"
            + n.trim() + "': use " + Arrays.stream(OPS).map(TraceLog::opName)
            .collect(Collectors.joining(", ")))));
      }
      return set;
    }
  }

  /** The name of {@code o} in a trace file. */
  static String opName(IoOp o) {
    return o.name().toLowerCase(Locale.ROOT);
  }

  private static Optional<IoOp> op(String name) {
    for (IoOp o : OPS) {
      if (opName(o).equals(name)) {
        return Optional.of(o);
      }
    }
    return Optional.empty();
  }

  /**
   * Reads {@code file}, keeping what {@code filter} keeps.
   *
   * @param progress told how many bytes have been read
   * @throws TraceFormatException naming the file and line of the first thing that is not a trace
   */
  static TraceLog read(Path file, Filter filter, ProgressBar progress) throws IOException {
    TraceLog log = new TraceLog();
    try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.US_ASCII)) {
      String header = in.readLine();
      if (header == null || !header.equals(TraceRecorder.HEADER)) {
        throw new TraceFormatException(file + ":1: not a jdm trace: the first line should be '"
            + TraceRecorder.HEADER + "'");
      }
      long done = header.length() + 1;
      long lineNo = 1;
      String[] c = new String[COLUMNS];
      for (String line; (line = in.readLine()) != null; ) {
        lineNo++;
        done += line.length() + 1;
        if ((lineNo & 0xFFF) == 0) {
          progress.at(done);
        }
        if (line.isEmpty()) {
          continue;
        }
        log.add(file, lineNo, line, c, filter);
      }
      progress.at(done);
    }
    return log;
  }

  private void add(Path file, long lineNo, String line, String[] c, Filter filter) {
    int from = 0;
    for (int i = 0; i < COLUMNS; i++) {
      int comma = i == COLUMNS - 1 ? line.length() : line.indexOf(',', from);
      if (comma < 0 || (i == COLUMNS - 1 && line.indexOf(',', from) >= 0)) {
        throw new TraceFormatException(file + ":" + lineNo + ": expected " + COLUMNS
            + " comma-separated columns: '" + line + "'");
      }
      c[i] = line.substring(from, comma);
      from = comma + 1;
    }
    IoOp o = op(c[1]).orElseThrow(() -> new TraceFormatException(file + ":" + lineNo
        + ": unknown op '" + c[1] + "'"));
    long t;
    long s;
    int n;
    double lat;
    try {
      t = Long.parseLong(c[0]);
      s = Long.parseLong(c[2]);
      n = Integer.parseInt(c[3]);
      lat = Double.parseDouble(c[4]);
    } catch (NumberFormatException e) {
      throw new TraceFormatException(file + ":" + lineNo + ": a number is not a number: '"
          + line + "'");
    }
    records++;
    if (!filter.keeps(o, s)) {
      return;
    }
    if (size == timeNs.length) {
      grow();
    }
    timeNs[size] = t;
    op[size] = (byte) o.ordinal();
    sector[size] = s;
    bytes[size] = n;
    latencyUs[size] = lat;
    if (!c[5].equals("OK")) {
      errors++;
    }
    size++;
  }

  private void grow() {
    int n = size * 2;
    timeNs = Arrays.copyOf(timeNs, n);
    op = Arrays.copyOf(op, n);
    sector = Arrays.copyOf(sector, n);
    bytes = Arrays.copyOf(bytes, n);
    latencyUs = Arrays.copyOf(latencyUs, n);
  }

  /** Requests kept. */
  int size() {
    return size;
  }

  /** Requests in the file, kept or not. */
  long records() {
    return records;
  }

  /** Kept requests that failed. */
  int errors() {
    return errors;
  }

  /** Kept request {@code i}'s start, in nanoseconds since the trace began. */
  long timeNs(int i) {
    return timeNs[i];
  }

  /** Kept request {@code i}'s op. */
  IoOp op(int i) {
    return OPS[op[i]];
  }

  /** Kept request {@code i}'s first sector. */
  long sector(int i) {
    return sector[i];
  }

  /** Kept request {@code i}'s length in bytes. */
  int bytes(int i) {
    return bytes[i];
  }

  /** Kept request {@code i}'s latency in microseconds. */
  double latencyUs(int i) {
    return latencyUs[i];
  }

  /** A line of the file that is not what {@link TraceRecorder} writes. */
  static final class TraceFormatException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    TraceFormatException(String message) {
      super(message);
    }
  }
}
