package dev.jdm.daemon;

import dev.jdm.daemon.ControlProtocol.Reply;
import dev.jdm.kernel.DmException;
import dev.jdm.kernel.PluginDirectory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's plugins and the plugin verbs: {@code jdm plugin ls | load | unload}, jdm's lsmod,
 * insmod and rmmod. A plugin is never unloaded while a table is being built: between the kernel's
 * lookup of a target type and its count of the new target, the type looks unused, so every table
 * build in the daemon goes through {@link #buildingTables}.
 */
final class Plugins {
  private static final Logger LOG = LoggerFactory.getLogger(Plugins.class);
  static final String NONE = "No plugins loaded\n";

  private final PluginDirectory directory;
  private final ReadWriteLock tables = new ReentrantReadWriteLock();

  Plugins(PluginDirectory directory) {
    this.directory = directory;
  }

  /** Something that builds a table: creates a device with one, or loads one. */
  interface TableBuild<T> {
    T run() throws DmException;
  }

  /** Runs {@code build} while no plugin can be unloaded; builds run side by side. */
  <T> T buildingTables(TableBuild<T> build) throws DmException {
    tables.readLock().lock();
    try {
      return build.run();
    } finally {
      tables.readLock().unlock();
    }
  }

  /** {@code jdm plugin ls}: one line per plugin: jar, id, version, target types. */
  String list() {
    return lines(directory.list());
  }

  /**
   * {@code jdm plugin load [JAR]}: the jar at {@code jar}, or with null every jar newly dropped
   * into the plugins directory. Prints the plugins loaded; a jar refused is one line on standard
   * error and makes the verb fail.
   */
  Reply load(Path jar) throws DmException {
    if (jar != null) {
      return Reply.ok(lines(List.of(directory.load(jar))));
    }
    PluginDirectory.Scan scan = directory.loadNew();
    scan.refused().forEach(r -> LOG.warn("plugin {}", r));
    String out = scan.loaded().isEmpty() ? "" : lines(scan.loaded());
    StringBuilder err = new StringBuilder();
    scan.refused().forEach(r -> err.append("jdm: ").append(r).append('\n'));
    return new Reply(scan.refused().isEmpty() ? 0 : 1, out, err.toString());
  }

  /** {@code jdm plugin unload ID}: refused while a live or inactive table uses one of its types. */
  void unload(String id) throws DmException {
    tables.writeLock().lock();
    try {
      directory.unload(id);
    } finally {
      tables.writeLock().unlock();
    }
  }

  /** The plugins in columns: jar, id, version, target types (comma-separated). */
  private static String lines(List<PluginDirectory.Plugin> plugins) {
    if (plugins.isEmpty()) {
      return NONE;
    }
    List<String[]> rows = new ArrayList<>();
    for (PluginDirectory.Plugin p : plugins) {
      rows.add(new String[] {p.file(), p.id(), p.version(), String.join(",", p.typeNames())});
    }
    int[] width = new int[3];
    for (String[] r : rows) {
      for (int i = 0; i < width.length; i++) {
        width[i] = Math.max(width[i], r[i].length());
      }
    }
    StringBuilder b = new StringBuilder();
    for (String[] r : rows) {
      for (int i = 0; i < width.length; i++) {
        b.append(r[i]).append(" ".repeat(width[i] - r[i].length() + 2));
      }
      b.append(r[3]).append('\n');
    }
    return b.toString();
  }
}
