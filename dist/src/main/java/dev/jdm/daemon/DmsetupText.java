package dev.jdm.daemon;

import dev.jdm.kernel.DeviceInfo;
import dev.jdm.kernel.DeviceStats;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/** Output in dmsetup's formats, so scripts written for dmsetup read jdm's the same way. */
final class DmsetupText {
  static final String NO_DEVICES = "No devices found\n";
  /** dmsetup shows the block layer's read-ahead; jdm has none, so it shows the kernel's default. */
  private static final int READ_AHEAD = 256;

  private DmsetupText() {}

  /** {@code dmsetup ls}: {@code name<TAB>(253:minor)} per device. */
  static String ls(List<MappedDevice> devices) {
    if (devices.isEmpty()) {
      return NO_DEVICES;
    }
    StringBuilder b = new StringBuilder();
    for (MappedDevice d : devices) {
      b.append(d.name()).append("\t(").append(DeviceInfo.MAJOR).append(':')
          .append(d.info().minor()).append(")\n");
    }
    return b.toString();
  }

  /**
   * {@code dmsetup table} / {@code status}: the lines of one device as they are, or of every device
   * each prefixed with {@code name: }.
   */
  static String lines(List<MappedDevice> devices, boolean prefixed,
      Function<MappedDevice, String> text) {
    if (devices.isEmpty()) {
      return prefixed ? NO_DEVICES : "";
    }
    StringBuilder b = new StringBuilder();
    for (MappedDevice d : devices) {
      String t = text.apply(d);
      if (!prefixed) {
        b.append(t.isEmpty() ? "" : t + "\n");
        continue;
      }
      for (String line : t.isEmpty() ? List.of("") : t.lines().toList()) {
        b.append(d.name()).append(": ").append(line).append('\n');
      }
    }
    return b.toString();
  }

  /**
   * What {@code jdm status NAME} adds to dmsetup's lines, in the spirit of dm-stats: one
   * {@code stats:} line of counters since the device was created (latencies are the upper edges of
   * power-of-two buckets, in microseconds), and one {@code trace:} line.
   */
  static String counters(DeviceStats.Snapshot s, Optional<Traces.Trace> trace) {
    String t = trace.map(x -> "on file=" + x.file() + " records=" + x.recorder().recorded()
        + " dropped=" + x.recorder().dropped()).orElse("off");
    return "stats: reads=" + s.reads() + " read_bytes=" + s.readBytes() + " writes=" + s.writes()
        + " written_bytes=" + s.writtenBytes() + " others=" + s.others() + " errors=" + s.errors()
        + " in_flight=" + s.inFlight() + " latency_p50_us=" + s.p50Micros()
        + " latency_p99_us=" + s.p99Micros() + "\ntrace: " + t + "\n";
  }

  /**
   * What {@code jdm status NAME} adds for each remote backing device (NBD export) the device uses:
   * {@code remote: PATH STATE}, the state being {@code connected}, {@code degraded},
   * {@code reconnecting} (requests wait) or {@code failed} (requests fail with EIO), with details.
   */
  static String remote(List<String> states) {
    StringBuilder b = new StringBuilder();
    for (String s : states) {
      b.append("remote: ").append(s).append('\n');
    }
    return b.toString();
  }

  /** {@code dmsetup info}: one block per device, blank lines between. */
  static String info(List<MappedDevice> devices) {
    if (devices.isEmpty()) {
      return NO_DEVICES;
    }
    List<String> blocks = new ArrayList<>();
    for (MappedDevice d : devices) {
      blocks.add(info(d.info()));
    }
    return String.join("\n", blocks);
  }

  private static String info(DeviceInfo i) {
    String state = (i.suspended() ? "SUSPENDED" : "ACTIVE") + (i.readOnly() ? " (READ-ONLY)" : "")
        + (i.deferredRemove() ? " (DEFERRED REMOVE)" : "");
    String tables = i.liveTable() && i.inactiveTable() ? "LIVE & INACTIVE"
        : i.liveTable() ? "LIVE" : i.inactiveTable() ? "INACTIVE" : "None";
    return field("Name", i.name())
        + field("State", state)
        + field("Read Ahead", READ_AHEAD)
        + field("Tables present", tables)
        + field("Open count", i.openCount())
        + field("Event number", i.eventNumber())
        + field("Major, minor", DeviceInfo.MAJOR + ", " + i.minor())
        + field("Number of targets", i.targetCount());
  }

  private static String field(String name, Object value) {
    return String.format("%-19s%s\n", name + ":", value);
  }

  /** {@code dmsetup targets}: {@code name  vX.Y.Z}, one line per name and alias, sorted. */
  static String targets(List<TargetRegistry.Registration> registered) {
    record Line(String name, String version) {}
    List<Line> lines = new ArrayList<>();
    for (TargetRegistry.Registration r : registered) {
      String v = r.type().version().toString();
      lines.add(new Line(r.type().name(), v));
      r.type().aliases().forEach(a -> lines.add(new Line(a, v)));
    }
    lines.sort(Comparator.comparing(Line::name));
    StringBuilder b = new StringBuilder();
    for (Line l : lines) {
      b.append(String.format("%-16s %s\n", l.name(), l.version()));
    }
    return b.toString();
  }
}
