package dev.jdm.daemon;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.FrontendProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.Set;

/**
 * jdm's configuration, layered from weakest to strongest: every module's {@code reference.conf},
 * the user's file (or the embedded default when there is none), system properties, the
 * {@code JDM_*} environment variables, {@code CONFIG_FORCE_*} environment overrides, and the
 * command line. Loading checks it whole: a key the reference does not know, a value of the wrong
 * type, a malformed device or image, each reported with its file and line.
 */
public final class JdmConfig {
  /** The default used when {@code jdm serve} has no {@code --config}. */
  static final String EMBEDDED = "jdm/embedded.conf";
  private static final String ENVIRONMENT = "jdm/environment.conf";
  private static final ConfigParseOptions STRICT = ConfigParseOptions.defaults().setAllowMissing(false);
  /** Files larger than this are not scanned for devices named twice. */
  private static final long MAX_SCANNED = 16 << 20;

  private final Config config;
  private final Config user;
  /** The user's file and its text, for what typesafe-config does not keep (repeated keys). */
  private final String userFile;
  private final String userText;

  private JdmConfig(Config config, Config user, String userFile, String userText) {
    this.config = config;
    this.user = user;
    this.userFile = userFile;
    this.userText = userText;
  }

  /**
   * Loads and checks the configuration.
   *
   * @param file the user's file; empty for the embedded default
   * @param overrides keys set on the command line, e.g. {@code jdm.runtime-dir}
   * @throws ConfigProblem naming each bad key with its file and line
   */
  public static JdmConfig load(Optional<Path> file, Map<String, ?> overrides) throws ConfigProblem {
    Config user;
    String text = null;
    if (file.isPresent()) {
      Path f = file.get();
      if (!Files.exists(f)) {
        throw new ConfigProblem(f + ": No such file");
      }
      if (Files.isDirectory(f)) {
        throw new ConfigProblem(f + ": Is a directory");
      }
      user = parse(() -> ConfigFactory.parseFile(f.toFile(), STRICT));
      try {
        text = Files.size(f) <= MAX_SCANNED ? Files.readString(f) : null;
      } catch (IOException | RuntimeException unreadable) {
        text = null;
      }
    } else {
      user = parse(() -> ConfigFactory.parseResources(EMBEDDED, STRICT));
    }
    Config merged = parse(() -> ConfigFactory.parseMap(overrides, "command line")
        .withFallback(ConfigFactory.systemEnvironmentOverrides())
        .withFallback(ConfigFactory.parseResources(ENVIRONMENT, STRICT))
        .withFallback(ConfigFactory.systemProperties())
        .withFallback(user)
        .withFallback(ConfigFactory.defaultReferenceUnresolved())
        .resolve());
    JdmConfig c = new JdmConfig(merged, user, file.map(Path::toString).orElse(null), text);
    c.check();
    return c;
  }

  private interface Parse {
    Config run();
  }

  private static Config parse(Parse p) throws ConfigProblem {
    try {
      return p.run();
    } catch (ConfigException e) {
      throw new ConfigProblem(e.getMessage());
    }
  }

  /** The whole resolved configuration, as frontends and the kernel read it. */
  public Config config() {
    return config;
  }

  /** {@code jdm.runtime-dir}. */
  public Path runtimeDir() {
    return Path.of(config.getString("jdm.runtime-dir"));
  }

  /** {@code jdm.state-dir}. */
  public Path stateDir() {
    return Path.of(config.getString("jdm.state-dir"));
  }

  /** {@code jdm.plugins-dir}. */
  public Path pluginsDir() {
    return Path.of(config.getString("jdm.plugins-dir"));
  }

  /** {@code jdm.control.shutdown-timeout}. */
  public Duration shutdownTimeout() {
    return config.getDuration("jdm.control.shutdown-timeout");
  }

  /** {@code jdm.control.max-requests}. */
  public int maxControlRequests() {
    return config.getInt("jdm.control.max-requests");
  }

  /** {@code jdm.control.request-timeout}. */
  public Duration controlRequestTimeout() {
    return config.getDuration("jdm.control.request-timeout");
  }

  /** The devices to create at start, in the order their sections appear. */
  public List<DeviceSpec> devices() {
    Config defaults = config.getConfig("jdm.device-defaults");
    List<DeviceSpec> out = new ArrayList<>();
    for (String name : inFileOrder("jdm.devices")) {
      Config d = config.getConfig(key("jdm.devices", name)).withFallback(defaults);
      out.add(DeviceSpec.of(name, d.getValue("table"), d.getBoolean("read-only")));
    }
    return out;
  }

  /** The sparse images to create at start when absent. */
  public List<ImageSpec> images() {
    List<ImageSpec> out = new ArrayList<>();
    for (String name : inFileOrder("jdm.images")) {
      Config i = config.getConfig(key("jdm.images", name));
      out.add(new ImageSpec(name, Path.of(i.getString("path")), i.getBytes("size")));
    }
    return out;
  }

