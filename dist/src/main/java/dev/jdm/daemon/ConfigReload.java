package dev.jdm.daemon;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.DmException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What SIGHUP does: compares the configuration read again with what the daemon runs of it, creates
 * the devices (and images) new in the file, in file order, and reports every other difference in
 * one log line each, applying none: a changed table of a running device, a device gone from the
 * file, a changed frontend or other setting. Nothing running is dropped or changed. A difference
 * not applied is reported again at the next SIGHUP, until the file or the daemon agree.
 */
final class ConfigReload {
  private static final Logger LOG = LoggerFactory.getLogger(ConfigReload.class);
  /** Sections compared entry by entry rather than setting by setting. */
  private static final Set<String> ENTRIES = Set.of("jdm.devices", "jdm.images",
      "jdm.device-defaults");

  private final Config started;
  /** The devices the daemon created from the file, as the file declared them. */
  private final Map<String, DeviceSpec> devices = new LinkedHashMap<>();
  private final Map<String, ImageSpec> images = new LinkedHashMap<>();

  /** What the daemon runs after starting with {@code config}. */
  ConfigReload(JdmConfig config) {
    this.started = config.config();
    config.devices().forEach(d -> devices.put(d.name(), d));
    config.images().forEach(i -> images.put(i.name(), i));
  }

  /** What one re-read did. */
  record Outcome(List<String> created, List<String> notApplied) {}

  /**
   * Applies {@code fresh}: creates its new images and devices (through {@code plugins}, so no
   * plugin goes away meanwhile) and lists the differences left alone.
   */
  synchronized Outcome apply(JdmConfig fresh, DeviceMapper mapper, Plugins plugins) {
    List<String> created = new ArrayList<>();
    List<String> notApplied = new ArrayList<>();
    Config c = fresh.config();
    for (ImageSpec i : fresh.images()) {
      String key = JdmConfig.key("jdm.images", i.name());
      ImageSpec old = images.get(i.name());
      if (old == null) {
        try {
          if (i.createIfAbsent()) {
            LOG.info("created sparse image {} ({} bytes)", i.path(), i.sizeInBytes());
          }
          images.put(i.name(), i);
        } catch (IOException e) {
          notApplied.add(where(c, key) + ": " + key + ": " + i.path() + ": cannot create: "
              + e.getMessage());
        }
      } else if (!old.equals(i)) {
        notApplied.add(where(c, key) + ": " + key + " changed: not applied (an image is only"
            + " ever created)");
      }
    }
    for (DeviceSpec d : fresh.devices()) {
      String key = JdmConfig.key("jdm.devices", d.name());
      DeviceSpec old = devices.get(d.name());
      if (old != null) {
        String change = change(old, d);
        if (change != null) {
          notApplied.add(d.origin().description() + ": " + key + ": " + change);
        }
      } else if (mapper.find(d.name()).isPresent()) {
        notApplied.add(d.origin().description() + ": " + key + ": a device " + d.name()
            + " exists already (not from the file): not created");
      } else {
        try {
          plugins.buildingTables(() -> mapper.create(d.name(), d.table(), d.readOnly()));
          devices.put(d.name(), d);
          created.add(d.name());
        } catch (DmException e) {
          notApplied.add(d.where(e.getMessage()) + ": " + e.getMessage() + ": not created");
        }
      }
    }
    List<String> declared = fresh.devices().stream().map(DeviceSpec::name).toList();
    for (String name : List.copyOf(devices.keySet())) {
      if (!declared.contains(name)) {
        if (mapper.find(name).isPresent()) {
          notApplied.add(JdmConfig.key("jdm.devices", name) + " is gone from the file: " + name
              + " keeps running ('jdm remove " + name + "' removes it)");
        } else {
          devices.remove(name);
        }
      }
    }
    settings(started.getObject("jdm"), c.getObject("jdm"), "jdm", c, notApplied);
    return new Outcome(created, notApplied);
  }

  /** How {@code now} differs from the running {@code old}, or null when it does not. */
  private static String change(DeviceSpec old, DeviceSpec now) {
    boolean table = !lines(old.table()).equals(lines(now.table()));
    boolean readOnly = old.readOnly() != now.readOnly();
    if (!table && !readOnly) {
      return null;
    }
    String what = table && readOnly ? "table and read-only" : table ? "table" : "read-only";
    return what + " changed: not applied to the running device (" + (table
        ? "'jdm load " + now.name() + "' then 'jdm resume " + now.name() + "' apply a table)"
        : "remove and create it to change that)");
  }

  /** A table's lines with blanks, comments and runs of spaces left out: what the kernel parses. */
  private static List<String> lines(String table) {
    return table.lines()
        .map(l -> l.replaceFirst("#.*", "").strip().replaceAll("\\s+", " "))
        .filter(l -> !l.isEmpty())
        .toList();
  }

  /** Adds a line for each setting that differs between {@code old} and {@code now}, by path. */
  private static void settings(ConfigObject old, ConfigObject now, String parent, Config fresh,
      List<String> out) {
    Set<String> keys = new TreeSet<>(old.keySet());
    keys.addAll(now.keySet());
    for (String k : keys) {
      String path = JdmConfig.key(parent, k);
      ConfigValue a = old.get(k);
      ConfigValue b = now.get(k);
      if (ENTRIES.contains(path) || (a != null && a.equals(b))) {
        continue;
      }
      if (a instanceof ConfigObject ao && b instanceof ConfigObject bo) {
        settings(ao, bo, path, fresh, out);
      } else {
        out.add((b != null ? b : a).origin().description() + ": " + path + " changed: not"
            + " applied (it takes a restart of jdm serve)");
      }
    }
  }

  private static String where(Config c, String path) {
    return c.getValue(path).origin().description();
  }
}
