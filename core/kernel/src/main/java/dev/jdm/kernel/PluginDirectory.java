package dev.jdm.kernel;

import dev.jdm.spi.Spi;
import dev.jdm.spi.TargetType;
import java.io.IOException;
import java.net.MalformedURLException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import org.pf4j.DefaultPluginManager;
import org.pf4j.ManifestPluginDescriptorFinder;
import org.pf4j.PluginDescriptor;
import org.pf4j.PluginDescriptorFinder;
import org.pf4j.PluginLoader;
import org.pf4j.PluginRuntimeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Target plugin jars, loaded and unloaded while jdm runs: the kernel's insmod and rmmod. Jars come
 * from the plugins directory (all of them at start, later those newly dropped in) or from any path.
 * pf4j reads each jar's manifest; the jar gets a class loader of its own that sees the JDK, the jar
 * and the host's SPI and slf4j, nothing else ({@link PluginClassLoader}); {@link ServiceLoader}
 * finds its target types, which are registered together. A jar is refused by file name, in one
 * line, when it is broken, when its {@code Plugin-Requires} does not accept this SPI's
 * {@link Spi#VERSION}, or when one of its target names is taken. A plugin is unloaded only while no
 * table, live or inactive, uses one of its types.
 */
public final class PluginDirectory implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PluginDirectory.class);

  /**
   * A loaded plugin.
   *
   * @param jar the jar's absolute path
   * @param file the jar as messages name it: its file name when it is in the plugins directory,
   *     else its absolute path; the origin of its types in the registry
   * @param id its pf4j {@code Plugin-Id}
   * @param version its {@code Plugin-Version}
   * @param types its target types
   */
  public record Plugin(Path jar, String file, String id, String version, List<TargetType> types) {
    /** The names of its target types, as table lines use them. */
    public List<String> typeNames() {
      return types.stream().map(TargetType::name).toList();
    }
  }

  /** What {@link #loadNew} did: the plugins it loaded, and one line per jar it refused. */
  public record Scan(List<Plugin> loaded, List<String> refused) {}

  private final Path dir;
  private final TargetRegistry registry;
  private final Pf4j pf4j;
  private final Map<String, Plugin> byId = new LinkedHashMap<>();

  /** The plugins directory {@code dir}, registering into {@code registry}; nothing loaded yet. */
  public PluginDirectory(Path dir, TargetRegistry registry) {
    this.dir = dir.toAbsolutePath().normalize();
    this.registry = registry;
    this.pf4j = new Pf4j(this.dir);
  }

  /** The plugins directory. */
  public Path dir() {
    return dir;
  }

  /**
   * Loads every {@code *.jar} of the directory that is not loaded: all of them the first time,
   * afterwards the jars dropped in since (and those refused before, which are tried again).
   */
  public synchronized Scan loadNew() {
    List<Plugin> loaded = new ArrayList<>();
    List<String> refused = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return new Scan(loaded, refused);
    }
    List<Path> jars;
    try (Stream<Path> s = Files.list(dir)) {
      jars = s.filter(p -> p.getFileName().toString().endsWith(".jar")).sorted().toList();
    } catch (IOException e) {
      refused.add(dir + ": cannot list plugin directory: " + e.getMessage());
      return new Scan(loaded, refused);
    }
    for (Path jar : jars) {
      if (loadedFrom(jar) == null) {
        try {
          loaded.add(loadJar(jar));
        } catch (DmException e) {
          refused.add(e.getMessage() + "; skipped");
        }
      }
    }
    return new Scan(loaded, refused);
  }

  /**
   * Loads the plugin jar at {@code jar}, in the plugins directory or anywhere else.
   *
   * @throws DmException one line naming the jar and why it is refused
   */
  public synchronized Plugin load(Path jar) throws DmException {
    Path p = jar.toAbsolutePath().normalize();
    if (!Files.isRegularFile(p)) {
      throw new DmException(p + ": No such file");
    }
    Plugin already = loadedFrom(p);
    if (already != null) {
      throw new DmException(already.file() + ": already loaded as plugin " + already.id());
    }
    return loadJar(p);
  }

  /**
   * Unregisters the target types of plugin {@code id} and closes its class loader: refused while a
   * live or inactive table uses one of its types.
   *
   * @return the plugin unloaded
   * @throws DmException {@code <id>: Device or resource busy: ...}, or no such plugin
   */
  public synchronized Plugin unload(String id) throws DmException {
    Plugin p = byId.get(id);
    if (p == null) {
      throw new DmException(id + ": No such plugin");
    }
    try {
      registry.unregisterAll(p.types());
    } catch (DmException e) {
      throw new DmException(id + ": " + e.getMessage(), e);
    }
    byId.remove(id);
    forget(id);
    LOG.info("plugin {}: unloaded {}", p.file(), p.typeNames());
    return p;
  }

  /** The plugins loaded, by jar. */
  public synchronized List<Plugin> list() {
    return byId.values().stream().sorted(Comparator.comparing(Plugin::file)).toList();
  }

  private Plugin loadedFrom(Path jar) {
    return byId.values().stream().filter(p -> p.jar().equals(jar)).findFirst().orElse(null);
  }

  private Plugin loadJar(Path jar) throws DmException {
    String file = jar.getParent().equals(dir) ? jar.getFileName().toString() : jar.toString();
    try {
      PluginDescriptor d = pf4j.descriptorOf(jar);
      if (d.getPluginId() == null || d.getPluginId().isBlank() || d.getVersion() == null) {
        throw new DmException(file + ": its manifest lacks Plugin-Id or Plugin-Version");
      }
      checkRequires(file, d.getRequires());
      Plugin other = byId.get(d.getPluginId());
      if (other != null) {
        throw new DmException(file + ": plugin " + other.id() + " is already loaded from "
            + other.file());
      }
      String id = pf4j.loadPlugin(jar);
      List<TargetType> types = typesIn(pf4j.getPluginClassLoader(id), file);
      if (types.isEmpty()) {
        throw new DmException(file + ": no target type (missing META-INF/services/"
            + TargetType.class.getName() + ")");
      }
      registry.registerAll(types, file);
      Plugin p = new Plugin(jar, file, id, d.getVersion(), types);
      byId.put(id, p);
      LOG.info("plugin {}: {}", file, p.typeNames());
      return p;
    } catch (DmException e) {
      forget(pf4j.idOf(jar));
      throw e;
    } catch (RuntimeException | LinkageError e) {
      forget(pf4j.idOf(jar));
      throw new DmException(file + ": cannot load plugin: " + oneLine(e), e);
    }
  }

  /**
   * Refuses a jar whose {@code Plugin-Requires} (a semantic-version range, pf4j's header; an exact
   * {@code x.y.z} means that version or newer, as pf4j reads it) does not accept this SPI.
   */
  private void checkRequires(String file, String requires) throws DmException {
    String range = requires == null ? "*" : requires.strip();
    String expression = range.matches("\\d+\\.\\d+\\.\\d+") ? ">=" + range : range;
    boolean ok;
    try {
      ok = pf4j.getVersionManager().checkVersionConstraint(Spi.VERSION, expression);
    } catch (RuntimeException e) {
      throw new DmException(file + ": unreadable Plugin-Requires '" + range + "': " + oneLine(e),
          e);
    }
    if (!ok) {
      throw new DmException(file + ": needs SPI " + range + " (Plugin-Requires), this jdm has SPI "
          + Spi.VERSION);
    }
  }

  private static List<TargetType> typesIn(ClassLoader loader, String file) throws DmException {
    List<TargetType> types = new ArrayList<>();
    try {
      for (ServiceLoader.Provider<TargetType> p :
          ServiceLoader.load(TargetType.class, loader).stream().toList()) {
        // Only the jar's own providers, never one the host shares.
        if (p.type().getClassLoader() == loader) {
          types.add(p.get());
        }
      }
    } catch (ServiceConfigurationError e) {
      throw new DmException(file + ": " + oneLine(e), e);
    }
    return types;
  }

  /** The first line of {@code e}'s message, and of its root cause's when that says more. */
  private static String oneLine(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String m = firstLine(e);
    String r = firstLine(root);
    return root == e || m.contains(r) ? m : m + ": " + r;
  }

  private static String firstLine(Throwable e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return m.lines().findFirst().orElse(m);
  }

  /** Drops plugin {@code id} from pf4j, which closes its class loader. */
  private void forget(String id) {
    if (id == null) {
      return;
    }
    try {
      pf4j.unloadPlugin(id);
    } catch (RuntimeException e) {
      LOG.warn("plugin {}: closing its class loader failed: {}", id, oneLine(e));
    }
  }

  /** Unloads every plugin, whether or not tables still use its types: for the daemon's stop. */
  @Override
  public synchronized void close() {
    byId.clear();
    pf4j.unloadPlugins();
  }

  /**
   * pf4j reading the jar manifest only, and failing in an exception rather than a log line with a
   * stack trace, with a {@link PluginClassLoader} per jar.
   */
  private static final class Pf4j extends DefaultPluginManager {
    Pf4j(Path dir) {
      super(dir);
    }

    @Override
    protected PluginDescriptorFinder createPluginDescriptorFinder() {
      return new ManifestPluginDescriptorFinder() {
        @Override
        protected Manifest readManifestFromJar(Path jar) {
          Manifest m = super.readManifestFromJar(jar);
          if (m == null) {
            throw new PluginRuntimeException("no META-INF/MANIFEST.MF");
          }
          return m;
        }
      };
    }

    PluginDescriptor descriptorOf(Path jar) {
      return getPluginDescriptorFinder().find(jar);
    }

    /** The id of the plugin pf4j holds from {@code jar}, or null. */
    String idOf(Path jar) {
      return idForPath(jar);
    }

    @Override
    protected PluginLoader createPluginLoader() {
      return new PluginLoader() {
        @Override
        public boolean isApplicable(Path path) {
          return Files.isRegularFile(path);
        }

        @Override
        public ClassLoader loadPlugin(Path path, PluginDescriptor descriptor) {
          try {
            return new PluginClassLoader(descriptor.getPluginId(), path,
                PluginDirectory.class.getClassLoader());
          } catch (MalformedURLException e) {
            throw new PluginRuntimeException(e, "Cannot open '{}'", path);
          }
        }
      };
    }
  }
}
