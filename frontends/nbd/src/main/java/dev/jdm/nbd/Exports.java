package dev.jdm.nbd;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.spi.IoOp;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * What clients see of the devices: an export per device, named as the device, and for each the
 * size, transmission flags and description the handshake sends. Always read live from the mapper,
 * so devices created, reloaded or removed show at once.
 */
final class Exports {
  private final DeviceMapper mapper;
  private final String defaultExport;
  private final int maxPayload;

  Exports(DeviceMapper mapper, String defaultExport, int maxPayload) {
    this.mapper = mapper;
    this.defaultExport = defaultExport;
    this.maxPayload = maxPayload;
  }

  /** The device for an export name; "" is the configured default, or the only device. */
  Optional<MappedDevice> find(String name) {
    if (!name.isEmpty()) {
      return mapper.find(name);
    }
    if (!defaultExport.isEmpty()) {
      return mapper.find(defaultExport);
    }
    List<MappedDevice> all = mapper.list();
    return all.size() == 1 ? Optional.of(all.getFirst()) : Optional.empty();
  }

  /** Every device, by name. */
  List<MappedDevice> list() {
    return mapper.list();
  }

  /** The transmission flags for {@code d}: exactly what it can do. */
  static int transmissionFlags(MappedDevice d, boolean structured) {
    int f = NbdWire.TF_HAS_FLAGS | NbdWire.TF_SEND_FLUSH | NbdWire.TF_CAN_MULTI_CONN
        | NbdWire.TF_SEND_CACHE;
    if (d.readOnly()) {
      f |= NbdWire.TF_READ_ONLY;
    } else {
      f |= NbdWire.TF_SEND_FUA | NbdWire.TF_SEND_WRITE_ZEROES | NbdWire.TF_SEND_FAST_ZERO;
      if (d.supports(IoOp.DISCARD)) {
        f |= NbdWire.TF_SEND_TRIM;
      }
    }
    if (structured) {
      f |= NbdWire.TF_SEND_DF;
    }
    return f;
  }

  /** Smallest request size and alignment: the device's logical block (512 unless stricter). */
  static int minimumBlock(MappedDevice d) {
    return d.limits().logicalBlockSize();
  }

  /** The preferred request size: 4 KiB, or the device's minimum efficient I/O when larger. */
  int preferredBlock(MappedDevice d) {
    int p = Math.max(4096, d.limits().minimumIo());
    p = Integer.highestOneBit(p) == p ? p : Integer.highestOneBit(p) << 1;
    return Math.min(p, maxPayload);
  }

  int maxPayload() {
    return maxPayload;
  }

  /** One line for humans: the device's target types and size, e.g. "striped+zero, 1.0 GiB". */
  static String description(MappedDevice d) {
    Set<String> types = new LinkedHashSet<>();
    for (String line : d.table().split("\n")) {
      String[] words = line.trim().split("\\s+");
      if (words.length >= 3) {
        types.add(words[2]);
      }
    }
    String kinds = types.isEmpty() ? "no table" : String.join("+", types);
    return "jdm device " + d.name() + " (" + kinds + (d.readOnly() ? ", read-only" : "") + ")";
  }
}
