package dev.jdm.testkit;

import dev.jdm.spi.Spi;
import dev.jdm.spi.TargetType;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * Builds a real target plugin jar at test time: compiles the given Java sources against the SPI,
 * adds the {@code META-INF/services} entry and the pf4j manifest, and writes the jar. Use it to
 * test plugin loading the way a user drops a jar into the plugins directory. The manifest's
 * {@code Plugin-Requires} is {@code ^}{@link Spi#VERSION}, as the built-in targets have it, unless
 * {@link #requires} says otherwise.
 *
 * <pre>{@code
 * Path jar = new PluginJar("demo-plugin", "1.0.0")
 *     .source("demo.DemoTarget", "package demo; public class DemoTarget ... ")
 *     .service("demo.DemoTarget$Type")
 *     .writeTo(pluginsDir);
 * }</pre>
 */
public final class PluginJar {
  private final String id;
  private final String version;
  private final Map<String, String> sources = new LinkedHashMap<>();
  private final List<String> services = new ArrayList<>();
  private final Map<String, byte[]> extraEntries = new LinkedHashMap<>();
  private String requires = "^" + Spi.VERSION;

  /** A plugin with pf4j id {@code id} and version {@code version}. */
  public PluginJar(String id, String version) {
    this.id = id;
    this.version = version;
  }

  /** Adds a Java source file for the fully qualified class {@code className}. */
  public PluginJar source(String className, String code) {
    sources.put(className, code);
    return this;
  }

  /** Lists {@code className} in {@code META-INF/services/dev.jdm.spi.TargetType}. */
  public PluginJar service(String className) {
    services.add(className);
    return this;
  }

  /** Sets the {@code Plugin-Requires} header (a range of SPI versions); null leaves it out. */
  public PluginJar requires(String range) {
    requires = range;
    return this;
  }

  /** Adds a raw entry (e.g. a broken class file, to test how loading fails). */
  public PluginJar entry(String name, byte[] content) {
    extraEntries.put(name, content);
    return this;
  }

  /** Compiles and writes {@code <id>-<version>.jar} into {@code dir}; returns its path. */
  public Path writeTo(Path dir) throws IOException {
    Files.createDirectories(dir);
    Path classes = Files.createTempDirectory("plugin-classes");
    try {
      compile(classes);
      Path jar = dir.resolve(id + "-" + version + ".jar");
      Manifest mf = new Manifest();
      Attributes a = mf.getMainAttributes();
      a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
      a.putValue("Plugin-Id", id);
      a.putValue("Plugin-Version", version);
      a.putValue("Plugin-Provider", "jdm-testkit");
      if (requires != null) {
        a.putValue("Plugin-Requires", requires);
      }
      try (OutputStream out = Files.newOutputStream(jar);
          JarOutputStream jos = new JarOutputStream(out, mf);
          Stream<Path> files = Files.walk(classes)) {
        for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
          jos.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
          jos.write(Files.readAllBytes(f));
          jos.closeEntry();
        }
        if (!services.isEmpty()) {
          jos.putNextEntry(new JarEntry("META-INF/services/" + TargetType.class.getName()));
          jos.write((String.join("\n", services) + "\n").getBytes(StandardCharsets.UTF_8));
          jos.closeEntry();
        }
        for (Map.Entry<String, byte[]> e : extraEntries.entrySet()) {
          jos.putNextEntry(new JarEntry(e.getKey()));
          jos.write(e.getValue());
          jos.closeEntry();
        }
      }
      return jar;
    } finally {
      deleteTree(classes);
    }
  }

  private void compile(Path out) throws IOException {
    if (sources.isEmpty()) {
      return;
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    if (javac == null) {
      throw new IOException("no Java compiler: run the tests on a JDK, not a JRE");
    }
    Path src = Files.createTempDirectory("plugin-src");
    try {
      List<String> args = new ArrayList<>(List.of(
          "-d", out.toString(), "-classpath", spiClassPath(), "--release", "25", "-proc:none"));
      for (Map.Entry<String, String> e : sources.entrySet()) {
        Path f = src.resolve(e.getKey().replace('.', '/') + ".java");
        Files.createDirectories(f.getParent());
        Files.writeString(f, e.getValue());
        args.add(f.toString());
      }
      int rc = javac.run(null, null, null, args.toArray(String[]::new));
      if (rc != 0) {
        throw new IOException("plugin sources do not compile (javac exit " + rc + "; its errors are above)");
      }
    } finally {
      deleteTree(src);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path f : files.sorted((x, y) -> y.compareTo(x)).toList()) {
        Files.deleteIfExists(f);
      }
    }
  }

  private static String spiClassPath() throws IOException {
    try {
      return Path.of(TargetType.class.getProtectionDomain().getCodeSource().getLocation().toURI())
          .toString();
    } catch (URISyntaxException e) {
      throw new IOException("cannot locate the SPI classes", e);
    }
  }
}
