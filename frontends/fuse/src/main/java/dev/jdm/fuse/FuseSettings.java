package dev.jdm.fuse;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigOrigin;
import dev.jdm.fuse.proto.FuseSession;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code jdm.frontends.fuse} section, checked: unknown keys, wrong types and bad values are
 * reported all at once, each with the file and line it came from.
 */
record FuseSettings(boolean enabled, Path mountpoint, int threads, int idleThreads, int maxWrite,
    int maxBackground, Duration attrTimeout, Duration initTimeout, Duration unmountTimeout,
    Duration probeTimeout, boolean allowOther) {
  static final String SECTION = "jdm.frontends.fuse";
  private static final int MAX_WRITE_LIMIT = 16 << 20;

  /** Reads the section from {@code config}, with this module's reference.conf under it. */
  static FuseSettings from(Config config) {
    Config reference = ConfigFactory.defaultReference(FuseSettings.class.getClassLoader());
    Config c = config.withFallback(reference);
    List<ConfigException.ValidationProblem> problems = new ArrayList<>();
    try {
      c.checkValid(reference, SECTION);
    } catch (ConfigException.ValidationFailed e) {
      e.problems().forEach(problems::add);
    }
    Config ours = c.getConfig(SECTION);
    Config known = reference.getConfig(SECTION);
    for (var entry : ours.root().entrySet()) {
      if (!known.hasPath(quoted(entry.getKey()))) {
        problems.add(new ConfigException.ValidationProblem(SECTION + "." + entry.getKey(),
            entry.getValue().origin(), "unknown key (known: " + String.join(", ",
                known.root().keySet().stream().sorted().toList()) + ")"));
      }
    }
    if (!problems.isEmpty()) {
      throw new ConfigException.ValidationFailed(problems);
    }
    FuseSettings s = new FuseSettings(
        ours.getBoolean("enabled"),
        Path.of(ours.getString("mountpoint")),
        ours.getInt("threads"),
        ours.getInt("idle-threads"),
        (int) Math.min(Integer.MAX_VALUE, ours.getBytes("max-write")),
        ours.getInt("max-background"),
        ours.getDuration("attr-timeout"),
        ours.getDuration("init-timeout"),
        ours.getDuration("unmount-timeout"),
        ours.getDuration("probe-timeout"),
        ours.getBoolean("allow-other"));
    s.check(ours, problems);
    if (!problems.isEmpty()) {
      throw new ConfigException.ValidationFailed(problems);
    }
    return s;
  }

  private static String quoted(String key) {
    return "\"" + key.replace("\"", "\\\"") + "\"";
  }

  private void check(Config c, List<ConfigException.ValidationProblem> problems) {
    if (enabled && mountpoint.toString().isEmpty()) {
      // Unset: point at the line that enabled the frontend, not at reference.conf.
      problems.add(new ConfigException.ValidationProblem(SECTION + ".mountpoint",
          c.getValue("enabled").origin(), "must be set to an absolute directory path when the"
              + " frontend is enabled"));
    } else if (enabled && !mountpoint.isAbsolute()) {
      problem(c, "mountpoint", "must be an absolute directory path, not '" + mountpoint + "'",
          problems);
    }
    if (threads < 1 || threads > 1024) {
      problem(c, "threads", "must be 1 to 1024, not " + threads, problems);
    }
    if (threads >= 1 && threads <= 1024 && (idleThreads < 1 || idleThreads > threads)) {
      problem(c, "idle-threads", "must be 1 to threads (" + threads + "), not " + idleThreads,
          problems);
    }
    long w = c.getBytes("max-write");
    if (w < 4096 || w > MAX_WRITE_LIMIT || w % 4096 != 0) {
      problem(c, "max-write", "must be a multiple of 4 KiB from 4 KiB to 16 MiB, not " + w
          + " bytes", problems);
    }
    if (maxBackground < 1 || maxBackground > 65535) {
      problem(c, "max-background", "must be 1 to 65535, not " + maxBackground, problems);
    }
    for (String d : List.of("attr-timeout", "init-timeout", "unmount-timeout", "probe-timeout")) {
      Duration v = c.getDuration(d);
      if (v.isNegative() || (v.isZero() && !d.equals("attr-timeout"))) {
        problem(c, d, "must be a positive duration, not " + v, problems);
      }
    }
  }

  private static void problem(Config c, String key, String text,
      List<ConfigException.ValidationProblem> problems) {
    ConfigOrigin origin = c.getValue(key).origin();
    problems.add(new ConfigException.ValidationProblem(SECTION + "." + key, origin, text));
  }

  /** The session options these settings give. */
  FuseSession.Options sessionOptions() {
    return new FuseSession.Options(threads, idleThreads, maxWrite, maxBackground, initTimeout,
        allowOther);
  }
}
