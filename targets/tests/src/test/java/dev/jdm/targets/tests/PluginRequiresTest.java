package dev.jdm.targets.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jdm.kernel.DmException;
import dev.jdm.kernel.PluginDirectory;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.Spi;
import dev.jdm.testkit.PluginJar;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A plugin states the SPI versions it works with in pf4j's {@code Plugin-Requires}; a jar that
 * does not accept this SPI is refused by name, with both versions, in one line.
 */
class PluginRequiresTest {
  @TempDir Path dir;

  private Path jar(String id, String requires) throws Exception {
    String pkg = id.replace("-", "");
    return new PluginJar(id, "1.0.0")
        .source(pkg + ".FillTarget", PluginJarLoadingTest.source(pkg, pkg, "1"))
        .service(pkg + ".FillTarget$Type")
        .requires(requires)
        .writeTo(dir.resolve("plugins"));
  }

  @Test
  void aJarForAnotherSpiIsRefusedWithBothVersions() throws Exception {
    Path newer = jar("a-newer", "^2.0.0");
    jar("b-same", "^" + Spi.VERSION);
    jar("c-exact", Spi.VERSION);
    jar("d-unsaid", null);
    jar("e-garbage", "one point oh");
    jar("f-older", ">=0.1.0 & <1.0.0");
    TargetRegistry registry = new TargetRegistry();
    try (PluginDirectory plugins = new PluginDirectory(dir.resolve("plugins"), registry)) {
      PluginDirectory.Scan scan = plugins.loadNew();
      assertEquals(List.of(
          "a-newer-1.0.0.jar: needs SPI ^2.0.0 (Plugin-Requires), this jdm has SPI "
              + Spi.VERSION + "; skipped",
          "e-garbage-1.0.0.jar: unreadable Plugin-Requires 'one point oh': Illegal character"
              + " near 'one point oh'; skipped",
          "f-older-1.0.0.jar: needs SPI >=0.1.0 & <1.0.0 (Plugin-Requires), this jdm has SPI "
              + Spi.VERSION + "; skipped"),
          scan.refused());
      // An exact version means that version or newer, as pf4j reads it; no header: any SPI.
      assertEquals(List.of("b-same", "c-exact", "d-unsaid"),
          scan.loaded().stream().map(PluginDirectory.Plugin::id).toList());

      DmException e = assertThrows(DmException.class, () -> plugins.load(newer));
      assertEquals("a-newer-1.0.0.jar: needs SPI ^2.0.0 (Plugin-Requires), this jdm has SPI "
          + Spi.VERSION, e.getMessage());
      assertEquals(3, registry.list().size());
    }
  }
}
