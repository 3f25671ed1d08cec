package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.PluginJar;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jdm plugin ls | load | unload} in this JVM: formats, paths, errors, exit codes. */
class PluginVerbsTest {
  @TempDir Path tmp;
  InProcessDaemon d;
  Path plugins;

  @BeforeEach
  void start() throws Exception {
    plugins = tmp.resolve("plugins");
    d = InProcessDaemon.start(tmp, "plugins-dir = \"" + plugins + "\"");
  }

  @AfterEach
  void stop() {
    d.close();
  }

  private static Path demoJar(Path dir) throws Exception {
    return new PluginJar("demo-plugin", "1.2.3").source("demo.DemoTarget", PluginDropIT.DEMO)
        .service("demo.DemoTarget$Type").writeTo(dir);
  }

  @Test
  void lsLoadAndUnloadPrintLikeLsmod() throws Exception {
    assertEquals("No plugins loaded\n", d.jdm("plugin", "ls").ok());
    assertEquals("", d.jdm("plugin", "load").ok(), "nothing new in the directory");
    demoJar(plugins);
    String line = "demo-plugin-1.2.3.jar  demo-plugin  1.2.3  demo\n";
    assertEquals(line, d.jdm("plugin", "load").ok());
    assertEquals(line, d.jdm("plugin", "ls").ok());
    assertTrue(d.jdm("targets").ok().contains("demo             v2.3.4\n"));
    assertEquals("", d.jdm("plugin", "unload", "demo-plugin").ok());
    assertEquals("No plugins loaded\n", d.jdm("plugin", "ls").ok());
    assertTrue(!d.jdm("targets").ok().contains("demo"));
  }

  @Test
  void aRelativeJarIsTheCallersAndErrorsAreOneLine() throws Exception {
    Path jar = demoJar(tmp.resolve("elsewhere"));
    Path relative = Path.of("").toAbsolutePath().relativize(jar);
    assertEquals(jar + "  demo-plugin  1.2.3  demo\n",
        d.jdm("plugin", "load", relative.toString()).ok());
    assertEquals("jdm: " + jar + ": already loaded as plugin demo-plugin",
        d.jdm("plugin", "load", jar.toString()).failed());
    assertEquals("jdm: nope: No such plugin", d.jdm("plugin", "unload", "nope").failed());
    Path missing = tmp.resolve("missing.jar");
    assertEquals("jdm: " + missing + ": No such file",
        d.jdm("plugin", "load", missing.toString()).failed());
    Path text = Files.writeString(tmp.resolve("notes.jar"), "not a jar");
    assertEquals("jdm: " + text + ": cannot load plugin: Cannot read manifest from " + text
        + ": zip END header not found", d.jdm("plugin", "load", text.toString()).failed());
    CliResult usage = d.jdm("plugin", "unload");
    assertEquals(2, usage.code(), usage.toString());
  }
}
