package dev.jdm.kernel;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.List;

/**
 * The class loader of one plugin jar, as Trino's {@code PluginClassLoader}: its parent is the JDK's
 * platform loader, so the plugin sees the JDK and its own jar, and from the host only the packages
 * the host shares with every plugin ({@link #HOST_PACKAGES}: the SPI and slf4j), which always come
 * from the host, even when the jar carries copies. The rest of the host (pf4j, typesafe-config,
 * the kernel, the frontends) is invisible, so a plugin can neither lean on it by accident nor clash
 * with it. Closing the loader releases the jar.
 */
final class PluginClassLoader extends URLClassLoader {
  /** Class name prefixes of the packages every plugin gets from the host. */
  static final List<String> HOST_PACKAGES = List.of("dev.jdm.spi.", "org.slf4j.");

  static {
    ClassLoader.registerAsParallelCapable();
  }

  private final ClassLoader host;

  /** A loader named {@code name} for {@code jar}, with {@link #HOST_PACKAGES} from {@code host}. */
  PluginClassLoader(String name, Path jar, ClassLoader host) throws MalformedURLException {
    super(name, new URL[] {jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader());
    this.host = host;
  }

  @Override
  protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
    if (!fromHost(name)) {
      // The platform loader first, then the jar.
      return super.loadClass(name, resolve);
    }
    Class<?> c = host.loadClass(name);
    if (resolve) {
      resolveClass(c);
    }
    return c;
  }

  @Override
  public URL getResource(String name) {
    return fromHost(resourceToClassName(name)) ? host.getResource(name) : super.getResource(name);
  }

  @Override
  public Enumeration<URL> getResources(String name) throws IOException {
    return fromHost(resourceToClassName(name)) ? host.getResources(name) : super.getResources(name);
  }

  private static boolean fromHost(String className) {
    for (String p : HOST_PACKAGES) {
      if (className.startsWith(p)) {
        return true;
      }
    }
    return false;
  }

  /** {@code dev/jdm/spi/x.properties} as {@code dev.jdm.spi.x.properties}, to match prefixes. */
  private static String resourceToClassName(String resource) {
    return (resource.startsWith("/") ? resource.substring(1) : resource).replace('/', '.');
  }
}