  /** The frontend sections present, by name: each provider reads its own. */
  public Set<String> frontendSections() {
    return config.getObject("jdm.frontends").keySet();
  }

  /** The path of {@code name} under {@code parent}, quoted only when it has to be. */
  static String key(String parent, String name) {
    String k = name.matches("[A-Za-z0-9_-]+") ? name : ConfigUtil.quoteString(name);
    return parent.isEmpty() ? k : parent + "." + k;
  }

  private List<String> inFileOrder(String path) {
    ConfigObject o = config.getObject(path);
    return o.keySet().stream()
        .sorted(Comparator.comparingInt((String k) -> o.get(k).origin().lineNumber())
            .thenComparing(k -> k))
        .toList();
  }

  /**
   * Checks the whole configuration and reports every problem at once, each as
   * {@code FILE: LINE: key: why}: wrong types, unknown keys, devices named twice, jdm's own
   * sections, the kernel's, and every installed frontend's.
   */
  private void check() throws ConfigProblem {
    List<String> problems = new ArrayList<>();
    Set<String> typed = new HashSet<>();
    Config reference = ConfigFactory.defaultReference();
    try {
      config.checkValid(reference, "jdm");
    } catch (ConfigException.ValidationFailed e) {
      for (ConfigException.ValidationProblem p : e.problems()) {
        problems.add(p.origin().description() + ": " + p.problem());
        typed.add(p.origin().description());
      }
    }
    new UnknownKeys(reference, problems).walk(user.root(), "");
    if (userText != null) {
      problems.addAll(DuplicateDevices.find(userFile, userText));
    }
    if (typed.isEmpty()) {
      checkSections(problems);
    }
    // The kernel's and every frontend's section: their values, once their types are right.
    List<ConfigException.ValidationProblem> parts = new ArrayList<>(DeviceMapper.check(config));
    for (FrontendProvider f : ServiceLoader.load(FrontendProvider.class,
        JdmConfig.class.getClassLoader())) {
      parts.addAll(f.check(config));
    }
    for (ConfigException.ValidationProblem p : parts) {
      if (p.origin() == null || !typed.contains(p.origin().description())) {
        problems.add(line(p));
      }
    }
    if (!problems.isEmpty()) {
      throw new ConfigProblem(problems);
    }
  }

  /** A problem as {@code FILE: LINE: full.key: why}. */
  private static String line(ConfigException.ValidationProblem p) {
    return (p.origin() == null ? "" : p.origin().description() + ": ") + p.path() + ": "
        + p.problem();
  }

  /** Reads every value of jdm's own once, so a bad one stops the start, not a later use. */
  private void checkSections(List<String> problems) {
    try {
      runtimeDir();
      stateDir();
      pluginsDir();
      shutdownTimeout();
      controlRequestTimeout();
      if (maxControlRequests() < 1) {
        problems.add(config.getValue("jdm.control.max-requests").origin().description()
            + ": jdm.control.max-requests: must be at least 1, not " + maxControlRequests());
      }
    } catch (ConfigException e) {
      problems.add(e.getMessage());
    }
    for (String name : config.getObject("jdm.devices").keySet()) {
      String path = key("jdm.devices", name);
      try {
        ConfigValue v = config.getValue(path);
        if (v.valueType() != ConfigValueType.OBJECT) {
          problems.add(v.origin().description() + ": " + path
              + " must be an object { table = ..., read-only = ... }");
          continue;
        }
        Config d = config.getConfig(path);
        if (!d.hasPath("table")) {
          problems.add(v.origin().description() + ": " + path + " has no table");
          continue;
        }
        checkTable(d.getValue("table"), path + ".table", problems);
        d.withFallback(config.getConfig("jdm.device-defaults")).getBoolean("read-only");
      } catch (ConfigException e) {
        problems.add(e.getMessage());
      }
    }
    for (String name : config.getObject("jdm.images").keySet()) {
      String path = key("jdm.images", name);
      try {
        Config i = config.getConfig(path);
        i.getString("path");
        if (i.getBytes("size") <= 0) {
          problems.add(i.getValue("size").origin().description() + ": " + path
              + ".size must be more than 0 bytes");
        }
      } catch (ConfigException e) {
        problems.add(e.getMessage());
      }
    }
  }

  private static void checkTable(ConfigValue v, String path, List<String> problems) {
    boolean ok = switch (v.valueType()) {
      case STRING -> true;
      case LIST -> ((ConfigList) v).stream()
          .allMatch(i -> i.valueType() == ConfigValueType.STRING);
      default -> false;
    };
    if (!ok) {
      problems.add(v.origin().description() + ": " + path
          + " must be a string of table lines or a list of them");
    }
  }
}
