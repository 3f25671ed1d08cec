package dev.jdm.nbd;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigValue;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code jdm.frontends.nbd} section, checked once: types against {@code reference.conf}, unknown
 * keys, and each value's meaning. Every error names the file and line the value came from.
 */
record NbdConfig(
    boolean enabled,
    List<ListenAddress> listen,
    String defaultExport,
    int maxPayload,
    int threadsPerConnection,
    int maxInFlight,
    int maxConnections,
    int maxConnectionsPerPeer,
    int maxHandshakes,
    Duration handshakeTimeout,
    Duration idleAfter,
    Duration shutdownGrace,
    Duration pollSpin,
    int socketBuffer,
    long bufferMemory,
    long bufferCache,
    Tls tls) {

  static final String SECTION = "jdm.frontends.nbd";
  /** The daemon's runtime directory, where {@code unix:NAME} sockets lie. */
  static final String RUNTIME_DIR = "jdm.runtime-dir";
  /** The smallest block the kernel addresses, and so the NBD minimum block size. */
  static final int MIN_BLOCK = 512;
  /** Largest max-payload: nbdkit's and nbd-server's 64 MiB. */
  static final int PAYLOAD_LIMIT = 64 << 20;

  /**
   * Largest refused WRITE payload skipped to answer EINVAL (beyond it the connection is closed): a
   * length this far above the maximum is more likely a broken stream than data, as nbdkit judges.
   */
  static long skipLimit(int maxPayload) {
    return Math.max(2L * maxPayload, PAYLOAD_LIMIT);
  }

  /** When TLS is offered: NBD's NOTLS, SELECTIVETLS (every export optional) and FORCEDTLS. */
  enum TlsMode {
    OFF, ON, REQUIRE
  }

  /** The {@code tls} subsection. */
  record Tls(TlsMode mode, Path certificate, Path key, Path trust, boolean verifyClient) {}

  /** Reads and checks the section from the whole resolved {@code config}. */
  static NbdConfig from(Config config) {
    Config reference = ConfigFactory.defaultReference();
    config.checkValid(reference, SECTION);
    Config c = config.getConfig(SECTION);
    rejectUnknownKeys(c, reference.getConfig(SECTION), SECTION);

    List<ListenAddress> listen = new ArrayList<>();
    List<String> texts = c.getStringList("listen");
    List<? extends ConfigValue> values = c.getList("listen");
    Path runtimeDir = config.hasPath(RUNTIME_DIR) ? Path.of(config.getString(RUNTIME_DIR)) : null;
    for (int i = 0; i < texts.size(); i++) {
      try {
        listen.add(ListenAddress.parse(texts.get(i), runtimeDir));
      } catch (IllegalArgumentException e) {
        throw new ConfigException.BadValue(values.get(i).origin(), SECTION + ".listen[" + i + "]",
            e.getMessage());
      }
    }
    boolean enabled = c.getBoolean("enabled");
    if (enabled && listen.isEmpty()) {
      throw bad(c, "listen", "at least one address is needed while the server is enabled");
    }
    long payload = c.getBytes("max-payload");
    if (payload < 4096 || payload > PAYLOAD_LIMIT || payload % MIN_BLOCK != 0) {
      throw bad(c, "max-payload", "must be a multiple of 512 from 4KiB to 64MiB, not " + payload);
    }
    int threads = positive(c, "threads-per-connection", 64);
    int inFlight = positive(c, "max-in-flight", 4096);
    int connections = positive(c, "max-connections", 65536);
    int perPeer = positive(c, "max-connections-per-peer", 65536);
    int handshakes = positive(c, "max-handshakes", 65536);
    Duration handshake = c.getDuration("handshake-timeout");
    if (handshake.isNegative() || handshake.isZero()) {
      throw bad(c, "handshake-timeout", "must be positive");
    }
    Duration idleAfter = c.getDuration("idle-after");
    if (idleAfter.toMillis() < 1) {
      throw bad(c, "idle-after", "must be at least 1ms");
    }
    Duration grace = c.getDuration("shutdown-grace");
    if (grace.isNegative()) {
      throw bad(c, "shutdown-grace", "must not be negative");
    }
    Duration spin = c.getDuration("poll-spin");
    if (spin.isNegative() || spin.toMillis() > 1000) {
      throw bad(c, "poll-spin", "must be from 0 to 1s");
    }
    long socketBuffer = c.getBytes("socket-buffer");
    if (socketBuffer < 0 || socketBuffer > 1 << 30) {
      throw bad(c, "socket-buffer", "must be from 0 to 1GiB");
    }
    long memory = c.getBytes("buffer-memory");
    if (memory < payload + (1 << 20)) {
      throw bad(c, "buffer-memory", "must hold the largest request and a little more (at least"
          + " max-payload + 1MiB, " + (payload + (1 << 20)) + " bytes), not " + memory);
    }
    long cache = c.getBytes("buffer-cache");
    if (cache < 0 || cache > memory) {
      throw bad(c, "buffer-cache", "must be from 0 to buffer-memory, not " + cache);
    }
    return new NbdConfig(enabled, List.copyOf(listen), c.getString("default-export"),
        (int) payload, threads, inFlight, connections, perPeer, handshakes, handshake, idleAfter,
        grace, spin, (int) socketBuffer,
        memory, cache, tls(c));
  }

  private static Tls tls(Config c) {
    String modeText = c.getString("tls.mode");
    TlsMode mode;
    try {
      mode = TlsMode.valueOf(modeText.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw bad(c, "tls.mode", "'" + modeText + "': expected off, on or require");
    }
    boolean verify = c.getBoolean("tls.verify-client");
    Path cert = path(c, "tls.certificate");
    Path key = path(c, "tls.key");
    Path trust = path(c, "tls.trust");
    if (mode != TlsMode.OFF) {
      // A missing file is reported where TLS was turned on, not where the empty default sits.
      ConfigOrigin on = c.getValue("tls.mode").origin();
      if (cert == null) {
        throw new ConfigException.BadValue(on, SECTION + ".tls.certificate",
            "a certificate file is needed when tls.mode is " + modeText);
      }
      if (key == null) {
        throw new ConfigException.BadValue(on, SECTION + ".tls.key",
            "a private key file is needed when tls.mode is " + modeText);
      }
      if (verify && trust == null) {
        throw new ConfigException.BadValue(c.getValue("tls.verify-client").origin(),
            SECTION + ".tls.trust", "a CA file is needed when tls.verify-client is true");
      }
    }
    return new Tls(mode, cert, key, trust, verify);
  }

  private static Path path(Config c, String key) {
    String text = c.getString(key);
    return text.isEmpty() ? null : Path.of(text);
  }

  private static int positive(Config c, String key, int max) {
    int v = c.getInt(key);
    if (v < 1 || v > max) {
      throw bad(c, key, "must be from 1 to " + max + ", not " + v);
    }
    return v;
  }

  private static ConfigException bad(Config c, String key, String message) {
    return new ConfigException.BadValue(c.getValue(key).origin(), SECTION + "." + key, message);
  }

  /** checkValid ignores keys the reference lacks; a misspelt key would then do nothing silently. */
  private static void rejectUnknownKeys(Config user, Config reference, String prefix) {
    for (Map.Entry<String, ConfigValue> e : user.entrySet()) {
      if (!reference.hasPathOrNull(e.getKey())) {
        throw new ConfigException.BadPath(e.getValue().origin(), prefix + "." + e.getKey(),
            "unknown key (known keys are those of the frontend's reference.conf)");
      }
    }
  }
}
