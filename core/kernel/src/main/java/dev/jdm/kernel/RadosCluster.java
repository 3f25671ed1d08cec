package dev.jdm.kernel;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One connection to a Ceph cluster (a {@code rados_t}), shared by every image opened with the same
 * client id, ceph.conf and options, as librados connections are heavy (threads, monitor session);
 * shut down when the last image using it closes.
 */
final class RadosCluster {
  /** Open connections by their settings; guarded by the class. */
  private static final Map<String, RadosCluster> OPEN = new HashMap<>();

  final Librbd lib;
  final long handle;
  private final String key;
  private int users;

  private RadosCluster(Librbd lib, long handle, String key) {
    this.lib = lib;
    this.handle = handle;
    this.key = key;
  }

  /**
   * The connection for these settings, made when there is none yet.
   *
   * @param id the client id (client.ID), or null for librados's default
   * @param conf the ceph.conf, or null to let librados look in its usual places
   * @param options Ceph options set after the file is read
   * @param connectTimeout how long connecting may take (client_mount_timeout)
   * @param ioTimeout how long an operation may take before it fails, zero for no limit
   *     (rados_osd_op_timeout, rados_mon_op_timeout)
   * @throws IOException with librados's reason
   */
  static synchronized RadosCluster connect(Librbd lib, String id, String conf,
      Map<String, String> options, Duration connectTimeout, Duration ioTimeout)
      throws IOException {
    String key = id + "\0" + conf + "\0" + options;
    RadosCluster c = OPEN.get(key);
    if (c == null) {
      c = new RadosCluster(lib, create(lib, id, conf, options, connectTimeout, ioTimeout), key);
      OPEN.put(key, c);
    }
    c.users++;
    return c;
  }

  private static long create(Librbd lib, String id, String conf, Map<String, String> options,
      Duration connectTimeout, Duration ioTimeout) throws IOException {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
      int rc = lib.radosCreate(out.address(), id == null ? 0 : a.allocateFrom(id).address());
      if (rc < 0) {
        throw new IOException("rados_create: " + lib.strerror(-rc));
      }
      long cluster = out.get(ValueLayout.JAVA_LONG, 0);
      try {
        rc = lib.radosConfReadFile(cluster, conf == null ? 0 : a.allocateFrom(conf).address());
        if (rc < 0 && conf != null) {
          throw new IOException(conf + ": " + lib.strerror(-rc));
        }
        Map<String, String> all = new LinkedHashMap<>();
        all.put("client_mount_timeout", Long.toString(Math.max(1, connectTimeout.toSeconds())));
        all.put("rados_mon_op_timeout", Long.toString(ioTimeout.toSeconds()));
        all.put("rados_osd_op_timeout", Long.toString(ioTimeout.toSeconds()));
        // jdm is the block layer: a write it completes is on the OSDs unless asked otherwise.
        all.put("rbd_cache", "false");
        all.putAll(options);
        for (Map.Entry<String, String> o : all.entrySet()) {
          rc = lib.radosConfSet(cluster, a.allocateFrom(o.getKey()).address(),
              a.allocateFrom(o.getValue()).address());
          if (rc < 0) {
            throw new IOException("Ceph option " + o.getKey() + "=" + o.getValue() + ": "
                + lib.strerror(-rc));
          }
        }
        rc = lib.radosConnect(cluster);
        if (rc < 0) {
          throw new IOException("cannot connect to the Ceph cluster"
              + (conf == null ? "" : " of " + conf) + " as client." + (id == null ? "admin" : id)
              + ": " + lib.strerror(-rc));
        }
        return cluster;
      } catch (IOException | RuntimeException e) {
        lib.radosShutdown(cluster);
        throw e;
      }
    }
  }

  /** Drops one user; the last one shuts the connection down. */
  void release() {
    synchronized (RadosCluster.class) {
      if (--users > 0) {
        return;
      }
      OPEN.remove(key);
    }
    lib.radosShutdown(handle);
  }
}
