package dev.jdm.kernel;

import dev.jdm.spi.TargetType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.stream.Stream;
import org.pf4j.ClassLoadingStrategy;
import org.pf4j.CompoundPluginLoader;
import org.pf4j.DefaultPluginManager;
import org.pf4j.JarPluginLoader;
import org.pf4j.PluginClassLoader;
import org.pf4j.PluginDescriptor;
import org.pf4j.PluginLoader;
import org.pf4j.PluginManager;
import org.pf4j.PluginWrapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Target plugin jars dropped into a directory, loaded with pf4j: one class loader per jar, the SPI
 * always from the host, then {@link ServiceLoader} over each jar's own providers. A broken jar, or
 * one whose target names clash with a registered type, is reported by file name and skipped; the
 * others load.
 */
public final class PluginDirectory implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PluginDirectory.class);
  private static final String SPI_PACKAGE = TargetType.class.getPackageName() + ".";

  private final Path dir;
  private final PluginManager pf4j;

  /** A plugin directory; nothing is loaded until {@link #loadInto}. */
  public PluginDirectory(Path dir) {
    this.dir = dir;
    this.pf4j = new DefaultPluginManager(dir) {
      @Override
      protected PluginLoader createPluginLoader() {
        return new CompoundPluginLoader().add(new HostSpiJarLoader(this));
      }
    };
  }

  /**
   * Loads every {@code *.jar} in the directory and registers its target types.
   *
   * @return one line per jar skipped, naming the file and the reason
   */
  public List<String> loadInto(TargetRegistry registry) {
    List<String> problems = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return problems;
    }
    List<Path> jars;
    try (Stream<Path> s = Files.list(dir)) {
      jars = s.filter(p -> p.getFileName().toString().endsWith(".jar")).sorted().toList();
    } catch (IOException e) {
      problems.add(dir + ": cannot list plugin directory: " + e.getMessage());
      return problems;
    }
    for (Path jar : jars) {
      String file = jar.getFileName().toString();
      String id = null;
      try {
        id = pf4j.loadPlugin(jar);
        PluginWrapper w = pf4j.getPlugin(id);
        List<TargetType> types = typesIn(w.getPluginClassLoader(), file);
        if (types.isEmpty()) {
          throw new DmException(file + ": no target type (missing META-INF/services/"
              + TargetType.class.getName() + ")");
        }
        for (TargetType t : types) {
          registry.checkFree(t, file);
        }
        for (TargetType t : types) {
          registry.register(t, file);
        }
        LOG.info("plugin {}: {}", file, types.stream().map(TargetType::name).toList());
      } catch (DmException e) {
        problems.add(e.getMessage() + "; skipped");
        unload(id);
      } catch (RuntimeException | LinkageError e) {
        problems.add(file + ": cannot load plugin: " + oneLine(e) + "; skipped");
        unload(id);
      }
    }
    return problems;
  }

  private static List<TargetType> typesIn(ClassLoader loader, String file) throws DmException {
    List<TargetType> types = new ArrayList<>();
    try {
      for (ServiceLoader.Provider<TargetType> p :
          ServiceLoader.load(TargetType.class, loader).stream().toList()) {
        // The loader also sees the host's providers through its parent: keep the jar's own.
        if (p.type().getClassLoader() == loader) {
          types.add(p.get());
        }
      }
    } catch (ServiceConfigurationError e) {
      throw new DmException(file + ": " + oneLine(e));
    }
    return types;
  }

  private static String oneLine(Throwable e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return m.lines().findFirst().orElse(m);
  }

  private void unload(String id) {
    if (id != null) {
      try {
        pf4j.unloadPlugin(id);
      } catch (RuntimeException e) {
        LOG.debug("unloading {}", id, e);
      }
    }
  }

  @Override
  public void close() {
    pf4j.unloadPlugins();
  }

  /** pf4j's jar loader with a class loader that never lets a plugin bring its own SPI classes. */
  private static final class HostSpiJarLoader extends JarPluginLoader {
    HostSpiJarLoader(PluginManager manager) {
      super(manager);
    }

    @Override
    public ClassLoader loadPlugin(Path pluginPath, PluginDescriptor descriptor) {
      PluginClassLoader loader = new PluginClassLoader(
          pluginManager, descriptor, getClass().getClassLoader(), ClassLoadingStrategy.PDA) {
        @Override
        public Class<?> loadClass(String name) throws ClassNotFoundException {
          if (name.startsWith(SPI_PACKAGE)) {
            return getParent().loadClass(name);
          }
          return super.loadClass(name);
        }
      };
      loader.addFile(pluginPath.toFile());
      return loader;
    }
  }
}
