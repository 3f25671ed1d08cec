package dev.jdm.nbd;

import dev.jdm.nbd.protocol.TlsContext;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigValue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
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

  /**
   * Reads and checks the section from the whole resolved {@code config}.
   *
   * @throws ConfigException.ValidationFailed with every problem found, each with its full key and
   *     the file and line of its value
   */
  static NbdConfig from(Config config) {
    Reading r = new Reading(config);
    NbdConfig c = r.read();
    if (!r.problems.isEmpty()) {
      throw new ConfigException.ValidationFailed(r.problems);
    }
    return c;
  }

  /** Every problem of the section, none thrown: for reporting all of a file's at once. */
  static List<ConfigException.ValidationProblem> problems(Config config) {
    Reading r = new Reading(config);
    r.read();
    return r.problems;
  }

  /** One reading of the section, noting each problem and going on with a fallback value. */
  private static final class Reading {
    private final Config config;
    private final List<ConfigException.ValidationProblem> problems = new ArrayList<>();
    private Config c;

    Reading(Config config) {
      this.config = config;
    }

    NbdConfig read() {
      try {
        return readChecked();
      } catch (ConfigException e) {
        // A value typesafe-config cannot read (a duration "soon"): reported, nothing more read.
        String m = e.getMessage();
        String where = e.origin() == null ? "" : e.origin().description() + ": ";
        problems.add(new ConfigException.ValidationProblem(SECTION, e.origin(),
            m.startsWith(where) ? m.substring(where.length()) : m));
        return null;
      }
    }

    private NbdConfig readChecked() {
      Config reference = ConfigFactory.defaultReference(NbdConfig.class.getClassLoader());
      try {
        config.checkValid(reference, SECTION);
      } catch (ConfigException.ValidationFailed e) {
        e.problems().forEach(problems::add);
        return null;
      }
      c = config.getConfig(SECTION);
      rejectUnknownKeys(reference.getConfig(SECTION));

      List<ListenAddress> listen = new ArrayList<>();
      List<String> texts = c.getStringList("listen");
      List<? extends ConfigValue> values = c.getList("listen");
      Path runtimeDir = config.hasPath(RUNTIME_DIR) ? Path.of(config.getString(RUNTIME_DIR))
          : null;
      for (int i = 0; i < texts.size(); i++) {
        try {
          listen.add(ListenAddress.parse(texts.get(i), runtimeDir));
        } catch (IllegalArgumentException e) {
          problems.add(new ConfigException.ValidationProblem(SECTION + ".listen[" + i + "]",
              values.get(i).origin(), e.getMessage()));
        }
      }
      boolean enabled = c.getBoolean("enabled");
      if (enabled && texts.isEmpty()) {
        bad("listen", "at least one address is needed while the server is enabled");
      }
      long payload = c.getBytes("max-payload");
      if (payload < 4096 || payload > PAYLOAD_LIMIT || payload % MIN_BLOCK != 0) {
        bad("max-payload", "must be a multiple of 512 from 4KiB to 64MiB, not " + payload);
        payload = 32 << 20;
      }
      int threads = positive("threads-per-connection", 64);
      int inFlight = positive("max-in-flight", 4096);
      int connections = positive("max-connections", 65536);
      int perPeer = positive("max-connections-per-peer", 65536);
      int handshakes = positive("max-handshakes", 65536);
      Duration handshake = c.getDuration("handshake-timeout");
      if (handshake.isNegative() || handshake.isZero()) {
        bad("handshake-timeout", "must be positive");
      }
      Duration idleAfter = c.getDuration("idle-after");
      if (idleAfter.toMillis() < 1) {
        bad("idle-after", "must be at least 1ms");
      }
      Duration grace = c.getDuration("shutdown-grace");
      if (grace.isNegative()) {
        bad("shutdown-grace", "must not be negative");
      }
      Duration spin = c.getDuration("poll-spin");
      if (spin.isNegative() || spin.toMillis() > 1000) {
        bad("poll-spin", "must be from 0 to 1s");
      }
      long socketBuffer = c.getBytes("socket-buffer");
      if (socketBuffer < 0 || socketBuffer > 1 << 30) {
        bad("socket-buffer", "must be from 0 to 1GiB");
      }
      long memory = c.getBytes("buffer-memory");
      if (memory < payload + (1 << 20)) {
        bad("buffer-memory", "must hold the largest request and a little more (at least"
            + " max-payload + 1MiB, " + (payload + (1 << 20)) + " bytes), not " + memory);
      }
      long cache = c.getBytes("buffer-cache");
      if (cache < 0 || cache > memory) {
        bad("buffer-cache", "must be from 0 to buffer-memory, not " + cache);
      }
      return new NbdConfig(enabled, List.copyOf(listen), c.getString("default-export"),
          (int) payload, threads, inFlight, connections, perPeer, handshakes, handshake,
          idleAfter, grace, spin, (int) socketBuffer, memory, cache, tls());
    }

    private Tls tls() {
      String modeText = c.getString("tls.mode");
      TlsMode mode;
      try {
        mode = TlsMode.valueOf(modeText.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        bad("tls.mode", "'" + modeText + "': expected off, on or require");
        mode = TlsMode.OFF;
      }
      boolean verify = c.getBoolean("tls.verify-client");
      Path cert = path("tls.certificate");
      Path key = path("tls.key");
      Path trust = path("tls.trust");
      Tls tls = new Tls(mode, cert, key, trust, verify);
      if (mode == TlsMode.OFF) {
        return tls;
      }
      // A missing setting is reported where TLS was turned on, not where the empty default sits.
      ConfigOrigin on = c.getValue("tls.mode").origin();
      if (cert == null) {
        problems.add(new ConfigException.ValidationProblem(SECTION + ".tls.certificate", on,
            "a certificate file is needed when tls.mode is " + modeText));
      }
      if (key == null) {
        problems.add(new ConfigException.ValidationProblem(SECTION + ".tls.key", on,
            "a private key file is needed when tls.mode is " + modeText));
      }
      if (verify && trust == null) {
        problems.add(new ConfigException.ValidationProblem(SECTION + ".tls.trust",
            c.getValue("tls.verify-client").origin(),
            "a CA file is needed when tls.verify-client is true"));
      }
      boolean readable = true;
      for (String k : List.of("tls.certificate", "tls.key", "tls.trust")) {
        Path f = path(k);
        if (f != null && !Files.isReadable(f)) {
          bad(k, f + ": " + (Files.exists(f) ? "cannot be read" : "No such file"));
          readable = false;
        }
      }
      if (readable && cert != null && key != null) {
        try {
          TlsContext.server(tls.certificate(), tls.key(), tls.trust());
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
          String why = e.getMessage() == null ? e.toString() : e.getMessage();
          String at = why.contains("private key") || why.contains("key type") ? "tls.key"
              : trust != null && !trust.equals(cert) && why.startsWith(trust.toString())
                  ? "tls.trust" : "tls.certificate";
          bad(at, why);
        }
      }
      return tls;
    }

    private Path path(String key) {
      String text = c.getString(key);
      return text.isEmpty() ? null : Path.of(text);
    }

    private int positive(String key, int max) {
      int v = c.getInt(key);
      if (v < 1 || v > max) {
        bad(key, "must be from 1 to " + max + ", not " + v);
        return 1;
      }
      return v;
    }

    private void bad(String key, String message) {
      problems.add(new ConfigException.ValidationProblem(SECTION + "." + key,
          c.getValue(key).origin(), message));
    }

    /**
     * checkValid ignores keys the reference lacks; a misspelt key would then do nothing silently.
     */
    private void rejectUnknownKeys(Config reference) {
      for (Map.Entry<String, ConfigValue> e : c.entrySet()) {
        if (!reference.hasPathOrNull(e.getKey())) {
          problems.add(new ConfigException.ValidationProblem(SECTION + "." + e.getKey(),
              e.getValue().origin(),
              "unknown key (known keys are those of the frontend's reference.conf)"));
        }
      }
    }
  }
}
