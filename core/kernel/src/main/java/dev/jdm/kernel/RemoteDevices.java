package dev.jdm.kernel;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import dev.jdm.nbd.client.NbdClientOptions;
import dev.jdm.nbd.client.NbdDevice;
import dev.jdm.nbd.client.NbdUri;
import dev.jdm.spi.BlockDevice;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Backing devices on other machines, told apart by how their path starts: NBD exports
 * ({@code nbd://}, {@code nbds://}, {@code nbd+unix://}, {@code nbds+unix://}, libnbd's URIs) and
 * Ceph RBD images ({@code rbd:POOL/IMAGE...}, qemu's spelling). Configured from
 * {@code jdm.kernel.nbd} and {@code jdm.kernel.rbd}.
 */
final class RemoteDevices {
  private final NbdClientOptions nbd;
  private final RbdDevice.Options rbd;

  /** Reads and checks the remote sections of {@code kernel}, the {@code jdm.kernel} section. */
  RemoteDevices(Config kernel) {
    Config n = kernel.getConfig("nbd");
    int connections = n.getInt("connections");
    int inFlight = n.getInt("max-in-flight");
    if (connections < 1 || connections > 64) {
      throw bad(n, "nbd", "connections", "must be from 1 to 64");
    }
    if (inFlight < 1 || inFlight > NbdClientOptions.MAX_IN_FLIGHT) {
      throw bad(n, "nbd", "max-in-flight", "must be from 1 to " + NbdClientOptions.MAX_IN_FLIGHT);
    }
    Duration connect = positive(n, "nbd", "connect-timeout");
    Duration reconnect = n.getDuration("reconnect-timeout");
    if (reconnect.isNegative()) {
      throw bad(n, "nbd", "reconnect-timeout", "must not be negative");
    }
    Duration delay = positive(n, "nbd", "reconnect-delay");
    Duration delayMax = positive(n, "nbd", "reconnect-delay-max");
    if (delayMax.compareTo(delay) < 0) {
      throw bad(n, "nbd", "reconnect-delay-max", "must not be below reconnect-delay");
    }
    Path certificate = path(n, "tls.certificate");
    Path key = path(n, "tls.key");
    if ((certificate == null) != (key == null)) {
      throw bad(n, "nbd", certificate == null ? "tls.certificate" : "tls.key",
          "tls.certificate and tls.key go together");
    }
    this.nbd = new NbdClientOptions(connections, inFlight, connect, reconnect, delay, delayMax,
        certificate, key, path(n, "tls.trust"));

    Config r = kernel.getConfig("rbd");
    Duration ioTimeout = r.getDuration("io-timeout");
    if (ioTimeout.isNegative()) {
      throw bad(r, "rbd", "io-timeout", "must not be negative");
    }
    String conf = r.getString("conf");
    String id = r.getString("id");
    this.rbd = new RbdDevice.Options(conf.isEmpty() ? null : conf, id.isEmpty() ? null : id,
        positive(r, "rbd", "connect-timeout"), ioTimeout);
  }

  /** Whether {@code path} names a remote device. */
  static boolean names(String path) {
    return NbdUri.matches(path) || RbdSpec.matches(path);
  }

  /**
   * Opens the remote device {@code path}.
   *
   * @throws IOException with a short reason: what is wrong with the path, or why the remote side
   *     refused
   */
  BlockDevice open(String path) throws IOException {
    try {
      if (RbdSpec.matches(path)) {
        return RbdDevice.open(RbdSpec.parse(path), rbd);
      }
      return NbdDevice.open(NbdUri.parse(path), nbd);
    } catch (IllegalArgumentException e) {
      throw new IOException(e.getMessage());
    }
  }

  /** The run-time state of a device this class opened, or null for any other device. */
  static String state(BlockDevice d) {
    return d instanceof NbdDevice n ? n.state() : null;
  }

  /** Closes a device this class opened; false for any other device. */
  static boolean close(BlockDevice d) {
    if (d instanceof NbdDevice n) {
      n.close();
      return true;
    }
    if (d instanceof RbdDevice r) {
      r.close();
      return true;
    }
    return false;
  }

  private static Duration positive(Config c, String section, String key) {
    Duration d = c.getDuration(key);
    if (d.isNegative() || d.isZero()) {
      throw bad(c, section, key, "must be positive");
    }
    return d;
  }

  private static Path path(Config c, String key) {
    String s = c.getString(key);
    return s.isEmpty() ? null : Path.of(s);
  }

  private static ConfigException bad(Config c, String section, String key, String why) {
    return new ConfigException.BadValue(c.getValue(key).origin(),
        "jdm.kernel." + section + "." + key, why);
  }
}
