package dev.jdm.targets.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.DmException;
import dev.jdm.kernel.PluginDirectory;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.testkit.BlockIo;
import dev.jdm.testkit.PluginJar;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Plugins loaded and unloaded while devices run: the kernel's insmod and rmmod. Unloading is
 * refused while a live or an inactive table uses the plugin's type, and once it is done the type is
 * gone and the jar closed.
 */
class PluginUnloadTest {
  @TempDir Path dir;

  private static Path fillJar(Path where, String id, String type, String fill) throws Exception {
    return new PluginJar(id, "1.0.0")
        .source(id + ".FillTarget", PluginJarLoadingTest.source(id, type, fill))
        // Never loaded while the plugin is: after unloading, the closed loader cannot find it.
        .source(id + ".Unused", "package " + id + "; public final class Unused {}")
        .service(id + ".FillTarget$Type")
        .writeTo(where);
  }

  private static boolean open(Path file) throws Exception {
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.anyMatch(fd -> {
        try {
          return Files.readSymbolicLink(fd).equals(file);
        } catch (Exception gone) {
          return false;
        }
      });
    }
  }

  @Test
  void unloadIsRefusedWhileALiveOrInactiveTableUsesTheTypeThenClosesTheJar() throws Exception {
    Path jar = fillJar(dir.resolve("elsewhere"), "fill", "fill", "0x33");
    TargetRegistry registry = new TargetRegistry();
    registry.discover(getClass().getClassLoader(), "class path");
    try (PluginDirectory plugins = new PluginDirectory(dir.resolve("plugins"), registry);
        DeviceMapper dm = new DeviceMapper(registry)) {
      PluginDirectory.Plugin p = plugins.load(jar);
      assertEquals(jar.toString(), p.file(), "a jar outside the directory goes by its path");
      assertEquals(List.of("fill"), p.typeNames());
      assertTrue(open(jar), "the plugin's class loader holds its jar open");
      assertEquals("already loaded as plugin fill", assertThrows(DmException.class,
          () -> plugins.load(jar)).getMessage().substring(jar.toString().length() + 2));

      dm.create("live", "0 64 fill", false);
      byte[] fill = new byte[512];
      Arrays.fill(fill, (byte) 0x33);
      assertArrayEquals(fill, new BlockIo(dm.get("live")).read(0, 512));
      String busy = "fill: Device or resource busy: target type 'fill' is in use by 1 target(s)";
      assertEquals(busy, assertThrows(DmException.class, () -> plugins.unload("fill"))
          .getMessage());

      dm.create("other", "0 8 zero", false);
      dm.load("other", "0 64 fill");
      dm.remove("live", false);
      assertEquals(busy, assertThrows(DmException.class, () -> plugins.unload("fill"))
          .getMessage(), "an inactive table holds the type too");
      assertTrue(registry.lookup("fill").isPresent());

      ClassLoader loader = registry.lookup("fill").orElseThrow().type().getClass()
          .getClassLoader();
      dm.clear("other");
      assertEquals(p, plugins.unload("fill"));
      assertTrue(registry.lookup("fill").isEmpty());
      assertTrue(registry.lookup("zero").isPresent());
      assertEquals(List.of(), plugins.list());
      assertFalse(open(jar), "the jar is closed");
      assertThrows(ClassNotFoundException.class, () -> loader.loadClass("fill.Unused"));
      assertEquals("fill: No such plugin", assertThrows(DmException.class,
          () -> plugins.unload("fill")).getMessage());

      plugins.load(jar);
      dm.create("again", "0 64 fill", false);
      assertArrayEquals(fill, new BlockIo(dm.get("again")).read(8, 512));
    }
  }

  @Test
  void aScanLoadsOnlyTheJarsDroppedInSinceTheLastOne() throws Exception {
    Path pluginsDir = dir.resolve("plugins");
    fillJar(pluginsDir, "first", "first", "1");
    TargetRegistry registry = new TargetRegistry();
    try (PluginDirectory plugins = new PluginDirectory(pluginsDir, registry)) {
      assertEquals(List.of("first"), ids(plugins.loadNew().loaded()));
      assertEquals(List.of(), ids(plugins.loadNew().loaded()));

      fillJar(pluginsDir, "second", "second", "2");
      PluginDirectory.Scan scan = plugins.loadNew();
      assertEquals(List.of("second"), ids(scan.loaded()));
      assertEquals(List.of(), scan.refused());
      assertEquals("second-1.0.0.jar", scan.loaded().getFirst().file());
      assertEquals(List.of("first", "second"), ids(plugins.list()));

      // Unloaded, a jar of the directory is new again to the next scan.
      plugins.unload("first");
      assertEquals(List.of("first"), ids(plugins.loadNew().loaded()));
      assertTrue(registry.lookup("first").isPresent());
    }
  }

  private static List<String> ids(List<PluginDirectory.Plugin> plugins) {
    return plugins.stream().map(PluginDirectory.Plugin::id).toList();
  }
}
